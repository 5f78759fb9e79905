"""Chrome Trace Event JSON, for Perfetto (ui.perfetto.dev) and chrome://tracing.

One process per consumer (``host/pid``, prefixed with the queue when there
are several), one thread track per worker (and per non-worker thread that
enqueued or waited).  Each execution is a complete (``X``) event on its
worker's track; each blocked interval is a nested ``X`` slice named
``wait <task>``.  Flow arrows (``s``/``f``, bound to the enclosing slice)
join a parent to the subtasks it spawned and a waiter to the task it waits
for.  Per queue, a counter track shows the number of queued tasks, and
(up to :data:`MAX_QUEUED_SLICES` tasks) an async track shows how long each
task sat in the queue, including tasks that never ran.  A task that never
ran (the subtasks of a deadlock) also gets a track of its own under its
queue, with one slice from its enqueue to the end, so the spawn and wait
arrows that point at it have somewhere to land.  A thread that enqueued
tasks without being a worker (the app's, the notebook's MainThread) shows
each enqueue as a zero-length slice, with an arrow to where the task ran.
Every finding is a global instant (``i``, scope ``g``) at its moment, named
after its closing wait.

Everything is read off the one replay (:func:`hueyviz.analysis.detector.analyse`).
Times are microseconds from the trace start.  The output is deterministic:
events in a fixed order, keys sorted.  Each event is encoded (orjson) as
soon as it is made (:func:`hueyviz.core.codec.dumps_sorted`) and the text
is written a piece at a time (:func:`iter_perfetto`): a million tasks give
about 4 million events, which as Python dicts held several gigabytes.

>>> from hueyviz import Trace
>>> to_perfetto(Trace([]))["traceEvents"]
[]
"""
from __future__ import annotations

import re
from itertools import repeat
from json.encoder import encode_basestring_ascii as _esc
from operator import attrgetter, itemgetter, mul, neg, sub
from typing import Callable, Dict, Iterator, List, Optional, Tuple

from ..analysis.detector import analyse, diagnose
from ..analysis.finding import Diagnosis
from ..analysis.replay import Span
from ..core.codec import dumps_sorted as _enc
from ..core.codec import loads
from ..core.event import Event, Worker
from ..core.text import natural_key

__all__ = ["MAX_QUEUED_SLICES", "iter_perfetto", "render_perfetto", "to_perfetto"]

MAX_QUEUED_SLICES = 20_000      # more tasks: the queue-depth counter only
MAX_NEVER_RAN = 200             # tracks for tasks that never ran
MAX_ENQUEUE_MARKS = 20_000      # enqueue slices on non-worker threads
_BATCH = 10_000                 # events per piece of iter_perfetto
_SLICE_ORDER = itemgetter(0, 1, 2, 3, 4)      # pid, tid, ts, -dur, name
_SURROGATE = re.compile("[\ud800-\udfff]")
Track = Tuple[int, int]


def _s(text) -> str:
    """A string JSON can carry to any parser (lone surrogates replaced)."""
    text = str(text)
    return text if text.isascii() else _SURROGATE.sub("\ufffd", text)


def _label(name: Optional[str], task: Optional[str]) -> str:
    return f"{_s(name or '?')} [{(task or '?')[:8]}]"


class _Tracks:
    """Integer pid/tid per (queue, consumer process) and worker, in a stable order."""

    def __init__(self, threads: set, named: bool):
        # threads: {(queue, Worker)}; queue None for threads that only
        # enqueued or waited (the app's threads).
        self.named = named
        procs = sorted({(q, w.host, w.pid) for q, w in threads},
                       key=lambda p: (str(p[0]), natural_key(p[1]), p[2]))
        self.pid = {p: i + 1 for i, p in enumerate(procs)}
        self.tid: Dict[Tuple, int] = {}
        for p in procs:
            mine = sorted((w for q, w in threads if (q, w.host, w.pid) == p),
                          key=lambda w: natural_key(w.name))
            for i, w in enumerate(mine):
                self.tid[(p[0], w)] = i + 1

    def of(self, queue: Optional[str], w: Optional[Worker]) -> Track:
        if w is None or (queue, w) not in self.tid:
            return 0, 0
        return self.pid[(queue, w.host, w.pid)], self.tid[(queue, w)]

    def metadata(self) -> List[dict]:
        out = []
        for (q, host, pid), p in sorted(self.pid.items(), key=lambda kv: kv[1]):
            name = f"{host}/{pid}"
            if self.named and q is not None:
                name = f"{q} · {name}"
            out.append({"ph": "M", "name": "process_name", "pid": p, "tid": 0,
                        "args": {"name": _s(name)}})
            out.append({"ph": "M", "name": "process_sort_index", "pid": p, "tid": 0,
                        "args": {"sort_index": p}})
        for (q, w), t in sorted(self.tid.items(), key=lambda kv: self.of(*kv[0])):
            p = self.pid[(q, w.host, w.pid)]
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
    return loads(b"".join(iter_perfetto(trace, diagnosis)))


def render_perfetto(trace, diagnosis: Optional[Diagnosis] = None) -> str:
    """:func:`to_perfetto` as JSON text, one event per line, keys sorted."""
    return b"".join(iter_perfetto(trace, diagnosis)).decode("utf-8")


def iter_perfetto(trace, diagnosis: Optional[Diagnosis] = None) -> Iterator[bytes]:
    """:func:`render_perfetto`'s UTF-8 text, a piece at a time (for files)."""
    events, rest = _encoded(trace, diagnosis)
    yield b'{"traceEvents": [\n'
    for i in range(0, len(events), _BATCH):
        yield ((",\n" if i else "") + ",\n".join(events[i:i + _BATCH])).encode("ascii")
    yield b"\n], " + _enc(rest)[1:-1].encode("ascii") + b"}\n"


def _encoded(trace, diagnosis: Optional[Diagnosis]) -> Tuple[List[str], dict]:
    """Every event, encoded, in the file's order; and the top-level rest."""
    events = trace.events
    if not events:
        return [], {"displayTimeUnit": "ms",
                    "otherData": {"source": "hueyviz", "verdict": "ok"}}
    d = diagnosis if diagnosis is not None else diagnose(trace)
    a = analyse(trace)
    rp, history = a.replay, a.history
    tasks = rp.tasks
    t0, t_end = trace.start, trace.end
    named = len(rp.pools) > 1

    def us(t: float) -> float:
        return round((t - t0) * 1e6, 3)

    # Worker tracks: every slot that ran something; thread tracks: every other
    # thread that enqueued or waited (queue None).
    slots = {(sp.queue, sp.worker) for sp in history.spans if sp.worker is not None}
    workers_seen = {w for _, w in slots}
    # One pass over the events for what only they hold: the threads that
    # enqueued or waited without being workers, their enqueues, and the
    # messages of errors.
    errors: Dict[Tuple[str, float], dict] = {}
    others = set()
    app_enqueues: List[Event] = []
    for e in events:
        kind = e.kind
        if kind == "enqueued" or kind == "block" or kind == "unblock":
            w = e.worker
            if w is not None and w not in workers_seen:
                others.add((None, w))
                if kind == "enqueued" and e.task is not None and not (
                        e.data and e.data.get("parent")):
                    app_enqueues.append(e)
        elif kind == "error" and e.task is not None:
            errors[(e.task, e.t)] = {"error": _s(e.get("error", "")),
                                     "message": _s(e.get("message", ""))}
    tracks = _Tracks(slots | others, named)

    def track_of_thread(w: Optional[Worker], queue: Optional[str] = None) -> Track:
        """A thread's track: its worker slot (of ``queue`` if it has one)."""
        if w is None:
            return 0, 0
        if (queue, w) in tracks.tid:
            return tracks.of(queue, w)
        for q, x in tracks.tid:
            if x == w:
                return tracks.of(q, x)
        return 0, 0

    # A slice is kept encoded, beside the key it is sorted by.
    slices: List[Tuple[int, int, float, float, str, str]] = []

    def add_slice(x: dict) -> None:
        slices.append((x["pid"], x["tid"], x["ts"], -x["dur"], x["name"], _enc(x)))

    first_span: Dict[str, Tuple[float, float, int, int]] = {}
    spans_of: Dict[str, List[Tuple[float, float, int, int]]] = {}
    # Where an arrow may point: a spawned child, a task waited for, a task
    # the app enqueued.  Only their executions are kept for the arrows.
    pointed = {child for _, _, child in history.spawns}
    pointed.update(w.waits_on for w in rp.waits)
    pointed.update(e.task for e in app_enqueues[:MAX_ENQUEUE_MARKS] if e.task is not None)
    names: Dict[Optional[str], str] = {}
    track_of = tracks.of
    plain: List[Span] = []              # no wait, no error: slices written by column
    for sp in history.spans:
        if sp.worker is None:
            continue
        if sp.blocked or sp.outcome == "error" or not sp.task.isascii():
            pid, tid = track_of(sp.queue, sp.worker)
            _span_slices(slices.append, sp, pid, tid, t_end, t0, tasks, errors, names)
        else:
            plain.append(sp)
        if sp.task in pointed:
            pid, tid = track_of(sp.queue, sp.worker)
            end = sp.end if sp.end is not None else t_end
            rec = (sp.start, end, pid, tid)
            first_span.setdefault(sp.task, rec)
            spans_of.setdefault(sp.task, []).append(rec)
    slices.extend(_plain_slices(plain, tracks, t0, t_end, names))
    for w in rp.waits:
        if w.waiter is not None or w.worker is None:
            continue
        pid, tid = track_of_thread(w.worker)
        add_slice({
            "ph": "X", "name": f"wait {_label(_name(tasks, w.waits_on), w.waits_on)}",
            "cat": "wait", "pid": pid, "tid": tid, "ts": us(w.since),
            "dur": round(us(w.until if w.until is not None else t_end) - us(w.since), 3),
            "args": {"waits_on": _s(w.waits_on), "holds_worker": False,
                     "outcome": _s(w.outcome or "still waiting at end of trace")}})

    flows: List[str] = []
    flow_id = 0

    def flow(cat: str, name: str, ts_s: float, src: Track, ts_f: float, dst: Track) -> None:
        nonlocal flow_id
        flow_id += 1
        flows.append(_enc({"ph": "s", "cat": cat, "name": name, "id": flow_id,
                           "pid": src[0], "tid": src[1], "ts": ts_s}))
        flows.append(_enc({"ph": "f", "bp": "e", "cat": cat, "name": name, "id": flow_id,
                           "pid": dst[0], "tid": dst[1], "ts": ts_f}))

    # Tasks that never ran: a track each under their queue's process, so
    # the arrows to them land on something.
    qpid = {q: 10_000 + i for i, q in enumerate(sorted(history.depth, key=str))}
    never = sorted((r for r in tasks.values() if r.started is None and r.enqueued is not None
                    and r.queue in qpid), key=lambda r: (r.enqueued, r.id))[:MAX_NEVER_RAN]
    never_meta: List[dict] = []
    for k, nr in enumerate(never):
        pid, tid = qpid[nr.queue], 1 + k
        enq = float(nr.enqueued or 0.0)
        never_meta.append({"ph": "M", "name": "thread_name", "pid": pid, "tid": tid,
                           "args": {"name": _s(f"never ran: {_label(nr.name, nr.id)}")}})
        never_meta.append({"ph": "M", "name": "thread_sort_index", "pid": pid, "tid": tid,
                           "args": {"sort_index": tid}})
        add_slice({"ph": "X", "name": _s(f"queued: {_label(nr.name, nr.id)}"),
                   "cat": "queued", "pid": pid, "tid": tid, "ts": us(enq),
                   "dur": round(us(t_end) - us(enq), 3),
                   "args": {"task": _s(nr.id), "state": _s(nr.state),
                            "outcome": "never ran before the end of trace"}})
        spans_of.setdefault(nr.id, []).append((enq, t_end, pid, tid))
        first_span.setdefault(nr.id, (enq, t_end, pid, tid))
    # Enqueues by threads that are no worker (the app's): zero-length slices.
    marks: List[Tuple[float, Track, str]] = []
    for e in app_enqueues:          # a task's enqueue has its spawn arrow instead
        if len(marks) >= MAX_ENQUEUE_MARKS:
            break
        src = track_of_thread(e.worker)
        if src == (0, 0):
            continue
        marks.append((e.t, src, e.task or "?"))
        add_slice({"ph": "X", "name": _s(f"enqueue {_label(e.name, e.task)}"),
                   "cat": "enqueue", "pid": src[0], "tid": src[1], "ts": us(e.t), "dur": 0,
                   "args": {"task": _s(e.task)}})
    slices.sort(key=_SLICE_ORDER)

    # spawn: parent (at the enqueue, on its track) -> child's first execution
    for t, parent, child in sorted(history.spawns, key=lambda s: (s[0], s[2])):
        prec = tasks.get(parent)
        if child not in first_span or prec is None or prec.worker is None:
            continue
        src = tracks.of(prec.queue, prec.worker)
        if src == (0, 0):
            continue
        start, _, pid, tid = first_span[child]
        flow("spawn", "spawn", us(t), src, us(max(start, t)), (pid, tid))
    # enqueue by the app: its mark -> where the task ran (or waits to)
    for t, src, task in marks:
        if task in first_span:
            start, _, pid, tid = first_span[task]
            flow("enqueue", "enqueued", us(t), src, us(max(start, t)), (pid, tid))
    # wait: waiter (at the block) -> the execution of the awaited task
    task_waits = sorted((w for w in rp.waits if w.waiter is not None),
                        key=lambda w: (w.since, w.waiter or "", w.waits_on))
    for w in task_waits:
        src = tracks.of(w.queue, w.worker)
        for start, end, pid, tid in spans_of.get(w.waits_on, ()):
            if end >= w.since:
                flow("wait", "waits for", us(w.since), src, us(max(start, w.since)),
                     (pid, tid))
                break

    counters = _queue_tracks(history.depth, tasks, us, t0, t_end, named)
    instants = []
    for f in d.findings:
        c = f.culprit
        name = f.verdict
        args: dict = {"verdict": f.verdict, "message": _s(f.message)}
        pid = tid = 0
        if c is not None:
            name = (f"{f.verdict}: {_label(c.waiter_name, c.waiter) if c.waiter else 'thread'}"
                    f" waits for {_label(c.waits_on_name, c.waits_on)}")
            args["culprit"] = {k: (_s(v) if isinstance(v, str) else v)
                               for k, v in c.to_dict().items()}
            held = next((x for q, x in tracks.tid if x.key == c.worker_key and q == c.queue),
                        None)
            pid, tid = tracks.of(c.queue, held)
        instants.append({"ph": "i", "s": "g", "cat": "finding", "name": _s(name),
                         "pid": pid, "tid": tid, "ts": us(f.at), "args": args})

    head = [_enc(x) for x in tracks.metadata() + never_meta]
    out = head + [x[-1] for x in slices] + flows + counters + [_enc(x) for x in instants]
    return out, {"displayTimeUnit": "ms",
                 "otherData": {"source": "hueyviz", "start_unix": t0, "verdict": d.verdict,
                               "message": _s(d.message), "dropped_events": trace.dropped}}


def _name(tasks, tid: str) -> Optional[str]:
    rec = tasks.get(tid)
    return rec.name if rec is not None else None


# The slices of a million executions are written from templates: the same
# text as encoding each one's dict with sorted keys (tests/test_perfetto.py
# checks it), five times faster.
_TASK = ('{"args":{"outcome":%s,"task":%s},"cat":"task","dur":%r,"name":%s,"ph":"X",'
         '"pid":%d,"tid":%d,"ts":%r}')


def _plain_slices(spans: List[Span], tracks: _Tracks, t0: float, t_end: float,
                  names: Dict[Optional[str], str]) -> List[tuple]:
    """The slices of executions with no wait and no error (nearly all of a
    large trace), as :func:`_span_slices` makes them, a column at a time."""
    if not spans:
        return []
    # A column at a time (zip(*rows) would step through a million row
    # iterators at once, and cost more than everything else here).
    starts, ends, task_ids, run_names, outcomes, queues, workers = (
        list(map(attrgetter(f), spans)) for f in _SPAN_FIELDS)
    track = {k: tracks.of(*k) for k in set(zip(queues, workers))}
    pid_of = {k: v[0] for k, v in track.items()}
    tid_of = {k: v[1] for k, v in track.items()}
    pids = list(map(pid_of.__getitem__, zip(queues, workers)))
    tids = list(map(tid_of.__getitem__, zip(queues, workers)))
    for n in set(run_names):
        if n not in names:
            names[n] = _str(n or "?")
    ts = list(map(round, map(mul, map(sub, starts, repeat(t0)), repeat(1e6)), repeat(3)))
    ends_us = map(round, map(mul, map(sub, (t_end if e is None else e for e in ends), repeat(t0)),
                             repeat(1e6)), repeat(3))
    durs = list(map(round, map(sub, ends_us, ts), repeat(3)))
    texts = map(_TASK.__mod__, zip(
        (_OUTCOMES.get(o or "") or _str(o or "running at end of trace") for o in outcomes),
        map(_esc, task_ids), durs, map(names.__getitem__, run_names), pids, tids, ts))
    keys = map(_s, (n or "?" for n in run_names))
    return list(zip(pids, tids, ts, map(neg, durs), keys, texts))


_SPAN_FIELDS = ("start", "end", "task", "name", "outcome", "queue", "worker")


def _span_slices(add: Callable[[tuple], None], sp: Span, pid: int, tid: int, t_end: float,
                 t0: float, tasks, errors, names: Dict[Optional[str], str]) -> None:
    end = sp.end if sp.end is not None else t_end
    ts = round((sp.start - t0) * 1e6, 3)
    dur = round(round((end - t0) * 1e6, 3) - ts, 3)
    name = names.get(sp.name)
    if name is None:
        name = names[sp.name] = _str(sp.name or "?")
    err = errors.get((sp.task, sp.end)) if sp.outcome == "error" else None
    if err:
        x = {"ph": "X", "name": _s(sp.name or "?"), "cat": "task", "pid": pid, "tid": tid,
             "ts": ts, "dur": dur, "args": {"task": _s(sp.task), "outcome": sp.outcome, **err}}
        add((pid, tid, ts, -dur, x["name"], _enc(x)))
    else:
        task = sp.task
        add((pid, tid, ts, -dur, _s(sp.name or "?"),
             _TASK % (_OUTCOMES.get(sp.outcome or "") or _str(sp.outcome or "running at end of trace"),
                      _esc(task) if task.isascii() else _str(task), dur, name, pid, tid, ts)))
    for w in sp.blocked:
        until = min(w.until if w.until is not None else end, end)
        wts = round((w.since - t0) * 1e6, 3)
        wdur = round(round((until - t0) * 1e6, 3) - wts, 3)
        wname = f"wait {_label(_name(tasks, w.waits_on), w.waits_on)}"
        x = {"ph": "X", "name": wname, "cat": "wait", "pid": pid, "tid": tid, "ts": wts,
             "dur": wdur,
             "args": {"waits_on": _s(w.waits_on), "timeout": w.timeout,
                      "site": _s(w.site) if w.site else None,
                      "outcome": w.outcome or "still waiting at end of trace"}}
        add((pid, tid, wts, -wdur, wname, _enc(x)))


# The outcomes a run can have, as JSON strings.
_OUTCOMES = {k: _esc(k) for k in ("complete", "error", "retrying", "lost", "revoked", "expired",
                                  "locked", "canceled", "interrupted", "timeout", "rate-limited")}


def _str(text) -> str:
    """A JSON string of ``text`` in ASCII, as :func:`_enc` writes it."""
    return _esc(_s(text))


_COUNTER = '{"args":{"queued":%d},"name":"queued tasks","ph":"C","pid":%d,"tid":0,"ts":%r}'


def _queue_tracks(depth, tasks, us, t0: float, t_end: float, named: bool) -> List[str]:
    """Per queue: a counter of queued tasks, and each task's time in the queue."""
    res: List[str] = []

    def add(event: dict) -> None:
        res.append(_enc(event))

    qpid = 10_000                                    # beyond the consumer processes
    for i, q in enumerate(sorted(depth, key=str)):
        pid = qpid + i
        name = "queue" if not named else f"queue {q if q is not None else 'default'}"
        add({"ph": "M", "name": "process_name", "pid": pid, "tid": 0,
             "args": {"name": _s(name)}})
        add({"ph": "M", "name": "process_sort_index", "pid": pid, "tid": 0,
             "args": {"sort_index": pid}})
        pts = depth[q]
        if pts:
            ts = map(itemgetter(0), pts)
            res.extend(map(_COUNTER.__mod__, zip(map(itemgetter(1), pts), repeat(pid), map(
                round, map(mul, map(sub, ts, repeat(t0)), repeat(1e6)), repeat(3)))))
    queued = [r for r in tasks.values() if r.enqueued is not None]
    if len(queued) > MAX_QUEUED_SLICES:
        return res
    pid_of = {q: qpid + i for i, q in enumerate(sorted(depth, key=str))}
    for rec in sorted(queued, key=lambda r: (r.enqueued, r.id)):
        qp = pid_of.get(rec.queue)
        if qp is None:
            continue
        pid = qp
        end = rec.started if rec.started is not None and rec.started >= rec.enqueued else (
            rec.finished if rec.finished is not None else t_end)
        ran = rec.started is not None
        args = {"task": _s(rec.id), "ran": ran}
        name = _s(rec.name or "?")
        add({"ph": "b", "cat": "queued", "name": name, "id": _s(rec.id),
             "pid": pid, "tid": 0, "ts": us(rec.enqueued), "args": args})
        add({"ph": "e", "cat": "queued", "name": name, "id": _s(rec.id),
             "pid": pid, "tid": 0, "ts": us(end)})
    return res

