"""Time axes: "nice" tick steps in relative time, and the absolute caption.

>>> nice_step(0.00094, 8)
0.0002
>>> [tick_label(v, 0.0001) for v in (0.0, 0.0002, 0.0009)]
['0', '200 µs', '900 µs']
>>> [tick_label(v, 0.0005, 0.0035) for v in (0.0005, 0.0035)]
['0.5 ms', '3.5 ms']
>>> [tick_label(v, 0.5) for v in (0.0, 1.5)]
['0', '1.5 s']
>>> absolute_start(1795701311.8414, True)
'2026-11-26 13:55:11.841 UTC'
"""
from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import List

from .markup import num

__all__ = ["absolute_start", "duration_label", "nice_step", "tick_label", "ticks"]

_UNITS = ((1e-6, "µs"), (1e-3, "ms"), (1.0, "s"), (60.0, "min"), (3600.0, "h"))


def nice_step(span: float, max_ticks: int) -> float:
    """The smallest step of the form 1, 2 or 5 x 10^k giving <= max_ticks ticks."""
    if span <= 0 or max_ticks < 1:
        return 1.0
    raw = span / max_ticks
    k = math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        step = m * 10 ** k
        if step >= raw * (1 - 1e-9):
            return float(f"{step:.12g}")
    return float(f"{10 ** (k + 1):.12g}")


def ticks(span: float, max_ticks: int) -> tuple:
    """``(step, [relative tick values])`` covering ``0..span``."""
    step = nice_step(span, max_ticks)
    n = int(math.floor(span / step + 1e-9))
    return step, [i * step for i in range(n + 1)]


def _unit(top: float):
    if top < 1e-3:
        return _UNITS[0]
    if top < 1.0:
        return _UNITS[1]
    if top < 120.0:
        return _UNITS[2]
    if top < 7200.0:
        return _UNITS[3]
    return _UNITS[4]


def tick_label(value: float, step: float, top: float = 0.0) -> str:
    """Label of tick ``value``; the unit suits ``top`` (the largest tick)."""
    if value == 0:
        return "0"
    scale, name = _unit(max(top, step, abs(value)))
    digits = max(0, -math.floor(math.log10(step / scale) + 1e-9))
    return f"{value / scale:.{digits}f} {name}"


def duration_label(seconds: float) -> str:
    """A short human duration: ``0.85 ms``, ``12.3 s``."""
    s = abs(seconds)
    if s < 1e-3:
        return f"{num(seconds * 1e6, 0)} µs"
    if s < 1.0:
        return f"{num(seconds * 1e3, 2)} ms"
    if s < 120.0:
        return f"{num(seconds, 2)} s"
    if s < 7200.0:
        return f"{num(seconds / 60, 1)} min"
    return f"{num(seconds / 3600, 1)} h"


def absolute_start(t0: float, unix: bool) -> str:
    """The trace's start in words: a UTC date for a Unix clock, else the number.

    A time no calendar holds (milliseconds read as seconds) is shown as a
    number, never an error:

    >>> absolute_start(1.7e15, True)
    't = 1.7e+15 on the trace clock (not a date)'
    """
    if unix:
        try:
            dt = datetime.fromtimestamp(t0, tz=UTC)
        except (ValueError, OverflowError, OSError):
            return f"t = {t0:.6g} on the trace clock (not a date)"
        return dt.strftime("%Y-%m-%d %H:%M:%S.") + f"{dt.microsecond // 1000:03d} UTC"
    return f"t = {num(t0, 6)} on the trace clock"


def tick_values(span: float, plot_px: float, min_gap: float = 80.0) -> List[float]:
    return ticks(span, max(2, int(plot_px // min_gap)))[1]
