"""The tracer's hot path in C (``_hotpath.c``), where it was built.

The signal receiver and the ring recorder run three times per task on
Huey's worker threads; in C they skip two interpreter frames per signal,
and Huey's signal dispatch when the application has no receivers of its
own (figure l of BENCHMARKS.md counts it).  The extension is optional: an
install without a compiler or the Python headers runs the Python versions,
which do the same (tests/test_hotpath.py compares the two on one workload).
``HUEYVIZ_PURE_PYTHON=1`` in the environment, or ``enabled = False``
before a tracer attaches, chooses the Python versions even so.  The same
switch chooses for the replay's C part (``analysis/_replay.c``), when a
:class:`~hueyviz.analysis.replay.Replay` is made.
"""
from __future__ import annotations

import os
from types import ModuleType
from typing import Optional

__all__ = ["active", "compiled", "describe", "enabled"]

enabled = not os.environ.get("HUEYVIZ_PURE_PYTHON")

compiled: Optional[ModuleType] = None
if enabled:                     # HUEYVIZ_PURE_PYTHON=1: no C is even imported
    try:
        from . import _hotpath as _compiled
        compiled = _compiled
    except ImportError:         # pragma: no cover - the test command builds it
        compiled = None


def active() -> Optional[ModuleType]:
    """The C module to record with now, or None (the Python versions)."""
    return compiled if enabled else None


def describe() -> str:
    """Which path records and replays, in words (``hueyviz --version``)."""
    if os.environ.get("HUEYVIZ_PURE_PYTHON"):
        return "pure Python (HUEYVIZ_PURE_PYTHON is set)"
    from importlib.util import find_spec
    replay = find_spec("hueyviz.analysis._replay") is not None
    if compiled is not None and replay:
        return "C hot path and replay (built)"
    built = [n for n, ok in (("hot path", compiled is not None), ("replay", replay)) if ok]
    return ("C " + " and ".join(built) + ", the rest in Python") if built else \
        "pure Python (the C parts were not built: no compiler or Python headers at install)"
