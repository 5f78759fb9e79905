"""What the lower layers reach for without importing it: the one upward link.

The data flows one way (``core`` -> ``record``/``read`` -> ``analysis`` ->
``render`` -> ``widget``).  A few conveniences on objects of the lower
layers are answered by the layers above them: a trace's derived views
(``Trace.graph()``, ``.lanes()``, ``.state_at()``), reading a source
(``Trace.read``) and the notebook display of a trace, a diagnosis or an
advice (``_repr_mimebundle_``).  They import this module, lazily, and nothing else
upstream; this module is the only place that knows where those answers live.
The import-layer test (``tests/test_layers.py``) allows exactly these links.
"""
from __future__ import annotations

from typing import Any, Optional

__all__ = ["mimebundle", "read_sources", "trace_graph", "trace_lanes", "trace_state_at"]

_STATES_KEPT = 4


def trace_graph(trace):
    from .analysis.graph import build_graph
    return build_graph(trace.events)


def trace_lanes(trace):
    from .analysis.detector import analyse
    from .analysis.lane import lanes_of
    return trace.derived("lanes", lambda: lanes_of(analyse(trace).history))


def trace_state_at(trace, t: Optional[float] = None):
    from .analysis.detector import analyse
    from .analysis.replay import snapshot, state_at
    states = trace.derived("states", dict)
    state = states.get(t)
    if state is None:
        events = trace.events
        if events and (t is None or t >= events[-1].t):
            # The analysis' replay has seen every event: the end needs no second pass.
            state = snapshot(analyse(trace).replay, t, share=True)
        else:
            state = state_at(events, t)
        if len(states) >= _STATES_KEPT:
            del states[next(iter(states))]
        states[t] = state
    return state


def read_sources(source, *, strict: bool = True):
    from .read.follower import read_trace
    return read_trace(source, strict=strict)


def mimebundle(obj: Any) -> dict:
    """SVG plus a text fallback for a Trace or a Diagnosis (GitHub, nbviewer,
    terminals); the text alone when drawing is impossible here.  An Advice:
    its fixes table in HTML, and the text."""
    from .analysis.advice import Advice
    from .analysis.finding import Diagnosis
    if isinstance(obj, Advice):
        from .render.fix import render_fixes_table
        return {"text/plain": str(obj), "text/html": render_fixes_table(obj, style=True)}
    if isinstance(obj, Diagnosis):
        bundle = {"text/plain": obj.message}
        try:
            from .render.knot import render_diagnosis
            bundle["image/svg+xml"] = render_diagnosis(obj)
        except Exception:    # no Graphviz engine: the words still explain it
            pass
        return bundle
    bundle = {"text/plain": obj.summary()}
    try:
        from .render.lanes import render_lanes
        bundle["image/svg+xml"] = render_lanes(obj)
    except Exception:
        pass
    return bundle
