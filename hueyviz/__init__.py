"""hueyviz: see what a Huey task queue is doing and why it is stuck.

>>> import hueyviz
>>> sorted(n for n in ("trace", "Trace", "diagnose") if hasattr(hueyviz, n))
['Trace', 'diagnose', 'trace']
"""
__version__ = "0.1.0"

from .event import Event, TraceFormatError, Worker  # noqa: E402
from .trace import Trace, TraceWarning  # noqa: E402
from .tracer import Tracer, trace  # noqa: E402
from .analysis import Diagnosis, Edge, Finding, diagnose  # noqa: E402

__all__ = [
    "__version__", "Event", "Worker", "TraceFormatError", "Trace", "TraceWarning",
    "Tracer", "trace", "Diagnosis", "Edge", "Finding", "diagnose",
]
