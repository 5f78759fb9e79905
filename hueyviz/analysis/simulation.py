"""What if the pools had other sizes?  Replay a recorded workload, simulated.

From a trace, each task's *script* is read off the one replay's history:
its own running time (execution time minus the time it spent blocked), and
when within that time it enqueued which children and blocked on which
results, and how it ended.  Tasks enqueued by non-task code arrive at their
recorded times, in their recorded order; each queue's workers come up when
the recorded ones did.  A deterministic discrete-event simulation then runs
the same scripts on other pool sizes (per queue: higher ``priority`` first
where the recording used priorities, then first in, first out, like Huey)
and writes what happens as *events*.  The verdict of each run is
:func:`~hueyviz.analysis.detector.diagnose` of those events: the same
semantics as a real trace, by construction.  The simulated traces are kept
(``Run.trace``), so they can be drawn like real ones.

``sync=True`` also replays the first of the usual fixes, "call the subtask
synchronously": every child its parent waits for runs inline in the parent
(its own time is added there, no enqueue, no wait), the rest is unchanged.

Limits (said in ``notes``; then ``exact`` is false): tasks that never ran in
the recording (a trace that ended deadlocked) are assumed to take the
median time of their namesakes and to neither spawn nor block, so
``min_safe_workers`` is a lower bound; tasks cut off by the end of the
trace end where the trace does; waits on tasks the recording never saw
return at once.  Retried tasks run their attempts back to back; ETAs, rate
limits and locks are ignored.
"""
from __future__ import annotations

import heapq
import itertools
import math
import os
import statistics
from dataclasses import dataclass, field, replace
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Union

from ..core.errors import UsageError
from ..core.event import Event, Worker
from .detector import Analysis, analyse, check_events, diagnose
from .finding import Diagnosis
from .replay import NO_RESULT_OUTCOMES, RESULT_OUTCOMES, Wait

__all__ = ["Counts", "Run", "Script", "WhatIf", "build_scripts", "inline_set", "polling_of",
           "recorded_sizes", "reproduces", "simulate", "up_times", "whatif"]

Counts = Union[int, Dict[Optional[str], int]]
_HOST = "whatif"


@dataclass
class Script:
    """What one task did, on its own clock (seconds of its own running time)."""

    id: str
    name: Optional[str]
    queue: Optional[str]
    enqueued: Optional[float]
    parent: Optional[str] = None
    priority: float = 0
    steps: List[Tuple[float, str, str, Optional[float]]] = field(default_factory=list)
    own: float = 0.0
    ran: bool = False
    finished: bool = False
    outcome: str = "complete"
    stored: bool = True
    after: Tuple[str, ...] = ()     # a continuation: enqueued when these are done


@dataclass(frozen=True)
class Run:
    """One simulated pool size: ``workers`` (an int for one queue, else per
    queue), the verdict and makespan, and the simulated trace.  Its clock
    starts at the first task's arrival: ``origin`` is that instant on the
    recording's clock (add it to lay the replay beside the recording)."""

    workers: Counts
    # ok, stall, deadlock or hang; "unknown" where the recording cannot bound
    # the answer (a recursion of unknown depth)
    verdict: str
    makespan: Optional[float]    # None when it never completes
    diagnosis: Optional[Diagnosis] = field(default=None, compare=False, repr=False)
    events: Tuple[Event, ...] = field(default=(), compare=False, repr=False)
    origin: float = field(default=0.0, compare=False, repr=False)

    @property
    def trace(self):
        from ..core.trace import Trace, make_header
        return Trace(self.events, header=make_header(source="hueyviz whatif", clock="sim"))

    def to_dict(self) -> dict:
        span = None if self.makespan is None else round(self.makespan, 6)
        workers = self.workers if isinstance(self.workers, int) else {
            ("" if q is None else q): n for q, n in self.workers.items()}
        return {"workers": workers, "verdict": self.verdict, "makespan": span}


@dataclass(frozen=True)
class WhatIf:
    """Per pool size, the verdict and makespan of the replayed workload."""

    runs: Tuple[Run, ...]
    min_safe_workers: Optional[Counts]
    exact: bool
    notes: Tuple[str, ...] = ()
    sync: Optional[Tuple[Run, ...]] = None
    tasks: int = 0
    recorded_workers: Optional[Counts] = None

    def to_dict(self) -> dict:
        safe = self.min_safe_workers
        if isinstance(safe, dict):
            safe = {("" if q is None else q): n for q, n in safe.items()}
        d = {"min_safe_workers": safe, "exact": self.exact,
             "runs": [r.to_dict() for r in self.runs]}
        if self.sync is not None:
            d["sync"] = [r.to_dict() for r in self.sync]
        return d

    def summary(self) -> str:
        n = self.min_safe_workers
        counts = [_total(r.workers) for r in self.runs]
        span = f"{min(counts)}..{max(counts)}" if counts else "none"
        shown = _counts_words(n) if n is not None else None
        if n is None:
            words = f"No worker count in {span} completes the workload."
        elif self.exact:
            words = f"min_safe_workers: {shown} (the smallest pool that completes it)."
        else:
            words = (f"min_safe_workers: {shown} at least; a lower bound, not exact: "
                     + "; ".join(self.notes) + ".")
        if isinstance(n, int) and n == min(counts) and n > 1:
            words += " (It is the smallest count tried; try from 1.)"
        return words

    def __str__(self) -> str:
        if not self.tasks:
            return "What if: nothing to replay (no task in the trace)."
        head = f"What if: {self.tasks} tasks replayed"
        if self.recorded_workers:
            head += f" (recorded on {_counts_words(self.recorded_workers)} workers)"
        lines = [head + ".", ""]
        cols = ["workers", "verdict", "makespan"] + (["sync makespan"] if self.sync else [])
        width = max([7] + [len(_counts_words(r.workers)) for r in self.runs])
        lines.append("  ".join(f"{c:>13}" if i else f"{c:>{width}}" for i, c in enumerate(cols)))
        sync = {_key(r.workers): r for r in self.sync or ()}
        for r in self.runs:
            row = [f"{_counts_words(r.workers):>{width}}", f"{r.verdict:>13}",
                   f"{_secs(r.makespan):>13}"]
            if self.sync is not None:
                s = sync.get(_key(r.workers))
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


def _total(c: Counts) -> int:
    return c if isinstance(c, int) else sum(c.values())


def _key(c: Counts):
    return c if isinstance(c, int) else tuple(sorted(c.items(), key=lambda kv: str(kv[0])))


def _counts_words(c: Counts) -> str:
    if isinstance(c, int):
        return str(c)
    return ",".join(f"{'default' if q is None else q}={n}"
                    for q, n in sorted(c.items(), key=lambda kv: str(kv[0])))


# -- reading scripts off the replay ------------------------------------------------
def build_scripts(source) -> Tuple[Dict[str, Script], List[str]]:
    """Each task's script (from a trace, events or an :class:`Analysis`), and
    notes on what had to be assumed."""
    a = source if isinstance(source, Analysis) else analyse(source)
    rp, history = a.replay, a.history
    end = rp.t
    scripts: Dict[str, Script] = {}
    for rec in rp.tasks.values():
        if rec.enqueued is None and rec.started is None:
            continue                        # only ever waited on: not part of the workload
        scripts[rec.id] = Script(rec.id, rec.name, rec.queue, rec.enqueued, rec.parent,
                                 rec.priority or 0)
    spawned_by: Dict[str, List[Tuple[float, str]]] = {}
    for t, parent, child in history.spawns:
        spawned_by.setdefault(parent, []).append((t, child))
    # Reads that found the result at once are dependencies too.
    read_by: Dict[str, List[Wait]] = {}
    for w in history.reads:
        if w.waiter is not None:
            read_by.setdefault(w.waiter, []).append(w)
    own_before: Dict[str, float] = {}
    cut = 0
    for sp in history.spans:
        s = scripts.get(sp.task)
        if s is None:
            continue
        s.ran = True
        stop = sp.end if sp.end is not None else end
        blocked = [(w.since, w.until if w.until is not None else stop) for w in sp.blocked]
        before = own_before.get(sp.task, 0.0)

        def own_at(t: float, start=sp.start, blocked=blocked, before=before) -> float:
            waited = sum(max(0.0, min(t, until) - since) for since, until in blocked
                         if since < t)
            return before + max(0.0, t - start - waited)

        for t, child in spawned_by.get(sp.task, ()):
            if sp.start <= t <= stop and child in scripts:
                s.steps.append((own_at(t), "spawn", child, None))
        for w in sp.blocked:
            s.steps.append((own_at(w.since), "wait", w.waits_on, w.timeout))
        for w in read_by.get(sp.task, ()):
            if sp.start <= w.since <= stop:
                s.steps.append((own_at(w.since), "wait", w.waits_on, w.timeout))
        own_before[sp.task] = s.own = own_at(stop)
        if sp.end is None:
            cut += 1
            s.finished = False
        else:
            s.finished = True
    for s in scripts.values():
        s.steps.sort(key=lambda x: (x[0], x[1] != "spawn"))
        rec = rp.tasks[s.id]
        if rec.state == "finished" and rec.outcome in RESULT_OUTCOMES | NO_RESULT_OUTCOMES:
            s.outcome = rec.outcome
            s.stored = rec.stored is not False
    unknown_waits = sum(1 for s in scripts.values() for _, k, arg, _ in s.steps
                        if k == "wait" and arg not in scripts)
    notes = []
    done = [s for s in scripts.values() if s.finished]
    # Revoked or expired before they started: Huey discards them at once,
    # which the replay does exactly (no time, no result).
    for sc in scripts.values():
        if not sc.ran and sc.outcome in _DISCARDED:
            sc.own, sc.finished = 0.0, True
    never = [s for s in scripts.values() if not s.ran and s.outcome not in _DISCARDED]
    by_name: Dict[Optional[str], List[float]] = {}
    for s in done:
        by_name.setdefault(s.name, []).append(s.own)
    fallback = statistics.median([s.own for s in done]) if done else 0.0
    for s in never:
        same = by_name.get(s.name)
        s.own = statistics.median(same) if same else fallback
    modelled, unbounded = _like_namesakes(scripts, never, by_name, fallback)
    if never:
        notes.append(f"{len(never)} task{'s' if len(never) != 1 else ''} never ran in the "
                     "recording: each is assumed to take its namesakes' median time"
                     + (f", and {modelled} to spawn and wait as their namesakes did"
                        if modelled else "") + "; those with no namesake that ran, to "
                     "neither spawn nor wait")
    if unbounded:
        notes.append(UNBOUNDED + " (" + ", ".join(sorted(unbounded)) + ")")
    if never and not done:
        notes.append("no task finished in the recording, so those that never ran "
                     "are assumed to take no time")
    if cut:
        notes.append(f"{cut} task{'s' if cut != 1 else ''} did not finish in the recording "
                     "and are assumed to end where the trace ends")
    if unknown_waits:
        notes.append(f"{unknown_waits} wait{'s' if unknown_waits != 1 else ''} on tasks "
                     "enqueued before the recording are assumed to return at once")
    if any(rec.state == "scheduled" or (rec.enqueued is not None and rec.state == "scheduled")
           for rec in rp.tasks.values()):
        notes.append("scheduled tasks (ETAs) are replayed as if enqueued at once")
    return scripts, notes


_DISCARDED = frozenset({"revoked", "expired", "canceled"})
UNBOUNDED = ("a recursion of unknown depth: tasks that never ran would spawn and wait "
             "for more of their own kind, and the recording cannot tell how deep it goes")


def _like_namesakes(scripts: Dict[str, Script], never: List[Script],
                    by_name: Dict[Optional[str], List[float]], fallback: float
                    ) -> Tuple[int, set]:
    """Give each task that never ran the spawns and waits of a namesake that
    did (one that finished if any, else the one that got furthest): a
    recursive chain recorded on two workers is still a chain at three.

    The children it would spawn are new scripts (ids ``<task>~<n>``), made
    the same way, but a child of a name already among its makers is left
    without steps: the recording cannot say how deep a recursion goes.
    Returns how many tasks were given steps, and the names that recurse.
    """
    ran = [s for s in scripts.values() if s.ran]
    templates: Dict[Optional[str], Script] = {}
    for s in sorted(ran, key=lambda s: (not s.finished, -len(s.steps), s.id)):
        templates.setdefault(s.name, s)
    unbounded: set = set()
    modelled = 0

    def model(s: Script, makers: Tuple[Optional[str], ...]) -> None:
        nonlocal modelled
        tpl = templates.get(s.name)
        if tpl is None or not tpl.steps:
            return
        if s.name in makers:
            unbounded.add(str(s.name))
            return
        modelled += 1
        mine: Dict[str, str] = {}
        for off, kind, arg, timeout in tpl.steps:
            if kind == "spawn" and arg in scripts:
                child = scripts[arg]
                new = f"{s.id}~{len(mine)}"
                mine[arg] = new
                made = Script(new, child.name, child.queue, None, s.id, child.priority)
                same = by_name.get(child.name)
                made.own = statistics.median(same) if same else fallback
                scripts[new] = made
                s.steps.append((off, "spawn", new, None))
                model(made, makers + (s.name,))
            elif kind == "wait" and arg in mine:
                s.steps.append((off, "wait", mine[arg], timeout))
        s.steps.sort(key=lambda x: (x[0], x[1] != "spawn"))

    for s in never:
        if not s.steps:
            model(s, ())
    return modelled, unbounded


def recorded_sizes(a: Analysis) -> Dict[Optional[str], int]:
    """Per queue, the largest pool the recording had (a consumer that
    stopped at the end leaves an empty pool behind)."""
    out = {q: max(row[1] for row in rows) for q, rows in a.history.pools.items() if rows}
    out.update({q: p.size for q, p in a.replay.pools.items() if p.size > out.get(q, 0)})
    return {q: n for q, n in out.items() if n}


def reproduces(a: Analysis, scripts: Dict[str, Script], recorded: Dict[Optional[str], int],
               ups, prioritised) -> List[str]:
    """Why a replay at the recorded pool sizes does not give what was
    recorded (its verdict, and its makespan within what polling explains),
    or nothing: only then are the other sizes' runs exact."""
    if not recorded or set(recorded) != {sc.queue for sc in scripts.values()} | set(recorded):
        return ["the recorded pool size is not known for every queue"]
    r = simulate(scripts, dict(recorded), ups, prioritised, polling=polling_of(a))
    seen = a.findings[0].verdict if a.findings else "ok"
    if r.verdict != seen:
        return [f"replayed at the recorded {_counts_words(r.workers)} workers the workload "
                f"gives {r.verdict}, but the recording shows {seen}"]
    ends = [sp.end for sp in a.history.spans if sp.end is not None]
    if seen == "ok" and r.makespan is not None and ends:
        span = max(ends) - r.origin
        # What polling explains: a poll step of the slowest recorded consumer
        # either way, and a busy machine's scheduling.
        poll = max((p[2] for p in polling_of(a).values()), default=0.0)
        slack = max(0.1, 0.5 * span, 2 * poll)
        if abs(span - r.makespan) > slack:
            return [f"replayed at the recorded {_counts_words(r.workers)} workers the workload "
                    f"takes {_secs(r.makespan)}, but the recording took {_secs(span)}"]
    return []


def polling_of(a: Analysis) -> Dict[Optional[str], Tuple[float, float, float]]:
    """Per queue, how its consumer's workers poll for tasks, where recorded."""
    return {q: p.polling for q, p in a.replay.pools.items() if p.polling is not None}


def up_times(a: Analysis) -> Dict[Optional[str], List[float]]:
    """Per queue, when each recorded worker came up (announced, or first seen)."""
    h = a.history
    ups: Dict[Optional[str], Dict[Worker, float]] = {}
    for (q, w), t in h.up.items():
        ups.setdefault(q, {})[w] = t
    for sp in h.spans:
        if sp.worker is not None:
            d = ups.setdefault(sp.queue, {})
            if sp.worker not in d or sp.start < d[sp.worker]:
                d[sp.worker] = min(sp.start, d.get(sp.worker, sp.start))
    return {q: sorted(d.values()) for q, d in ups.items()}


# -- the simulation --------------------------------------------------------------
class _Sim:
    """One run: scripts on ``workers`` per queue; writes events."""

    def __init__(self, scripts: Dict[str, Script], workers: Dict[Optional[str], int],
                 inline: frozenset, prioritised: Mapping[Optional[str], bool],
                 polling: Optional[Mapping[Optional[str], Tuple[float, float, float]]] = None):
        self.scripts = scripts
        # Per queue, how its idle workers poll (initial delay, backoff, max
        # delay), as recorded; a queue without it hands tasks out at once.
        # Where the recording has it, get() polls as Huey's does too.
        self.polling = dict(polling or {})
        self.since: Dict[str, float] = {}           # waiter -> when it blocked
        self.idle_since: Dict[Worker, float] = {}
        self.taking: Dict[Optional[str], int] = {}
        self.workers = workers
        self.inline = inline
        self.prioritised = prioritised
        self.heap: list = []
        self.order = itertools.count()
        self.queues: Dict[Optional[str], list] = {q: [] for q in workers}
        self.idle: Dict[Optional[str], List[Worker]] = {q: [] for q in workers}
        self.seq = itertools.count()
        self.steps: Dict[str, list] = {}
        self.own: Dict[str, float] = {}
        self.pos: Dict[str, int] = {}
        self.done: Dict[str, float] = {}
        self.queued: set = set()
        self.slot: Dict[str, Worker] = {}
        self.waiters: Dict[str, List[str]] = {}
        self.gen: Dict[str, int] = {}
        self.blocked_own: Dict[str, float] = {}
        self.events: List[Event] = []
        self.now = 0.0
        self.pending_after: Dict[str, List[str]] = {}    # dep -> continuations
        for tid, s in scripts.items():
            for dep in s.after:
                self.pending_after.setdefault(dep, []).append(tid)
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

    def emit(self, kind: str, task: Optional[str], worker: Optional[Worker],
             data: Optional[dict], queue: Optional[str]) -> None:
        name = self.scripts[task].name if task in self.scripts else None
        self.events.append(Event(self.now, kind, task, name, worker, data, queue))

    def push(self, t: float, kind: str, tid, data=None) -> None:
        heapq.heappush(self.heap, (t, next(self.order), kind, tid, data))

    def enqueue(self, tid: str, parent: Optional[str] = None, by: Optional[Worker] = None
                ) -> None:
        if tid in self.inline or tid in self.queued or tid not in self.steps:
            return
        s = self.scripts[tid]
        self.queued.add(tid)
        data: dict = {}
        if parent is not None:
            data["parent"] = parent
        if s.priority:
            data["priority"] = s.priority
        self.emit("enqueued", tid, by, data or None, s.queue)
        key = -s.priority if self.prioritised.get(s.queue) else 0
        heapq.heappush(self.queues.setdefault(s.queue, []), (key, next(self.seq), tid))

    def dispatch(self) -> None:
        for q, queue in self.queues.items():
            idle = self.idle.get(q, [])
            if q not in self.polling:
                while idle and queue:
                    _, _, tid = heapq.heappop(queue)
                    self.start(tid, idle.pop(0))
                continue
            # Each queued task goes to the idle worker that polls first.
            while idle and len(queue) > self.taking.get(q, 0):
                w = min(idle, key=lambda x: (self.next_poll(x, q), x.name))
                idle.remove(w)
                self.taking[q] = self.taking.get(q, 0) + 1
                self.push(self.next_poll(w, q), "take", w, q)

    def take(self, w: Worker, queue: Optional[str]) -> None:
        self.taking[queue] -= 1
        if self.queues.get(queue):
            _, _, tid = heapq.heappop(self.queues[queue])
            self.start(tid, w)
        else:
            self.idle.setdefault(queue, []).append(w)       # keeps its polling phase

    def free(self, w: Worker, queue: Optional[str]) -> None:
        """``w`` has nothing to run: it asks for the next task now, and, as
        Huey's workers do, polls again after a delay that grows while the
        queue stays empty (where the recording says how)."""
        idle = self.idle.setdefault(queue, [])
        idle.append(w)
        idle.sort(key=lambda x: x.name)
        self.idle_since[w] = self.now

    def next_poll(self, w: Worker, queue: Optional[str]) -> float:
        """When idle ``w`` next looks at the queue (now, without polling)."""
        poll = self.polling.get(queue)
        if poll is None:
            return self.now
        delay, backoff, most = poll
        t = self.idle_since[w]
        while t < self.now - 1e-12:
            if delay >= most or delay <= 0:
                step = max(most, 1e-6)
                return t + math.ceil((self.now - 1e-12 - t) / step) * step
            t += delay
            delay = min(delay * backoff, most)
        return t

    def start(self, tid: str, w: Worker) -> None:
        self.slot[tid] = w
        self.pos[tid] = 0
        self.emit("executing", tid, w, None, self.scripts[tid].queue)
        self.push(self.now, "run", tid, 0.0)

    def woken(self, waiter: str) -> float:
        """When a blocked get() sees a result stored now: Huey's
        ``wait_result`` checks at once, then after 0.05 s, growing by 1.15
        up to 1 s (Result.get's defaults)."""
        since = self.since.get(waiter)
        if since is None or not self.polling:
            return self.now
        t, delay = since, 0.05
        while t < self.now - 1e-12:
            t += min(delay, 1.0)
            delay *= 1.15
        return t

    def finish(self, tid: str) -> None:
        s = self.scripts[tid]
        w = self.slot.get(tid)
        data = None if s.stored or s.outcome != "complete" else {"stored": False}
        self.emit(s.outcome, tid, w, data, s.queue)
        self.done[tid] = self.now
        if w is not None:
            self.free(w, s.queue)
        if s.outcome in NO_RESULT_OUTCOMES or not s.stored:
            return                          # its waiters wait forever (a hang)
        for cont in self.pending_after.pop(tid, ()):
            if all(dep in self.done for dep in self.scripts[cont].after):
                self.enqueue(cont, self.scripts[cont].parent, w)
        for waiter in self.waiters.pop(tid, ()):
            self.gen[waiter] = self.gen.get(waiter, 0) + 1
            self.push(self.woken(waiter), "woken", waiter, tid)

    def delivers(self, tid: str) -> bool:
        """Whether a waiter on ``tid`` ever gets a result (it ended with one)."""
        s = self.scripts[tid]
        return s.outcome not in NO_RESULT_OUTCOMES and s.stored

    def advance(self, tid: str, own: float) -> None:
        steps = self.steps[tid]
        s = self.scripts[tid]
        w = self.slot[tid]
        while True:
            i = self.pos[tid]
            if i >= len(steps):
                total = self.own[tid]
                if total > own + 1e-12:
                    self.push(self.now + total - own, "run", tid, total)
                    return
                self.finish(tid)
                return
            off, kind, arg, timeout = steps[i]
            if off > own + 1e-12:
                self.push(self.now + off - own, "run", tid, off)
                return
            self.pos[tid] = i + 1
            if kind == "spawn":
                self.enqueue(arg, tid, w)
            elif kind == "done":
                self.done[arg] = self.now
            elif kind == "wait" and arg in self.scripts and (
                    arg not in self.done or not self.delivers(arg)):
                data: dict = {"waits_on": arg}
                if timeout is not None:
                    data["timeout"] = timeout
                if self.scripts[arg].queue != s.queue:
                    data["waits_on_queue"] = self.scripts[arg].queue
                self.emit("block", tid, w, data, s.queue)
                self.since[tid] = self.now
                self.waiters.setdefault(arg, []).append(tid)
                self.gen[tid] = g = self.gen.get(tid, 0) + 1
                if timeout is not None:
                    self.push(self.now + timeout, "timeout", tid, (g, arg))
                self.blocked_own[tid] = own
                return

    def run(self, roots: List[Tuple[float, str]], ups: Dict[Optional[str], List[float]],
            t0: float) -> Tuple[List[Event], bool]:
        per_queue: Dict[Optional[str], int] = {}
        for sc in self.scripts.values():
            per_queue[sc.queue] = per_queue.get(sc.queue, 0) + 1
        for q, n in sorted(self.workers.items(), key=lambda kv: str(kv[0])):
            self.emit("pool", None, None, {"size": n}, q)
            times = ups.get(q) or [t0]
            # Workers beyond one per task never run anything: a recorded pool
            # of a million costs no more than one of the tasks' size.
            for i in range(min(n, per_queue.get(q, 0))):
                up = times[i] if i < len(times) else times[-1]
                # Before t0 too: a worker up before the first task polls on its
                # own schedule, and that decides who takes what when both arrive.
                self.push(up - t0, "up", Worker(_HOST, 0, f"Worker-{i + 1}"), q)
        for t, tid in roots:
            self.push(t - t0, "arrive", tid)
        while self.heap:
            t, _, kind, tid, data = heapq.heappop(self.heap)
            self.now = t
            if kind == "up":
                self.emit("worker_up", None, tid, None, data)
                self.free(tid, data)
            elif kind == "take":
                self.take(tid, data)
            elif kind == "arrive":
                self.enqueue(tid)
            elif kind == "timeout":
                g, target = data
                if self.gen.get(tid) == g:
                    self.waiters[target].remove(tid)
                    self.gen[tid] = g + 1
                    self._unblock(tid, target, "timeout")
            elif kind == "woken":
                self._unblock(tid, data, "result")
            else:
                self.advance(tid, data)
            self.dispatch()
        finished = all(tid in self.done for tid in self.steps)
        return self.events, finished

    def _unblock(self, tid: str, target: str, outcome: str) -> None:
        s = self.scripts[tid]
        self.emit("unblock", tid, self.slot[tid], {"waits_on": target, "outcome": outcome},
                  s.queue)
        self.advance(tid, self.blocked_own.pop(tid))


def inline_set(scripts: Dict[str, Script]) -> frozenset:
    """Children that their (spawning) parent waits for."""
    out = set()
    for s in scripts.values():
        spawned = {a for _, k, a, _ in s.steps if k == "spawn"}
        out |= {a for _, k, a, _ in s.steps if k == "wait" and a in spawned}
    return frozenset(out)


def _roots(scripts: Dict[str, Script]) -> List[Tuple[float, str]]:
    spawned = {a for s in scripts.values() for _, k, a, _ in s.steps if k == "spawn"}
    spawned |= {tid for tid, s in scripts.items() if s.after}
    roots = [(s.enqueued, tid) for tid, s in scripts.items()
             if tid not in spawned and s.enqueued is not None]
    # Tasks seen running but never enqueued while recording: there from the start.
    start = min((t for t, _ in roots), default=0.0)
    roots += [(start, tid) for tid, s in scripts.items()
              if tid not in spawned and s.enqueued is None]
    roots.sort(key=lambda r: r[0])           # stable: recorded order on ties
    return roots


def simulate(scripts: Dict[str, Script], workers: Dict[Optional[str], int],
             ups: Dict[Optional[str], List[float]], prioritised: Mapping[Optional[str], bool],
             inline: frozenset = frozenset(),
             polling: Optional[Mapping[Optional[str], Tuple[float, float, float]]] = None
             ) -> Run:
    """One simulated run of ``scripts`` on ``workers`` per queue (``polling``:
    per queue, how its workers poll, see :func:`polling_of`)."""
    roots = [r for r in _roots(scripts) if r[1] not in inline]
    t0 = roots[0][0] if roots else 0.0      # the makespan counts from here
    events, finished = _Sim(scripts, workers, inline, prioritised, polling).run(roots, ups, t0)
    d = diagnose(events)
    makespan = None
    if finished:
        makespan = max((e.t for e in events if e.task is not None and e.kind != "enqueued"),
                       default=0.0)
    verdict = d.verdict
    if verdict == "ok" and not finished:
        # Some task never ran: a step enqueued only after a task that ends
        # without a result (a continuation after a revoked one).  Never "ok".
        verdict = "hang"
    workers_out: Counts = (next(iter(workers.values())) if len(workers) == 1
                           else dict(workers))
    return Run(workers_out, verdict, makespan, d, tuple(events), t0)


def _parse_counts(workers, queues: Sequence[Optional[str]],
                  recorded: Dict[Optional[str], int]) -> List[Dict[Optional[str], int]]:
    """Every combination of pool sizes to try."""
    if isinstance(workers, Mapping):
        per = {}
        for q in queues:
            given = workers.get(q, workers.get("" if q is None else q))
            if given is None:
                per[q] = [recorded.get(q) or 1]
            else:
                per[q] = sorted({int(n) for n in ([given] if isinstance(given, int) else given)})
        unknown = set(workers) - {q for q in queues} - {"" if q is None else q for q in queues}
        if unknown:
            raise UsageError(f"no queue named {', '.join(sorted(map(str, unknown)))} in the "
                             f"trace; its queues: {', '.join(map(str, queues)) or 'none'}")
    else:
        counts = sorted({int(n) for n in workers})
        per = {q: counts for q in queues}
    for counts in per.values():
        if not counts or counts[0] < 1:
            raise UsageError("worker counts must be at least 1")
    keys = list(per)
    return [dict(zip(keys, combo)) for combo in itertools.product(*(per[k] for k in keys))]


def whatif(trace, workers: Union[Iterable[int], Mapping] = range(1, 9),
           sync: bool = False) -> WhatIf:
    """Replay the recorded workload on other pool sizes.

    Parameters
    ----------
    trace : Trace, iterable of Event, or path of a trace file
    workers : iterable of int, or mapping of queue name to int or ints
        The pool sizes to try: the same counts for every queue, or per queue
        (``{"default": range(1, 5), "reports": 2}``; queues not named keep
        their recorded size).
    sync : bool
        Also replay with waited-for children called synchronously.

    Returns
    -------
    WhatIf
        ``runs`` (workers, verdict, makespan, and the simulated trace),
        ``min_safe_workers`` (the smallest pool that completes, or None),
        ``exact`` and ``notes``.

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
    if isinstance(trace, (str, os.PathLike)):
        from ..core.trace import Trace
        trace = Trace.load(trace)
    check_events(trace, "whatif()")
    if not hasattr(trace, "events"):
        trace = tuple(trace)
    a = analyse(trace)
    rp = a.replay
    scripts, notes = build_scripts(a)
    dropped = int(getattr(trace, "dropped", 0) or 0)
    if dropped:
        notes.append(f"{dropped} events were lost while recording")
    if rp.anomaly_count:
        notes.append(f"{rp.anomaly_count} recorded events contradicted the state")
    queues = sorted({s.queue for s in scripts.values()} | set(rp.pools), key=str)
    recorded = recorded_sizes(a)
    combos = _parse_counts(workers, queues or [None], recorded)
    ups = up_times(a)
    prioritised = {q: p.prioritised for q, p in rp.pools.items()}
    if scripts and not notes:
        notes += reproduces(a, scripts, recorded, ups, prioritised)
    polling = polling_of(a)
    runs = tuple(simulate(scripts, c, ups, prioritised, polling=polling) for c in combos)
    unbounded = any(n.startswith(UNBOUNDED) for n in notes)
    if unbounded:
        # Past the levels it saw, more workers may or may not be enough.
        runs = tuple(replace(r, verdict="unknown") if r.verdict == "ok" else r for r in runs)
    sync_runs = None
    if sync:
        inline = inline_set(scripts)
        sync_runs = tuple(simulate(scripts, c, ups, prioritised, inline, polling)
                          for c in combos)
    safe_runs = [r for r in runs if r.verdict in ("ok", "stall", "unknown")]
    safe: Optional[Counts] = None
    if not scripts:
        # Nothing ran, so nothing says how many workers are enough.
        notes.append("no task to replay")
    elif safe_runs:
        best = min(safe_runs, key=lambda r: (_total(r.workers), _key(r.workers)))
        safe = best.workers
    rec: Optional[Counts] = None
    if recorded:
        rec = next(iter(recorded.values())) if len(recorded) == 1 and len(queues) <= 1 \
            else recorded
    return WhatIf(runs, safe, not notes, tuple(notes), sync_runs, len(scripts), rec)
