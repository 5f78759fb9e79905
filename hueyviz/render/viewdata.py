"""The compact model a :class:`~hueyviz.widget.traceview.TraceView` sends to the browser.

Read off the one replay pass (:func:`hueyviz.analysis.detector.analyse`):
every task's state changes (the browser looks a task's state up there, it
never works it out from events), the executions and waits of its history,
the queue depth and each pool's size and busy/blocked counts, the
findings, the palette, and a wait-for graph layout computed once
(:mod:`hueyviz.render.viewlayout`).  The browser computes every frame from
this (DESIGN.md rule 9).

The model is JSON metadata plus typed columns packed into one binary
buffer (:mod:`hueyviz.render.viewcodec`): instants as whole ticks from the
first event (``ticks_per_s``: a microsecond, coarser for traces longer
than an hour), indices in the smallest integer type that holds them.
Task ids, args and errors travel only for a small trace
(``DETAILS_INLINE`` tasks); for a bigger one the browser asks for the
tasks it shows (:meth:`ViewModel.detail`).  :func:`decode_view_data` turns
the buffer back into columns of seconds and indices.

>>> from hueyviz.core.event import Event, Worker
>>> w = Worker("h", 1, "Worker-1")
>>> data = build_view_data([Event(1.0, "executing", "a", "job", w, None),
...                         Event(2.0, "complete", "a", "job", w, None)])
>>> d = decode_view_data(data)
>>> d["workers"], d["spans"]["start"], d["spans"]["end"], d["t1"]
(['Worker-1'], [0.0], [1.0], 1.0)
>>> [d["strings"][i] for i in d["changes"]["state"]]
['running', 'complete']
"""
from __future__ import annotations

from bisect import bisect_right
from itertools import repeat
from operator import attrgetter, itemgetter, mul, sub
from typing import Any, Dict, List, Optional, Sequence

from ..analysis.detector import analyse, diagnose
from ..analysis.lane import lane_key
from ..core.collector import collector_paused
from ..core.text import natural_key
from . import palette
from .viewcodec import NONE_TIME, pack, positions, unpack
from .viewlayout import build_layout

__all__ = ["DETAILS_INLINE", "VERSION", "ViewModel", "build_layout", "build_view_data",
           "build_view_model", "decode_view_data", "layout_input", "palette_dict", "set_layout",
           "state_name", "view_size"]

VERSION = 3
_ARGS_MAX = 200
DETAILS_INLINE = 5_000        # up to this many tasks, ids, args and errors go with the data
LAYOUT_JSON_MAX = 2_000       # more task nodes than this: their positions go as columns
MAX_FINDINGS = 200            # findings sent to the browser (the first ones)
STUCK = ("deadlock", "hang")  # verdicts after which nothing moves again
# an end packed as its distance from its start: a byte or two once deflated
REFS = {"span.end": "span.start", "wait.until": "wait.since", "task.end": "task.enq"}


def state_name(change: str) -> str:
    """The word a state change is shown as: the outcome for a finished task."""
    return change.split(":", 1)[1] if change.startswith("finished:") else change


class _Interner:
    def __init__(self, seed: Sequence[str] = ()) -> None:
        self.items: List[str] = list(seed)
        self.index: Dict[str, int] = {s: i for i, s in enumerate(self.items)}

    def __call__(self, s: Optional[str]) -> int:
        if s is None:
            return -1
        i = self.index.get(s)
        if i is None:
            i = self.index[s] = len(self.items)
            self.items.append(s)
        return i

    def each(self, strings, none: Optional[str] = None) -> List[int]:
        """The index of each of ``strings`` (None as ``none``), numbered in
        order of first appearance, as calling this for each would; a
        column of 100k repeats few distinct strings: one lookup each."""
        values = list(strings)
        known = {s: self(none if s is None else s) for s in dict.fromkeys(values)}
        return list(map(known.__getitem__, values))


def _ticks_per_s(span: float) -> int:
    """A microsecond when the trace fits 32 bits of them (71 minutes), else
    the finest power of ten that does."""
    tps = 1_000_000
    while tps > 1 and span * tps >= NONE_TIME - 2:
        tps //= 10
    return tps


class ViewModel:
    """The view data of one trace before it is packed: ``meta`` (JSON),
    ``cols`` (name -> (kind, values), :mod:`~hueyviz.render.viewcodec`'s
    logical form), and what only Python keeps: each task's id, args and
    error, answered on demand (:meth:`detail`)."""

    def __init__(self, meta: dict, cols: dict, ids: List[str], records: list) -> None:
        self.meta = meta
        self.cols = cols
        self.ids = ids
        self._records = records
        self._index: Optional[Dict[str, int]] = None

    def data(self, seq: int = 0) -> dict:
        """The packed view data: the metadata, its column manifest and the
        buffer (``data["buffer"]``, bytes)."""
        with collector_paused():
            packed, buf = pack(self.cols, refs=REFS)
        out = dict(self.meta)
        out.update(packed)
        out["seq"] = seq
        out["text"] = {k: v for k, (kind, v) in self.cols.items() if kind == "text"}
        out["buffer"] = buf
        return out

    def index_of(self, task_id: str) -> Optional[int]:
        if self._index is None:
            self._index = {t: i for i, t in enumerate(self.ids)}
        return self._index.get(task_id)

    def detail(self, i: int) -> Optional[dict]:
        """What the browser shows of task ``i`` beyond its columns."""
        if not 0 <= i < len(self.ids):
            return None
        r = self._records[i]
        return {"i": i, "id": self.ids[i], "args": None if r.args is None else r.args[:_ARGS_MAX],
                "error": r.error}


def build_view_data(trace, diagnosis=None, layout: bool = True,
                    t0: Optional[float] = None) -> dict:
    """The packed model the front end animates (see the module doc):
    :meth:`ViewModel.data` of :func:`build_view_model`."""
    return build_view_model(trace, diagnosis, layout, t0).data()


def build_view_model(trace, diagnosis=None, layout: bool = True,
                     t0: Optional[float] = None, strings: Sequence[str] = ()) -> ViewModel:
    """The model of ``trace``: metadata and columns, times in ticks from
    the first event.

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
    strings : sequence of str
        The string table to extend (a live view's previous one: the indices
        already sent keep their meaning).
    """
    # millions of ints in lists: the cyclic collector would rescan them all
    # again and again (1M tasks: 30 s instead of 8)
    with collector_paused():
        return _build(trace, diagnosis, layout, t0, strings)


def _build(trace, diagnosis, layout, t0, strings) -> ViewModel:
    events = getattr(trace, "events", None)
    if events is None:
        events = tuple(trace)
    source = trace if hasattr(trace, "events") else events
    if diagnosis is None:
        diagnosis = diagnose(source)
    a = analyse(source)
    rp, history = a.replay, a.history
    if hasattr(trace, "events"):        # a Trace is in time order
        first = events[0].t if events else 0.0
        last = events[-1].t if events else first
    else:
        first = min((e.t for e in events), default=0.0)
        last = max((e.t for e in events), default=first)
    t0 = first if t0 is None else t0
    lo = min(first, t0)
    tps = _ticks_per_s(last - lo)
    base = round((lo - t0) * tps)   # 0 but for a replay laid out on another's axis

    def ticks(xs: list, nullable: bool = True) -> list:
        # a few million instants for 100k tasks: map() keeps the loop in C
        holes = positions(xs, None) if nullable else ()
        for i in holes:
            xs[i] = t0
        out = list(map(round, map(mul, map(sub, xs, repeat(t0)), repeat(tps))))
        if base:
            out = list(map(sub, out, repeat(base)))
        for i in holes:
            out[i] = NONE_TIME
        return out

    def rel(x: Optional[float]) -> Optional[float]:
        # what the browser decodes: whole ticks, divided (not multiplied) so
        # that a microsecond tick gives what round(x - t0, 6) does
        return None if x is None else round((x - t0) * tps) / tps

    S = _Interner(strings)
    n_queues = len(rp.pools)
    slots: Dict = {}
    for sp in history.spans:
        if sp.worker is not None:
            slots.setdefault((sp.queue, sp.worker), None)
    for q, w in rp.pool_members():
        slots.setdefault((q, w), None)
    order = sorted(slots, key=lambda s: (str(s[0]), natural_key(s[1].key)))
    widx = {s: i for i, s in enumerate(order)}
    tids = list(rp.tasks)
    tidx = {t: i for i, t in enumerate(tids)}
    recs = [rp.tasks[t] for t in tids]
    cols: Dict[str, Any] = {}
    cols["task.name"] = ("int", S.each(map(attrgetter("name"), recs), "?"))
    cols["task.queue"] = ("int", S.each(map(attrgetter("queue"), recs)))
    cols["task.outcome"] = ("int", S.each(r.outcome or r.state for r in recs))
    cols["task.worker"] = ("int", [-1 if r.worker is None else widx.get((r.queue, r.worker), -1)
                                              for r in recs])
    cols["task.parent"] = ("int", [tidx.get(r.parent, -1) if r.parent else -1 for r in recs])
    cols["task.enq"] = ("time", ticks(list(map(attrgetter("enqueued"), recs))))
    cols["task.end"] = ("time", ticks(list(map(attrgetter("finished"), recs))))
    if len(tids) <= DETAILS_INLINE:
        cols["task.id"] = ("text", list(tids))
        cols["task.args"] = ("text", [None if r.args is None else r.args[:_ARGS_MAX] for r in recs])
        cols["task.error"] = ("text", [r.error for r in recs])
    spans = [sp for sp in history.spans if (sp.queue, sp.worker) in widx]
    cols["span.task"] = ("int", [tidx.get(sp.task, -1) for sp in spans])
    cols["span.worker"] = ("int", [widx[(sp.queue, sp.worker)] for sp in spans])
    cols["span.depth"] = ("int", [sp.depth for sp in spans])
    cols["span.start"] = ("time", ticks(list(map(attrgetter("start"), spans)), nullable=False))
    cols["span.end"] = ("time", ticks(list(map(attrgetter("end"), spans))))
    cols["span.outcome"] = ("int", S.each(map(attrgetter("outcome"), spans), "running"))
    # each wait of a task is a blocked stretch of the execution it holds
    span_of = {id(w): i for i, sp in enumerate(spans) for w in sp.blocked}
    waits = sorted(rp.waits, key=lambda x: x.since)
    cols["wait.waiter"] = ("int", [tidx.get(w.waiter, -1) if w.waiter else -1 for w in waits])
    cols["wait.target"] = ("int", [tidx[w.waits_on] for w in waits])
    cols["wait.span"] = ("int", [span_of.get(id(w), -1) for w in waits])
    cols["wait.worker"] = ("int", [S(w.worker.name) if w.worker else -1 for w in waits])
    cols["wait.site"] = ("int", [S(w.site) for w in waits])
    cols["wait.outcome"] = ("int", [S(w.outcome) for w in waits])
    cols["wait.since"] = ("time", ticks([w.since for w in waits], nullable=False))
    cols["wait.until"] = ("time", ticks([w.until for w in waits]))
    names = {s: S(state_name(s)) for s in dict.fromkeys(history.change_state)}
    cols["change.task"] = ("int", [tidx[t] for t in history.change_task])
    cols["change.state"] = ("int", [names[s] for s in history.change_state])
    cols["change.t"] = ("time", ticks(list(history.change_t), nullable=False))
    depth = _depth(history.depth)
    cols["queue.t"] = ("time", ticks(list(map(itemgetter(0), depth)), nullable=False))
    cols["queue.n"] = ("int", list(map(itemgetter(1), depth)))
    pools = []
    for j, q in enumerate(sorted(rp.pools, key=str)):
        pts = history.pools.get(q, [])
        cols[f"pool{j}.t"] = ("time", ticks(list(map(itemgetter(0), pts)), nullable=False))
        for k, key in enumerate(("size", "busy", "blocked"), 1):
            cols[f"pool{j}.{key}"] = ("int", list(map(itemgetter(k), pts)))
        pools.append({"queue": q, "qi": S(q), "label": "worker pool" if len(rp.pools) == 1
                      else f"pool {q if q is not None else 'default'}",
                      "workers": [i for i, (qq, _) in enumerate(order) if qq == q]})
    meta: Dict[str, Any] = {
        "version": VERSION,
        "t0": t0, "t1": rel(last) if events else 0.0, "n_events": len(events),
        "dropped": int(getattr(trace, "dropped", 0) or 0),
        "ticks_per_s": tps, "time_base": base,
        "n_tasks": len(tids), "details": "inline" if "task.id" in cols else "on demand",
        "workers": [w.name for _, w in order],
        "worker_keys": [lane_key(q, w, n_queues) for q, w in order],
        "worker_queues": [S(q) for q, _ in order],
        "pool_size": rp.pool_size(),
        "queues": {("" if q is None else q): {"size": p.size, "exact": p.exact}
                   for q, p in sorted(rp.pools.items(), key=lambda kv: str(kv[0]))},
        "timeouts": {str(i): w.timeout for i, w in enumerate(waits) if w.timeout is not None},
        "diagnosis": _diagnosis_dict(diagnosis, rel, tidx),
        "palette": palette_dict(),
    }
    meta.update(_lanes(order, history, rel, S))
    meta["pools"] = pools
    ended: Dict[tuple, Optional[float]] = {}
    for wt in rp.waits:        # the first of equal keys (two threads' waits at once)
        ended.setdefault((wt.waiter, wt.waits_on, wt.since), wt.until)
    meta["findings"] = [_finding_dict(f, rel, tidx, ended)
                        for f in getattr(diagnosis, "findings", ())[:MAX_FINDINGS]]
    meta["windows"] = _windows(meta, history, rel, spans, recs, tidx)
    meta["name_colours"] = _name_colours(cols["task.name"][1])
    meta["strings"] = S.items
    model = ViewModel(meta, cols, tids, recs)
    if layout:
        set_layout(model, build_layout(layout_input(model)))
    return model


def set_layout(model: ViewModel, lay: dict) -> None:
    """Give ``model`` the wait-for graph layout ``lay``: in the JSON, or,
    past ``LAYOUT_JSON_MAX`` task nodes, the tasks' positions as columns
    (``node.task``, ``node.x``, ``node.y`` in tenths of a pixel)."""
    for k in ("node.task", "node.x", "node.y"):
        model.cols.pop(k, None)
    pos = lay["pos"]
    tasks = [k for k in pos if k.startswith("t")]
    if len(tasks) > LAYOUT_JSON_MAX:
        xy = [pos[k] for k in tasks]
        model.cols["node.task"] = ("int", [int(k[1:]) for k in tasks])
        model.cols["node.x"] = ("int", [round(p[0] * 10) for p in xy])
        model.cols["node.y"] = ("int", [round(p[1] * 10) for p in xy])
        lay = dict(lay, pos={k: v for k, v in pos.items() if not k.startswith("t")},
                   task_nodes="columns")
    model.meta["layout"] = lay


def layout_input(model: ViewModel) -> dict:
    """What :func:`build_layout` reads, in the shape of :func:`decode_view_data`."""
    c, m = model.cols, model.meta
    return {"waits": {"waiter": c["wait.waiter"][1], "target": c["wait.target"][1]},
            "spans": {"task": c["span.task"][1], "worker": c["span.worker"][1]},
            "tasks": {"queue": c["task.queue"][1]}, "pools": m["pools"],
            "workers": m["workers"], "strings": m["strings"]}


def _depth(depth) -> list:
    """Queued tasks (all queues together) after each change."""
    from .timeline import _total_depth
    return _total_depth(depth) if depth else []


def _lanes(order, history, rel, strings: _Interner) -> dict:
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
        up.append(rel(history.up.get((q, w))))
        down.append(rel(history.down.get((q, w))))
    glabels = []
    for (q, host, pid) in groups:
        words = f"{host} pid {pid}"
        if len(queues) > 1:
            words = f"queue {q if q is not None else 'default'} · {words}"
        glabels.append(words)
    return {"lanes": {"label": labels, "group": group, "up": up, "down": down},
            "groups": {"label": glabels,
                       "queue": [strings(q) for (q, _, _) in groups]}}


def _finding_dict(f, rel, tidx: dict, ended: dict) -> dict:
    """One finding, with ``until``: when its closing wait ended (the knot
    dissolved, or its workers were lost); None while it still holds.
    ``ended``: each wait's end by (waiter, waits_on, since)."""
    d = _diagnosis_dict(f, rel, tidx)
    until = f.ends
    c = f.culprit
    if c is not None and until is None:
        until = ended.get((c.waiter, c.waits_on, c.since))
    d["until"] = rel(until)
    d["stuck"] = f.verdict in STUCK and until is None
    return d


def _windows(meta: dict, history, rel, spans, recs, tidx) -> dict:
    """Time windows worth zooming to (seconds from the first event): the
    whole trace, where the tasks are (a consumer that took 330 ms to start
    leaves the activity in the last pixels), and each finding's knot from
    the first start of its tasks to its moment."""
    end = meta["t1"]
    first = min(history.change_t, default=None)
    act = [0.0, end]
    if first is not None and end > 0:
        lo = rel(first) or 0.0
        pad = max(end - lo, 1e-6) * 0.04
        act = [round(max(0.0, lo - pad), 6), end]
    finding = None
    for f in meta["findings"][:1]:
        knot = set(f["knot"])
        ts = [rel(sp.start) for sp in spans if tidx.get(sp.task) in knot]
        ts += [rel(recs[i].enqueued) for i in knot if recs[i].enqueued is not None]
        lo = min(ts + [f["at"]])
        hi = f["at"]
        pad = max(hi - lo, 1e-6) * 0.12
        finding = [round(max(0.0, lo - pad), 6), round(hi + pad, 6)]
    return {"all": [0.0, end], "activity": act, "finding": finding}


def _name_colours(names) -> dict:
    """Colour by task name (as Dask's task stream does): Okabe-Ito hues
    in order of first appearance; more names than hues repeat them (the
    labels and the tooltip still say which task it is)."""
    out: Dict[str, str] = {}
    cycle = palette.NAME_COLOURS
    for i in dict.fromkeys(names):
        out[str(i)] = cycle[len(out) % len(cycle)]
    return out


def _diagnosis_dict(d, rel, tidx: dict) -> dict:
    out = {"verdict": d.verdict, "at": rel(d.at), "message": d.message,
           "culprit": None, "knot": [], "workers": dict(d.workers)}
    c = d.culprit
    if c is not None:
        out["culprit"] = {"waiter": tidx.get(c.waiter, -1) if c.waiter else -1,
                          "target": tidx.get(c.waits_on, -1), "since": rel(c.since),
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


# -- reading it back -----------------------------------------------------------------
def view_size(data: dict) -> int:
    """Bytes sent to the browser for ``data``: its buffer and its JSON."""
    import json
    meta = {k: v for k, v in data.items() if k != "buffer"}
    return len(data.get("buffer") or b"") + len(json.dumps(meta, separators=(",", ":")))


def decode_view_data(data: dict, cols: Optional[Dict[str, list]] = None,
                     tables: Optional[tuple] = None) -> dict:
    """The view data as columns of seconds and indices (what the browser
    decodes): ``tasks``, ``spans``, ``blocks``, ``waits``, ``changes``
    (grouped by task: task i's at ``start[i]`` up to ``start[i + 1]``),
    ``queue``, ``pools`` (with their series), ``status`` (all pools
    together), ``times`` (every instant at which something shown
    changes), and the metadata as it is.  ``cols``: the columns already
    unpacked (:func:`~hueyviz.render.viewcodec.unpack`, and the text
    ones); ``tables``: only those (e.g. ``("pool",)``: ``pools``)."""
    if cols is None:
        cols = unpack(data, data["buffer"], tables=tables)
        cols.update({k: list(v) for k, v in (data.get("text") or {}).items()})
    tps, base = data["ticks_per_s"], data["time_base"]
    kinds = {c["name"]: c["kind"] for c in data["columns"]}

    def col(name):
        v = cols[name]
        if kinds.get(name) == "time":
            return [None if x is None else (x + base) / tps for x in v]
        return list(v)

    out = {k: v for k, v in data.items() if k not in ("buffer", "columns", "text")}
    pools = []
    for j, p in enumerate(data["pools"]):
        pools.append(dict(p, t=col(f"pool{j}.t"), size=col(f"pool{j}.size"),
                          busy=col(f"pool{j}.busy"), blocked=col(f"pool{j}.blocked")))
    out["pools"] = pools
    if tables is not None:
        return out
    n = data["n_tasks"]
    tasks = {k: col(f"task.{k}") for k in ("name", "queue", "outcome", "worker", "parent", "enq", "end")}
    for k in ("id", "args", "error"):
        tasks[k] = list(cols[f"task.{k}"]) if f"task.{k}" in cols else [None] * n
    sp = {k: col(f"span.{k}") for k in ("task", "worker", "depth", "start", "end", "outcome")}
    start: List[Optional[float]] = [None] * n
    for ti, s in zip(sp["task"], sp["start"]):
        if ti >= 0 and (start[ti] is None or s < start[ti]):
            start[ti] = s
    tasks["start"] = start
    w = {k: col(f"wait.{k}") for k in ("waiter", "target", "span", "worker", "site", "outcome",
                                       "since", "until")}
    w["timeout"] = [data["timeouts"].get(str(i)) for i in range(len(w["since"]))]
    blocks: Dict[str, list] = {"span": [], "start": [], "end": []}
    for si, a, b in zip(w["span"], w["since"], w["until"]):
        if si >= 0:
            blocks["span"].append(si)
            blocks["start"].append(a)
            blocks["end"].append(b)
    ct, cs = col("change.t"), col("change.state")
    per: List[List[int]] = [[] for _ in range(n)]
    for row, ti in enumerate(cols["change.task"]):
        per[ti].append(row)
    changes: Dict[str, list] = {"start": [], "t": [], "state": []}
    for ks in per:
        changes["start"].append(len(changes["t"]))
        changes["t"].extend(ct[r] for r in ks)
        changes["state"].extend(cs[r] for r in ks)
    changes["start"].append(len(changes["t"]))
    out.update(tasks=tasks, spans=sp, blocks=blocks, waits=w, changes=changes,
               queue={"t": col("queue.t"), "n": col("queue.n")}, status=_status(pools))
    if "node.task" in cols:
        pos = dict(data["layout"]["pos"])
        for i, x, y in zip(cols["node.task"], cols["node.x"], cols["node.y"]):
            pos[f"t{i}"] = [x / 10, y / 10]
        out["layout"] = dict(data["layout"], pos=pos)
    # (each execution's start and end, each wait's, is a change of its task)
    out["times"] = sorted(set(ct).union(out["queue"]["t"], *(p["t"] for p in pools)))
    return out


def _status(pools: List[dict]) -> dict:
    """All pools together: live workers, busy, blocked, at each instant
    one of them changed (each pool's last row at or before it, summed)."""
    ts = sorted(set().union(*(p["t"] for p in pools))) if pools else []
    out: Dict[str, list] = {"t": ts, "size": [], "busy": [], "blocked": []}
    for t in ts:
        tot = [0, 0, 0]
        for p in pools:
            k = bisect_right(p["t"], t) - 1
            if k >= 0:
                tot[0] += p["size"][k]
                tot[1] += p["busy"][k]
                tot[2] += p["blocked"][k]
        for key, v in zip(("size", "busy", "blocked"), tot):
            out[key].append(v)
    return out
