"""``TraceView``: the animated notebook widget (lanes + wait-for graph).

The trace is sent to the browser once, as compact column arrays (``data``
traitlet, built by :mod:`hueyviz.viewdata`); the browser computes every
frame itself (DESIGN.md rule 9), so scrubbing and playing never ask Python
for anything.  For a live source (a :class:`~hueyviz.tracer.Tracer`, or a
:class:`~hueyviz.live.Follower`) a background thread re-sends the model in
throttled batches while the widget is open.  Anything else a user names
(a Huey instance, a sink URL, an import path ``app.huey``) is followed live
from now on by default (``since="now"``): a Redis stream that still holds
yesterday's runs does not become part of today's view.

The fixes panel (``fixes=``) lists each fix :func:`hueyviz.advise`
replayed, with its verdict and makespan; choosing one draws that fix's
replayed lanes under the original's, on the same time axis, driven by the
same controls.  The replays are sent once, with the advice (``fixes``
traitlet, built by :mod:`hueyviz.render.fix`), as view data of their own.

Where widgets do not render (GitHub, nbviewer, a terminal) the output falls
back to the static lanes + wait-for SVG and the diagnosis text.
"""
from __future__ import annotations

import bisect
import math
import os
import pathlib
import re
import threading
import time
import warnings
from typing import Any, Optional, Union

import anywidget
import traitlets

from ..analysis.advice import Advice, advise
from ..analysis.detector import diagnose
from ..render.fix import build_fixes_data
from ..render.viewdata import build_layout, build_view_data

__all__ = ["FIXES_AUTO_TASKS", "MAX_VIEW_EVENTS", "TraceView", "render_static_svg"]

_STATIC = pathlib.Path(__file__).parent / "static"
# advise() replays the workload about ten times.  A view of 500 tasks opens
# in ~0.05 s without the fixes and ~0.35 s with them (their replays add
# ~0.7 MB to send; 2 shared cores): up to this many, the fixes are replayed
# as the view opens; a bigger view, or a live one, waits for the button.
FIXES_AUTO_TASKS = 500
# The view data is about 100 bytes of JSON per event, sent in one message
# (100k tasks, 313k events: 32 MB, built in 7 s): a million-task trace would
# hold the kernel for minutes and may take the browser's tab down with it.
MAX_VIEW_EVENTS = 1_000_000


# -- the widget -----------------------------------------------------------------
class TraceView(anywidget.AnyWidget):
    """Animated worker lanes and wait-for graph of one trace.

    Parameters
    ----------
    source : Trace, Tracer, Follower, sequence of Event, Huey, URL or path
        A trace (or a trace file) is shown as it is.  A
        :class:`~hueyviz.tracer.Tracer` or a :class:`~hueyviz.Follower` is
        followed live: new events are pushed every ``interval`` seconds
        while the widget is open.  A Huey instance, a sink URL or an import
        path ``app.huey`` is followed live through a new Follower.
    interval : float
        Seconds between live batches (0.25 to 0.5 is smooth and cheap).
    diagnosis : Diagnosis, optional
        Shown beside the drawings; computed when omitted.
    since : "now", "begin", float or None
        Where a live view starts.  ``"now"`` (the default for a source
        named by Huey instance, URL or import path): only what happens from
        now on, however much older history the sink holds.  ``"begin"``:
        everything the source holds.  A number: events from that time on
        (seconds on the trace clock, ``time.time()`` for live systems).
        ``None`` (the default for a Tracer or a Follower): what that object
        gives.
    window : (float, float), optional
        The time window shown first, in seconds from the first event
        (default: where the tasks are, when the trace starts with a long
        idle stretch, else everything).
    color_by : "state" or "name"
        Colour the lane bars by task state (default) or by task name, as
        Dask's task stream does; blocked time is hatched either way.
    fixes : None, bool or Advice
        The fixes panel.  ``None`` (default): replay the fixes
        (:func:`hueyviz.advise`) as the view opens when the trace has at
        most ``FIXES_AUTO_TASKS`` tasks and is not live, else offer a
        button that replays them in the background.  ``True``: replay them
        now, whatever the size.  ``False``: no panel.  An :class:`Advice`
        of this trace: show it.
    fix : str
        The fix shown beside the original first (its ``kind``, e.g.
        ``"pipeline"``); default none.
    max_events : int
        The most events the view takes (default ``MAX_VIEW_EVENTS``).  A
        bigger trace raises ``ValueError`` (draw it with ``hueyviz render``,
        whose lanes aggregate); a live view stops following when it grows
        past it, keeping what it shows.

    Notes
    -----
    Traits: ``t`` (the instant shown, seconds from the first event; set it
    to move the view), ``playing``, ``speed`` (1 plays the window in 8 s),
    ``selected`` (id of the clicked task), ``live``, ``follow`` (a live view
    stays at the newest event), ``window`` (``[from, to]`` seconds from the
    first event, ``[]`` for the whole trace), ``color_by``.  ``stop()``
    ends following; closing the widget does too.  Keys, with the widget
    focused: Space play/pause, arrows step between events (Shift: pan),
    Home/End, F the finding, + and - zoom, 0 the whole trace.
    """

    _esm = _STATIC / "traceview.js"
    _css = _STATIC / "traceview.css"

    data = traitlets.Dict().tag(sync=True)
    t = traitlets.Float(0.0).tag(sync=True)           # current instant (s from start)
    playing = traitlets.Bool(False).tag(sync=True)
    speed = traitlets.Float(1.0).tag(sync=True)
    live = traitlets.Bool(False).tag(sync=True)
    follow = traitlets.Bool(True).tag(sync=True)     # live: stay at the newest event
    selected = traitlets.Unicode("").tag(sync=True)  # clicked task id
    window: traitlets.List = traitlets.List([]).tag(sync=True)       # [from, to] s from the first event; [] all
    color_by = traitlets.Unicode("state").tag(sync=True)   # "state" or "name"
    fixes = traitlets.Dict().tag(sync=True)          # the fixes panel; {} none
    fix = traitlets.Unicode("").tag(sync=True)       # kind of the fix shown; "" none

    def __init__(self, source=None, *, interval: float = 0.3, diagnosis=None,
                 since: Union[str, float, None] = None, window=None,
                 color_by: str = "state", fixes: Union[bool, Advice, None] = None,
                 fix: str = "", max_events: int = MAX_VIEW_EVENTS, **kw):
        if color_by not in ("state", "name"):
            raise ValueError("color_by must be 'state' or 'name'")
        if fixes is not None and not isinstance(fixes, (bool, Advice)):
            raise ValueError("fixes must be None, True, False or an Advice")
        self._advice: Optional[Advice] = None
        self._advising: Optional[threading.Thread] = None
        self._owned: Optional[Any] = None   # a Follower this view opened (and closes)
        self._since: Optional[float] = None
        self._max_events = max_events
        source = self._open(source, since)
        self._source = source
        self._interval = max(0.05, float(interval))
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._seen = -1
        self._layout_key: Optional[tuple] = None
        self._layout: Optional[dict] = None
        trace = self._snapshot()
        if len(trace) > max_events:
            if self._owned is not None:
                self._owned.close()
            raise ValueError(_too_large(len(trace), max_events))
        self._trace = trace
        self._diagnosis = diagnosis if diagnosis is not None else diagnose(trace)
        data = self._build(trace, self._diagnosis)
        live = self._is_live()
        at = data["diagnosis"]["at"]
        start_t = at if (at is not None and not live) else data["t1"]
        if window is None and not live:
            window = _default_window(data)
        win = [float(x) for x in window] if window else []
        panel = self._first_fixes(fixes, trace, data, live)
        super().__init__(data=data, t=float(start_t), live=live, window=win,
                         color_by=color_by, fixes=panel, **kw)
        self.fix = fix          # checked against the fixes (a TraitError names them)
        self.on_msg(self._on_msg)
        if live:
            self._thread = threading.Thread(target=self._pump, name="hueyviz-traceview",
                                            daemon=True)
            self._thread.start()

    # -- source ------------------------------------------------------------------
    def _open(self, source, since):
        """Resolve what the user named: a trace stays as it is; a Huey, a
        URL or an import path becomes a Follower (from now, by default)."""
        if since is not None and since not in ("now", "begin") and not isinstance(since, (int, float)):
            raise ValueError("since must be 'now', 'begin' or a time (seconds)")
        if source is None or hasattr(source, "events") or hasattr(source, "trace"):
            if since == "begin" and callable(getattr(source, "catch_up", None)):
                source.catch_up()   # a Follower: open with what it can read now
            if since == "now":
                self._since = time.time()
            elif isinstance(since, (int, float)):
                self._since = float(since)
            return source
        if isinstance(source, (list, tuple)) and (not source or hasattr(source[0], "kind")):
            return source           # a sequence of events
        from ..read.follower import Follower, _is_trace_file
        if isinstance(source, (str, os.PathLike)) and _is_trace_file(source):
            from ..core.trace import Trace
            return Trace.load(os.fspath(source))
        since = "now" if since is None else since
        follower = Follower(source, start="end" if since == "now" else "begin")
        if since != "now":
            follower.catch_up()     # open with what the source already holds
        if isinstance(since, (int, float)):
            self._since = float(since)
        self._owned = follower
        return follower

    def _is_live(self) -> bool:
        """A Tracer (recording into memory) or a Follower (reading a sink)."""
        from ..record.tracer import Tracer
        src = self._source
        return isinstance(src, Tracer) or (callable(getattr(src, "poll", None))
                                           and hasattr(src, "trace"))

    def _snapshot(self):
        src = self._source
        from ..core.trace import Trace
        if src is None:
            return Trace()
        if hasattr(src, "events"):
            tr = src
        elif hasattr(src, "trace"):
            tr = src.trace
        else:
            tr = Trace(list(src))
        if self._since is not None and len(tr) and tr.start < self._since:
            tr = tr.window(self._since, None)
        return tr

    def _build(self, trace, diagnosis) -> dict:
        data = build_view_data(trace, diagnosis, layout=False)
        key = (tuple(data["waits"]["waiter"]), tuple(data["waits"]["target"]),
               len(data["workers"]))
        if key != self._layout_key:
            self._layout_key, self._layout = key, build_layout(data)
        data["layout"] = self._layout
        return data

    # -- fixes -------------------------------------------------------------------
    @traitlets.validate("fix")
    def _valid_fix(self, proposal):
        kind = proposal["value"]
        fx = self.fixes
        if kind and fx.get("state") == "ready":
            kinds = [f["kind"] for f in fx.get("fixes", ())]
            if kind not in kinds:
                raise traitlets.TraitError(f"no fix {kind!r} for this trace; its fixes: "
                                           f"{', '.join(kinds) or 'none'}")
        return kind

    def _first_fixes(self, fixes, trace, data, live) -> dict:
        if fixes is False:
            return {}
        if isinstance(fixes, Advice):
            self._advice = fixes
            return build_fixes_data(fixes, trace, data)
        n = len(data["tasks"]["id"])
        if fixes is True or (not live and n <= FIXES_AUTO_TASKS):
            self._advice = advise(trace)
            return build_fixes_data(self._advice, trace, data)
        why = ("the view is live: the fixes are replayed on the trace so far" if live else
               f"{n} tasks: replaying each fix takes a while")
        return {"state": "idle", "tasks": n, "why": why}

    def advise(self, wait: bool = True) -> Optional[Advice]:
        """Replay the fixes of the trace shown now (:func:`hueyviz.advise`)
        and send them to the fixes panel.  ``wait=False``: in a background
        thread (the panel's button), so the kernel stays free; returns None
        then.  Returns the advice."""
        if not wait:
            th = self._advising
            if th is not None and th.is_alive():
                return None
            self._advising = threading.Thread(target=self._advise_now, name="hueyviz-advise",
                                              daemon=True)
            self._advising.start()
            return None
        return self._advise_now()

    def _advise_now(self) -> Optional[Advice]:
        trace, data = self._trace, self.data
        n = len(data["tasks"]["id"])
        self.fixes = {"state": "computing", "tasks": n}
        try:
            advice = advise(trace)
            panel = build_fixes_data(advice, trace, data)
        except Exception as exc:   # shown in the panel; never kills the kernel's thread
            self.fixes = {"state": "error", "tasks": n, "why": str(exc)[:500]}
            return None
        panel["events"] = len(trace)
        self._advice = advice
        self.fixes = panel
        return advice

    def _on_msg(self, _widget, content, _buffers) -> None:
        if isinstance(content, dict) and content.get("type") == "advise":
            self.advise(wait=False)

    @property
    def advice(self) -> Optional[Advice]:
        """The advice shown in the fixes panel (None until replayed)."""
        return self._advice

    @property
    def trace(self):
        """The trace currently shown."""
        return self._trace

    @property
    def diagnosis(self):
        return self._diagnosis

    def refresh(self) -> bool:
        """Re-read a live source now; returns whether anything new arrived."""
        poll = getattr(self._source, "poll", None)
        if callable(poll) and not getattr(self._source, "closed", False):
            poll(0)     # a Follower: read what the other processes wrote
        trace = self._snapshot()
        n = len(trace) + int(getattr(trace, "dropped", 0) or 0)
        if n == self._seen:
            return False
        if len(trace) > self._max_events:
            self.stop()
            warnings.warn("hueyviz: live view stopped following: "
                          + _too_large(len(trace), self._max_events), RuntimeWarning, stacklevel=2)
            return False
        self._seen = n
        self._trace = trace
        self._diagnosis = diagnose(trace)
        data = self._build(trace, self._diagnosis)
        with self.hold_sync():
            self.data = data
            if self.follow and not self.playing:
                # a view displayed later opens at the newest event, not at 0
                self.t = float(data["t1"])
        with self._changed:
            self._changed.notify_all()
        return True

    def wait_for(self, predicate, timeout: float) -> bool:
        """Wait until ``predicate(view.trace)`` holds, at most ``timeout`` s.

        For a live view: the check runs each time a batch arrives, so the
        notebook can wait for a deadlock to form while the view draws it
        (the view's thread is then the only reader of the source).
        """
        import time
        deadline = time.monotonic() + timeout
        with self._changed:
            while not predicate(self._trace):
                remaining = deadline - time.monotonic()
                if remaining <= 0 or (self._thread is None and not self.live):
                    return bool(predicate(self._trace))
                self._changed.wait(min(remaining, 1.0))
        return True

    def _pump(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:   # never kill the kernel's thread over a frame
                continue

    def stop(self) -> None:
        """Stop following a live source (the view keeps what it has)."""
        self._stop.set()
        th = self._thread
        if th is not None and th is not threading.current_thread():
            th.join(timeout=2 * self._interval + 1)
        self._thread = None
        self.live = False
        if self._owned is not None:
            self._owned.close()

    def close(self) -> None:
        stop = getattr(self, "_stop", None)     # absent when __init__ failed early
        if stop is not None:
            stop.set()
        super().close()

    def status(self, t: Optional[float] = None) -> dict:
        """What the side panel says at ``t`` (default: the instant shown),
        read off the same data the browser draws: the finding that holds
        then, and how many of the live workers are busy and blocked.  With
        a fix shown beside the original, ``fix`` says the same of its replay
        at that instant (and its ``kind``).

        >>> from hueyviz.core.event import Event, Worker
        >>> w = Worker("h", 1, "Worker-1")
        >>> v = TraceView([Event(0.0, "worker_up", None, None, w, None),
        ...                Event(1.0, "executing", "a", "job", w, None)])
        >>> v.status()["busy"], v.status()["workers"], v.status()["verdict"]
        (1, 1, 'ok')
        """
        t = self.t if t is None else float(t)
        out = _status_of(self.data, t)
        shown = self.shown_fix()
        if shown is not None:
            out["fix"] = dict(_status_of(shown["data"], t), kind=shown["kind"])
        return out

    def shown_fix(self) -> Optional[dict]:
        """The fix drawn beside the original (its entry of ``fixes``), if any."""
        if not self.fix or self.fixes.get("state") != "ready":
            return None
        return next((f for f in self.fixes.get("fixes", ())
                     if f["kind"] == self.fix and f.get("data")), None)

    # -- fallbacks -----------------------------------------------------------------
    def static_svg(self) -> str:
        """Static lanes (and those of the fix shown) and wait-for graph
        stacked in one SVG."""
        shown = self.shown_fix()
        return render_static_svg(self._trace, self._diagnosis, advice=self._advice,
                                 fix=shown["kind"] if shown else "")

    def _repr_mimebundle_(self, **kwargs):
        got = super()._repr_mimebundle_(**kwargs)
        bundle: dict = dict((got[0] if isinstance(got, tuple) else got) or {})
        try:
            bundle["image/svg+xml"] = self.static_svg()
        except Exception:   # drawing modules missing: the text still shows
            pass
        bundle["text/plain"] = self._diagnosis.message
        return bundle


def _too_large(n: int, most: int) -> str:
    return (f"the trace has {n:,} events and the view takes at most {most:,} "
            "(about 100 bytes each, sent to the browser at once); draw it with "
            "`hueyviz render` (lanes.svg aggregates), or pass max_events= to try")


def _status_of(d: dict, t: float) -> dict:
    """What one view data says at ``t``: its workers, the finding then."""
    st = d.get("status") or {}
    k = bisect.bisect_right(st.get("t", []), t + 1e-12) - 1
    size = st["size"][k] if k >= 0 else 0
    finding = None
    for f in d.get("findings", ()):
        if f["at"] <= t + 1e-9 and (f["until"] is None or t < f["until"]):
            finding = f
    culprit = (finding or {}).get("culprit") or {}
    ids = d["tasks"]["id"]
    return {"t": t, "workers": size, "busy": st["busy"][k] if k >= 0 else 0,
            "blocked": st["blocked"][k] if k >= 0 else 0,
            "verdict": finding["verdict"] if finding else "ok",
            "message": finding["message"] if finding else "",
            "culprit": None if not culprit else {
                "waiter": ids[culprit["waiter"]] if culprit.get("waiter", -1) >= 0 else None,
                "waits_on": ids[culprit["target"]] if culprit.get("target", -1) >= 0 else None},
            "lanes": list(d.get("lanes", {}).get("label", d["workers"]))}


def _default_window(data: dict) -> Optional[list]:
    """Open where the tasks are when a long idle stretch precedes them (a
    consumer that takes 330 ms to start leaves the activity in the last
    pixels of a whole-trace axis)."""
    w = data.get("windows") or {}
    act, whole = w.get("activity"), w.get("all")
    if not act or not whole or whole[1] <= 0:
        return None
    if (act[1] - act[0]) < 0.5 * (whole[1] - whole[0]):
        return act
    return None


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


def render_static_svg(trace, diagnosis=None, advice=None, fix: str = "") -> str:
    """Lanes (with the diagnosis) above the wait-for graph at the finding;
    with an ``advice`` and a ``fix`` kind, that fix's replayed lanes between
    them (``lanes-fix-<kind>.svg``)."""
    from ..render.fix import render_fix_lanes
    from ..render.lanes import render_lanes
    from ..render.waitfor import render_waitfor
    if diagnosis is None:
        diagnosis = diagnose(trace)
    parts = [render_lanes(trace, diagnosis=diagnosis)]
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
