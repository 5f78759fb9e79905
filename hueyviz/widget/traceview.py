"""``TraceView``: the animated notebook widget (lanes + wait-for graph).

The trace is sent to the browser once, as JSON metadata and typed columns
in one binary buffer (``data`` traitlet, built by
:mod:`hueyviz.render.viewdata`); the browser computes every frame itself
(DESIGN.md rule 9), so scrubbing and playing never ask Python for
anything.  Only a task's id, args and error of a big trace are asked for,
when it is shown (hover, click, the graph's nodes, the bars' labels).
For a live source (a :class:`~hueyviz.tracer.Tracer`, or a
:class:`~hueyviz.live.Follower`) a background thread sends what changed
in throttled batches while the widget is open: the rows appended and the
values changed (``msg:custom`` with a buffer), never the whole model
again; the ``data`` trait holds the whole current model all the same, for
Python and for a browser that opens the page later.  Anything else a user names
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
import os
import pathlib
import threading
import time
import uuid
import warnings
from typing import Any, Optional, Union

import anywidget
import traitlets

from ..analysis.advice import Advice, advise
from ..analysis.detector import diagnose
from ..render.fix import build_fixes_data
from ..render.viewcodec import diff, pack_delta
from ..render.viewdata import build_layout, build_view_model, decode_view_data, layout_input, set_layout
from .fallback import render_static_svg

__all__ = ["FIXES_AUTO_TASKS", "MAX_VIEW_EVENTS", "TraceView", "render_static_svg"]

_STATIC = pathlib.Path(__file__).parent / "static"
# The front end is one ES module (anywidget takes one), kept in files by concern.
ESM_PARTS = ("traceview-base.js", "traceview-wire.js", "traceview-model.js", "traceview-lanes.js",
             "traceview.js")


def esm_source() -> str:
    """The front end's ES module: its parts, joined in order."""
    return "\n".join((_STATIC / name).read_text(encoding="utf-8") for name in ESM_PARTS)

# advise() replays the workload about ten times.  A view of 500 tasks opens
# in ~0.05 s without the fixes and ~0.35 s with them (their replays add
# ~0.7 MB to send; 2 shared cores): up to this many, the fixes are replayed
# as the view opens; a bigger view, or a live one, waits for the button.
FIXES_AUTO_TASKS = 500
# The view data packs to about 10 bytes an event (100k tasks, 313k events:
# 3.3 MB, built in ~1 s past the analysis) and the browser draws a lane
# aggregated per pixel when it holds too many bars: 1M tasks open.  Past
# this, the browser's memory (~100 bytes an event once decoded) is the limit.
MAX_VIEW_EVENTS = 4_000_000
DETAILS_MAX = 2_000         # task details answered per request
# The notebook's static fallback draws the lanes up to this many events
# (30k tasks: 0.4 s); past it, they would hold the display for seconds (1M
# tasks: half a minute) for a picture only a viewer without widgets shows.
STATIC_LANES_EVENTS = 100_000


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
    ``data`` is the packed model (:func:`~hueyviz.render.viewdata.decode_view_data`
    reads it back; :attr:`model` holds it unpacked, :meth:`decoded` decodes it).
    Traits: ``t`` (the instant shown, seconds from the first event; set it
    to move the view), ``playing``, ``speed`` (1 plays the window in 8 s),
    ``selected`` (id of the clicked task), ``live``, ``follow`` (a live view
    stays at the newest event), ``window`` (``[from, to]`` seconds from the
    first event, ``[]`` for the whole trace), ``color_by``.  ``stop()``
    ends following; closing the widget does too.  Keys, with the widget
    focused: Space play/pause, arrows step between events (Shift: pan),
    Home/End, F the finding, + and - zoom, 0 the whole trace.
    """

    _esm = esm_source()
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
    # the browser keeps one decoded model per widget, found by this
    _uid = traitlets.Unicode("").tag(sync=True)

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
        self._fix_models: dict = {}         # kind -> ViewModel of its replay (details)
        self._seq = 0                       # live batches sent as deltas
        self._quiet = threading.local()     # trait changes the views get as deltas
        self._sent_lock = threading.Lock()
        self._decoded: Optional[tuple] = None
        self._pool_cache: dict = {}
        trace = self._snapshot()
        if len(trace) > max_events:
            if self._owned is not None:
                self._owned.close()
            raise ValueError(_too_large(len(trace), max_events))
        self._trace = trace
        self._diagnosis = diagnosis if diagnosis is not None else diagnose(trace)
        self._model = self._build(trace, self._diagnosis)
        data = self._model.data()
        live = self._is_live()
        at = data["diagnosis"]["at"]
        start_t = at if (at is not None and not live) else data["t1"]
        if window is None and not live:
            window = _default_window(data)
        win = [float(x) for x in window] if window else []
        panel = self._first_fixes(fixes, trace, data, live)
        super().__init__(data=data, t=float(start_t), live=live, window=win,
                         color_by=color_by, fixes=panel, _uid=uuid.uuid4().hex, **kw)
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

    def _build(self, trace, diagnosis, strings=()):
        """The view model, with the layout of the last build while the
        waits and workers are the same (a live batch rarely changes them)."""
        model = build_view_model(trace, diagnosis, layout=False, strings=strings)
        c = model.cols
        key = (tuple(c["wait.waiter"][1]), tuple(c["wait.target"][1]), len(model.meta["workers"]))
        if key != self._layout_key:
            self._layout_key, self._layout = key, build_layout(layout_input(model))
        set_layout(model, self._layout or {"pos": {}})
        return model

    @property
    def model(self):
        """The :class:`~hueyviz.render.viewdata.ViewModel` shown (unpacked)."""
        return self._model

    def decoded(self) -> dict:
        """The view data as the browser decodes it (columns of seconds and
        indices: :func:`~hueyviz.render.viewdata.decode_view_data`), with
        every task's id."""
        data = self.data
        got = self._decoded
        if got is None or got[0] is not data:
            d = decode_view_data(data)
            d["tasks"]["id"] = list(self._model.ids)
            got = self._decoded = (data, d)
        return got[1]

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
            return build_fixes_data(fixes, trace, data, models=self._fix_models)
        n = data["n_tasks"]
        if fixes is True or (not live and n <= FIXES_AUTO_TASKS):
            self._advice = advise(trace)
            return build_fixes_data(self._advice, trace, data, models=self._fix_models)
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
        n = data["n_tasks"]
        self.fixes = {"state": "computing", "tasks": n}
        try:
            advice = advise(trace)
            models: dict = {}
            panel = build_fixes_data(advice, trace, data, models=models)
            self._fix_models = models
        except Exception as exc:   # shown in the panel; never kills the kernel's thread
            self.fixes = {"state": "error", "tasks": n, "why": str(exc)[:500]}
            return None
        panel["events"] = len(trace)
        self._advice = advice
        self.fixes = panel
        return advice

    def _on_msg(self, _widget, content, _buffers) -> None:
        if not isinstance(content, dict):
            return
        kind = content.get("type")
        if kind == "advise":
            self.advise(wait=False)
        elif kind == "details":
            self._send_details(content.get("src") or "", content.get("tasks") or (),
                               content.get("req"))
        elif kind == "find":
            i = self._model.index_of(str(content.get("id", "")))
            self._send_details("", [] if i is None else [i], content.get("req"),
                               found=str(content.get("id", "")))
        elif kind == "sync":
            # a view missed a live batch: the whole current model again
            self.send_state("data")

    def _send_details(self, src: str, tasks, req, found: Optional[str] = None) -> None:
        """Answer the browser's request for some tasks' id, args and error
        (of the original, or of a fix's replay: ``src`` its kind)."""
        model = self._model if not src else self._fix_models.get(src)
        out = []
        if model is not None:
            for i in list(tasks)[:DETAILS_MAX]:
                got = model.detail(i) if isinstance(i, int) else None
                if got is not None:
                    out.append(got)
        msg = {"type": "details", "src": src, "req": req, "tasks": out}
        if found is not None:
            msg["found"] = found
        self.send(msg)

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
        diagnosis = diagnose(trace)
        model = self._build(trace, diagnosis, strings=self._model.meta["strings"])
        with self._sent_lock:
            self._trace, self._diagnosis = trace, diagnosis
            self._push(model)
        if self.follow and not self.playing:
            # a view displayed later opens at the newest event, not at 0
            self.t = float(model.meta["t1"])
        with self._changed:
            self._changed.notify_all()
        return True

    def _push(self, model) -> None:
        """Send the browser what turns the model it has into ``model``: the
        rows appended and values changed (one message, one buffer), or the
        whole model when it changed in another way (a late event rewrote
        the past, a table shrank, the time base moved).  Either way the
        ``data`` trait then holds the whole of ``model``."""
        old = self._model
        d = None
        if old.meta["ticks_per_s"] == model.meta["ticks_per_s"] and \
                old.meta["time_base"] == model.meta["time_base"] and old.meta["t0"] == model.meta["t0"]:
            d = diff(old.cols, model.cols)
        self._model = model
        self._seq += 1
        data = model.data(seq=self._seq)
        if d is not None:
            content, buf = pack_delta(d)
            content.update(type="delta", seq=self._seq,
                           meta={k: v for k, v in model.meta.items() if old.meta.get(k) != v},
                           drop=[k for k in old.meta if k not in model.meta])
            # a delta bigger than half the whole is not worth its patching
            if len(buf) > len(data["buffer"]) // 2 and len(buf) > 4096:
                d = None
        if d is None:
            self.data = data
            return
        self._quiet.on = True
        try:
            self.data = data
        finally:
            self._quiet.on = False
        self.send(content, buffers=[buf])

    def _should_send_property(self, key, value):
        if key == "data" and getattr(self._quiet, "on", False):
            return False        # the views get this change as a delta message
        return super()._should_send_property(key, value)

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
        out = _status_of(self.data, self._pools(self.data), t, self._model.ids)
        shown = self.shown_fix()
        if shown is not None:
            fm = self._fix_models.get(shown["kind"])
            ids = fm.ids if fm is not None else shown["data"]["text"].get("task.id", [])
            out["fix"] = dict(_status_of(shown["data"], self._pools(shown["data"]), t, ids),
                              kind=shown["kind"])
        return out

    def _pools(self, data: dict) -> list:
        """Each pool's series in ``data``, unpacked once per view data."""
        got = self._pool_cache.get(id(data))
        if got is None or got[0] is not data:
            if len(self._pool_cache) > 16:
                self._pool_cache.clear()
            got = self._pool_cache[id(data)] = (data, decode_view_data(data, tables=("pool",))["pools"])
        return got[1]

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
            shown = self.shown_fix()
            bundle["image/svg+xml"] = render_static_svg(
                self._trace, self._diagnosis, advice=self._advice, fix=shown["kind"] if shown else "",
                lanes=len(self._trace) <= STATIC_LANES_EVENTS)
        except Exception:   # drawing modules missing: the text still shows
            pass
        bundle["text/plain"] = self._diagnosis.message
        return bundle


def _too_large(n: int, most: int) -> str:
    return (f"the trace has {n:,} events and the view takes at most {most:,} "
            "(about 100 bytes each in the browser's memory once unpacked); draw it with "
            "`hueyviz render` (lanes.svg aggregates), or pass max_events= to try")


def _status_of(d: dict, pools: list, t: float, ids) -> dict:
    """What one view data says at ``t``: its workers, the finding then."""
    row = [0, 0, 0]
    seen = False
    for p in pools:
        k = bisect.bisect_right(p["t"], t + 1e-12) - 1
        if k >= 0:
            seen = True
            row = [row[0] + p["size"][k], row[1] + p["busy"][k], row[2] + p["blocked"][k]]
    finding = None
    for f in d.get("findings", ()):
        if f["at"] <= t + 1e-9 and (f["until"] is None or t < f["until"]):
            finding = f
    culprit = (finding or {}).get("culprit") or {}
    return {"t": t, "workers": row[0] if seen else 0, "busy": row[1], "blocked": row[2],
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


