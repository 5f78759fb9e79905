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

from typing import Dict, List, Optional

from ..analysis.detector import analyse, diagnose
from ..analysis.lane import lane_key
from ..core.text import natural_key
from . import palette
from .viewlayout import build_layout

__all__ = ["build_layout", "build_view_data", "palette_dict", "state_name"]

_ARGS_MAX = 200
MAX_FINDINGS = 200            # findings sent to the browser (the first ones)
STUCK = ("deadlock", "hang")  # verdicts after which nothing moves again


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


def build_view_data(trace, diagnosis=None, layout: bool = True,
                    t0: Optional[float] = None) -> dict:
    """The JSON-able model the front end animates: columns of numbers and
    interned strings, times in seconds from the first event.

    Parameters
    ----------
    trace : Trace or sequence of Event
    diagnosis : Diagnosis, optional
        Computed with :func:`hueyviz.diagnose` when omitted.
    layout : bool
        Include the wait-for graph layout (:func:`build_layout`).
    t0 : float, optional
        The instant the times count from (default: the first event).  A
        fix's replay is laid out on its original's axis by passing the
        original's ``t0`` (:mod:`hueyviz.render.fix`).
    """
    events = getattr(trace, "events", None)
    if events is None:
        events = tuple(trace)
    if diagnosis is None:
        diagnosis = diagnose(trace if hasattr(trace, "events") else events)
    a = analyse(trace if hasattr(trace, "events") else events)
    rp, history = a.replay, a.history
    first = min((e.t for e in events), default=0.0)
    t0 = first if t0 is None else t0
    t1 = max((e.t for e in events), default=first)
    strings = _Interner()
    n_queues = len(rp.pools)
    slots: Dict = {}
    for sp in history.spans:
        if sp.worker is not None:
            slots.setdefault((sp.queue, sp.worker), None)
    for q, w in rp.pool_members():
        slots.setdefault((q, w), None)
    order = sorted(slots, key=lambda s: (str(s[0]), natural_key(s[1].key)))
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
    data.update(_lanes(order, history, t0, strings))
    data["pools"] = _pools(order, history, rp, t0, strings)
    data["status"] = _status(history.pools, t0)
    ended: Dict[tuple, Optional[float]] = {}
    for wt in rp.waits:        # the first of equal keys (two threads' waits at once)
        ended.setdefault((wt.waiter, wt.waits_on, wt.since), wt.until)
    data["findings"] = [_finding_dict(f, t0, tidx, ended)
                        for f in getattr(diagnosis, "findings", ())[:MAX_FINDINGS]]
    data["windows"] = _windows(data, history, t0)
    data["name_colours"] = _name_colours(tasks["name"], strings.items)
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


def _lanes(order, history, t0: float, strings: _Interner) -> dict:
    """Lane labels and groups: one group per (queue, host, pid).  When a
    queue has lanes of several processes (two consumers, or one restarted)
    their lanes say which process they belong to, so two runs never read
    as one pool of twice the size."""
    groups: Dict[tuple, int] = {}
    per_queue: Dict = {}
    for q, w in order:
        groups.setdefault((q, w.host, w.pid), len(groups))
        per_queue.setdefault(q, set()).add((w.host, w.pid))
    hosts = {w.host for _, w in order}
    queues = {q for q, _ in order}
    labels, group = [], []
    up, down = [], []
    for q, w in order:
        label = w.name
        if len(per_queue[q]) > 1:
            label += f" · {w.host}/{w.pid}" if len(hosts) > 1 else f" · pid {w.pid}"
        labels.append(label)
        group.append(groups[(q, w.host, w.pid)])
        up.append(_r(history.up.get((q, w)), t0))
        down.append(_r(history.down.get((q, w)), t0))
    glabels = []
    for (q, host, pid) in groups:
        words = f"{host} pid {pid}"
        if len(queues) > 1:
            words = f"queue {q if q is not None else 'default'} · {words}"
        glabels.append(words)
    return {"lanes": {"label": labels, "group": group, "up": up, "down": down},
            "groups": {"label": glabels,
                       "queue": [strings(q) for (q, _, _) in groups]}}


def _pools(order, history, rp, t0: float, strings: _Interner) -> list:
    """Per queue: its workers (lane indices) and its live size, busy and
    blocked counts after each change, as the replay counted them."""
    out = []
    for q in sorted(rp.pools, key=str):
        pts = history.pools.get(q, [])
        out.append({"queue": q, "qi": strings(q), "label": "worker pool" if len(rp.pools) == 1
                    else f"pool {q if q is not None else 'default'}",
                    "workers": [i for i, (qq, _) in enumerate(order) if qq == q],
                    "t": [_r(t, t0) for t, *_ in pts], "size": [x[1] for x in pts],
                    "busy": [x[2] for x in pts], "blocked": [x[3] for x in pts]})
    return out


def _status(pools, t0: float) -> dict:
    """All pools together: live workers, busy, blocked, after each change."""
    changes = sorted((t, i, row) for i, (_, pts) in enumerate(sorted(pools.items(), key=lambda kv: str(kv[0])))
                     for t, *row in pts)
    now: Dict[int, list] = {}
    out: Dict[str, list] = {"t": [], "size": [], "busy": [], "blocked": []}
    for t, i, row in changes:
        now[i] = row
        tot = [sum(r[k] for r in now.values()) for k in range(3)]
        if out["t"] and out["t"][-1] == _r(t, t0):
            for k, key in enumerate(("size", "busy", "blocked")):
                out[key][-1] = tot[k]
            continue
        out["t"].append(_r(t, t0))
        for k, key in enumerate(("size", "busy", "blocked")):
            out[key].append(tot[k])
    return out


def _finding_dict(f, t0: float, tidx: dict, ended: dict) -> dict:
    """One finding, with ``until``: when its closing wait ended (the knot
    dissolved, or its workers were lost); None while it still holds.
    ``ended``: each wait's end by (waiter, waits_on, since)."""
    d = _diagnosis_dict(f, t0, tidx)
    until = f.ends
    c = f.culprit
    if c is not None and until is None:
        until = ended.get((c.waiter, c.waits_on, c.since))
    d["until"] = _r(until, t0)
    d["stuck"] = f.verdict in STUCK and until is None
    return d


def _windows(data: dict, history, t0: float) -> dict:
    """Time windows worth zooming to (seconds from the first event): the
    whole trace, where the tasks are (a consumer that took 330 ms to start
    leaves the activity in the last pixels), and each finding's knot from
    the first start of its tasks to its moment."""
    end = data["t1"]
    first = min(history.change_t, default=None)
    act = [0.0, end]
    if first is not None and end > 0:
        lo = _r(first, t0) or 0.0
        pad = max(end - lo, 1e-6) * 0.04
        act = [round(max(0.0, lo - pad), 6), end]
    finding = None
    tk = data["tasks"]
    for f in data["findings"][:1]:
        ts = [x for i in f["knot"] for x in (tk["start"][i], tk["enq"][i]) if x is not None]
        lo = min(ts + [f["at"]])
        hi = f["at"]
        pad = max(hi - lo, 1e-6) * 0.12
        finding = [round(max(0.0, lo - pad), 6), round(hi + pad, 6)]
    return {"all": [0.0, end], "activity": act, "finding": finding}


def _name_colours(names: List[int], strings: List[str]) -> dict:
    """Colour by task name (as Dask's task stream does): Okabe-Ito hues
    in order of first appearance; more names than hues repeat them (the
    labels and the tooltip still say which task it is)."""
    out: Dict[str, str] = {}
    cycle = palette.NAME_COLOURS
    for i in dict.fromkeys(names):
        out[str(i)] = cycle[len(out) % len(cycle)]
    return out


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
            "verdicts": dict(palette.VERDICT_COLOURS), "selected": palette.SELECTED,
            "names": list(palette.NAME_COLOURS)}
