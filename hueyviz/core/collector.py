"""Pausing Python's cyclic garbage collector around bulk object creation.

Building half a million small tracked objects (events, task records) sets
off full collections that rescan all of them again and again, which makes
loading and replaying large traces super-linear.  None of these objects form
reference cycles, so the collector can wait until they are built.
"""
import gc
from contextlib import contextmanager

__all__ = ["collector_paused"]


@contextmanager
def collector_paused():
    """Disable the cyclic collector for the block; restore it afterwards.

    >>> with collector_paused():
    ...     gc.isenabled()
    False
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
