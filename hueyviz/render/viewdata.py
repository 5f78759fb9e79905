"""The compact model a :class:`~hueyviz.widget.traceview.TraceView` sends to the browser.

Columns of numbers and interned strings (times in seconds from the first
event), read off the one replay pass (:func:`hueyviz.analysis.detector.analyse`):
the executions and waits of its history, and every task's state changes
(``changes``: the browser looks a task's state up there, it never works it
out from events), the queue depth, the diagnosis, the palette, and a
wait-for graph layout computed once: Graphviz ``dot`` through
:mod:`hueyviz.render.engine` for small graphs, a deterministic worker-row
layout for big ones.  The browser computes every frame from this (DESIGN.md
rule 9).

>>> from hueyviz.core.event import Event, Worker
>>> w = Worker("h", 1, "Worker-1")
>>> data = build_view_data([Event(1.0, "executing", "a", "job", w, None),
...                         Event(2.0, "complete", "a", "job", w, None)])
>>> data["workers"], data["spans"]["start"], data["spans"]["end"], data["t1"]
(['Worker-1'], [0.0], [1.0], 1.0)
>>> [data["strings"][i] for i in data["changes"]["state"]]
['running', 'complete']
"""
from __future__ import annotations

import re
from typing import Dict, List, Optional

from ..analysis.detector import analyse, diagnose
from ..analysis.lane import lane_key
from . import palette

__all__ = ["build_layout", "build_view_data", "palette_dict", "state_name"]

GRAPHVIZ_MAX_NODES = 150      # above this, the worker-row layout (dot gets slow)
_ARGS_MAX = 200


def _r(x: Optional[float], t0: float) -> Optional[float]:
    return None if x is None else round(x - t0, 6)


def state_name(change: str) -> str:
    """The word a state change is shown as: the outcome for a finished task."""
    return change.split(":", 1)[1] if change.startswith("finished:") else change


class _Interner:
    def __init__(self) -> None:
        self.index: Dict[str, int] = {}
        self.items: List[str] = []

    def __call__(self, s: Optional[str]) -> int:
        if s is None:
            return -1
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.items)
            self.items.append(s)
        return i


def build_view_data(trace, diagnosis=None, layout: bool = True) -> dict:
    """The JSON-able model the front end animates: columns of numbers and
    interned strings, times in seconds from the first event.

    Parameters
    ----------
    trace : Trace or sequence of Event
    diagnosis : Diagnosis, optional
        Computed with :func:`hueyviz.diagnose` when omitted.
    layout : bool
        Include the wait-for graph layout (:func:`build_layout`).
    """
    events = getattr(trace, "events", None)
    if events is None:
        events = tuple(trace)
    if diagnosis is None:
        diagnosis = diagnose(trace if hasattr(trace, "events") else events)
    a = analyse(trace if hasattr(trace, "events") else events)
    rp, history = a.replay, a.history
    t0 = min((e.t for e in events), default=0.0)
    t1 = max((e.t for e in events), default=t0)
    strings = _Interner()
    n_queues = len(rp.pools)
    slots: Dict = {}
    for sp in history.spans:
        if sp.worker is not None:
            slots.setdefault((sp.queue, sp.worker), None)
    for q, w in rp.pool_members():
        slots.setdefault((q, w), None)
    order = sorted(slots, key=lambda s: (str(s[0]), _natural(s[1].key)))
    wkeys = [lane_key(q, w, n_queues) for q, w in order]
    widx = {s: i for i, s in enumerate(order)}
    wnames = [w.name for _, w in order]
    tids = list(rp.tasks)
    tidx = {t: i for i, t in enumerate(tids)}
    recs = [rp.tasks[t] for t in tids]
    tasks: Dict[str, list] = {
        "id": tids,
        "name": [strings(r.name or "?") for r in recs],
        "args": [None if r.args is None else r.args[:_ARGS_MAX] for r in recs],
        "enq": [_r(r.enqueued, t0) for r in recs],
        "start": [None] * len(recs),
        "end": [_r(r.finished, t0) for r in recs],
        "worker": [widx.get(r.slot, -1) if r.slot else -1 for r in recs],
        "outcome": [strings(r.outcome or r.state) for r in recs],
        "parent": [tidx.get(r.parent, -1) if r.parent else -1 for r in recs],
        "error": [r.error for r in recs],
        "queue": [strings(r.queue) for r in recs],
    }
    spans: Dict[str, list] = {k: [] for k in ("task", "worker", "depth", "start", "end", "outcome")}
    blocks: Dict[str, list] = {k: [] for k in ("span", "start", "end")}
    for sp in sorted(history.spans, key=lambda sp: (widx.get((sp.queue, sp.worker), -1),
                                                    sp.start, sp.depth)):
        slot = (sp.queue, sp.worker)
        if slot not in widx:
            continue
        i = len(spans["task"])
        ti = tidx.get(sp.task, -1)
        spans["task"].append(ti)
        spans["worker"].append(widx[slot])
        spans["depth"].append(sp.depth)
        spans["start"].append(_r(sp.start, t0))
        spans["end"].append(_r(sp.end, t0))
        spans["outcome"].append(strings(sp.outcome or "running"))
        if ti >= 0 and tasks["start"][ti] is None:
            tasks["start"][ti] = _r(sp.start, t0)
        for bw in sp.blocked:
            blocks["span"].append(i)
            blocks["start"].append(_r(bw.since, t0))
            blocks["end"].append(_r(bw.until, t0))
    waits: Dict[str, list] = {k: [] for k in ("waiter", "target", "worker", "since",
                                              "until", "timeout", "site", "outcome")}
    for wt in sorted(rp.waits, key=lambda x: x.since):
        waits["waiter"].append(tidx.get(wt.waiter, -1) if wt.waiter else -1)
        waits["target"].append(tidx[wt.waits_on])
        waits["worker"].append(strings(wt.worker.name) if wt.worker else -1)
        waits["since"].append(_r(wt.since, t0))
        waits["until"].append(_r(wt.until, t0))
        waits["timeout"].append(wt.timeout)
        waits["site"].append(strings(wt.site))
        waits["outcome"].append(strings(wt.outcome))
    data = {
        "version": 2,
        "t0": t0, "t1": round(t1 - t0, 6), "n_events": len(events),
        "dropped": int(getattr(trace, "dropped", 0) or 0),
        "strings": strings.items,
        "workers": wnames, "worker_keys": wkeys,
        "worker_queues": [strings(q) for q, _ in order],
        "pool_size": rp.pool_size(),
        "queues": {("" if q is None else q): {"size": p.size, "exact": p.exact}
                   for q, p in sorted(rp.pools.items(), key=lambda kv: str(kv[0]))},
        "tasks": tasks, "spans": spans, "blocks": blocks, "waits": waits,
        "changes": _changes(history, tidx, t0, strings),
        "times": sorted({round(e.t - t0, 6) for e in events}),
        "queue": _depth(history.depth, t0),
        "diagnosis": _diagnosis_dict(diagnosis, t0, tidx),
        "palette": palette_dict(),
    }
    if layout:
        data["layout"] = build_layout(data)
    return data


def _changes(history, tidx: Dict[str, int], t0: float, strings: _Interner) -> dict:
    """Every task's state changes, grouped by task: task i's are at
    ``start[i]`` up to ``start[i + 1]`` in ``t`` and ``state``."""
    per: List[List[int]] = [[] for _ in tidx]
    for k, tid in enumerate(history.change_task):
        per[tidx[tid]].append(k)
    start: List[int] = []
    ts: List[Optional[float]] = []
    states: List[int] = []
    for ks in per:
        start.append(len(ts))
        for k in ks:
            ts.append(_r(history.change_t[k], t0))
            states.append(strings(state_name(history.change_state[k])))
    start.append(len(ts))
    return {"start": start, "t": ts, "state": states}


def _depth(depth, t0: float) -> dict:
    """Queued tasks (all queues together) after each change."""
    from .timeline import _total_depth
    pts = _total_depth(depth) if depth else []
    return {"t": [_r(t, t0) for t, _ in pts], "n": [n for _, n in pts]}


def _natural(key: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", key)]


def _diagnosis_dict(d, t0: float, tidx: dict) -> dict:
    out = {"verdict": d.verdict, "at": _r(d.at, t0), "message": d.message,
           "culprit": None, "knot": [], "workers": dict(d.workers)}
    c = d.culprit
    if c is not None:
        out["culprit"] = {"waiter": tidx.get(c.waiter, -1) if c.waiter else -1,
                          "target": tidx.get(c.waits_on, -1), "since": _r(c.since, t0),
                          "site": c.site, "worker": c.worker}
    knot = set()
    for k in d.knot:
        for key in ("waiter", "waits_on", "task"):
            if k.get(key) in tidx:
                knot.add(tidx[k[key]])
    out["knot"] = sorted(knot)
    return out


def palette_dict() -> dict:
    """The shared Okabe-Ito colours, for the front end."""
    return {"states": dict(palette.STATE_COLOURS), "culprit": palette.CULPRIT,
            "knot": palette.KNOT, "wait": palette.WAIT_EDGE, "spawn": palette.SPAWN_EDGE,
            "pool": palette.POOL, "text": palette.TEXT, "muted": palette.MUTED,
            "grid": palette.GRID, "background": palette.BACKGROUND, "font": palette.FONT,
            "verdicts": dict(palette.VERDICT_COLOURS)}


# -- wait-for graph layout ------------------------------------------------------
NODE_W, NODE_H = 150.0, 34.0


def build_layout(data: dict) -> dict:
    """Stable positions (pixels, y down) for every node the wait-for graph
    can show: ``w<i>`` for worker i, ``t<i>`` for task i (waiters and the
    tasks they wait for).  Computed once; the browser only colours and
    shows/hides nodes per frame."""
    waits = data["waits"]
    holder_of: Dict[int, int] = {}
    for ti, wi in zip(data["spans"]["task"], data["spans"]["worker"]):
        if ti >= 0:
            holder_of.setdefault(ti, wi)
    nodes: Dict[str, None] = {f"w{i}": None for i in range(len(data["workers"]))}
    edges = []
    for a, b in zip(waits["waiter"], waits["target"]):
        if a >= 0:
            nodes.setdefault(f"t{a}", None)
            if a in holder_of:
                edges.append((f"w{holder_of[a]}", f"t{a}"))
        nodes.setdefault(f"t{b}", None)
        if a >= 0:
            edges.append((f"t{a}", f"t{b}"))
    edges = list(dict.fromkeys(edges))
    pos = None
    engine = "layered"
    if len(nodes) <= GRAPHVIZ_MAX_NODES and edges:
        try:
            pos = _graphviz_layout(list(nodes), edges)
            engine = "graphviz"
        except Exception:   # no engine, or it failed: the layered layout draws too
            pos = None
    if pos is None:
        pos = _layered_layout(list(nodes), edges)
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    minx, miny = min(xs) - NODE_W / 2 - 10, min(ys) - NODE_H / 2 - 10
    out = {k: [round(x - minx, 1), round(y - miny, 1)] for k, (x, y) in pos.items()}
    return {"engine": engine, "pos": out, "node_w": NODE_W, "node_h": NODE_H,
            "width": round(max(xs) - minx + NODE_W / 2 + 10, 1),
            "height": round(max(ys) - miny + NODE_H / 2 + 10, 1)}


def _graphviz_layout(nodes: List[str], edges) -> Dict[str, tuple]:
    from .engine import layout_json
    lines = ["digraph G {", "rankdir=LR; nodesep=0.25; ranksep=1.0;",
             f'node [shape=box fixedsize=true label="" width={NODE_W / 72:.3f} '
             f'height={NODE_H / 72:.3f}];']
    lines += [f"{n};" for n in nodes]              # ids are w<int>/t<int>: safe
    lines += [f"{a} -> {b};" for a, b in edges]
    lines.append("}")
    js = layout_json("\n".join(lines))
    pos = {}
    for obj in js.get("objects", []):
        name = obj.get("name")
        if name in nodes and "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            pos[name] = (x, y)   # points used as pixels; y kept (first node on top)
    if set(pos) != set(nodes):
        raise ValueError("graphviz layout lost nodes")
    return pos


def _layered_layout(nodes: List[str], edges) -> Dict[str, tuple]:
    """Worker rows: a worker in column 0, the task it held while waiting in
    column 1, what that task waited for in column 2, and so on along the
    chain.  Many tasks share a cell, but at one instant a worker holds one
    task that waits for one other, so what is shown rarely overlaps; and the
    size is bounded by workers x chain depth however long the trace."""
    row = {n: int(n[1:]) for n in nodes if n.startswith("w")}
    depth = {n: 0 for n in row}
    extra = len(row)      # waits by non-task code get rows below the workers
    for _ in range(8):    # a few relaxation rounds; cycles stop at the bound
        changed = False
        for a, b in edges:
            if a in depth and (b not in depth or depth[b] < depth[a] + 1) and depth[a] < 8:
                depth[b] = depth[a] + 1
                row.setdefault(b, row.get(a, extra))
                changed = True
        if not changed:
            break
    pos = {}
    for n in nodes:
        if n not in depth:
            depth[n], row[n] = 1, extra
        pos[n] = (depth[n] * (NODE_W + 60), row[n] * (NODE_H + 14))
    return pos
