"""hueyviz: see what a Huey task queue is doing and why it is stuck.

>>> import hueyviz
>>> sorted(n for n in ("trace", "Trace", "diagnose") if hasattr(hueyviz, n))
['Trace', 'diagnose', 'trace']
"""
from ._version import __version__

from .event import Event, TraceFormatError, Worker  # noqa: E402
from .trace import Trace, TraceWarning  # noqa: E402
from .tracer import Tracer, trace  # noqa: E402
from .analysis import Diagnosis, Edge, Finding, diagnose  # noqa: E402
from .render import (render_animated, render_lanes, render_report,  # noqa: E402
                     render_waitfor, waitfor)
from .export import export_all  # noqa: E402
from .install import install, uninstall  # noqa: E402
from .live import Follower, follow  # noqa: E402
from .source import resolve_source  # noqa: E402
from .guard import DeadlockError, guard  # noqa: E402
from .whatif import WhatIf, whatif  # noqa: E402
from .watchdog import Watchdog, watchdog  # noqa: E402

__all__ = [
    "__version__", "Event", "Worker", "TraceFormatError", "Trace", "TraceWarning",
    "Tracer", "trace", "Diagnosis", "Edge", "Finding", "diagnose",
    "render_lanes", "waitfor", "render_waitfor", "render_animated", "render_report",
    "export_all",
    "install", "uninstall", "follow", "Follower", "resolve_source",
    "DeadlockError", "guard", "WhatIf", "whatif",
    "Watchdog", "watchdog",
    "TraceView",
]


def __getattr__(name):  # TraceView imports ipywidgets: only when asked for
    if name == "TraceView":
        from .widget import TraceView
        return TraceView
    raise AttributeError(f"module 'hueyviz' has no attribute {name!r}")
