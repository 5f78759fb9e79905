"""The notebook widget: :class:`~hueyviz.widget.traceview.TraceView`."""
from .traceview import TraceView

__all__ = ["TraceView"]
