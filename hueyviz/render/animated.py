"""A self-playing SVG that replays a run: no JavaScript, loops forever.

The lanes are revealed by a wipe (a SMIL-animated clip rectangle) behind a
moving cursor, so bars grow along the lanes as time passes; below them the
wait-for graph switches between snapshots taken at the moments tasks block
and unblock (each a Graphviz drawing from :mod:`hueyviz.render.waitfor`,
embedded as a ``data:`` image so ids cannot collide and nothing is fetched);
at the verdict the culprit's blocked interval flashes.  The whole cycle lasts
``duration`` seconds (default 13: 10 s of replay, 3 s holding the end)
whatever the trace length, and only a bounded number of elements animate.

Works where SVG is shown as an image (GitHub README, Sphinx, MkDocs, a
browser opening the file): SMIL and inline ``<style>`` only, no scripts,
no external references.  Renderers that ignore animation show the end state.
"""
from __future__ import annotations

import base64
import bisect
import re
from typing import List, Optional, Tuple

from . import palette as P
from .axis import duration_label
from .lanes import FS, draw_lanes, svg_document
from .markup import esc, fit, num
from .memo import remember_last
from .timeline import build_timeline

__all__ = ["render_animated", "snapshot_times", "waitfor_snapshots"]

MAX_FRAMES = 8
BIG_TRACE = 50_000          # events; beyond this, fewer snapshots
PANEL_MAX_H = 520.0
STEPS = 24                  # key frames of the wipe and the cursor


def snapshot_times(trace, diagnosis, limit: Optional[int] = None) -> List[float]:
    """Times worth a wait-for snapshot: when waits begin or end, each finding
    and the end; at most ``limit`` (findings and the end always kept).

    The default limit is MAX_FRAMES, or 1 for traces of BIG_TRACE events or
    more (each snapshot replays the trace): then the one snapshot is the
    first finding, else the end.
    """
    if not len(trace):
        return []
    if limit is None:
        limit = MAX_FRAMES if len(trace) < BIG_TRACE else 1
    if limit <= 1:
        findings = getattr(diagnosis, "findings", ())
        return [findings[0].at if findings else trace.end]
    must = {f.at for f in getattr(diagnosis, "findings", ())} | {trace.end}
    # The pool and its queue from the first task on, so the graph below the
    # lanes is never blank while the replay runs
    first = next((e.t for e in trace if e.task is not None), None)
    if first is not None:
        must.add(first)
    cand = sorted({e.t for e in trace if e.kind in ("block", "unblock")} - must)
    room = max(0, limit - len(must))
    if len(cand) > room:
        cand = [cand[(i * len(cand)) // room] for i in range(room)] if room else []
    return sorted(must | set(cand))[:max(limit, len(must))]


_SIZE = re.compile(r'<svg[^>]*?width="([\d.]+)(?:pt|px)?"[^>]*?height="([\d.]+)(?:pt|px)?"', re.S)


@remember_last(2)
def waitfor_snapshots(trace, diagnosis, times) -> Tuple[List[Tuple[float, str, float, float]], str]:
    """``([(t, svg_text, width, height)], error)`` from the wait-for renderer.

    The last result is remembered (same trace and diagnosis objects, same
    times): the animation and the report share their snapshots.
    """
    return _snapshots(trace, diagnosis, times)


def _snapshots(trace, diagnosis, times):
    try:
        from .waitfor import render_waitfor
    except ImportError as exc:  # pragma: no cover - the sibling module is missing
        return [], f"wait-for graph unavailable: {exc}"
    out = []
    for t in times:
        try:
            svg = render_waitfor(trace, at=t, diagnosis=diagnosis)
        except Exception as exc:  # engine missing: say so in the picture
            return [], f"wait-for graph unavailable: {exc}"
        m = _SIZE.search(svg)
        w, h = (float(m.group(1)), float(m.group(2))) if m else (400.0, 300.0)
        out.append((t, svg, w, h))
    return out, ""


def _kt(x: float) -> str:
    return f"{min(1.0, max(0.0, x)):.4f}"


def _discrete(values: List[str], keys: List[float], dur: float, attr: str = "opacity") -> str:
    """A looping discrete SMIL animation (keyTimes strictly increasing)."""
    vs: List[str] = []
    ks: List[float] = []
    for v, k in zip(values, keys):
        k = float(_kt(k))
        if ks and k <= ks[-1]:
            vs[-1] = v          # a later value at the same instant wins
            continue
        vs.append(v)
        ks.append(k)
    ks[0] = 0.0
    return (f'<animate attributeName="{attr}" calcMode="discrete" values="{";".join(vs)}" '
            f'keyTimes="{";".join(_kt(k) for k in ks)}" dur="{num(dur)}s" '
            'repeatCount="indefinite"/>')


def render_animated(trace, diagnosis=None, duration: Optional[float] = None,
                    width: int = 960) -> str:
    """A looping, script-free SVG replay of ``trace`` (see module doc)."""
    from ..analysis.detector import diagnose
    from ..core.trace import Trace

    if not isinstance(trace, Trace):
        trace = Trace(trace)
    if diagnosis is None:
        diagnosis = diagnose(trace)
    total = float(duration) if duration else 13.0
    total = max(2.0, total)
    # A finding is what the picture is for: the replay reaches the end in 60%
    # of the loop and the last state (the knot, its culprit lit) holds for
    # the other 40% (5 s of 13); a run without one holds its end for 3 s.
    play = total * (0.6 if getattr(diagnosis, "findings", ()) else 10.0 / 13.0)
    tl = build_timeline(trace, diagnosis)
    verdict = getattr(diagnosis, "verdict", "ok")
    d = draw_lanes(tl, width=width)
    body: List[str] = list(d.chrome)
    body[0] = (f'<text class="title" style="font-size:15px;font-weight:bold" x="12" y="26">'
               f'Replay · {esc(verdict)}</text>')
    if not len(trace):
        return svg_document(d, body + d.legend)
    span = max(tl.span, 1e-9)

    times = [e.t for e in trace.events]
    times.sort()
    n_ev = len(times)

    def warp(t: float) -> float:
        """Replay progress (0..1) at trace time t: half clock time, half event
        count, so busy moments get screen time and idle stretches shrink."""
        return 0.5 * (t - tl.t0) / span + 0.5 * bisect.bisect_right(times, t) / n_ev

    def k(t: float) -> float:          # trace time -> fraction of the loop
        return play * min(1.0, warp(t)) / total

    full = d.x1 + 10 - d.x0
    k_end = play / total
    k_full = min(0.999, k_end + 0.6 / total)
    # Cursor positions at STEPS evenly spaced moments of the replay.
    xs, ks = [], []
    for j in range(STEPS + 1):
        u = j / STEPS
        lo, hi = tl.t0, tl.t1
        for _ in range(40):            # invert warp by bisection
            mid = (lo + hi) / 2
            if warp(mid) < u:
                lo = mid
            else:
                hi = mid
        xs.append(d.x(hi) - d.x0 + 1 if j else 0.0)
        ks.append(u * k_end)
    reveal = xs[-1]
    wipe_v = ";".join(num(x, 1) for x in xs) + f";{num(full, 1)};{num(full, 1)}"
    wipe_k = ";".join(_kt(x) for x in ks) + f";{_kt(k_full)};1"
    body.append(
        f'<clipPath id="hv-wipe"><rect x="{num(d.x0 - 1, 1)}" y="0" width="{num(full, 1)}" '
        f'height="{num(d.height)}"><animate attributeName="width" '
        f'values="{wipe_v}" keyTimes="{wipe_k}" dur="{num(total)}s" '
        'repeatCount="indefinite"/></rect></clipPath>')
    body.append('<g clip-path="url(#hv-wipe)">')
    body.extend(d.plot)
    body.extend(d.marks)
    body.append("</g>")
    # The cursor: visible while replaying, hidden while holding the end.
    top, bottom = d.plot_top - 4, d.plot_bottom
    body.append(f'<g class="cursor" opacity="0"><line x1="{num(d.x0, 1)}" y1="{num(top)}" '
                f'x2="{num(d.x0, 1)}" y2="{num(bottom)}" stroke="{P.TEXT}" stroke-width="1.5">'
                f'<animateTransform attributeName="transform" type="translate" '
                f'values="{";".join(num(x, 1) + " 0" for x in xs)};{num(reveal, 1)} 0" '
                f'keyTimes="{";".join(_kt(x) for x in ks)};1" '
                f'dur="{num(total)}s" repeatCount="indefinite"/></line>'
                + _discrete(["1", "0"], [0.0, k_end], total) + "</g>")
    # The culprit's blocked interval lights up at the verdict.
    for f in tl.findings[:3]:
        ka = k(f.at)
        for (x0, y0, x1, h) in d.culprit_boxes[:3]:
            body.append(f'<rect class="culprit-flash" x="{num(x0 - 2, 1)}" y="{num(y0 - 2, 1)}" '
                        f'width="{num(x1 - x0 + 4, 1)}" height="{num(h + 4, 1)}" fill="none" '
                        f'stroke="{P.CULPRIT}" stroke-width="4">'
                        + _discrete(["0", "1", "0.15", "1", "0.15", "1"],
                                    [0, ka, ka + 0.02, ka + 0.04, ka + 0.06, ka + 0.08], total)
                        + "</rect>")
        break
    # Wait-for snapshots below the lanes.
    y = d.plot_bottom + 12
    frames, error = waitfor_snapshots(trace, diagnosis, snapshot_times(trace, diagnosis))
    body.append('<text style="font-size:13px;font-weight:bold" '
                f'x="12" y="{num(y + 14)}">Wait-for graph (who waits for whom, as the replay goes)</text>')
    y += 24
    panel_w = width - 24
    if frames:
        scale = min(panel_w / max(w for _, _, w, _ in frames),
                    PANEL_MAX_H / max(h for _, _, _, h in frames), 1.0)
        panel_h = max(h for _, _, _, h in frames) * scale
        first = k(frames[0][0])
        if first > 0.001:
            body.append(f'<text x="24" y="{num(y + 16)}" style="fill:#555555" opacity="0">'
                        'no task is waiting yet'
                        + _discrete(["1", "0"], [0.0, first], total) + "</text>")
        for i, (t, svg, w, h) in enumerate(frames):
            start = k(t)
            stop = k(frames[i + 1][0]) if i + 1 < len(frames) else None
            values, keys = (["1"], [0.0]) if start <= 0.001 else (["0", "1"], [0.0, start])
            if stop is not None:
                values.append("0")
                keys.append(stop)
            data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
            base = "1" if stop is None else "0"
            title = esc("wait-for graph at +" + duration_label(t - tl.t0))
            body.append(f'<g class="frame" opacity="{base}"><title>{title}</title>'
                        f'<image x="12" y="{num(y, 1)}" width="{num(w * scale, 1)}" '
                        f'height="{num(h * scale, 1)}" href="data:image/svg+xml;base64,{data}"/>'
                        + _discrete(values, keys, total) + "</g>")
        y += panel_h + 8
    else:
        body.append(f'<text x="12" y="{num(y + 12)}" style="fill:#555555">'
                    f'{esc(fit(error or "no waits to draw", panel_w, FS))}</text>')
        y += 24
    shift = y - d.plot_bottom
    body.append(f'<g transform="translate(0 {num(shift, 1)})">')
    body.extend(d.legend)
    body.append("</g>")
    return svg_document(d, body, height=d.height + shift)
