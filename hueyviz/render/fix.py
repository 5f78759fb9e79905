"""The fixes of :func:`hueyviz.advise`, shown beside the recording.

Each fix's replay (``fix.run``) runs on its own clock, from the first
task's arrival.  :func:`fix_trace` puts it on the recording's clock (the
run's ``origin``), so its lanes line up with the original's on one time
axis: in the widget's fixes panel (:func:`build_fixes_data`), in
``lanes-fix-<kind>.svg`` (:func:`render_fix_lanes`) and in the report's
table (:func:`render_fixes_table`).  A replay is a simulation of the
recorded task scripts, not a recording: every view says so, and whether it
is exact.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence, Tuple

from ..core.trace import Trace, make_header
from . import palette
from .lanes import draw_lanes, render_lanes
from .markup import esc
from .timeline import build_timeline
from .viewdata import build_view_model

__all__ = ["build_fixes_data", "fix_file", "fix_trace", "helps_word", "render_fix_lanes",
           "render_fixes_table", "secs"]


def fix_file(kind: str) -> str:
    """The file name of a fix's lanes: ``lanes-fix-<kind>.svg``."""
    return f"lanes-fix-{kind}.svg"


def helps_word(fix) -> str:
    """``yes`` (it completes), ``partly`` (a knot becomes a stall) or ``no``."""
    return "yes" if fix.verdict == "ok" else ("partly" if fix.helps else "no")


def secs(x: Optional[float]) -> str:
    """A makespan in words, with the widget's units and precision.

    >>> [secs(x) for x in (None, 0.0000312, 0.00243, 0.35, 2.002263, 150.0)]
    ['never finishes', '31 µs', '2.43 ms', '350.0 ms', '2.002 s', '2.5 min']
    """
    if x is None:
        return "never finishes"
    a = abs(x)
    if a < 1e-3:
        return f"{x * 1e6:.0f} µs"
    if a < 1:
        return f"{x * 1e3:.{2 if a < 0.01 else 1}f} ms"
    if a < 120:
        return f"{x:.{3 if a < 10 else 2}f} s"
    return f"{x / 60:.1f} min"


def fix_trace(fix, like=None) -> Optional[Trace]:
    """The replay of ``fix`` on the recording's clock (None if it has none).

    ``like``: the recorded trace, whose clock (unix or not) the replay takes.

    >>> from hueyviz.core.event import Event, Worker
    >>> from hueyviz import advise
    >>> w = Worker("h", 1, "W1")
    >>> a = advise([Event(100.0, "pool", None, None, None, {"size": 1}),
    ...             Event(100.5, "enqueued", "p", "job", None, None),
    ...             Event(100.5, "executing", "p", "job", w, None),
    ...             Event(101.5, "complete", "p", "job", w, None)])
    >>> tr = fix_trace(a.fixes[0])
    >>> [(e.t, e.kind) for e in tr if e.task == "p"]
    [(100.5, 'enqueued'), (100.5, 'executing'), (101.5, 'complete')]
    """
    run = getattr(fix, "run", None)
    if run is None:
        return None
    events = tuple(e._replace(t=e.t + run.origin) for e in run.events)
    clock = (getattr(like, "header", None) or {}).get("clock", "sim")
    return Trace(events, header=make_header(source=f"hueyviz advise: {fix.kind}", clock=clock))


# -- the widget's model ----------------------------------------------------------------
def build_fixes_data(advice, trace, base: dict, models: Optional[dict] = None) -> dict:
    """The fixes panel's model: the advice (``Advice.to_dict()``) and, per
    fix, ``data``: its replay as view data on the axis of ``base`` (the
    original's view data), its colours by task name those of the original.
    ``origin`` is where the replays start on that axis (the first task's
    arrival).  ``models``: receives each replay's
    :class:`~hueyviz.render.viewdata.ViewModel` by kind (what the widget
    answers the browser's questions about a task from)."""
    out = advice.to_dict()
    out["state"] = "ready"
    out["origin"] = None
    colours = _name_colours(base)
    fixes = []
    for fix, d in zip(advice.fixes, out["fixes"]):
        d["helps_word"] = helps_word(fix)
        ft = fix_trace(fix, trace)
        if ft is None:
            d["data"] = None
        else:
            model = build_view_model(ft, diagnosis=None, layout=False, t0=base["t0"])
            _recolour(model, colours)
            d["data"] = model.data()
            if models is not None:
                models[fix.kind] = model
            if out["origin"] is None and fix.run is not None:
                out["origin"] = round(fix.run.origin - base["t0"], 6)
        fixes.append(d)
    out["fixes"] = fixes
    return out


def _name_colours(data: dict) -> Dict[str, str]:
    strings = data.get("strings", [])
    return {strings[int(i)]: c for i, c in (data.get("name_colours") or {}).items()
            if 0 <= int(i) < len(strings)}


def _recolour(model, colours: Dict[str, str]) -> None:
    """One task name, one colour, in the original and every replay; names
    the original lacks (a pipeline's continuations) take the next hues."""
    cycle = palette.NAME_COLOURS
    taken = dict(colours)
    out: Dict[str, str] = {}
    strings = model.meta["strings"]
    for i in dict.fromkeys(model.cols["task.name"][1]):
        name = strings[i]
        if name not in taken:
            taken[name] = cycle[len(taken) % len(cycle)]
        out[str(i)] = taken[name]
    model.meta["name_colours"] = out


# -- lanes-fix-<kind>.svg --------------------------------------------------------------
def render_fix_lanes(advice, trace, width: int = 960,
                     window: Optional[Tuple[float, float]] = None,
                     kinds: Optional[Sequence[str]] = None) -> List[Tuple[str, str]]:
    """``(file name, SVG)`` of each fix's replayed lanes, best fix first.

    Each is drawn on the time axis of ``lanes.svg`` (of ``render_lanes(trace,
    width=width, window=window)``): the same origin, the same seconds per
    pixel, so that one instant is one x in both; a replay that outlasts it
    extends the axis to its end.  ``kinds`` draws only those fixes.
    """
    rec = draw_lanes(build_timeline(trace, advice.diagnosis), width=width, window=window)
    start = trace.start if trace.start is not None else 0.0
    plotted = (rec.x1 - rec.x0) / rec.scale if rec.scale > 0 else 0.0
    out = []
    for f in advice.fixes:
        ft = fix_trace(f, trace) if kinds is None or f.kind in kinds else None
        if ft is None:
            continue
        # the recording's axis, or longer with the room lanes.svg leaves after an end
        hi = rec.t0 + plotted
        if ft.end is not None and ft.end > hi:
            pad = 1.25 if f.verdict in ("deadlock", "hang") else 1.04
            hi = rec.t0 + (ft.end - rec.t0) * pad
        exact = "exact" if f.exact else "approximate"
        title = (f"Fix {f.kind}, replayed ({exact} simulation) · {f.verdict} · "
                 f"makespan {secs(f.makespan)} (original: {secs(advice.makespan)})")
        out.append((fix_file(f.kind), render_lanes(
            ft, width=width, title=title, axis=(min(start, rec.t0), hi),
            window=None if window is None else (rec.t0, hi))))
    return out


# -- the table (report.html, the notebook display of an Advice) ------------------------
TABLE_CSS = (".hv-fixes{border-collapse:collapse;width:100%;font-size:13px}"
             ".hv-fixes caption{text-align:left;padding:0 0 6px}"
             ".hv-fixes th,.hv-fixes td{border-bottom:1px solid #ddd;padding:4px 6px;"
             "text-align:left;vertical-align:top;overflow-wrap:break-word}"
             ".hv-fixes .k,.hv-fixes th{white-space:nowrap}"
             ".hv-fixes td.n{text-align:right;white-space:nowrap;"
             "font-variant-numeric:tabular-nums}"
             ".hv-fixes code{font-size:12px;overflow-wrap:anywhere}"
             ".hv-fixes .muted{color:#555}")


def render_fixes_table(advice, style: bool = False) -> str:
    """The fixes as an HTML table (kind, helps, verdict, makespan, hint,
    where, why not), every string escaped, the original's replay first.

    >>> from hueyviz.core.event import Event, Worker
    >>> from hueyviz import advise
    >>> w = Worker("h", 1, "W1")
    >>> html = render_fixes_table(advise([
    ...     Event(0.0, "pool", None, None, None, {"size": 1}),
    ...     Event(0.0, "enqueued", "p", "<script>", None, None),
    ...     Event(0.0, "executing", "p", "<script>", w, None),
    ...     Event(1.0, "enqueued", "c", "child", w, {"parent": "p"}),
    ...     Event(1.0, "block", "p", "<script>", w, {"waits_on": "c", "site": "a.py:9"})]))
    >>> "<script" in html, "&lt;script&gt;" in html
    (False, True)
    """
    rows = [f'<tr class="hv-original"><td class="k">original</td><td></td>'
            f'<td class="k">{_verdict_cell(advice.verdict)}</td><td class="n">{esc(secs(advice.makespan))}</td>'
            f'<td class="muted" colspan="3">the recorded workload, replayed on the recorded '
            f'pool{"s" if isinstance(advice.workers, dict) else ""}'
            f'{" (" + esc(_counts(advice.workers)) + " workers)" if advice.workers else ""}'
            f'</td></tr>']
    for f in advice.fixes:
        notes = "".join(f'<br><span class="muted">{esc(n)}</span>' for n in f.notes)
        where = "<br>".join(f"<code>{esc(w)}</code>" for w in f.where)
        rows.append(f'<tr data-kind="{esc(f.kind)}"><td class="k"><b>{esc(f.kind)}</b></td>'
                    f'<td class="k">{esc(helps_word(f))}</td><td class="k">{_verdict_cell(f.verdict)}</td>'
                    f'<td class="n">{esc(secs(f.makespan))}</td><td>{esc(f.hint)}{notes}</td>'
                    f"<td>{where}</td><td>{esc(f.reason or '')}</td></tr>")
    exact = ("exact: every task ran to its end in the recording" if advice.exact else
             "approximate: " + "; ".join(advice.notes))
    caption = (f"Each fix applied to the recorded task scripts and replayed (a simulation, "
               f"{exact}); best first.")
    head = ("<tr><th>fix</th><th>helps</th><th>verdict</th><th>makespan</th><th>hint</th>"
            "<th>where</th><th>why not</th></tr>")
    css = f"<style>{TABLE_CSS}</style>" if style else ""
    return (f'{css}<table class="hv-fixes"><caption class="muted">{esc(caption)}</caption>'
            f"<thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>")


def _verdict_cell(verdict: str) -> str:
    colour = palette.VERDICT_COLOURS.get(verdict, palette.TEXT)
    return (f'<span style="border-left:4px solid {colour};padding-left:5px">'
            f"{esc(verdict)}</span>")


def _counts(c) -> str:
    if isinstance(c, int):
        return str(c)
    return ", ".join(f"{'default' if q is None else q}: {n}"
                     for q, n in sorted(c.items(), key=lambda kv: str(kv[0])))
