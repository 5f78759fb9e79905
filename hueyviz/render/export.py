"""Write a trace's drawings into a directory (``hueyviz render``, ``hueyviz demo``).

Format names (``formats=`` here, ``--format`` on the command line):

============  ==========================================================
``svg``       ``lanes.svg`` and ``waitfor.svg`` (the two static drawings)
``lanes``     ``lanes.svg`` only: worker lanes over time
``waitfor``   ``waitfor.svg`` only: who waits for whom, the culprit edge
``animated``  ``animated.svg``: self-playing replay (CSS, no JavaScript)
``html``      ``report.html``: standalone report with a time scrubber
``perfetto``  ``trace.json``: Chrome Trace Event JSON (``json`` is an alias)
``all``       everything above (the default)
============  ==========================================================

Every renderer is pure and deterministic, so the same trace always gives
byte-identical files.
"""
from __future__ import annotations

import os
from typing import Callable, Dict, Iterable, List, Optional, Tuple, Union

__all__ = ["FILES", "FORMATS", "export_all", "parse_formats"]

# Every file export_all can write, in the order it writes them.
FILES = ("lanes.svg", "waitfor.svg", "animated.svg", "report.html", "trace.json")
FORMATS: Dict[str, tuple] = {
    "svg": ("lanes.svg", "waitfor.svg"),
    "lanes": ("lanes.svg",),
    "waitfor": ("waitfor.svg",),
    "animated": ("animated.svg",),
    "html": ("report.html",),
    "perfetto": ("trace.json",),
    "json": ("trace.json",),
    "all": FILES,
}


def parse_formats(formats: Union[str, Iterable[str], None]) -> List[str]:
    """The file names selected by ``formats`` (names or a comma-separated
    string), in writing order.  Raises ``ValueError`` naming the choices.

    >>> parse_formats("svg,perfetto")
    ['lanes.svg', 'waitfor.svg', 'trace.json']
    >>> parse_formats(None) == list(FILES)
    True
    """
    if formats is None:
        return list(FILES)
    if isinstance(formats, str):
        formats = formats.split(",")
    wanted: set = set()
    for name in formats:
        key = name.strip().lower()
        if not key:
            continue
        if key not in FORMATS:
            raise ValueError(f"unknown format {name.strip()!r}; choose from "
                             f"{', '.join(FORMATS)}")
        wanted.update(FORMATS[key])
    if not wanted:
        raise ValueError(f"no format given; choose from {', '.join(FORMATS)}")
    return [f for f in FILES if f in wanted]


def _write(path: str, text: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
    os.replace(tmp, path)


def export_all(trace, out_dir: Union[str, os.PathLike], formats=None,
               at: Optional[float] = None, diagnosis=None,
               window: Optional[Tuple[float, float]] = None) -> List[str]:
    """Write the drawings of ``trace`` into ``out_dir``; return the paths.

    Parameters
    ----------
    trace : Trace
    out_dir : str or path
        Created if missing; existing files of the same names are replaced.
    formats : str or iterable of str, optional
        Format names (see the module docstring); default: all.
    at : float, optional
        Time on the trace clock for the static drawings (``lanes.svg`` shows
        a cursor there, ``waitfor.svg`` the state then).  Default: the
        moment of the first finding, else the end.
    diagnosis : Diagnosis, optional
        ``diagnose(trace)``, when already computed.
    window : (float, float), optional
        ``(from, to)`` on the trace clock: ``lanes.svg`` and ``report.html``
        draw only that stretch of the whole run (what was running when it
        opens is there); ``waitfor.svg`` shows the first finding inside it,
        else its end.  ``animated.svg`` stays whole; ``trace.json`` holds
        the events inside the window (Perfetto zooms by itself).
    """
    from ..analysis.detector import diagnose
    from .animated import render_animated
    from .lanes import render_lanes
    from .perfetto import render_perfetto
    from .report import render_report
    from .waitfor import render_waitfor

    files = parse_formats(formats)
    d = diagnosis if diagnosis is not None else diagnose(trace)
    wat = at
    if window is not None and at is None:
        inside = [f.at for f in d.findings if window[0] <= f.at <= window[1]]
        wat = inside[0] if inside else min(window[1], trace.end if len(trace) else window[1])
    makers: Dict[str, Callable[[], str]] = {
        "lanes.svg": lambda: render_lanes(trace, at=at, diagnosis=d, window=window),
        "waitfor.svg": lambda: render_waitfor(trace, at=wat, diagnosis=d),
        "animated.svg": lambda: render_animated(trace, diagnosis=d),
        "report.html": lambda: render_report(trace, diagnosis=d, window=window),
        # Perfetto zooms by itself: a window there just cuts the events
        "trace.json": (lambda: render_perfetto(trace, diagnosis=d)) if window is None
        else (lambda: render_perfetto(trace.window(*window))),
    }
    out = os.fspath(out_dir)
    os.makedirs(out, exist_ok=True)
    written = []
    for name in files:
        path = os.path.join(out, name)
        _write(path, makers[name]())
        written.append(path)
    return written
