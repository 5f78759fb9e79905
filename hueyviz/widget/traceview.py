"""``TraceView``: the animated notebook widget (lanes + wait-for graph).

The trace is sent to the browser once, as compact column arrays (``data``
traitlet, built by :mod:`hueyviz.viewdata`); the browser computes every
frame itself (DESIGN.md rule 9), so scrubbing and playing never ask Python
for anything.  For a live source (a :class:`~hueyviz.tracer.Tracer`, or a
:class:`~hueyviz.live.Follower`) a background thread re-sends the model in
throttled batches while the widget is open.

Where widgets do not render (GitHub, nbviewer, a terminal) the output falls
back to the static lanes + wait-for SVG and the diagnosis text.
"""
from __future__ import annotations

import math
import pathlib
import re
import threading
from typing import Optional

import anywidget
import traitlets

from ..analysis.detector import diagnose
from ..render.viewdata import build_layout, build_view_data

__all__ = ["TraceView", "render_static_svg"]

_STATIC = pathlib.Path(__file__).parent / "static"


# -- the widget -----------------------------------------------------------------
class TraceView(anywidget.AnyWidget):
    """Animated worker lanes and wait-for graph of one trace.

    Parameters
    ----------
    source : Trace, Tracer, sequence of Event, or a live source
        A :class:`~hueyviz.tracer.Tracer` (or anything with a ``.trace``
        property) is followed live: new events are pushed every
        ``interval`` seconds while the widget is open.
    interval : float
        Seconds between live batches (0.25 to 0.5 is smooth and cheap).
    diagnosis : Diagnosis, optional
        Shown beside the drawings; computed when omitted.

    Notes
    -----
    Traits: ``t`` (the instant shown, seconds from the first event; set it
    to move the view), ``playing``, ``speed`` (1 plays the whole trace in
    8 s), ``selected`` (id of the clicked task), ``live``, ``follow`` (a
    live view stays at the newest event).  ``stop()`` ends following;
    closing the widget does too.
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

    def __init__(self, source=None, *, interval: float = 0.3, diagnosis=None, **kw):
        self._source = source
        self._interval = max(0.05, float(interval))
        self._stop = threading.Event()
        self._changed = threading.Condition()
        self._thread: Optional[threading.Thread] = None
        self._seen = -1
        self._layout_key: Optional[tuple] = None
        self._layout: Optional[dict] = None
        trace = self._snapshot()
        self._trace = trace
        self._diagnosis = diagnosis if diagnosis is not None else diagnose(trace)
        data = self._build(trace, self._diagnosis)
        live = self._is_live()
        at = data["diagnosis"]["at"]
        start_t = at if (at is not None and not live) else data["t1"]
        super().__init__(data=data, t=float(start_t), live=live, **kw)
        if live:
            self._thread = threading.Thread(target=self._pump, name="hueyviz-traceview",
                                            daemon=True)
            self._thread.start()

    # -- source ------------------------------------------------------------------
    def _is_live(self) -> bool:
        """A Tracer (recording into memory) or a Follower (reading a sink)."""
        from ..record.tracer import Tracer
        src = self._source
        return isinstance(src, Tracer) or (callable(getattr(src, "poll", None))
                                           and hasattr(src, "trace"))

    def _snapshot(self):
        src = self._source
        if src is None:
            from ..core.trace import Trace
            return Trace()
        if hasattr(src, "events"):
            return src
        if hasattr(src, "trace"):
            return src.trace
        from ..core.trace import Trace
        return Trace(list(src))

    def _build(self, trace, diagnosis) -> dict:
        data = build_view_data(trace, diagnosis, layout=False)
        key = (tuple(data["waits"]["waiter"]), tuple(data["waits"]["target"]),
               len(data["workers"]))
        if key != self._layout_key:
            self._layout_key, self._layout = key, build_layout(data)
        data["layout"] = self._layout
        return data

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
        self._seen = n
        self._trace = trace
        self._diagnosis = diagnose(trace)
        self.data = self._build(trace, self._diagnosis)
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

    def close(self) -> None:
        self._stop.set()
        super().close()

    # -- fallbacks -----------------------------------------------------------------
    def static_svg(self) -> str:
        """Static lanes and wait-for graph stacked in one SVG."""
        return render_static_svg(self._trace, self._diagnosis)

    def _repr_mimebundle_(self, **kwargs):
        got = super()._repr_mimebundle_(**kwargs)
        bundle: dict = dict((got[0] if isinstance(got, tuple) else got) or {})
        try:
            bundle["image/svg+xml"] = self.static_svg()
        except Exception:   # drawing modules missing: the text still shows
            pass
        bundle["text/plain"] = self._diagnosis.message
        return bundle


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
    rest = svg[end + 1:]
    return (f'<svg x="{x:g}" y="{y:g}" width="{w:g}" height="{h:g}"{view}>' + rest)


def render_static_svg(trace, diagnosis=None) -> str:
    """Lanes (with the diagnosis) above the wait-for graph at the finding."""
    from ..render.lanes import render_lanes
    from ..render.waitfor import render_waitfor
    if diagnosis is None:
        diagnosis = diagnose(trace)
    parts = [render_lanes(trace, diagnosis=diagnosis)]
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
