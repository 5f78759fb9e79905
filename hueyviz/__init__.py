"""hueyviz: see what a Huey task queue is doing and why it is stuck.

Importing the package loads only what recording needs (the event
vocabulary, the trace, the tracer and ``install``): a production worker
that calls ``hueyviz.install(huey)`` never imports networkx, graphviz or
the widget stack.  Everything else is imported on first use.

>>> import hueyviz
>>> sorted(n for n in ("trace", "Trace", "diagnose") if hasattr(hueyviz, n))
['Trace', 'diagnose', 'trace']
"""
from importlib import import_module
from typing import Any

from ._version import __version__
from .core.errors import (
    DeadlockError,
    EngineNotFound,
    HueyvizError,
    MissingDependency,
    OutputError,
    SourceError,
    TraceFormatError,
    UsageError,
)
from .core.event import Event, Worker
from .core.trace import Trace, TraceWarning
from .record.install import install, uninstall
from .record.tracer import Tracer, trace

# name -> module that defines it, imported when the name is first used.
_LAZY = {
    "Diagnosis": "hueyviz.analysis.finding",
    "Edge": "hueyviz.analysis.finding",
    "Finding": "hueyviz.analysis.finding",
    "diagnose": "hueyviz.analysis.detector",
    "autopsy": "hueyviz.analysis.autopsy",
    "Advice": "hueyviz.analysis.advice",
    "advise": "hueyviz.analysis.advice",
    "WhatIf": "hueyviz.analysis.simulation",
    "whatif": "hueyviz.analysis.simulation",
    "render_lanes": "hueyviz.render.lanes",
    "render_waitfor": "hueyviz.render.waitfor",
    "waitfor": "hueyviz.render.waitfor",
    "render_animated": "hueyviz.render.animated",
    "render_report": "hueyviz.render.report",
    "export_all": "hueyviz.render.export",
    "follow": "hueyviz.read.follower",
    "Follower": "hueyviz.read.follower",
    "resolve_source": "hueyviz.read.source",
    "guard": "hueyviz.protect.guard",
    "Watchdog": "hueyviz.protect.watchdog",
    "watchdog": "hueyviz.protect.watchdog",
    "TraceView": "hueyviz.widget.traceview",
}

__all__ = [
    "__version__", "Event", "Worker", "Trace", "TraceWarning", "Tracer", "trace",
    "install", "uninstall",
    "HueyvizError", "TraceFormatError", "SourceError", "UsageError", "MissingDependency",
    "OutputError", "EngineNotFound", "DeadlockError",
    *_LAZY,
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'hueyviz' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(_LAZY))
