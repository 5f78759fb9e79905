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

try:
    from . import _hotpath as _compiled
    compiled: Optional[ModuleType] = _compiled
except ImportError:             # pragma: no cover - the test command builds it
    compiled = None

__all__ = ["active", "compiled", "enabled"]

enabled = not os.environ.get("HUEYVIZ_PURE_PYTHON")


def active() -> Optional[ModuleType]:
    """The C module to record with now, or None (the Python versions)."""
    return compiled if enabled else None
