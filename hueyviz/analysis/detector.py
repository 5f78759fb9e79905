"""Deadlock, stall and hang verdicts for pools of identical workers, one per queue.

The model (``shared/DESIGN.md``): a running task holds one worker of its
own queue, a queued task needs one, a blocked task holds one and waits for
another task's result (of any queue).  The state is *deadlocked* when it
cannot be fully reduced (Holt): let every task that can finish finish and
release its worker, let queued tasks take freed workers of their queue, and
see whether blocked tasks are left.  A knot with a timed wait is a *stall*;
a wait for a result that can never arrive is a *hang*.

Everything here is a pure function of the event log, linear in its length
for healthy traces: one :class:`~hueyviz.analysis.replay.Replay` pass, and
at each new wait an O(1) test that usually settles it; the full reduction
(quadratic in the number of blocked workers) runs only when no worker of
the awaited task's queue is free or running.
"""
from __future__ import annotations

import copy
import operator
import os
from collections import ChainMap
from dataclasses import dataclass, field
from itertools import islice
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

from ..core.collector import collector_paused
from ..core.event import Event
from ..core.text import printable
from ..core.trace import time_ordered
from .finding import VERDICTS, Diagnosis, Edge, Finding, KnotItem, KnotNeed, QueueCount
from .replay import History, Replay, TaskRecord, Wait
from .wording import edge_of, knot_wait, pool_words, queue_words, site_words, task_label, wait_words, worker_words

__all__ = [
    "VERDICTS",
    "Analysis",
    "Diagnosis",
    "Edge",
    "Finding",
    "LiveDiagnosis",
    "analyse",
    "diagnose",
    "diagnose_blocks",
    "diagnose_stream",
    "find_findings",
    "find_knot",
    "irreducible",
    "load_analysed",
    "would_deadlock",
]

_SETTLE_MIN = 50_000          # events between two evictions of settled tasks
_ENDS_NO_RESULT = frozenset({"complete", "revoked", "expired", "interrupted", "lost"})
_POOL_CHANGES = frozenset({"worker_down", "pool", "consumer"})
_READS = frozenset({"unblock", "read"})
_APPEARS = frozenset({"enqueued", "scheduled"})
_WORKER_KINDS = frozenset({"executing", "worker_up", "block", "unblock", "retrying",
                           "complete", "error", "timeout", "locked", "canceled",
                           "rate-limited", "interrupted"})


# -- the reduction ---------------------------------------------------------------
def _flows(rp: Replay, queue: Optional[str], cache: Dict[Optional[str], bool],
           unseen: Set[Optional[str]]) -> bool:
    """Will a worker of ``queue`` ever take a queued task?"""
    got = cache.get(queue)
    if got is None:
        p = rp.pools.get(queue)
        if p is None or (p.size == 0 and not p.exact):
            # Nobody was seen serving this queue: it may have consumers the
            # tracer does not see.  Assume it flows, and say so.
            unseen.add(queue)
            got = True
        else:
            got = p.free > 0 or p.running > 0
        cache[queue] = got
    return got


def expiry(rp: Replay, w: Wait) -> Optional[float]:
    """When ``w`` ends by itself: its own timeout, or Huey's task timeout
    (``@huey.task(timeout=...)``) where the waiter's workers enforce it
    (greenlet and process workers; threads do not)."""
    ends = w.deadline
    if w.task_deadline is not None:
        p = rp.pools.get(w.queue)
        if p is not None and p.enforces_task_timeout:
            ends = w.task_deadline if ends is None else min(ends, w.task_deadline)
    return ends


def _never(rp: Replay, rec: TaskRecord) -> bool:
    """No result will ever reach a waiter on ``rec`` (see Replay.undelivered)."""
    return rec.never_result or (rec.state == "pending" and rp.undelivered(rec) is not None)


def irreducible(rp: Replay, unseen: Optional[Set[Optional[str]]] = None
                ) -> Optional[List[TaskRecord]]:
    """Holt reduction of the replay's state: the blocked tasks that can never
    proceed, or None when everything can.

    A blocked task proceeds when what it waits for can finish: it has a
    result, it runs, it is itself a blocked task that proceeds, or it is
    queued in a queue whose pool has a free worker or will get one (a
    running task, or a blocked task that proceeds, releases its worker).
    Waits on results that will never come (hangs) never proceed; a knot
    made only of them is a hang, not a deadlock.

    >>> from hueyviz.core.event import Event, Worker
    >>> w1 = Worker("h", 1, "W1")
    >>> rp = Replay()
    >>> for e in [Event(0, "pool", None, None, None, {"size": 1}),
    ...           Event(1, "executing", "m", "main", w1, None),
    ...           Event(2, "enqueued", "s", "sub", w1, {"parent": "m"}),
    ...           Event(2, "block", "m", "main", w1, {"waits_on": "s"})]:
    ...     rp.apply(e)
    >>> [r.id for r in irreducible(rp)]
    ['m']
    """
    blocked = rp.blocked_holders()
    if not blocked:
        return None
    unseen = set() if unseen is None else unseen
    flowing: Dict[Optional[str], bool] = {}
    reduced: Set[str] = set()
    tasks = rp.tasks

    def can_finish(w: Wait) -> bool:
        tgt = tasks.get(w.waits_on)
        if tgt is None or tgt.state == "unknown":
            if w.waits_on in rp.inflight:
                # Left the queue unseen: one of the running tasks (of any
                # queue: which one is not known), whose ids are not known;
                # it ends if one of them can.
                held = [rp.holder((q, m)) for q, p in rp.pools.items() for m in p.members]
                return any(r is not None and r.id != w.waiter and
                           (r.state == "running" or r.id in reduced) for r in held)
            # Never seen: it may predate the recording (queued, scheduled)
            # or never have been enqueued.  No verdict rests on it; finish()
            # notes the open wait.
            return True
        return delivers(tgt, 0)

    def delivers(tgt: TaskRecord, depth: int) -> bool:
        if tgt.has_result:
            return True
        if _never(rp, tgt):
            return False
        st = tgt.state
        if st == "running" or st == "finished":
            return True
        if st == "blocked":
            return tgt.id in reduced
        if st == "pending" and tgt.after is not None and depth < 1024:
            # Huey enqueues a step when the step before it completes: it
            # needs that step to finish first, then a worker.
            before = tasks.get(tgt.after)
            if before is not None and before.state != "unknown" and not delivers(before, depth + 1):
                return False
        return _flows(rp, tgt.queue, flowing, unseen)

    changed = True
    while changed:
        changed = False
        for rec in blocked:
            if rec.id not in reduced and rec.wait is not None and can_finish(rec.wait):
                reduced.add(rec.id)
                flowing[rec.queue] = True     # its worker will be released
                changed = True
    stuck = [r for r in blocked if r.id not in reduced]
    if not stuck:
        return None
    # Waits on results that never come are hangs (reported as such); a knot
    # needs at least one wait that a worker would have satisfied.
    if all(r.wait is not None and (tasks.get(r.wait.waits_on) is not None
                                   and _never(rp, tasks[r.wait.waits_on])) for r in stuck):
        return None
    return stuck


def _settled_at_once(rp: Replay, rec: TaskRecord) -> bool:
    """The O(1) test for a new wait: does what it waits for finish without
    needing the reduction?  (The state before the wait was reducible, so a
    wait whose target surely finishes keeps it reducible.)"""
    w = rec.wait
    if w is None:
        return True
    tgt = rp.tasks.get(w.waits_on)
    if tgt is None or tgt.state == "unknown":
        # never seen: no verdict rests on it (irreducible), unless it is known
        # to run unseen (an autopsy)
        return w.waits_on not in rp.inflight
    if tgt.has_result or (tgt.state in ("running", "finished") and not tgt.never_result):
        return True
    if tgt.state in ("blocked", "pending") or _never(rp, tgt):
        return False                # a pending step needs the step before it too
    p = rp.pools.get(tgt.queue)
    if p is None or (p.size == 0 and not p.exact):
        return False        # let the reduction note the unseen queue
    return p.free > 0 or p.running > 0


# -- findings --------------------------------------------------------------------
@dataclass
class _Open:
    """A knot under watch: what dissolves it, and what retracts it."""

    index: int
    waiters: Set[Optional[str]]
    targets: Set[str]
    inferred: Set[Optional[str]]            # queues whose pool size was inferred
    members: Dict[Optional[str], Set] = field(default_factory=dict)


class _Detector:
    """Incremental knot detection over one replay."""

    def __init__(self, rp: Optional[Replay] = None, history: bool = False) -> None:
        self.rp = rp if rp is not None else Replay(history=history)
        self.findings: List[Finding] = []
        self.retracted: Set[int] = set()
        self.active: Optional[_Open] = None    # open deadlock/stall knot
        self.hung: Set[Tuple[Optional[str], str, float]] = set()
        self.hung_at: Dict[Tuple[Optional[str], str], int] = {}   # open hung wait -> finding
        self.unseen: Set[Optional[str]] = set()
        self.notes: List[str] = []          # what the recording cannot tell
        self._fed = 0
        self._settle_at = _SETTLE_MIN

    def settle(self, fed: int = 1) -> None:
        """Forget settled tasks now and then (a stream without history: memory
        in proportion to the work in flight, not to the stream); ``fed``
        events were fed since the last call."""
        self._fed += fed
        if self._fed >= self._settle_at:
            rp = self.rp
            keep = frozenset(self.active.waiters | self.active.targets) if self.active else \
                frozenset()
            rp.evict(keep)
            self._fed = 0
            self._settle_at = max(_SETTLE_MIN, 2 * len(rp.tasks))

    def feed(self, e: Event) -> None:
        rp = self.rp
        if self.active is not None:
            self._watch(e)
        rp.apply(e)
        kind = e.kind
        if self.active is not None and kind in ("executing", "unblock"):
            self._maybe_dissolve(e)
        elif self.active is not None and kind in ("lost", "worker_down"):
            self._maybe_gone(e)
        if kind == "block":
            self._on_block(e)
        elif kind in _ENDS_NO_RESULT:
            self._on_no_result(e)
        elif kind in _READS:
            self._on_read(e)
        elif self.active is None and (kind in _POOL_CHANGES or (
                kind in _APPEARS and e.task in rp.waiting)):
            self._check(None)

    def feed_all(self, events: Iterable[Event]) -> None:
        """:meth:`feed` each event, with the common case written out: no
        knot open, and an event that cannot close one."""
        fast = self.rp.fast
        if fast is None:
            self._feed_each(events)
            return
        evs = events if isinstance(events, list) else list(events)
        i, n = 0, len(evs)
        while i < n:
            if self.active is None:
                # C takes the plain events: none of them can close a knot
                # (a finish that someone waits for is left here).
                i = fast(self.rp, evs, i)
            if i < n:
                self._feed_each((evs[i],))
                i += 1

    def _feed_each(self, events: Iterable[Event]) -> None:
        rp = self.rp
        apply = rp.apply
        for e in events:
            if self.active is not None:
                self.feed(e)
                continue
            apply(e)
            kind = e.kind
            if kind == "block":
                self._on_block(e)
            elif kind in _ENDS_NO_RESULT:
                # Ends without a result matter to those who wait for them,
                # or for a pipeline step after them.
                if kind == "lost" or e.task in rp.waiting or self._waits_on_pending():
                    self._on_no_result(e)
            elif kind in _READS:
                self._on_read(e)
            elif kind in _POOL_CHANGES or (kind in _APPEARS and e.task in rp.waiting):
                # A task already waited for appears in a queue: the waits on
                # it, no verdict while it was unseen, may now close a knot.
                self._check(None)

    # -- checks ------------------------------------------------------------------
    def _on_block(self, e: Event) -> None:
        rp = self.rp
        if e.task is None:
            w = rp.thread_waits.get(e.worker) if e.worker is not None else None
        else:
            w = rp.tasks[e.task].wait
        if w is None:
            return
        target = rp.tasks.get(w.waits_on)
        if target is not None and _never(rp, target):
            self._hang(w, e.t)
            return
        if e.task is None or self.active is not None:
            return
        if _settled_at_once(rp, rp.tasks[e.task]):
            return
        self._check(w)

    def _on_read(self, e: Event) -> None:
        """A read that removed a result hangs the waits still open on it
        (Huey's get() pops the result: the others poll for ever).  A hung
        wait that returns a result after all was not hung: events arrived
        out of order, and the finding is withdrawn."""
        d = e.data
        if not d:
            return
        on = d.get("waits_on")
        if not isinstance(on, str):
            return
        if e.kind == "unblock" and d.get("outcome", "result") == "result":
            index = self.hung_at.pop((e.task, on), None)
            if index is not None:
                self.retracted.add(index)
                self.notes.append(printable(
                    f"a wait on [{str(on)[:8]}] found hung returned its result after all: "
                    "its events arrived out of order, and the hang was withdrawn"))
        if d.get("consumed") and on in self.rp.waiting:
            for w in list(self.rp.waiting[on]):
                self._hang(w, e.t)

    def _waits_on_pending(self) -> bool:
        tasks = self.rp.tasks
        return any(tid in tasks and tasks[tid].state == "pending" for tid in self.rp.waiting)

    def _on_no_result(self, e: Event) -> None:
        rp = self.rp
        ids = rp.lost if e.kind == "lost" else [e.task] if e.task else []
        for tid in ids:
            rec = rp.tasks.get(tid)
            if rec is not None and rec.never_result:
                for w in list(rp.waiting.get(tid, ())):
                    self._hang(w, e.t)
        self._hang_pending(e.t)
        if e.kind == "lost" and self.active is None:
            self._check(None)

    def _hang_pending(self, t: float) -> None:
        """Waits on pipeline steps that a step before them will never enqueue."""
        rp = self.rp
        for tid, waits in list(rp.waiting.items()):
            rec = rp.tasks.get(tid)
            if rec is not None and rec.state == "pending" and rp.undelivered(rec):
                for w in list(waits):
                    self._hang(w, t)

    def _check(self, closing: Optional[Wait]) -> None:
        rp = self.rp
        stuck = irreducible(rp, self.unseen)
        if stuck is None:
            return
        waits = self._knot_waits(stuck)
        if closing is None or closing not in waits:
            closing = max(waits, key=lambda w: w.since)
        self._knot(waits, stuck, closing)

    def _knot_waits(self, stuck: List[TaskRecord]) -> List[Wait]:
        out = [r.wait for r in stuck if r.wait is not None]
        return sorted(out, key=lambda w: (w.since, w.waiter or ""))

    # -- building a finding ----------------------------------------------------
    def _queue_counts(self, queues: Iterable[Optional[str]]) -> Dict[Optional[str], QueueCount]:
        rp = self.rp
        out = {}
        for q in queues:
            p = rp.pools.get(q)
            if p is None:
                continue
            out[q] = QueueCount(p.size, len(rp.blocked_holders(q)), p.exact)
        return out

    def _knot(self, waits: List[Wait], stuck: List[TaskRecord], culprit: Wait) -> None:
        rp = self.rp
        t = rp.t
        expiries = [x for x in (expiry(rp, w) for w in waits) if x is not None]
        verdict = "stall" if expiries else "deadlock"
        # The knot dissolves when the first of its timeouts expires.
        ends = min(expiries) if expiries else None
        stuck_ids = {r.id for r in stuck}
        needs: Dict[str, TaskRecord] = {}
        for w in waits:
            tgt = rp.tasks.get(w.waits_on)
            if tgt is not None and tgt.id not in stuck_ids and tgt.state in (
                    "queued", "scheduled", "pending", "unknown") \
                    and self._step_holder(tgt.id) not in stuck_ids:
                needs[tgt.id] = tgt
        queues = {r.queue for r in stuck} | {r.queue for r in needs.values()}
        counts = self._queue_counts(sorted(queues, key=str))
        knot: List[KnotItem] = [knot_wait(rp, w) for w in waits]
        for rec in needs.values():
            knot.append(KnotNeed(rec.id, rec.name, rp.queue_position(rec.id), rec.queue))
        members = stuck_ids | set(needs)
        bystanders = [w for w in rp.thread_waits.values() if w.waits_on in members]
        knot.extend(knot_wait(rp, w) for w in bystanders)
        edge = edge_of(rp, culprit)
        parts = [wait_words(rp, w) for w in waits]
        head = "Deadlock" if verdict == "deadlock" else "Stall"
        if self._cycle(culprit, stuck_ids) and not needs:
            tail = "the waits form a cycle, so none of them can ever return"
        else:
            tail = f"no worker is free: {pool_words(counts)}"
        msg = f"{head}: " + "; ".join(parts) + f"; {tail}."
        waiter = edge.waiter or "?"
        on = worker_words(rp, culprit.worker) if edge.worker else "?"
        msg += (f" The wait that closed it: {task_label(rp.tasks.get(waiter), waiter)}"
                f" on {on} waiting for "
                f"{task_label(rp.tasks.get(edge.waits_on), edge.waits_on)}{site_words(edge)}.")
        if bystanders:
            msg += " Also waiting: " + "; ".join(wait_words(rp, w) for w in bystanders) + "."
        if ends is not None:
            by_task = [w for w in waits if w.task_deadline == ends and w.deadline != ends]
            first = ("Huey interrupts " + task_label(rp.tasks.get(by_task[0].waiter or ""),
                                                     by_task[0].waiter or "?")
                     + " at its task timeout (its workers enforce it)") if by_task else \
                "the first timeout expires"
            msg += f" It dissolves by itself when {first}, {max(0.0, ends - t):.3g} s after it formed."
        # A knot rests on an inferred pool only where a larger one would run
        # something it needs; one needing no worker (every chain of waits
        # ends in a cycle) rests on none and stays exact.
        wanted = {r.queue for r in needs.values()} | {
            rp.tasks[h].queue for h in (self._step_holder(r.id) for r in needs.values())
            if h in rp.tasks}
        inferred = {q for q, c in counts.items() if not c.exact and q in wanted}
        notes = self._task_timeout_notes(waits) if verdict == "deadlock" else []
        if notes:
            msg += (" (Counted as a deadlock on thread workers: a task in it has a task "
                    "timeout, which greenlet and process workers enforce; see notes.)")
        for q in sorted(inferred, key=str):
            where = f" of {queue_words(q)}" if len(rp.pools) > 1 else ""
            notes.append(f"the pool size{where} was inferred from the {counts[q].total} "
                         f"worker{'s' if counts[q].total != 1 else ''} seen (no consumer "
                         "announced its size); if it has more, this is not a deadlock")
        for q in sorted(self.unseen, key=str):
            notes.append(self._unseen_words(q))
        total = sum(c.total for c in counts.values())
        blocked = sum(c.blocked for c in counts.values())
        # Names, sites and errors come from the traced program: the message is
        # printed to terminals and logs, so no control character survives.
        finding = Finding(verdict, t, edge, tuple(knot), {"total": total, "blocked": blocked},
                          printable(msg), ends, tuple(map(printable, notes)), counts,
                          not inferred)
        self.findings.append(finding)
        self.active = _Open(len(self.findings) - 1, {w.waiter for w in waits},
                            set(needs) | {w.waits_on for w in waits}, inferred,
                            {q: set(rp.pools[q].members) for q in inferred})

    def _task_timeout_notes(self, waits: List[Wait]) -> List[str]:
        """A task timeout that only the worker type decides about, said."""
        out = []
        for w in waits:
            p = self.rp.pools.get(w.queue)
            if w.task_deadline is None or p is None or p.worker_type == "thread":
                continue
            who = task_label(self.rp.tasks.get(w.waiter or ""), w.waiter or "?")
            out.append(f"{who} has a task timeout: Huey enforces it on greenlet and process "
                       f"workers, not on threads; the worker type of {queue_words(w.queue)} "
                       f"was {'not recorded' if p.worker_type is None else p.worker_type}, "
                       "so it is counted as a deadlock; on greenlet or process workers it "
                       "is a stall")
        return out

    @staticmethod
    def _unseen_words(q: Optional[str]) -> str:
        return (f"tasks wait on {queue_words(q)}, which no consumer was seen serving; "
                "if none serves it, those waits never return")

    def _cycle(self, w: Wait, stuck: Set[str]) -> bool:
        seen = set()
        cur: Optional[Wait] = w
        while cur is not None:
            on = self._step_holder(cur.waits_on)
            if on not in stuck:
                return False
            if on == w.waiter or on in seen:
                return True
            seen.add(on)
            cur = self.rp.tasks[on].wait
        return False

    def _step_holder(self, tid: str) -> str:
        """The task a wait on ``tid`` really waits for: ``tid`` itself, or for
        a pipeline step not enqueued yet, the first step before it that is."""
        tasks = self.rp.tasks
        rec = tasks.get(tid)
        for _ in range(1024):
            if rec is None or rec.state != "pending" or rec.after is None \
                    or rec.after not in tasks:
                break
            rec = tasks[rec.after]
        return tid if rec is None else rec.id

    def _hang(self, w: Wait, t: float) -> None:
        rp = self.rp
        key = (w.waiter, w.waits_on, w.since)
        if key in self.hung:
            return
        self.hung.add(key)
        edge = edge_of(rp, w)
        msg = f"Hang: {wait_words(rp, w)}{site_words(edge)}; that wait can never be satisfied."
        target = rp.tasks.get(w.waits_on)
        if target is not None and target.consumed is not None:
            gap = w.since - target.consumed
            when = (f"{gap:.3g} s before this wait began" if gap >= 0 else
                    f"{-gap:.3g} s after this wait began, while it was still polling")
            msg += (f" Its result was removed {when}; pass preserve=True to every get() "
                    "but the last, or share one Result.")
        if w.timeout is not None:
            msg += f" Its {w.timeout:g} s timeout will end it with ResultTimeout."
        queues = [q for q in (w.queue,) if w.waiter is not None]
        counts = self._queue_counts(queues)
        self.hung_at[(w.waiter, w.waits_on)] = len(self.findings)
        self.findings.append(Finding(
            "hang", max(t, w.since), edge, (knot_wait(rp, w),),
            {"total": sum(c.total for c in counts.values()),
             "blocked": sum(c.blocked for c in counts.values())},
            printable(msg), w.deadline, (), counts, True))

    # -- what happens to an open knot --------------------------------------------
    def _watch(self, e: Event) -> None:
        """Before ``e`` is applied: does it show that an inferred pool was bigger?"""
        a = self.active
        assert a is not None
        # A wait by code that is not a task (block/unblock with no task) is
        # the application's thread, not a worker of any pool.
        if not a.inferred or e.worker is None or e.kind not in _WORKER_KINDS or (
                e.task is None and e.kind != "worker_up"):
            if e.kind in ("consumer", "pool") and e.queue in a.inferred:
                self._retract()
            return
        rec = self.rp.tasks.get(e.task) if e.task else None
        queue = e.queue if e.queue is not None or rec is None else rec.queue
        if queue in a.inferred and e.worker not in a.members.get(queue, ()):
            # No consumer announced its size, so the pool was inferred from the
            # workers seen; one nobody had seen just did something.
            self._retract()

    def _retract(self) -> None:
        a = self.active
        if a is not None:
            self.retracted.add(a.index)
            self.active = None

    def _maybe_dissolve(self, e: Event) -> None:
        a = self.active
        assert a is not None
        progressed = ((e.kind == "unblock" and e.task in a.waiters)
                      or (e.kind == "executing" and e.task in a.targets))
        if not progressed:
            return
        self.active = None
        f = self.findings[a.index]
        if f.verdict == "stall":
            self.findings[a.index] = _replace(
                f, ends=e.t, message=f.message + f" It dissolved {e.t - f.at:.3g} s later.")
            return
        who = e.worker.name if e.worker else "someone"
        self.findings[a.index] = _replace(
            f, notes=f.notes + (printable(f"rescued at +{e.t - f.at:.3g} s by {who}"),))

    def _maybe_gone(self, e: Event) -> None:
        """A knot whose waiters were lost with their workers (a killed
        consumer) is over: nothing it held is held any more, and a later
        knot (the restarted consumer's) is a finding of its own."""
        a = self.active
        assert a is not None
        tasks = self.rp.tasks
        if not any(w is not None and w in tasks and tasks[w].state != "blocked" for w in a.waiters):
            return
        self.active = None
        f = self.findings[a.index]
        self.findings[a.index] = _replace(
            f, notes=f.notes + (f"its workers were lost at +{e.t - f.at:.3g} s",))

    def finish(self) -> List[Finding]:
        rp = self.rp
        self._hang_pending(rp.t)
        # Waits still open on tasks never seen at all.  They may have been
        # enqueued before the recording began (and be queued or scheduled
        # still): without the storage's word that is no hang, only a note.
        unknown = sorted({tid for tid, waits in rp.waiting.items()
                          if tid in rp.tasks and rp.tasks[tid].state == "unknown"
                          and tid not in rp.inflight})
        if unknown:
            shown = ", ".join(f"[{tid[:8]}]" for tid in unknown[:5])
            more = f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
            self.notes.append(
                f"waits on {shown}{more} are still open, on tasks the recording never saw: "
                "they may predate the recording (enqueued before the tracer attached, still "
                "queued or scheduled) or never have been enqueued; the recording cannot tell, "
                "so no verdict is given on them")
        early = self._predating()
        if early == 1:
            self.notes.append("1 awaited task ran without the recording seeing its enqueue: "
                              "it predates the recording")
        elif early:
            self.notes.append(f"{early} awaited tasks ran without the recording seeing their "
                              "enqueue: they predate the recording")
        return self.standing()

    def _predating(self) -> int:
        rp = self.rp
        waits = (rp.waits + rp.history.reads if rp.history is not None
                 else [w for ws in rp.waiting.values() for w in ws])
        ids = {w.waits_on for w in waits}
        return sum(1 for tid in ids if tid in rp.tasks and rp.tasks[tid].enqueued is None
                   and rp.tasks[tid].started is not None)

    def standing(self) -> List[Finding]:
        """The findings not retracted, in order of time."""
        out = [f for i, f in enumerate(self.findings) if i not in self.retracted]
        out.sort(key=lambda f: f.at)
        return out


def _replace(f: Finding, **changes) -> Finding:
    from dataclasses import replace
    return replace(f, **changes)


# -- the public functions ----------------------------------------------------------
@dataclass(frozen=True)
class Analysis:
    """One replay pass over a trace: its findings, the final replay (with its
    :class:`~hueyviz.analysis.replay.History`) and what the pass noticed."""

    replay: Replay
    findings: Tuple[Finding, ...]
    unseen: Tuple[Optional[str], ...]
    notes: Tuple[str, ...] = ()

    @property
    def history(self) -> History:
        assert self.replay.history is not None
        return self.replay.history


def check_events(trace, who: str = "this") -> None:
    """``TypeError`` with a clear message unless ``trace`` is a Trace or an
    iterable of events."""
    if isinstance(trace, (str, bytes, os.PathLike)) or not hasattr(trace, "__iter__"):
        raise TypeError(f"{who} wants a Trace or events, not a {type(trace).__name__}; "
                        "for a file or a source use hueyviz.Trace.read(path) first")


def analyse(trace) -> Analysis:
    """Replay ``trace`` once: findings and history.  Cached on a
    :class:`~hueyviz.Trace` (it is immutable)."""
    derived = getattr(trace, "derived", None)
    if derived is not None:
        return derived("analysis", lambda: _analyse(trace.events))
    check_events(trace)
    # Events in a list: replayed in time order, like a Trace's.
    return _analyse(time_ordered(trace))


def _analyse(events) -> Analysis:
    det = _Detector(history=True)
    with collector_paused():
        det.feed_all(events)
        findings = det.finish()
    return Analysis(det.rp, tuple(findings), tuple(sorted(det.unseen, key=str)), tuple(det.notes))


def load_analysed(path: str, strict: bool = True):
    """``Trace.load(path)``, analysed while it is read: each block is fed to
    the replay as it arrives (from the process reading the file, see
    :mod:`hueyviz.core.pipe`), and the :class:`Analysis` is the trace's own
    (:func:`analyse` returns it).  A file that turns out to be out of time
    order is analysed again once sorted, as :func:`analyse` would."""
    from ..core.trace import Trace
    det = _Detector(history=True)
    fed = [float("-inf"), 0]            # the last time fed, events fed (-1: out of order)

    def feed(block: List[Event]) -> None:
        if fed[1] < 0:
            return
        ts = [e.t for e in block]
        if ts[0] < fed[0] or not all(map(operator.le, ts, islice(ts, 1, None))):
            fed[1] = -1
            return
        det.feed_all(block)
        fed[0], fed[1] = ts[-1], fed[1] + len(block)
    tr = Trace.load(path, strict=strict, on_block=feed)
    if fed[1] == len(tr):
        with collector_paused():
            findings = det.finish()
        analysis = Analysis(det.rp, tuple(findings), tuple(sorted(det.unseen, key=str)),
                            tuple(det.notes))
        tr.derived("analysis", lambda: analysis)
    return tr


def find_findings(events: Iterable[Event]) -> List[Finding]:
    """Every deadlock, stall and hang in ``events``, in order of time."""
    return list(analyse(events).findings)


def diagnose(trace) -> Diagnosis:
    """Diagnose a trace: ``ok``, ``deadlock``, ``stall`` or ``hang``.

    Parameters
    ----------
    trace : Trace or iterable of Event

    Returns
    -------
    Diagnosis
        The first finding's verdict, time, culprit edge, knot, pool counts
        and message; ``findings`` lists them all.

    Examples
    --------
    Two workers, each running a task that waits for a still-queued subtask:

    >>> from hueyviz.core.event import Event, Worker
    >>> w1, w2 = Worker("h", 1, "Worker-1"), Worker("h", 1, "Worker-2")
    >>> ev = [Event(0.0, "worker_up", None, None, w1, None),
    ...       Event(0.0, "worker_up", None, None, w2, None),
    ...       Event(1.0, "executing", "m1", "main", w1, None),
    ...       Event(1.0, "executing", "m2", "main", w2, None),
    ...       Event(2.0, "enqueued", "s1", "sub", w1, {"parent": "m1"}),
    ...       Event(2.0, "block", "m1", "main", w1, {"waits_on": "s1"}),
    ...       Event(3.0, "enqueued", "s2", "sub", w2, {"parent": "m2"}),
    ...       Event(3.0, "block", "m2", "main", w2, {"waits_on": "s2"})]
    >>> d = diagnose(ev)
    >>> d.verdict, d.at, d.culprit.waiter, d.workers
    ('deadlock', 3.0, 'm2', {'total': 2, 'blocked': 2})
    """
    check_events(trace, "diagnose()")
    events = getattr(trace, "events", None)
    if events is None:
        trace = events = time_ordered(trace)      # a generator is read once
    a = analyse(trace)
    dropped = int(getattr(trace, "dropped", 0) or 0)
    start = min((e.t for e in events), default=None)
    return _verdict(list(a.findings), a.replay, a.unseen, dropped, start, bool(events),
                    a.notes)


def diagnose_stream(events: Iterable[Event],
                    unlogged: Callable[[], int] = lambda: 0) -> Diagnosis:
    """:func:`diagnose` of events that arrive in time order and are not kept:
    one pass in memory proportional to the tasks, not to the events (no
    history).  ``unlogged()``, asked at the end, counts losses known outside
    the events (a file's header).

    >>> from hueyviz.core.event import Event, Worker
    >>> w = Worker("h", 1, "W1")
    >>> diagnose_stream(iter([Event(0.0, "pool", None, None, None, {"size": 1}),
    ...                       Event(1.0, "executing", "m", "main", w, None),
    ...                       Event(2.0, "block", "m", "main", w, {"waits_on": "s"}),
    ...                       Event(2.0, "enqueued", "s", "sub", w, {"parent": "m"})])).verdict
    'deadlock'
    """
    it = iter(events)
    return diagnose_blocks(iter(lambda: list(islice(it, 4096)), []), unlogged)


def diagnose_blocks(blocks: Iterable[List[Event]],
                    unlogged: Callable[[], int] = lambda: 0) -> Diagnosis:
    """:func:`diagnose_stream` of events that come in blocks (lists, in time
    order), as a trace file is read: the same findings, less work per event."""
    det = _Detector(history=False)
    start = None
    with collector_paused():
        for block in blocks:
            if not block:
                continue
            if start is None:
                start = block[0].t
            det.feed_all(block)
            det.settle(len(block))
        findings = det.finish()
    # The replay counted the losses the events themselves record.
    return _verdict(findings, det.rp, tuple(sorted(det.unseen, key=str)),
                    unlogged() + det.rp.dropped, start, start is not None, tuple(det.notes))


class LiveDiagnosis:
    """Findings as they form, on a stream that never ends: feed it events as
    they arrive; it says what is new.  Memory follows the work in flight
    (settled tasks are forgotten), not the length of the stream.

    >>> from hueyviz.core.event import Event, Worker
    >>> w = Worker("h", 1, "W1")
    >>> live = LiveDiagnosis()
    >>> live.feed([Event(0.0, "pool", None, None, None, {"size": 1}),
    ...            Event(1.0, "executing", "m", "main", w, None)])
    []
    >>> [(what, f.verdict) for what, f in live.feed(
    ...     [Event(2.0, "enqueued", "s", "sub", w, {"parent": "m"}),
    ...      Event(2.0, "block", "m", "main", w, {"waits_on": "s"})])]
    [('new', 'deadlock')]
    """

    def __init__(self) -> None:
        self._det = _Detector(history=False)
        self._shown = 0
        self._withdrawn: Set[int] = set()
        self._announced: Set[int] = set()
        self.events = 0

    def feed(self, events: Iterable[Event]) -> List[Tuple[str, Finding]]:
        """``("new", finding)`` for each finding formed by ``events``, and
        ``("withdrawn", finding)`` for each earlier one they disproved (a
        pool bigger than the workers seen so far)."""
        det = self._det
        events = events if isinstance(events, list) else list(events)
        with collector_paused():
            det.feed_all(events)
            det.settle(len(events))
        self.events += len(events)
        out: List[Tuple[str, Finding]] = []
        for i in sorted(det.retracted - self._withdrawn):
            if i in self._announced:          # only what was said can be withdrawn
                out.append(("withdrawn", det.findings[i]))
        self._withdrawn |= det.retracted
        for i in range(self._shown, len(det.findings)):
            if i not in det.retracted:
                out.append(("new", det.findings[i]))
                self._announced.add(i)
        self._shown = len(det.findings)
        return out

    @property
    def tasks_in_memory(self) -> int:
        return len(self._det.rp.tasks)

    def diagnosis(self) -> Diagnosis:
        """The verdict on everything fed so far."""
        det = self._det
        return _verdict(det.standing(), det.rp, tuple(sorted(det.unseen, key=str)),
                        det.rp.dropped, None if not self.events else det.rp.t, self.events > 0)


def _verdict(findings: List[Finding], rp: Replay, unseen, dropped: int,
             start: Optional[float], any_events: bool, told: Tuple[str, ...] = ()) -> Diagnosis:
    """The Diagnosis of one replay pass: its first finding, or ok."""
    notes = list(told)
    losses = _loss_words(rp, dropped) if dropped else ""
    if losses:
        notes.append(losses)
    lost = rp.lost
    if lost:
        notes.append(f"{len(lost)} task{'s were' if len(lost) != 1 else ' was'} lost: "
                     "the worker running it vanished (process killed?) before it "
                     "finished; lost workers are not counted in the pool")
    if rp.anomaly_count:
        notes.append(f"{rp.anomaly_count} event{'s' if rp.anomaly_count != 1 else ''} "
                     "contradicted the state (first: " + rp.anomalies[0] + ")")
    unseen_note = [_Detector._unseen_words(q) for q in unseen]
    if findings:
        first = findings[0]
        message = first.message
        if len(findings) > 1:
            message += (f" ({len(findings) - 1} more finding{'s' if len(findings) > 2 else ''}: "
                        + ", ".join(f"{f.verdict} at +{f.at - (start or 0):.3f} s"
                                    for f in findings[1:]) + ")")
        if losses:
            message += " " + losses
        return Diagnosis(first.verdict, first.at, first.culprit, first.knot,
                         first.workers, message, tuple(findings), dropped, start,
                         tuple(map(printable, notes + list(first.notes))), first.queues,
                         first.exact)
    if not any_events:
        # Nothing is not "OK": no event says nothing about the pool.
        return Diagnosis("ok", None, None, (), {"total": 0, "blocked": 0},
                         "No events: nothing to diagnose.", (), dropped, None,
                         tuple(notes), {}, False)
    n_tasks = sum(1 for r in rp.tasks.values() if r.state != "unknown") + rp.evicted
    total = rp.pool_size()
    counts = {q: QueueCount(p.size, len(rp.blocked_holders(q)), p.exact)
              for q, p in rp.pools.items()}
    where = ""
    if len(counts) > 1:
        where = " (" + ", ".join(f"{queue_words(q)}: {c.total}" for q, c in
                                 sorted(counts.items(), key=lambda kv: str(kv[0]))) + ")"
    ran = f"{n_tasks} task{'s' if n_tasks != 1 else ''}"
    if rp.pools and all(p.worker_type == "immediate" for p in rp.pools.values()):
        message = (f"OK: {ran} in immediate mode: no workers (each task ran in the thread "
                   "that enqueued it); no deadlock, stall or hang.")
    else:
        message = (f"OK: {ran} on {total} worker{'s' if total != 1 else ''}{where}; "
                   "no deadlock, stall or hang.")
    open_unknown = sum(len(ws) for tid, ws in rp.waiting.items()
                       if tid in rp.tasks and rp.tasks[tid].state == "unknown")
    if open_unknown:
        message += (f" {open_unknown} wait{'s are' if open_unknown != 1 else ' is'} still open "
                    "on tasks the recording never saw: no verdict on "
                    f"{'them' if open_unknown != 1 else 'it'} (see notes).")
    if losses:
        message += " " + losses
    return Diagnosis("ok", None, None, (), {"total": total,
                     "blocked": len(rp.blocked_holders())}, printable(message), (), dropped,
                     start, tuple(map(printable, notes + unseen_note)), counts,
                     rp.exact or not rp.pools)


_NEVER_STARTED = frozenset({"revoked", "expired", "canceled"})


def _loss_words(rp: Replay, dropped: int) -> str:
    """What a known loss means for this verdict, honestly.

    A task whose history contradicts itself (it ended but was never seen
    starting) surely lost events.  A task shown unfinished may have lost
    its end, or may truly be queued or running: the trace cannot tell.
    """
    gaps = [r for r in rp.tasks.values() if r.state == "finished" and r.started is None
            and r.outcome not in _NEVER_STARTED]
    unfinished = sum(1 for r in rp.tasks.values()
                     if r.state in ("queued", "running", "blocked", "scheduled", "pending"))
    text = f"{dropped} event{'s were' if dropped != 1 else ' was'} lost while recording; tasks affected: "
    if gaps:
        shown = ", ".join(r.label() for r in sorted(gaps, key=lambda r: (r.finished or 0, r.id))[:5])
        more = f" and {len(gaps) - 5} more" if len(gaps) > 5 else ""
        text += f"{shown}{more} (ended, never seen starting)"
    else:
        text += "none shows a gap"
    if unfinished:
        text += (f"; {unfinished} task{'s' if unfinished != 1 else ''} shown unfinished may "
                 "have finished unseen")
    return text + ". This verdict may miss what the lost events showed."


def find_knot(replay: Replay) -> Optional[Finding]:
    """The deadlock or stall that the replayed state is in right now, if any.

    Reads ``replay`` without changing it (a watchdog asks this of a live
    replay); the knot and its culprit (the latest wait in it) are the ones
    :func:`diagnose` reports when the same state was closed by a pool that
    shrank.

    Examples
    --------
    >>> from hueyviz.core.event import Event, Worker
    >>> w1 = Worker("h", 1, "Worker-1")
    >>> rp = Replay()
    >>> for e in [Event(0.0, "pool", None, None, None, {"size": 1}),
    ...           Event(1.0, "executing", "m1", "main", w1, None),
    ...           Event(2.0, "enqueued", "s1", "sub", w1, {"parent": "m1"}),
    ...           Event(2.0, "block", "m1", "main", w1, {"waits_on": "s1"})]:
    ...     rp.apply(e)
    >>> find_knot(rp).verdict
    'deadlock'
    """
    det = _Detector(replay)
    det._check(None)
    return det.findings[0] if det.findings else None


def would_deadlock(replay: Replay, waiter: Optional[str], waits_on: str,
                   timeout: Optional[float] = None, *, worker=None,
                   site: Optional[str] = None, t: Optional[float] = None,
                   name: Optional[str] = None, queue: Optional[str] = None,
                   target_queue: Optional[str] = None,
                   task_timeout: Optional[float] = None) -> Optional[Finding]:
    """Would the pools be stuck if ``waiter`` now blocked on ``waits_on``?

    Applies the wait hypothetically to the state held by ``replay`` (which
    is left unchanged: the check works on a thin overlay, O(pools) to build)
    and runs the same knot detection as :func:`diagnose`.

    Parameters
    ----------
    replay : Replay
        The current state (a replay fed with the events so far).
    waiter : str or None
        Id of the task about to block; None (non-task code holds no worker)
        never deadlocks a pool.
    waits_on : str
        Id of the task whose result it waits for.
    timeout : float, optional
        The wait's timeout; a knot with a timed wait is a ``stall``.
    worker : Worker, optional
        The worker running ``waiter`` (default: where the replay saw it run).
    site : str, optional
        Call site of the wait, quoted in the message.
    t : float, optional
        When the wait begins (default: the replay's clock).
    name : str, optional
        The waiter's task name, if the replay does not know it.
    queue, target_queue : str, optional
        The waiter's and the awaited task's queues, if the replay does not
        know them.
    task_timeout : float, optional
        The waiter's own Huey task timeout: where the pool's workers enforce
        it (greenlet, process), a knot is a ``stall``.

    Returns
    -------
    Finding or None
        A ``deadlock`` (or, with a timeout in the knot, ``stall``) finding
        whose culprit is this wait, or None when the wait is safe.

    Examples
    --------
    Two workers: m1 already waits for its queued subtask; m2 is about to.

    >>> from hueyviz.core.event import Event, Worker
    >>> w1, w2 = Worker("h", 1, "Worker-1"), Worker("h", 1, "Worker-2")
    >>> rp = Replay()
    >>> for e in [Event(0.0, "pool", None, None, None, {"size": 2}),
    ...           Event(1.0, "executing", "m1", "main", w1, None),
    ...           Event(1.0, "executing", "m2", "main", w2, None),
    ...           Event(2.0, "enqueued", "s1", "sub", w1, {"parent": "m1"}),
    ...           Event(2.0, "block", "m1", "main", w1, {"waits_on": "s1"}),
    ...           Event(3.0, "enqueued", "s2", "sub", w2, {"parent": "m2"})]:
    ...     rp.apply(e)
    >>> f = would_deadlock(rp, "m2", "s2", worker=w2)
    >>> f.verdict, f.culprit.waiter, f.workers
    ('deadlock', 'm2', {'total': 2, 'blocked': 2})
    >>> would_deadlock(rp, "m2", "s2", timeout=5.0, worker=w2).verdict
    'stall'
    >>> rp.tasks["m2"].state             # the replay itself is unchanged
    'running'
    """
    if waiter is None:
        return None
    rec = replay.tasks.get(waiter)
    if worker is None:
        worker = rec.worker if rec is not None else None
    if worker is None:
        return None
    q = rec.queue if rec is not None and rec.queue is not None else queue
    t = replay.t if t is None else t
    target = replay.tasks.get(waits_on)
    tq = target.queue if target is not None and target.queue is not None else (
        target_queue if target_queue is not None else q)
    if target is not None and (target.has_result or _never(replay, target)):
        return None     # returns at once, or a hang: not a knot
    w = Wait(waits_on, t, worker, waiter, timeout, site, queue=q, target_queue=tq)
    if task_timeout:
        w.task_deadline = (rec.started if rec is not None and rec.started is not None
                           else t) + task_timeout
    me = copy.copy(rec) if rec is not None else TaskRecord(waiter, name, queue=q)
    me.worker = worker
    stack_now = replay.stacks.get((q, worker)) or []
    was_holding = rec is not None and rec.state in ("running", "blocked") and \
        bool(stack_now) and stack_now[-1] == waiter
    me.state, me.wait = "blocked", w
    extra: Dict[str, TaskRecord] = {waiter: me}
    if target is None:
        extra[waits_on] = TaskRecord(waits_on, queue=tq)
    over = copy.copy(replay)
    over.tasks = ChainMap(extra, replay.tasks)       # type: ignore[assignment]
    over.t = max(replay.t, t)
    pool = copy.copy(replay.pool(q)) if q in replay.pools else None
    if pool is None:
        from .replay import Pool
        pool = Pool(q)
    pool.members = dict(pool.members)
    pool.members.setdefault(worker, None)
    if not was_holding:
        pool.busy += 1
    if rec is None or rec.state != "blocked":
        pool.blocked += 1
    over.pools = dict(replay.pools)
    over.pools[q] = pool
    stack = replay.stacks.get((q, worker)) or []
    if waiter not in stack:
        over.stacks = dict(replay.stacks)
        over.stacks[(q, worker)] = stack + [waiter]
    det = _Detector(over)
    stuck = irreducible(over, det.unseen)
    if stuck is None or waiter not in {r.id for r in stuck}:
        return None
    det._knot(det._knot_waits(stuck), stuck, w)
    return det.findings[0]
