"""Renderers: pure functions from a trace to SVG / HTML / DOT / JSON text."""
from .lanes import render_lanes  # noqa: F401
from .animated import render_animated  # noqa: F401
from .report import render_report  # noqa: F401
from .waitfor import render_waitfor, waitfor  # noqa: F401
from .perfetto import render_perfetto, to_perfetto  # noqa: F401
