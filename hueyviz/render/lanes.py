"""Worker lanes as a standalone SVG: who ran what, when, and who waited.

One lane per worker, grouped by consumer; one bar per execution, coloured by
outcome (the palette shared with the wait-for graph); blocked intervals
hatched with a label naming the awaited task; the verdict marked with a
vertical line; bars narrower than a pixel aggregated into density strips.

>>> from hueyviz.core.event import Event, Worker
>>> from hueyviz.core.trace import Trace
>>> w = Worker("h", 1, "Worker-1")
>>> svg = render_lanes(Trace([Event(0.0, "executing", "a1", "job", w, None),
...                           Event(1.0, "complete", "a1", "job", w, None)]))
>>> svg.startswith("<svg") and svg.count('class="bar ') == 1
True
"""
from __future__ import annotations

import heapq
import math
import re
from dataclasses import dataclass, field, replace
from itertools import groupby, repeat
from operator import add, itemgetter, mul, sub
from typing import Dict, List, Optional, Sequence, Tuple

from . import palette as P
from .axis import absolute_start, duration_label, tick_label, ticks
from .bar import FS, MIN_BAR_PX, OUTCOME_WORDS, draw_bar, outcome_colour
from .density import build_strip, draw_strip
from .markup import esc, fit, num, text_width, uid
from .memo import remember_last
from .timeline import Timeline, build_timeline

__all__ = ["LaneDrawing", "draw_lanes", "render_lanes", "svg_document"]

MAX_BARS = 4000         # individually drawn bars; the rest are aggregated
BIG_BAR_PX = 30.0       # in aggregated views, runs at least this wide stay bars
DETAIL_BARS = 300       # at most this many bars: queue-wait lines and all wait arrows
BUCKET_PX = 4.0
WINDOW_PX = 150.0
MAX_LINKS = 400         # wait / spawn arrows

# Sizes and fills are inline (not class rules): some SVG renderers (cairosvg)
# let the ``text`` rule win over a class rule.
STYLE = f"text{{fill:{P.TEXT}}}"
S_TITLE = 'style="font-size:15px;font-weight:bold"'
S_MUTED = 'style="fill:#555555"'
S_BOLD = 'style="font-weight:bold"'
S_SMALL = 'style="font-size:10px;fill:#555555"'


@dataclass
class LaneDrawing:
    """The parts of a lane drawing, so other views can wrap or animate them."""

    width: float
    height: float
    x0: float
    x1: float
    plot_top: float
    plot_bottom: float
    t0: float
    scale: float                      # px per second
    defs: List[str] = field(default_factory=list)
    chrome: List[str] = field(default_factory=list)   # title, labels, axis
    plot: List[str] = field(default_factory=list)     # bars, strips, queue
    marks: List[str] = field(default_factory=list)    # verdict lines
    legend: List[str] = field(default_factory=list)
    bar_ids: Dict[str, str] = field(default_factory=dict)  # task -> element id
    stuck_x: Optional[float] = None   # open bars continue (faded) to here
    culprit_boxes: List[tuple] = field(default_factory=list)  # (x0, y, x1, h)
    title: str = ""
    desc: str = ""
    name_colours: Optional[Dict[str, str]] = None     # colour by task name, when asked

    def x(self, t: float) -> float:
        return self.x0 + (t - self.t0) * self.scale


def _wrap(text: str, width: float, size: float, max_lines: int) -> List[str]:
    words, lines, cur = text.split(), [], ""
    for w in words:
        cand = f"{cur} {w}" if cur else w
        if text_width(cand, size) <= width or not cur:
            cur = cand
        else:
            lines.append(cur)
            cur = w
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = fit(lines[-1] + " …", width, size)
        if not lines[-1].endswith("…"):
            lines[-1] = fit(lines[-1] + " ………", width - 1, size)
    return [fit(ln, width, size) or ln[:1] for ln in lines]


def _defs() -> List[str]:
    return [
        '<pattern id="hv-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#FBE3B3"/>'
        f'<rect width="2.5" height="6" fill="{P.STATE_COLOURS["blocked"]}"/></pattern>',
        # A separate faded pattern: some renderers cache a pattern together
        # with the opacity of its first use.
        '<pattern id="hv-hatch-faded" patternUnits="userSpaceOnUse" width="6" height="6" '
        'patternTransform="rotate(45)"><rect width="6" height="6" fill="#FDF3E0"/>'
        '<rect width="2.5" height="6" fill="#F3CF80"/></pattern>',
        '<marker id="hv-arrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0 0L8 4L0 8z" fill="{P.WAIT_EDGE}"/></marker>',
        '<marker id="hv-sarrow" viewBox="0 0 8 8" refX="7" refY="4" markerWidth="6" '
        f'markerHeight="6" orient="auto"><path d="M0 0L8 4L0 8z" fill="{P.SPAWN_EDGE}"/></marker>',
    ]


def _geometry(tl: Timeline, width: float, show_queue: bool, title: str, message: str):
    d = LaneDrawing(width, 0, 0, 0, 0, 0, tl.t0, 1.0, title=title, desc=message)
    label_w = min(170.0, max(90.0, width * 0.16))
    d.x0 = 12 + label_w
    d.x1 = width - 16
    y = 26.0
    d.chrome.append(f'<text class="title" {S_TITLE} x="12" y="{num(y)}">{esc(fit(title, width - 24, 15))}</text>')
    n_rows = len(tl.rows)
    y += 18
    cap = (f"{tl.n_tasks} task{'s' if tl.n_tasks != 1 else ''}, {tl.n_exec} execution"
           f"{'s' if tl.n_exec != 1 else ''} on {n_rows} worker{'s' if n_rows != 1 else ''}"
           f" in {len(tl.groups)} consumer{'s' if len(tl.groups) != 1 else ''}"
           f" · time axis relative to {absolute_start(tl.t0, tl.unix)}")
    d.chrome.append(f'<text class="muted" {S_MUTED} x="12" y="{num(y)}">{esc(fit(cap, width - 24, FS))}</text>')
    verdict = getattr(tl.diagnosis, "verdict", "ok")
    colour = P.VERDICT_COLOURS.get(verdict, P.TEXT)
    for line in _wrap(message, width - 40, FS, 3):
        y += 15
        d.chrome.append(f'<text x="26" y="{num(y)}">{esc(line)}</text>')
        if line is not None and len(d.chrome) == 3:
            d.chrome.append(f'<rect x="12" y="{num(y - 9)}" width="8" height="8" fill="{colour}"/>')
    y += 10
    if tl.findings or tl.cursor is not None:
        y += 18
    d.plot_top = y + 18
    return d, label_w


@remember_last(1)
def draw_lanes(tl: Timeline, *, width: float = 960, show_queue: bool = True,
               show_spawn: bool = False, title: Optional[str] = None,
               window: Optional[Tuple[float, float]] = None,
               color_by: str = "state", exact: bool = False) -> LaneDrawing:
    """Lay out and draw ``tl`` into the parts of a :class:`LaneDrawing`.

    ``window`` (times on the trace clock) draws only that stretch of time,
    of the whole replay: a task running when the window opens is there, as
    the widget's zoom shows it.  The last drawing is remembered (same
    timeline object, same options), so the lanes, the animation and the
    report of one trace draw it once.  Callers must not mutate the result.
    ``exact``: the plot spans exactly ``tl.t0..tl.t1`` (or the window),
    without the room left after the end (an axis shared with another
    drawing).
    """
    return _draw_lanes(tl, width=width, show_queue=show_queue, show_spawn=show_spawn,
                       title=title, window=window, color_by=color_by, exact=exact)


def _clip(tl: Timeline, lo: float, hi: float) -> Timeline:
    """``tl`` with every bar and blocked interval cut to ``[lo, hi]``."""
    groups = []
    for g in tl.groups:
        rows = []
        for r in g.rows:
            bars = []
            for b in r.bars:
                if b.end < lo or b.start > hi:
                    continue
                blocks = [replace(bl, since=max(bl.since, lo), until=min(bl.until, hi))
                          for bl in b.blocks if not (bl.until < lo or bl.since > hi)]
                bars.append(replace(b, start=max(b.start, lo), end=min(b.end, hi),
                                    open=b.open and b.end <= hi, blocks=blocks))
            rows.append(replace(r, bars=bars))
        groups.append(replace(g, rows=rows))
    return replace(tl, groups=groups,
                   findings=tuple(f for f in tl.findings if lo <= f.at <= hi))


def _draw_lanes(tl: Timeline, *, width: float, show_queue: bool, show_spawn: bool,
                title: Optional[str], window: Optional[Tuple[float, float]] = None,
                color_by: str = "state", exact: bool = False) -> LaneDrawing:
    verdict = getattr(tl.diagnosis, "verdict", "ok")
    title = title if title is not None else f"Worker lanes · {verdict}"
    message = str(getattr(tl.diagnosis, "message", "") or "")
    full_t1 = tl.t1
    if window is not None and tl.groups:
        lo, hi = max(window[0], tl.t0), min(window[1], tl.t1)
        if hi <= lo:
            hi = lo + 1e-9
        if (lo, hi) != (tl.t0, tl.t1):
            title += f" · +{duration_label(lo - tl.t0)} to +{duration_label(hi - tl.t0)}"
            tl = _clip(tl, lo, hi)
            window = (lo, hi)
        else:
            window = None
    d, label_w = _geometry(tl, width, show_queue, title, message)
    origin = tl.t0                     # tick labels count from the trace start
    if window is not None:
        d.t0 = window[0]
    d.defs = _defs()
    if color_by == "name":
        # Okabe-Ito hues by task name, in order of first run (as the widget)
        order = dict.fromkeys(b.name for b in sorted(tl.bars, key=lambda b: (b.start, b.task)))
        d.name_colours = {n: P.NAME_COLOURS[i % len(P.NAME_COLOURS)] for i, n in enumerate(order)}
    elif color_by != "state":
        raise ValueError("color_by must be 'state' or 'name'")
    rows = tl.rows
    if not rows and tl.n_tasks == 0:
        d.plot_bottom = d.plot_top + 30
        d.chrome.append(f'<text class="muted" {S_MUTED} x="{num(width / 2)}" y="{num(d.plot_top + 10)}" '
                        f'text-anchor="middle">no events</text>')
        d.height = d.plot_bottom + 10
        return d
    plot_w = d.x1 - d.x0
    w_lo, w_hi = window if window is not None else (tl.t0, tl.t1)
    span = max(w_hi - w_lo, 1e-9)
    # A deadlocked or hung run stays stuck after the trace ends: leave room to
    # draw the open bars continuing (faded), which also gives their labels space.
    stuck = (verdict in ("deadlock", "hang") and any(b.open for b in tl.bars)
             and w_hi >= full_t1)
    d.scale = plot_w / (span * (1.0 if exact else 1.25 if stuck else 1.04))
    d.stuck_x = d.x1 - 8 if stuck else None
    step, values = ticks(span, max(2, int(plot_w // 90)))
    if window is not None:
        first = math.ceil((w_lo - origin) / step - 1e-6)
        values = [round((first + i) * step, 12) for i in range(int(span / step + 1e-9) + 1)
                  if (first + i) * step <= w_hi - origin + 1e-12]
    n_rows = len(rows)
    lane_h = 26.0 if n_rows <= 16 else max(14.0, math.floor(520.0 / n_rows))
    bar_h = lane_h - (6 if lane_h >= 20 else 3)
    y = d.plot_top
    # Queue depth strip.
    qmax = max(map(itemgetter(1), tl.queue), default=0)
    queue_y = None
    if show_queue and qmax > 0:
        queue_y = y
        y += 34
    row_y: Dict[str, float] = {}
    group_y = []
    for g in tl.groups:
        group_y.append((g, y))
        y += 18
        for r in g.rows:
            row_y[r.key] = y
            y += lane_h
        y += 6
    d.plot_bottom = y
    # Axis: grid lines and labels.
    top = d.plot_top
    for v in values:
        x = d.x(origin + v)
        d.chrome.append(f'<line x1="{num(x, 1)}" y1="{num(top - 2)}" x2="{num(x, 1)}" '
                        f'y2="{num(y)}" stroke="{P.GRID}" stroke-width="1"/>')
        anchor = "start" if x < d.x0 + 20 else ("end" if x > d.x1 - 30 else "middle")
        d.chrome.append(f'<text class="tick" {S_SMALL} x="{num(x, 1)}" y="{num(top - 6)}" '
                        f'text-anchor="{anchor}">{esc(tick_label(v, step, values[-1]))}</text>')
    for g, gy in group_y:
        lbl = f"{g.label} · {len(g.rows)} worker{'s' if len(g.rows) != 1 else ''}"
        d.chrome.append(f'<text class="group" {S_BOLD} x="12" y="{num(gy + 13)}">'
                        f'{esc(fit(lbl, width - 24, FS))}</text>')
    for i, r in enumerate(rows):
        ry = row_y[r.key]
        if i % 2 == 0:
            d.chrome.append(f'<rect x="12" y="{num(ry)}" width="{num(d.x1 - 12)}" '
                            f'height="{num(lane_h)}" fill="#F5F5F5"/>')
        size = FS if lane_h >= 16 else max(8.0, lane_h - 3)
        d.chrome.append(f'<text x="22" y="{num(ry + lane_h / 2 + size * 0.36, 1)}" '
                        f'style="font-size:{num(size)}px"><title>{esc(r.key)}</title>'
                        f'{esc(fit(r.name, label_w - 14, size))}</text>')
    if queue_y is not None:
        d.chrome.append(f'<text x="12" y="{num(queue_y + 20)}">queued tasks</text>')
        d.plot.extend(_queue_strip(tl, d, queue_y + 4, 24.0, qmax))
    # Bars: draw the widest up to MAX_BARS, aggregate the rest per lane.
    all_bars = tl.bars
    widths = [(b.end - b.start) * d.scale for b in all_bars]
    thr = MIN_BAR_PX
    if len(widths) > MAX_BARS:
        thr = max(thr, heapq.nlargest(MAX_BARS, widths)[-1] + 1e-9)
    if sum(1 for w in widths if w < thr) * 2 > len(widths):
        # Mostly too narrow: strips for everything, except runs long enough to
        # carry a label, which stay bars on top.
        thr = max(thr, BIG_BAR_PX)
    pos: Dict[str, tuple] = {}
    strips = 0
    queue_lines: List[str] = []
    bars_out: List[str] = []
    links: list = []
    drawn = []
    for r in rows:
        ry = row_y[r.key]
        wide: list = []
        narrow: list = []
        scale = d.scale
        for b in r.bars:
            (wide if (b.end - b.start) * scale >= thr else narrow).append(b)
        for b in wide:
            by = ry + (lane_h - bar_h) / 2 + min(b.depth, 3) * 3
            bh = max(3.0, bar_h - min(b.depth, 3) * 3)
            pos.setdefault(b.task, (d.x(b.start), by + bh / 2, b))
            drawn.append((b, ry))
            bars_out.extend(draw_bar(b, d, by, bh, tl, r.name))
        if narrow:
            strips += 1
            strip = build_strip(narrow, d.t0, d.scale, d.x0, plot_w, BUCKET_PX, WINDOW_PX)
            sy = ry + (lane_h - bar_h) / 2
            d.plot.extend(draw_strip(strip, d.x0, sy, bar_h, BUCKET_PX, WINDOW_PX,
                                     P.STATE_COLOURS, 10.0, r.name))
    detail = len(drawn) <= DETAIL_BARS
    if show_queue and lane_h >= 16 and detail:
        for b, ry in drawn:
            if b.enqueued is None:
                continue
            qx0, qx1 = max(d.x(b.enqueued), d.x0), d.x(b.start)
            if qx1 - qx0 >= 2:
                queue_lines.append(
                    f'<rect class="qwait" x="{num(qx0, 1)}" y="{num(ry + lane_h - 3, 1)}" '
                    f'width="{num(qx1 - qx0, 1)}" height="2.5" fill="{P.STATE_COLOURS["queued"]}" '
                    f'stroke="#8C8200" stroke-width="0.5"/>')
    d.plot.extend(queue_lines)
    d.plot.extend(bars_out)
    # Arrows from blocked intervals to the awaited task's bar (all of them when
    # the picture is small enough to read, else only the knot's).
    for b, _ in drawn:
        for bl in b.blocks:
            tgt = pos.get(bl.waits_on)
            if tgt is None or len(links) >= MAX_LINKS or not (detail or bl.knot or bl.culprit):
                continue
            sx, sy = d.x(bl.since) + 3, pos[b.task][1]
            links.append(f'<path class="waitlink" d="M{num(sx, 1)} {num(sy, 1)}L'
                         f'{num(tgt[0], 1)} {num(tgt[1], 1)}" fill="none" stroke="{P.WAIT_EDGE}" '
                         f'stroke-width="1.2" stroke-dasharray="4 2" marker-end="url(#hv-arrow)"/>')
    if show_spawn:
        n = 0
        for r in rows:
            for b in r.bars:
                par = pos.get(b.parent) if b.parent else None
                me = pos.get(b.task)
                if par is None or me is None or me[2] is not b or b.enqueued is None \
                        or n >= MAX_LINKS or not detail:
                    continue
                n += 1
                links.append(f'<path class="spawn" d="M{num(d.x(b.enqueued), 1)} {num(par[1], 1)}L'
                             f'{num(me[0], 1)} {num(me[1], 1)}" fill="none" stroke="{P.SPAWN_EDGE}" '
                             f'stroke-width="1" marker-end="url(#hv-sarrow)"/>')
    d.plot.extend(links)
    d.bar_ids = {t: uid("hv-b", t, v[0]) for t, v in pos.items()}
    _marks(tl, d)
    used = sorted({b.outcome for b in all_bars}, key=lambda k: list(OUTCOME_WORDS).index(k)
                  if k in OUTCOME_WORDS else 99)
    blocks = [bl for b in all_bars if b.blocks for bl in b.blocks]
    d.height = _legend(d, used if not d.name_colours else [], bool(blocks),
                       any(bl.culprit for bl in blocks), strips > 0, show_queue and qmax > 0)
    return d


def _queue_strip(tl: Timeline, d: LaneDrawing, y: float, h: float, qmax: int) -> List[str]:
    end = min(d.x(tl.t1), d.x1)
    # The pixel of each change (d.x, clamped, rounded), and per pixel the
    # most tasks queued: map() over a million changes, a loop over pixels.
    ts = list(map(itemgetter(0), tl.queue))
    xs = map(add, repeat(d.x0), map(mul, map(sub, ts, repeat(d.t0)), repeat(d.scale)))
    pxs = map(int, map(round, map(min, map(max, xs, repeat(d.x0)), repeat(end))))
    pts = [(px, max(map(itemgetter(1), grp)))
           for px, grp in groupby(zip(pxs, map(itemgetter(1), tl.queue)), key=itemgetter(0))]
    base = y + h
    path = [f"M{num(d.x0, 1)} {num(base, 1)}"]
    for px, n in pts:
        path.append(f"H{px}V{num(base - h * n / qmax, 1)}")
    path.append(f"H{num(end, 1)}V{num(base, 1)}z")
    return [f'<g class="queue"><title>queued tasks over time (max {qmax})</title>'
            f'<path d="{"".join(path)}" fill="{P.STATE_COLOURS["queued"]}" stroke="#8C8200" '
            f'stroke-width="0.8"/><text class="tick" {S_SMALL} x="{num(d.x1, 1)}" y="{num(y + 8, 1)}" '
            f'text-anchor="end">max {qmax}</text></g>']


def _marks(tl: Timeline, d: LaneDrawing) -> None:
    label_y = d.plot_top - 30
    taken: List[tuple] = []
    for f in tl.findings:
        x = d.x(f.at)
        colour = P.VERDICT_COLOURS.get(f.verdict, P.TEXT)
        if f.verdict == "stall" and f.ends is not None:
            d.marks.append(f'<rect class="stallspan" x="{num(x, 1)}" y="{num(label_y + 4)}" '
                           f'width="{num(max(1.0, d.x(f.ends) - x), 1)}" '
                           f'height="{num(d.plot_bottom - label_y - 4)}" fill="{colour}" opacity="0.12"/>')
        text = f"{f.verdict} at +{duration_label(f.at - tl.t0)}"
        tw = text_width(text, FS) + 4
        anchor, tx = ("end", x - 4) if x + tw > d.width - 4 else ("start", x + 4)
        lo, hi = (tx - tw, tx) if anchor == "end" else (tx, tx + tw)
        d.marks.append(f'<g class="verdict v-{esc(f.verdict)}"><title>{esc(f.message)}</title>'
                       f'<line x1="{num(x, 1)}" y1="{num(label_y + 4)}" x2="{num(x, 1)}" '
                       f'y2="{num(d.plot_bottom)}" stroke="{colour}" stroke-width="2" '
                       f'stroke-dasharray="6 3"/>')
        if not any(a < hi and lo < b for a, b in taken):
            taken.append((lo, hi))
            d.marks.append(f'<text class="vlabel" x="{num(tx, 1)}" y="{num(label_y + 12)}" '
                           f'text-anchor="{anchor}" style="font-weight:bold;fill:{colour}">{esc(text)}</text>')
        d.marks.append("</g>")
    if tl.cursor is not None:
        x = d.x(tl.cursor)
        d.marks.append(f'<g class="cursor"><line x1="{num(x, 1)}" y1="{num(label_y + 4)}" '
                       f'x2="{num(x, 1)}" y2="{num(d.plot_bottom)}" stroke="{P.TEXT}" '
                       f'stroke-width="1"/></g>')


def _legend(d: LaneDrawing, used, blocked: bool, culprit: bool, dense: bool, queue: bool) -> float:
    items = [(f'<rect width="14" height="12" fill="{outcome_colour(k)}"/>', OUTCOME_WORDS.get(k, k))
             for k in used]
    for name, colour in list((d.name_colours or {}).items())[:12]:
        items.append((f'<rect width="14" height="12" fill="{colour}"/>', name))
    if blocked:
        items.append(('<rect width="14" height="12" fill="url(#hv-hatch)"/>',
                      "blocked on a result"))
    if culprit:
        items.append((f'<rect width="14" height="12" fill="url(#hv-hatch)" stroke="{P.CULPRIT}" '
                      'stroke-width="2.5"/>', "the wait that closed it"))
    if queue:
        items.append((f'<rect y="5" width="14" height="3" fill="{P.STATE_COLOURS["queued"]}" '
                      'stroke="#8C8200" stroke-width="0.5"/>', "waiting in the queue"))
    if dense:
        items.append((f'<path d="M0 12h4v-6h4v-4h6v10z" fill="{P.STATE_COLOURS["complete"]}"/>',
                      "aggregated: strip height = share of time busy"))
    x, y = 12.0, d.plot_bottom + 10
    for swatch, words in items:
        w = 20 + text_width(words, FS) + 18
        if x + w > d.width - 12 and x > 12:
            x, y = 12.0, y + 20
        d.legend.append(f'<g transform="translate({num(x, 1)} {num(y, 1)})">{swatch}'
                        f'<text x="20" y="10">{esc(words)}</text></g>')
        x += w
    return y + (28 if items else 6)


_IDS = re.compile(r'(id="|url\(#|aria-labelledby=")(hv-(?:hatch-faded|hatch|arrow|sarrow|wipe|title))(?=[")])')


def svg_document(d: LaneDrawing, body: List[str], css: str = "", height: Optional[float] = None,
                 extra_defs: Sequence[str] = ()) -> str:
    """The standalone SVG text.  Ids of shared definitions get a suffix
    derived from the content, so several drawings can be inlined in one
    HTML page (Sphinx, MkDocs, the report) without their ids colliding."""
    h = d.height if height is None else height
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(d.width)}" height="{num(h)}" '
           f'font-family="{P.FONT}" font-size="{num(FS)}" '
           f'viewBox="0 0 {num(d.width)} {num(h)}" role="img" aria-labelledby="hv-title">',
           f'<title id="hv-title">{esc(d.title)}</title><desc>{esc(d.desc)}</desc>',
           f"<style>{STYLE}{css}</style>",
           "<defs>", *d.defs, *extra_defs, "</defs>",
           f'<rect width="{num(d.width)}" height="{num(h)}" fill="{P.BACKGROUND}"/>',
           *body, "</svg>\n"]
    text = "".join(out)
    sfx = uid("", d.title, d.desc, num(d.t0, 6), num(d.width), num(h), len(text))[1:]
    return _IDS.sub(lambda m: f"{m.group(1)}{m.group(2)}-{sfx}", text)


def render_lanes(trace, *, at: Optional[float] = None, diagnosis=None, width: int = 960,
                 show_queue: bool = True, show_spawn: bool = False,
                 title: Optional[str] = None,
                 window: Optional[Tuple[float, float]] = None,
                 color_by: str = "state",
                 axis: Optional[Tuple[float, float]] = None) -> str:
    """Worker lanes of ``trace`` as an SVG string (deterministic).

    ``color_by="name"`` colours the bars by task name instead of outcome
    (blocked time stays hatched, the queue yellow).

    ``at`` shows the trace as it was at that time (trace clock) with a cursor;
    ``window`` (``(from, to)`` on the trace clock) draws only that stretch of
    the whole run (the command line's ``--from/--to``);
    ``diagnosis`` defaults to :func:`hueyviz.analysis.diagnose` of the trace;
    ``show_queue`` draws queue depth and per-task queue waits; ``show_spawn``
    draws parent -> child arrows.  ``axis`` (``(from, to)`` on the trace
    clock, which may reach past either end of the trace) is the time axis
    to draw on, exactly, its ticks counting from ``from``: the lanes of
    several traces drawn on one axis line up (a fix's replay beside the
    recording, :mod:`hueyviz.render.fix`).
    """
    tl = build_timeline(trace, diagnosis, at)
    if axis is not None and tl.groups:
        tl = replace(tl, t0=min(tl.t0, axis[0]), t1=max(tl.t1, axis[1]))
    d = draw_lanes(tl, width=width, show_queue=show_queue, show_spawn=show_spawn, title=title,
                   window=window, color_by=color_by, exact=axis is not None)
    return svg_document(d, [*d.chrome, *d.plot, *d.marks, *d.legend])
