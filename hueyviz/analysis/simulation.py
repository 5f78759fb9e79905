"""What if the pool had N workers?  Replay a recorded workload, simulated.

From a trace, each task's *script* is read off: its own running time
(execution time minus the time it spent blocked), and when within that time
it enqueued which children and blocked on which results.  Tasks enqueued by
non-task code arrive at their recorded times, in their recorded order.  A
deterministic discrete-event simulation then runs the same scripts on 1, 2,
... workers (one FIFO queue, higher ``priority`` first, like Huey; the pool
comes up when the recorded one did) and tells,
for each count, whether everything finishes (``ok``; ``stall`` when only a
wait's timeout got it going again) or the pool knots up (``deadlock``), and
the makespan.

``sync=True`` also replays the first of the usual fixes, "call the subtask
synchronously": every child its parent waits for runs inline in the parent
(its own time is added there, no enqueue, no wait), the rest is unchanged.

Limits (said in ``notes`` and in words): tasks that never ran in the
recording (a trace that ended deadlocked) are assumed to take the median
time of their namesakes and to neither spawn nor block, and tasks cut off by
the end of the trace to end when their last recorded wait returns; then
``exact`` is false and ``min_safe_workers`` is a lower bound.  Retried tasks
run their attempts back to back; ETAs, rate limits and locks are ignored.
"""
from __future__ import annotations

import heapq
import statistics
from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional, Tuple

from ..core.event import OUTCOMES

__all__ = ["WhatIf", "Run", "whatif", "build_scripts"]


@dataclass
class Script:
    """What one task did, on its own clock (seconds of its own running time)."""

    id: str
    name: Optional[str]
    enqueued: Optional[float]
    parent: Optional[str] = None
    via: Optional[str] = None
    priority: int = 0
    steps: List[Tuple[float, str, str, Optional[float]]] = field(default_factory=list)
    own: float = 0.0
    ran: bool = False
    finished: bool = False


@dataclass(frozen=True)
class Run:
    workers: int
    verdict: str                 # ok, stall or deadlock
    makespan: Optional[float]    # None when it never completes

    def to_dict(self) -> dict:
        span = None if self.makespan is None else round(self.makespan, 6)
        return {"workers": self.workers, "verdict": self.verdict, "makespan": span}


@dataclass(frozen=True)
class WhatIf:
    """Per worker count, the verdict and makespan of the replayed workload."""

    runs: Tuple[Run, ...]
    min_safe_workers: Optional[int]
    exact: bool
    notes: Tuple[str, ...] = ()
    sync: Optional[Tuple[Run, ...]] = None
    tasks: int = 0
    recorded_workers: Optional[int] = None

    def to_dict(self) -> dict:
        d = {"min_safe_workers": self.min_safe_workers, "exact": self.exact,
             "runs": [r.to_dict() for r in self.runs]}
        if self.sync is not None:
            d["sync"] = [r.to_dict() for r in self.sync]
        return d

    def summary(self) -> str:
        n = self.min_safe_workers
        counts = [r.workers for r in self.runs]
        span = f"{min(counts)}..{max(counts)}" if counts else "none"
        if n is None:
            words = f"No worker count in {span} completes the workload."
        elif self.exact:
            words = f"min_safe_workers: {n} (the smallest pool that completes it)."
        else:
            words = (f"min_safe_workers: {n} at least; a lower bound, not exact: "
                     + "; ".join(self.notes) + ".")
        if n is not None and n == min(counts) and n > 1:
            words += " (It is the smallest count tried; try from 1.)"
        return words

    def __str__(self) -> str:
        head = f"What if: {self.tasks} tasks replayed"
        if self.recorded_workers:
            head += f" (recorded on {self.recorded_workers} workers)"
        lines = [head + ".", ""]
        cols = ["workers", "verdict", "makespan"] + (["sync makespan"] if self.sync else [])
        lines.append("  ".join(f"{c:>13}" if i else f"{c:>7}" for i, c in enumerate(cols)))
        sync = {r.workers: r for r in self.sync or ()}
        for r in self.runs:
            row = [f"{r.workers:>7}", f"{r.verdict:>13}", f"{_secs(r.makespan):>13}"]
            if self.sync is not None:
                s = sync.get(r.workers)
                row.append(f"{_secs(s.makespan if s else None):>13}")
            lines.append("  ".join(row))
        lines += ["", self.summary()]
        if self.sync is not None:
            lines.append("sync: children their parent waits for run inline in the parent "
                         "(no enqueue, no wait).")
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        return {"text/plain": str(self)}


def _secs(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.3f} s"


# -- reading scripts off a trace -------------------------------------------------
def build_scripts(events: Iterable) -> Tuple[Dict[str, Script], List[str]]:
    """Each task's script, and notes on what had to be assumed."""
    scripts: Dict[str, Script] = {}
    running: Dict[str, list] = {}     # id -> [start, blocked_total, blocked_since, own_before]
    own_before: Dict[str, float] = {}
    unknown_waits = 0
    end = None
    for e in events:
        end = e.t
        k = e.kind
        if k == "enqueued":
            s = scripts.get(e.task)
            if s is None:
                s = scripts[e.task] = Script(e.task, e.name, e.t, e.get("parent"),
                                             e.get("via"), int(e.get("priority") or 0))
            parent = e.get("parent")
            if parent in running and e.get("via") != "retry":
                scripts[parent].steps.append((_own(running[parent], e.t), "spawn", e.task, None))
        elif k == "executing":
            s = scripts.get(e.task)
            if s is None:
                s = scripts[e.task] = Script(e.task, e.name, None)
            s.ran = True
            running[e.task] = [e.t, 0.0, None, own_before.get(e.task, 0.0)]
        elif k == "block" and e.task in running:
            r = running[e.task]
            scripts[e.task].steps.append((_own(r, e.t), "wait", e.get("waits_on"),
                                          e.get("timeout")))
            r[2] = e.t
        elif k == "unblock" and e.task in running:
            r = running[e.task]
            if r[2] is not None:
                r[1] += e.t - r[2]
                r[2] = None
        elif k in OUTCOMES and e.task in running:
            r = running.pop(e.task)
            own_before[e.task] = scripts[e.task].own = _own(r, e.t)
            scripts[e.task].finished = True
    notes = []
    cut = 0
    for tid, r in running.items():       # cut off by the end of the trace
        s = scripts[tid]
        s.own = _own(r, end)
        s.finished = False
        cut += 1
    for s in scripts.values():
        for _, kind, arg, _ in s.steps:
            if kind == "wait" and arg not in scripts:
                unknown_waits += 1
    done = [s for s in scripts.values() if s.finished]
    never = [s for s in scripts.values() if not s.ran]
    by_name: Dict[Optional[str], List[float]] = {}
    for s in done:
        by_name.setdefault(s.name, []).append(s.own)
    fallback = statistics.median([s.own for s in done]) if done else 0.0
    for s in never:
        same = by_name.get(s.name)
        s.own = statistics.median(same) if same else fallback
    if never:
        notes.append(f"{len(never)} task{'s' if len(never) != 1 else ''} never ran in the "
                     "recording and are assumed not to block or spawn")
    if never and not done:
        notes.append("no task finished in the recording, so those that never ran "
                     "are assumed to take no time")
    if cut:
        notes.append(f"{cut} task{'s' if cut != 1 else ''} did not finish in the recording "
                     "and are assumed to end when their last recorded wait returns")
    if unknown_waits:
        notes.append(f"{unknown_waits} wait{'s' if unknown_waits != 1 else ''} on tasks "
                     "enqueued before the recording are assumed to return at once")
    return scripts, notes


def _own(r: list, t: float) -> float:
    """Own running time at wall time ``t`` of an execution ``r``."""
    start, blocked, since, before = r
    if since is not None:          # blocked now: own time stopped at `since`
        t = since
    return before + max(0.0, t - start - blocked)


# -- the simulation --------------------------------------------------------------
class _Sim:
    def __init__(self, scripts: Dict[str, Script], workers: int, inline: frozenset):
        self.scripts = scripts
        self.workers = workers
        self.free = 0            # until the pool comes up
        self.inline = inline
        self.heap: list = []
        self.order = 0
        self.queue: list = []
        self.seq = 0
        self.steps: Dict[str, list] = {}
        self.own: Dict[str, float] = {}
        self.pos: Dict[str, int] = {}
        self.done_at: Dict[str, float] = {}
        self.waiters: Dict[str, List[str]] = {}
        self.gen: Dict[str, int] = {}
        self.timeouts = 0
        self.now = 0.0
        for tid in scripts:
            if tid not in inline:
                self.steps[tid], self.own[tid] = self._splice(tid)

    def _splice(self, tid: str):
        s = self.scripts[tid]
        out, shift = [], 0.0
        for off, kind, arg, timeout in s.steps:
            if kind == "spawn" and arg in self.inline:
                sub, sub_own = self._splice(arg)
                start = off + shift
                out += [(start + o, k, a, t) for o, k, a, t in sub]
                out.append((start + sub_own, "done", arg, None))
                shift += sub_own
            else:
                out.append((off + shift, kind, arg, timeout))
        return out, s.own + shift

    def push(self, t: float, kind: str, tid: str, data=None) -> None:
        self.order += 1
        heapq.heappush(self.heap, (t, self.order, kind, tid, data))

    def enqueue(self, tid: str) -> None:
        if tid in self.inline or tid in self.pos:
            return
        self.seq += 1
        self.pos[tid] = -1                       # queued
        heapq.heappush(self.queue, (-self.scripts[tid].priority, self.seq, tid))

    def dispatch(self) -> None:
        while self.free and self.queue:
            _, _, tid = heapq.heappop(self.queue)
            self.free -= 1
            self.pos[tid] = 0
            self.push(self.now, "run", tid, 0.0)

    def finish(self, tid: str) -> None:
        self.done_at[tid] = self.now
        for w in self.waiters.pop(tid, ()):
            self.gen[w] = self.gen.get(w, 0) + 1
            self.push(self.now, "run", w, None)

    def advance(self, tid: str, own: float) -> None:
        steps = self.steps[tid]
        while True:
            i = self.pos[tid]
            if i >= len(steps):
                total = self.own[tid]
                if total > own:
                    self.push(self.now + total - own, "run", tid, total)
                    return
                self.free += 1
                self.finish(tid)
                return
            off, kind, arg, timeout = steps[i]
            if off > own:
                self.push(self.now + off - own, "run", tid, off)
                return
            self.pos[tid] = i + 1
            if kind == "spawn":
                self.enqueue(arg)
            elif kind == "done":
                self.finish(arg)
            elif kind == "wait" and arg in self.scripts and arg not in self.done_at:
                self.waiters.setdefault(arg, []).append(tid)
                self.gen[tid] = g = self.gen.get(tid, 0) + 1
                if timeout is not None:
                    self.push(self.now + timeout, "timeout", tid, (g, arg))
                self.blocked_own[tid] = own
                return

    def run(self, roots: List[Tuple[float, str]], pool_up: Optional[float]
            ) -> Tuple[str, Optional[float]]:
        self.blocked_own: Dict[str, float] = {}
        t0 = roots[0][0] if roots else 0.0      # the makespan counts from here
        self.push(max(0.0, (t0 if pool_up is None else pool_up) - t0), "pool", "")
        for t, tid in roots:
            self.push(t - t0, "arrive", tid)
        while self.heap:
            t, _, kind, tid, data = heapq.heappop(self.heap)
            self.now = t
            if kind == "pool":
                self.free = self.workers
            elif kind == "arrive":
                self.enqueue(tid)
            elif kind == "timeout":
                g, target = data
                if self.gen.get(tid) == g:
                    self.waiters[target].remove(tid)
                    self.gen[tid] = g + 1
                    self.timeouts += 1
                    self.advance(tid, self.blocked_own.pop(tid))
            elif data is None:              # woken from a wait
                self.advance(tid, self.blocked_own.pop(tid))
            else:
                self.advance(tid, data)
            self.dispatch()
        pending = [tid for tid in self.steps if tid not in self.done_at]
        if pending:
            return "deadlock", None
        makespan = max(self.done_at.values(), default=0.0)
        return ("stall" if self.timeouts else "ok"), makespan


def _inline_set(scripts: Dict[str, Script]) -> frozenset:
    """Children that their (spawning) parent waits for."""
    out = set()
    for s in scripts.values():
        spawned = {a for _, k, a, _ in s.steps if k == "spawn"}
        out |= {a for _, k, a, _ in s.steps if k == "wait" and a in spawned}
    return frozenset(out)


def _roots(scripts: Dict[str, Script]) -> List[Tuple[float, str]]:
    spawned = {a for s in scripts.values() for _, k, a, _ in s.steps if k == "spawn"}
    roots = [(s.enqueued, tid) for tid, s in scripts.items()
             if tid not in spawned and s.enqueued is not None]
    # Tasks seen running but never enqueued while recording: there from the start.
    start = min((t for t, _ in roots), default=0.0)
    roots += [(start, tid) for tid, s in scripts.items()
              if tid not in spawned and s.enqueued is None]
    roots.sort(key=lambda r: r[0])           # stable: recorded order on ties
    return roots


def whatif(trace, workers: Iterable[int] = range(1, 9), sync: bool = False) -> WhatIf:
    """Replay the recorded workload on other worker counts.

    Parameters
    ----------
    trace : Trace, iterable of Event, or path of a trace file
    workers : iterable of int
        The pool sizes to try.
    sync : bool
        Also replay with waited-for children called synchronously.

    Returns
    -------
    WhatIf
        ``runs`` (workers, verdict, makespan), ``min_safe_workers`` (the
        smallest count that completes, or None), ``exact`` and ``notes``.

    Examples
    --------
    One worker, a task that waits for its child: a deadlock; two are enough.

    >>> from hueyviz.core.event import Event, Worker
    >>> w1, w2 = Worker("h", 1, "W1"), Worker("h", 1, "W2")
    >>> ev = [Event(0.0, "enqueued", "p", "parent", None, None),
    ...       Event(0.0, "executing", "p", "parent", w1, None),
    ...       Event(1.0, "enqueued", "c", "child", w1, {"parent": "p"}),
    ...       Event(1.0, "block", "p", "parent", w1, {"waits_on": "c"}),
    ...       Event(1.0, "executing", "c", "child", w2, None),
    ...       Event(3.0, "complete", "c", "child", w2, None),
    ...       Event(3.0, "unblock", "p", "parent", w1, {"waits_on": "c"}),
    ...       Event(4.0, "complete", "p", "parent", w1, None)]
    >>> w = whatif(ev, workers=range(1, 4), sync=True)
    >>> w.min_safe_workers, w.exact, [(r.verdict, r.makespan) for r in w.runs]
    (2, True, [('deadlock', None), ('ok', 4.0), ('ok', 4.0)])
    >>> [r.makespan for r in w.sync]
    [4.0, 4.0, 4.0]
    """
    if isinstance(trace, str):
        from ..core.trace import Trace
        trace = Trace.load(trace)
    events = tuple(getattr(trace, "events", None) or trace)
    counts = sorted({int(n) for n in workers})
    if not counts or counts[0] < 1:
        raise ValueError("worker counts must be at least 1")
    scripts, notes = build_scripts(events)
    dropped = getattr(trace, "dropped", 0)
    if dropped:
        notes.append(f"{dropped} events were dropped while recording")
    roots = _roots(scripts)
    # The recorded pool came up here: tasks enqueued before it waited in the queue.
    pool_up = next((e.t for e in events if e.kind in ("consumer", "worker_up", "executing")),
                   None)
    runs = tuple(Run(n, *_Sim(scripts, n, frozenset()).run(roots, pool_up)) for n in counts)
    sync_runs = None
    if sync:
        inline = _inline_set(scripts)
        sync_runs = tuple(Run(n, *_Sim(scripts, n, inline).run(
            [r for r in roots if r[1] not in inline], pool_up)) for n in counts)
    safe = next((r.workers for r in runs if r.verdict != "deadlock"), None)
    from .replay import state_at
    recorded = state_at(events).pool_size or None
    return WhatIf(runs, safe, not notes, tuple(notes), sync_runs, len(scripts), recorded)
