"""Aggregation for bars too narrow to draw: density strips per lane.

A strip is cut into buckets a few pixels wide.  In each bucket the strip's
height is the share of time the worker was busy with aggregated runs, split
into the share spent in runs that ended in error (vermilion) and the share
spent blocked (hatched); the rest is green.  Each window of the lane names
its dominant task (most busy time), so the picture still says what ran.
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from itertools import accumulate
from typing import Dict, List, Tuple

from .markup import attr, esc, fit, num, text_width

__all__ = ["build_strip", "draw_strip"]

LEVELS = 8           # quantisation of busy shares, so equal buckets merge


def build_strip(bars, t0: float, scale: float, x0: float, plot_w: float,
                bucket_px: float, window_px: float):
    """Busy/error/blocked time per bucket and busy time per name per window.

    Each total is read off the time covered up to each bucket edge, which
    sorted starts and ends with their running sums give in one bisection
    per edge: a lane of 10^5 runs costs a few sorts, not a loop over buckets
    for each run.
    """
    nb = max(1, int(math.ceil(plot_w / bucket_px)))
    nw = max(1, int(math.ceil(plot_w / window_px)))
    bdur = bucket_px / scale
    edges = [i * bdur for i in range(nb + 1)]         # times from t0
    spans = [(b.start - t0, b.end - t0) for b in bars]
    busy = _covered(spans, edges)
    err = _covered([(b.start - t0, b.end - t0) for b in bars if b.outcome == "error"], edges)
    blk = _covered([(x.since - t0, x.until - t0) for b in bars for x in b.blocks], edges)
    # The dominant task of each window: busy time by name, each run counted
    # in the window of its middle.
    wdur = window_px / scale
    by_name: Dict[str, List[Tuple[float, float]]] = {}
    for b, ab in zip(bars, spans):
        by_name.setdefault(b.name, []).append(ab)
    names: List[Dict[str, float]] = [dict() for _ in range(nw)]
    total: Dict[str, list] = {}
    for name, runs in by_name.items():
        mids = sorted(((a + e) / 2, e - a) for a, e in runs)
        total[name] = [len(runs), math.fsum(d for _, d in runs)]
        keys = [m for m, _ in mids]
        sums = list(accumulate((d for _, d in mids), initial=0.0))
        lo = 0
        for j in range(nw):
            hi = len(keys) if j == nw - 1 else bisect_left(keys, (j + 1) * wdur, lo)
            if hi > lo:
                names[j][name] = sums[hi] - sums[lo]
            lo = hi
    return {"nb": nb, "bdur": bdur, "busy": busy, "err": err, "blk": blk,
            "names": names, "total": total, "n": len(bars)}


def _covered(spans: List[Tuple[float, float]], edges: List[float]) -> List[float]:
    """The time ``spans`` (start, end) cover between each two ``edges``."""
    if not spans:
        return [0.0] * (len(edges) - 1)
    starts = sorted(a for a, _ in spans)
    ends = sorted(e for _, e in spans)
    sa = list(accumulate(starts, initial=0.0))
    se = list(accumulate(ends, initial=0.0))

    def upto(x: float) -> float:
        # Σ over spans of their part before x: each started one adds x - a,
        # each ended one takes back x - e.
        i, k = bisect_right(starts, x), bisect_right(ends, x)
        return (x * i - sa[i]) - (x * k - se[k])
    cum = [upto(x) for x in edges]
    return [max(0.0, hi - lo) for lo, hi in zip(cum, cum[1:])]


def _q(share: float) -> int:
    if share <= 0:
        return 0
    return max(1, min(LEVELS, int(math.ceil(share * LEVELS - 1e-9))))


def _path(levels: List[Tuple[int, int]], x0: float, bucket_px: float,
          base: float, h: float) -> str:
    """Path of columns: ``levels`` is [(bottom_level, top_level)] per bucket."""
    out = []
    i, n = 0, len(levels)
    while i < n:
        lo, hi = levels[i]
        j = i
        while j + 1 < n and levels[j + 1] == (lo, hi):
            j += 1
        if hi > lo:
            x = x0 + i * bucket_px
            w = (j - i + 1) * bucket_px
            y = base - hi * h / LEVELS
            hh = (hi - lo) * h / LEVELS
            out.append(f"M{num(x, 1)} {num(y, 1)}h{num(w, 1)}v{num(hh, 1)}h-{num(w, 1)}z")
        i = j + 1
    return "".join(out)


def draw_strip(strip, x0: float, y: float, h: float, bucket_px: float,
               window_px: float, colours: dict, label_size: float, row_name: str) -> List[str]:
    """SVG elements of one density strip (bottom at ``y + h``)."""
    nb, bdur = strip["nb"], strip["bdur"]
    ok_lv, err_lv, blk_lv = [], [], []
    for i in range(nb):
        b = _q(min(1.0, strip["busy"][i] / bdur))
        e = 0
        if strip["err"][i] > 0 and b:
            e = max(1, min(b, int(round(b * strip["err"][i] / strip["busy"][i]))))
        k = min(b - e, _q(min(1.0, strip["blk"][i] / bdur)))
        err_lv.append((0, e))
        blk_lv.append((e, e + k))
        ok_lv.append((e + k, b))
    base = y + h
    total = strip["total"]
    top = sorted(total.items(), key=lambda kv: (-kv[1][1], kv[0]))
    busy_all = sum(v[1] for _, v in top) or 1.0
    words = ", ".join(f"{k} {100 * v[1] / busy_all:.0f}% ({v[0]} runs)" for k, v in top[:5])
    tip = (f"{row_name}: {strip['n']} runs too short to draw one by one; strip height = "
           f"share of time busy. Top tasks by time: {words}")
    out = [f'<g class="density"><title>{esc(tip)}</title>']
    for cls, lv, fill in (("d-ok", ok_lv, colours["complete"]),
                          ("d-error", err_lv, colours["error"]),
                          ("d-blocked", blk_lv, "url(#hv-hatch)")):
        d = _path(lv, x0, bucket_px, base, h)
        if d:
            out.append(f'<path class="{cls}" d="{d}" fill="{fill}"/>')
    if h >= 11:
        prev = None
        for j, names in enumerate(strip["names"]):
            if not names:
                prev = None
                continue
            name = sorted(names.items(), key=lambda kv: (-kv[1], kv[0]))[0][0]
            if name == prev:
                continue
            prev = name
            text = fit(name, window_px - 6, label_size)
            if text:
                tx = x0 + j * window_px + 3
                out.append(f'<rect x="{num(tx - 2, 1)}" y="{num(y + h / 2 - label_size * 0.65, 1)}" '
                           f'width="{num(text_width(text, label_size) + 4, 1)}" '
                           f'height="{num(label_size * 1.3, 1)}" rx="2" fill="#FFFFFF" opacity="0.8"/>'
                           f'<text class="dname" style="font-size:{num(label_size)}px" x={attr(num(tx, 1))} '
                           f'y={attr(num(y + h / 2 + label_size * 0.35, 1))}>{esc(text)}</text>')
    out.append("</g>")
    return out
