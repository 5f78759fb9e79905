"""``hueyviz.install(huey)``: the one line for the module consumers import.

Put it right after the Huey instance is made, in the module that
``huey_consumer`` and the producers import::

    huey = RedisHuey("app")
    hueyviz.install(huey)

Every process that imports the module records into the same place: the
producers (``enqueued``), the consumer process (``consumer``, the
scheduler's enqueues) and each worker thread, forked process or greenlet
(``worker_up``, ``executing``, ``block``, outcomes...).  Forked workers get
their own writer after the fork; everything is flushed at exit, on a
graceful stop and when a SIGTERM'd worker process unwinds.
"""
from __future__ import annotations

import threading

from .tracer import Tracer

__all__ = ["install", "uninstall"]

_lock = threading.Lock()
_sinks: dict = {}     # (sink class, where) -> sink shared by installs in one process


def install(huey, sink=None, *, capture_args: bool = False, **sink_options) -> Tracer:
    """Record everything ``huey`` does, in every process that runs this line.

    Parameters
    ----------
    huey : huey.Huey
    sink : str or sink object, optional
        ``redis://host:port/db``, ``sqlite:///path.db``, ``file:///dir`` or a
        sink object; default: beside the Huey's own storage (see
        :mod:`hueyviz.source`).
    capture_args : bool
        Record bounded reprs of task arguments (off: they may hold secrets).
    **sink_options
        ``maxlen``, ``max_buffer``, ``flush_interval``, ``batch_size``...

    Returns
    -------
    Tracer
        The attached tracer.  Installing twice (a module imported twice,
        or two calls) returns the same tracer: nothing is recorded twice.

    Examples
    --------
    >>> from huey import MemoryHuey
    >>> huey = MemoryHuey("install-doc")
    >>> t1 = install(huey); t2 = install(huey)
    >>> t1 is t2, t1.attached
    (True, True)
    >>> uninstall(huey)
    """
    if not hasattr(huey, "create_consumer"):
        raise TypeError(f"install() wants a Huey instance, got {type(huey).__name__}")
    with _lock:
        tracer = getattr(huey, "_hueyviz_tracer", None)
        if tracer is not None:
            return tracer.attach()
        if sink is None or isinstance(sink, str):
            from .sinkurl import sink_for
            sink = sink_for(huey, sink, **sink_options)
            if hasattr(sink, "describe"):
                # Two Huey instances on one stream/table/dir (a module imported
                # under two names) share one writer in this process.
                key = (type(sink).__name__, sink.describe())
                shared = _sinks.get(key)
                if shared is not None and not shared.closed:
                    sink.close()
                    sink = shared
                else:
                    _sinks[key] = sink
        tracer = Tracer(huey, capture_args=capture_args, sink=sink).attach()
        huey._hueyviz_tracer = tracer
        return tracer


def uninstall(huey, timeout: float = 5.0) -> None:
    """Detach the installed tracer and close its sink (bounded): what it
    could write is written, and what it could not is counted in its
    ``dropped`` (nothing is left in a buffer that nobody will write)."""
    with _lock:
        # getattr/delattr, not vars(): reading an instance's __dict__ makes
        # every later attribute access on it slower (CPython 3.11).
        tracer = getattr(huey, "_hueyviz_tracer", None)
        if tracer is not None:
            del huey._hueyviz_tracer
    if tracer is None:
        return
    tracer.detach()
    sink = tracer.sink
    if getattr(sink, "flush", None) is not None:      # a writer: bounded, then counted
        sink.close(timeout)
