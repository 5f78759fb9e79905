"""Chrome Trace Event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing.

One process per consumer (``host/pid``), one thread track per worker (and
per non-worker thread that enqueued or waited).  Each execution is a
complete (``X``) event on its worker's track; each blocked interval is a
nested ``X`` slice named ``wait <task>``.  Flow arrows (``s``/``f``, bound
to the enclosing slice) join a parent to the subtasks it spawned and a
waiter to the task it waits for.  Every finding is a global instant
(``i``, scope ``g``) at its moment, named after its closing wait.

Times are microseconds from the trace start.  The output is deterministic:
events in a fixed order, keys sorted.

>>> from hueyviz import Trace
>>> to_perfetto(Trace([]))["traceEvents"]
[]
"""
from __future__ import annotations

import json
import re
from typing import Dict, List, Optional, Tuple

from ..analysis.detector import Diagnosis, diagnose
from ..core.event import Worker

__all__ = ["to_perfetto", "render_perfetto"]

_SURROGATE = re.compile("[\ud800-\udfff]")


def _s(text) -> str:
    """A string JSON can carry to any parser (lone surrogates replaced)."""
    return _SURROGATE.sub("\ufffd", str(text))


def _natural(s: str):
    return [(0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", s)]


def _label(name: Optional[str], task: Optional[str]) -> str:
    return f"{_s(name or '?')} [{(task or '?')[:8]}]"


class _Tracks:
    """Integer pid/tid per consumer process and worker, in a stable order."""

    def __init__(self, workers):
        procs = sorted({(w.host, w.pid) for w in workers},
                       key=lambda hp: (_natural(hp[0]), hp[1]))
        self.pid = {hp: i + 1 for i, hp in enumerate(procs)}
        self.tid: Dict[Worker, int] = {}
        for hp in procs:
            mine = sorted((w for w in workers if (w.host, w.pid) == hp),
                          key=lambda w: _natural(w.name))
            for i, w in enumerate(mine):
                self.tid[w] = i + 1

    def of(self, w: Optional[Worker]) -> Tuple[int, int]:
        if w is None or w not in self.tid:
            return 0, 0
        return self.pid[(w.host, w.pid)], self.tid[w]

    def metadata(self) -> List[dict]:
        out = []
        for (host, pid), p in sorted(self.pid.items(), key=lambda kv: kv[1]):
            out.append({"ph": "M", "name": "process_name", "pid": p, "tid": 0,
                        "args": {"name": _s(f"{host}/{pid}")}})
            out.append({"ph": "M", "name": "process_sort_index", "pid": p, "tid": 0,
                        "args": {"sort_index": p}})
        for w, t in sorted(self.tid.items(), key=lambda kv: (self.of(kv[0]))):
            p = self.pid[(w.host, w.pid)]
            out.append({"ph": "M", "name": "thread_name", "pid": p, "tid": t,
                        "args": {"name": _s(w.name)}})
            out.append({"ph": "M", "name": "thread_sort_index", "pid": p, "tid": t,
                        "args": {"sort_index": t}})
        return out


def to_perfetto(trace, diagnosis: Optional[Diagnosis] = None) -> dict:
    """The trace as a Chrome Trace Event object (``{"traceEvents": [...]}``).

    Parameters
    ----------
    trace : Trace
    diagnosis : Diagnosis, optional
        ``diagnose(trace)``, when already computed (for the finding instants).
    """
    events = trace.events
    if not events:
        return {"traceEvents": [], "displayTimeUnit": "ms",
                "otherData": {"source": "hueyviz", "verdict": "ok"}}
    d = diagnosis if diagnosis is not None else diagnose(trace)
    t0, t_end = trace.start, trace.end

    def us(t: float) -> float:
        return round((t - t0) * 1e6, 3)

    tracks = _Tracks({e.worker for e in events if e.worker is not None})
    names: Dict[str, str] = {}
    errors: Dict[Tuple[str, float], dict] = {}
    enq: Dict[str, Tuple[float, Optional[Worker], Optional[str]]] = {}
    thread_waits: List[Tuple[Worker, float, Optional[float], dict]] = []
    open_thread: Dict[Worker, Tuple[float, dict]] = {}
    for e in events:
        if e.task is not None and e.name is not None:
            names.setdefault(e.task, e.name)
        if e.kind == "error" and e.task is not None:
            errors[(e.task, e.t)] = {"error": _s(e.get("error", "")),
                                     "message": _s(e.get("message", ""))}
        elif e.kind == "enqueued" and e.task is not None and e.task not in enq:
            enq[e.task] = (e.t, e.worker, e.get("parent"))
        elif e.kind == "block" and e.task is None and e.worker is not None:
            open_thread[e.worker] = (e.t, e.data or {})
        elif e.kind == "unblock" and e.task is None and e.worker in open_thread:
            since, data = open_thread.pop(e.worker)
            thread_waits.append((e.worker, since, e.t, dict(data, outcome=e.get("outcome"))))
    for w, (since, data) in open_thread.items():
        thread_waits.append((w, since, None, data))

    slices: List[dict] = []
    first_span: Dict[str, Tuple[float, float, int, int]] = {}   # task -> (start, end, pid, tid)
    spans_of: Dict[str, List[Tuple[float, float, int, int]]] = {}
    lanes = trace.lanes()
    for key in sorted(lanes, key=_natural):
        lane = lanes[key]
        pid, tid = tracks.of(lane.worker)
        for sp in lane.spans:
            end = sp.end if sp.end is not None else t_end
            args = {"task": _s(sp.task), "outcome": sp.outcome or "running at end of trace"}
            err = errors.get((sp.task, sp.end)) if sp.outcome == "error" else None
            if err:
                args.update(err)
            slices.append({"ph": "X", "name": _s(sp.name or "?"), "cat": "task",
                           "pid": pid, "tid": tid, "ts": us(sp.start),
                           "dur": round(us(end) - us(sp.start), 3), "args": args})
            rec = (sp.start, end, pid, tid)
            first_span.setdefault(sp.task, rec)
            spans_of.setdefault(sp.task, []).append(rec)
            for w in sp.blocked:
                until = min(w.until if w.until is not None else end, end)
                slices.append({
                    "ph": "X", "name": f"wait {_label(names.get(w.waits_on), w.waits_on)}",
                    "cat": "wait", "pid": pid, "tid": tid, "ts": us(w.since),
                    "dur": round(us(until) - us(w.since), 3),
                    "args": {"waits_on": _s(w.waits_on), "timeout": w.timeout,
                             "site": _s(w.site) if w.site else None,
                             "outcome": w.outcome or "still waiting at end of trace"}})
    for w, since, until, data in sorted(thread_waits, key=lambda x: (tracks.of(x[0]), x[1])):
        pid, tid = tracks.of(w)
        target = data.get("waits_on")
        slices.append({
            "ph": "X", "name": f"wait {_label(names.get(target), target)}", "cat": "wait",
            "pid": pid, "tid": tid, "ts": us(since),
            "dur": round(us(until if until is not None else t_end) - us(since), 3),
            "args": {"waits_on": _s(target), "holds_worker": False,
                     "outcome": _s(data.get("outcome") or "still waiting at end of trace")}})
    slices.sort(key=lambda x: (x["pid"], x["tid"], x["ts"], -x["dur"], x["name"]))

    flows: List[dict] = []
    flow_id = 0

    def flow(cat: str, name: str, ts_s: float, src: Tuple[int, int], ts_f: float,
             dst: Tuple[int, int]) -> None:
        nonlocal flow_id
        flow_id += 1
        flows.append({"ph": "s", "cat": cat, "name": name, "id": flow_id,
                      "pid": src[0], "tid": src[1], "ts": ts_s})
        flows.append({"ph": "f", "bp": "e", "cat": cat, "name": name, "id": flow_id,
                      "pid": dst[0], "tid": dst[1], "ts": ts_f})

    # spawn: parent (at the enqueue, on its track) -> child's first execution
    for child in sorted(enq, key=lambda c: (enq[c][0], c)):
        t, worker, parent = enq[child]
        if parent is None or child not in first_span or parent not in spans_of:
            continue
        src = tracks.of(worker)
        if src == (0, 0):
            continue
        start, _, pid, tid = first_span[child]
        flow("spawn", "spawn", us(t), src, us(max(start, t)), (pid, tid))
    # wait: waiter (at the block) -> the execution of the awaited task
    waits = [(w.since, key, w) for key, lane in lanes.items() for sp in lane.spans
             for w in sp.blocked]
    for since, key, w in sorted(waits, key=lambda x: (x[0], _natural(x[1]), x[2].waits_on)):
        src = tracks.of(lanes[key].worker)
        for start, end, pid, tid in spans_of.get(w.waits_on, ()):
            if end >= since:
                flow("wait", "waits for", us(since), src, us(max(start, since)), (pid, tid))
                break

    instants = []
    for f in d.findings:
        c = f.culprit
        name = f.verdict
        args = {"verdict": f.verdict, "message": _s(f.message)}
        pid = tid = 0
        if c is not None:
            name = (f"{f.verdict}: {_label(c.waiter_name, c.waiter) if c.waiter else 'thread'}"
                    f" waits for {_label(c.waits_on_name, c.waits_on)}")
            args["culprit"] = {k: (_s(v) if isinstance(v, str) else v)
                               for k, v in c.to_dict().items()}
            w = next((x for x in tracks.tid if x.key == c.worker_key), None)
            pid, tid = tracks.of(w)
        instants.append({"ph": "i", "s": "g", "cat": "finding", "name": _s(name),
                         "pid": pid, "tid": tid, "ts": us(f.at), "args": args})

    return {"traceEvents": tracks.metadata() + slices + flows + instants,
            "displayTimeUnit": "ms",
            "otherData": {"source": "hueyviz", "start_unix": t0, "verdict": d.verdict,
                          "message": _s(d.message), "dropped_events": trace.dropped}}


def render_perfetto(trace, diagnosis: Optional[Diagnosis] = None) -> str:
    """:func:`to_perfetto` as JSON text, one event per line, keys sorted."""
    obj = to_perfetto(trace, diagnosis)
    lines = [json.dumps(e, sort_keys=True, ensure_ascii=True) for e in obj["traceEvents"]]
    rest = {k: v for k, v in obj.items() if k != "traceEvents"}
    head = json.dumps(rest, sort_keys=True, ensure_ascii=True)[1:-1]
    body = ",\n".join(lines)
    return '{"traceEvents": [\n' + body + "\n], " + head + "}\n"
