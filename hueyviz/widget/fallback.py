"""The static fallback of a :class:`~hueyviz.widget.traceview.TraceView`:
where widgets do not render (GitHub, nbviewer, a terminal), the lanes (and
those of the fix shown) above the wait-for graph, in one SVG."""
from __future__ import annotations

import math
import re

from ..analysis.detector import diagnose

__all__ = ["render_static_svg"]


_LEN = re.compile(r"^\s*([0-9.]+)\s*(px|pt|)\s*$")


def _svg_size(svg: str):
    head = svg[:svg.find(">", svg.find("<svg")) + 1]
    size = []
    for attr in ("width", "height"):
        m = re.search(rf'\s{attr}="([^"]+)"', head)
        mm = _LEN.match(m.group(1)) if m else None
        if mm is None:
            return None
        v = float(mm.group(1)) * (96 / 72 if mm.group(2) == "pt" else 1)
        size.append(v)
    return tuple(size)


def _svg_body(svg: str, x: float, y: float, w: float, h: float) -> str:
    start = svg.find("<svg")
    end = svg.find(">", start)
    head = svg[start:end]
    vb = re.search(r'viewBox="([^"]+)"', head)
    view = f' viewBox="{vb.group(1)}"' if vb else ""
    # the drawing's own font (its text inherits it): without it the text
    # falls back to the renderer's 16 px default
    for attr in ("font-family", "font-size"):
        m = re.search(rf'\s{attr}="([^"]+)"', head)
        if m:
            view += f' {attr}="{m.group(1)}"'
    rest = svg[end + 1:]
    return (f'<svg x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}"{view}>' + rest)


def render_static_svg(trace, diagnosis=None, advice=None, fix: str = "", lanes: bool = True) -> str:
    """Lanes (with the diagnosis) above the wait-for graph at the finding;
    with an ``advice`` and a ``fix`` kind, that fix's replayed lanes between
    them (``lanes-fix-<kind>.svg``).  ``lanes=False``: a line saying where
    to get them instead (drawing a million tasks' lanes takes minutes)."""
    from ..render.fix import render_fix_lanes
    from ..render.lanes import render_lanes
    from ..render.waitfor import render_waitfor
    if diagnosis is None:
        diagnosis = diagnose(trace)
    if lanes:
        parts = [render_lanes(trace, diagnosis=diagnosis)]
    else:
        parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="720" height="28" font-family="DejaVu Sans, '
                 f'sans-serif" font-size="12"><text x="4" y="18" fill="#444444">The lanes of these '
                 f'{len(trace):,} events are left out of this picture: `hueyviz render` draws them '
                 f'(lanes.svg).</text></svg>']
    if advice is not None and fix:
        parts += [svg for _, svg in render_fix_lanes(advice, trace, kinds=(fix,))]
    try:
        parts.append(render_waitfor(trace, at=diagnosis.at))
    except Exception:   # no Graphviz engine: the lanes alone still explain a lot
        pass
    y, width, body = 0.0, 0.0, []
    for svg in parts:
        size = _svg_size(svg) or (800.0, 300.0)
        body.append(_svg_body(svg, 0, y, *size))
        y += size[1] + 12
        width = max(width, size[0])
    h = max(0.0, y - 12)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
            f'width="{math.ceil(width)}" height="{math.ceil(h)}" '
            f'viewBox="0 0 {math.ceil(width)} {math.ceil(h)}">' + "".join(body) + "</svg>")
