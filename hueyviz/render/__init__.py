"""Renderers: pure functions from a trace to SVG / HTML / DOT / JSON text.

:mod:`~hueyviz.render.engine` is the one module that runs Graphviz.
"""
from .animated import render_animated
from .lanes import render_lanes
from .perfetto import render_perfetto, to_perfetto
from .report import render_report
from .waitfor import render_waitfor

__all__ = [
           "render_animated",
           "render_lanes",
           "render_perfetto",
           "render_report",
           "render_waitfor",
           "to_perfetto",
]
