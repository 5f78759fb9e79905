"""A reference detector: the README's verdicts, decided by brute force.

Written from README.md ("Verdicts", "How the pools are counted", "Live
systems") and ../shared/DESIGN.md ("Deadlock model") only; it shares no
code with ``hueyviz.analysis`` and imports nothing from hueyviz.  It is
meant for small traces (a handful of tasks, workers and queues): after
every event it asks, by exploring every future in which each task that can
still run does run, whether every current wait can still be satisfied.

The model
---------
A task is *queued* (needs one worker of its own queue), *running* or
*blocked* (holds one worker of its queue: the one its ``executing`` event
named), *pending* (a pipeline step named in an earlier step's ``then``:
Huey enqueues it when the step before completes), *done* (with a result
that is stored, not stored, read and removed, or never coming: revoked,
expired, interrupted, lost), or *unknown* (never seen: not a verdict).

The future: every task that is running finishes (freeing its worker), a
queued task takes a worker of its queue once one is free, a blocked task
resumes once what it waits for has a result.  Tasks that have not run yet
are assumed not to block (the recording cannot know what they will do).
The set of tasks that can finish is the least fixed point of those rules
(brute force over the futures, made finite by its monotony: a task that can
finish never stops being able to); the blocked tasks outside it are the
*knot*.

- **hang**: a wait (by a task or by non-task code) on a task that can never
  deliver: finished without storing a result, revoked, expired,
  interrupted, lost with its process, a pipeline step after a step that did
  not complete, or its result was already read and removed by a ``get()``.
  Only the direct wait hangs; the tasks that wait on the hung waiter are
  explained by that hang, so for the knot below a hung wait counts as one
  that will end.
- **deadlock**: a knot forms; **stall**: the knot holds a wait with a
  timeout, or a waiting task with Huey's task timeout on a queue whose
  consumer runs greenlet or process workers.
- The **culprit** of a knot is the wait whose ``block`` formed it ("the
  wait whose start made it so"); when something else formed it (a pool that
  shrank: ``worker_down``, ``lost``), no wait's start did, and the culprit
  is the latest wait in the knot.
- A knot finding stands until the knot is gone (a stall's wait timed out);
  a later knot is a new finding.  A knot finding *rests on* an inferred
  pool when a larger pool of that queue would dissolve (part of) the knot;
  it is then not exact, and it is withdrawn when a worker of that queue
  nobody had seen executes a task.
- The verdict is the first finding that was not withdrawn (the
  Diagnosis' ``findings`` are "all of them, in order").

A pipeline step is assumed to run in its first step's queue (the ``then``
of an enqueue names task ids, not queues).

The README says a wait on a pipeline step after a step that *failed*
hangs.  Huey 3.5 stores the error of a step that fails for good into every
later step of its pipeline (``Huey._execute``), so such a wait returns
(``get()`` raises ``TaskException``); the generator in
``reference_traces.py`` therefore never fails a step that has a next one,
and this module follows the README.

Pools: a ``pool`` event states a queue's size; otherwise each process
(host, pid) serving a queue counts the workers its ``consumer`` event
announced, or else its workers that came up (``worker_up``) or were seen
executing, minus those gone down; a process reported ``lost`` counts none.
A queue is *announced* when it has a ``pool``, ``consumer`` or
``worker_up`` event, *inferred* otherwise.  A queue no worker was ever
seen serving, and no announcement names, is not judged (README: "a wait on
a task of a queue no consumer was seen serving is said so in a note"):
its queued tasks are assumed to run.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

# Outcomes after which a task never delivers a result (README, "hang").
NEVER_DELIVERS = frozenset({"revoked", "expired", "interrupted"})
# Outcomes that end a task (core/event.py OUTCOMES).  Every outcome other
# than complete and the above stores an error that get() returns (raises).
# ("canceled" stores nothing in Huey 3.5 either, but the README does not list
# it; the generator never produces it.)
OUTCOMES = frozenset({
    "complete", "error", "revoked", "expired", "locked", "canceled",
    "interrupted", "timeout", "rate-limited",
})
ENFORCES_TASK_TIMEOUT = frozenset({"greenlet", "process"})

# Other readings of the same events.  Each is one thing on which the README
# can be read two ways (hueyviz's departures from it, B1-B6, were bugs: they
# are fixed, and test_reference.py keeps their smallest traces as tests).  The
# reference decides by the README (the default); a trace whose verdict or
# culprit changes under one of these readings is not an exact test of
# that point, and the property tests skip it (and count it).
VARIANTS = {
    # README-ambiguous (A1): is a queue whose inferred pool lost every worker
    # still "seen serving"?  The default says yes (Holt on 0 workers).
    "emptied-inferred-unserved": "an inferred pool that lost all its workers is unserved",
    # README-ambiguous (A2): "a finding made on such an inferred pool is
    # withdrawn as soon as a worker nobody had seen does anything": also one
    # that has already ended (a stall whose wait timed out)?  The default says
    # yes; the worker might have joined after it ended, though.
    "withdraw-standing-only": "only a finding that still stands is withdrawn",
}

# Cases the README does not settle at all: the reference says so instead of
# guessing (the tests skip them and count them).
AMBIGUOUS = {
    "withdrawn-knot-stands": "a finding on an inferred pool was withdrawn, but with the "
                             "larger pool a knot still stands: the README says later waits "
                             "are checked against the larger pool, not what that knot's "
                             "culprit is",
    "simultaneous": "one event made the first finding and another (a revoked task that "
                    "two waits hang on, a lost process that makes a hang and a knot): the "
                    "README does not order the findings of one event",
}


@dataclass
class Task:
    id: str
    queue: Optional[str] = None
    state: str = "unknown"      # queued running blocked pending done
    slot: Optional[tuple] = None        # (queue, worker) it holds
    result: Optional[str] = None        # done: stored none gone dead
    outcome: Optional[str] = None
    why: str = ""                       # what made the result unavailable
    pred: Optional[str] = None          # pipeline: the step before
    gone_at: int = -1                   # the event that removed its result


@dataclass
class Wait:
    waiter: Optional[str]               # task id, None: non-task code
    waits_on: str
    timeout: Optional[float]
    task_timeout: Optional[float]
    queue: Optional[str]                # the waiter's queue
    index: int                          # its block event's position
    preserve: bool = False
    target_queue: Optional[str] = None  # waits_on_queue, else the waiter's


@dataclass
class Finding:
    verdict: str                        # deadlock stall hang
    index: int                          # the event that made it
    waiter: Optional[str]
    waits_on: str
    knot: Tuple[str, ...] = ()
    queues: frozenset = frozenset()     # pools it rests on
    inferred: frozenset = frozenset()   # ...whose size was inferred then
    withdrawn: bool = False
    ended: Optional[int] = None

    @property
    def culprit(self) -> Tuple[Optional[str], str]:
        return (self.waiter, self.waits_on)

    @property
    def exact(self) -> bool:
        return not self.inferred


@dataclass
class Result:
    verdict: str
    culprit: Optional[Tuple[Optional[str], str]]
    exact: bool
    findings: List[Finding]
    ambiguous: Optional[str] = None
    # For the guard: for each task ``block`` before the first finding, the
    # finding that wait makes (None: it may block).
    blocks: Dict[int, Optional[Finding]] = field(default_factory=dict)
    sizes: Dict[Optional[str], int] = field(default_factory=dict)
    changed_pool: bool = False          # a pool shrank while recording (lost, worker_down)


class Reference:
    """The state after each event, and the findings so far."""

    def __init__(self, variants=frozenset()) -> None:
        unknown = set(variants) - set(VARIANTS)
        if unknown:
            raise ValueError(f"no such reading: {sorted(unknown)}")
        self.variants = frozenset(variants)
        self.tasks: Dict[str, Task] = {}
        self.waits: Dict[object, Wait] = {}   # key: task id, or ("app", worker)
        self.pool_size: Dict[Optional[str], int] = {}
        self.declared: Dict[tuple, int] = {}          # (queue, host, pid) -> workers
        self.worker_type: Dict[Optional[str], str] = {}
        self.up: Set[tuple] = set()                   # (queue, worker)
        self.seen: Set[tuple] = set()                 # (queue, worker) seen executing
        self.down: Set[tuple] = set()
        self.gone: Set[tuple] = set()                 # (queue, host, pid) lost
        self.lost: Set[tuple] = set()                 # (queue, worker) lost
        self.findings: List[Finding] = []
        self.standing: Optional[Finding] = None
        self.hung: Set[int] = set()                   # waits (block index) that hang
        self.ambiguous: Optional[str] = None
        self.blocks: Dict[int, Optional[Finding]] = {}
        self.shrank = False
        self.unbounded: Set[Optional[str]] = set()    # pools taken as large as needed

    # -- pools ---------------------------------------------------------------------
    def announced(self, q) -> bool:
        return (q in self.pool_size or any(k[0] == q for k in self.declared)
                or any(s[0] == q for s in self.up))

    def served(self, q) -> bool:
        if self.announced(q):
            return True
        if "emptied-inferred-unserved" in self.variants:
            return any(s[0] == q and s not in self.lost and s not in self.down
                       and (q, s[1].host, s[1].pid) not in self.gone for s in self.seen)
        return any(s[0] == q for s in self.seen)

    def size(self, q) -> int:
        if q in self.unbounded:
            return 1 << 30
        if q in self.pool_size:
            return self.pool_size[q]
        members = {s for s in self.up | self.seen if s[0] == q}
        procs = {(q, w.host, w.pid) for _, w in members} | {k for k in self.declared if k[0] == q}
        total = 0
        for p in procs:
            if p in self.gone:
                continue
            mine = {s for s in members if (q, s[1].host, s[1].pid) == p}
            if p in self.declared:
                total += max(0, self.declared[p] - len(mine & self.lost))
            else:
                total += len(mine - self.down - self.lost)
        return total

    def holders(self, q) -> List[Task]:
        return [t for t in self.tasks.values()
                if t.state in ("running", "blocked") and t.slot is not None and t.slot[0] == q]

    # -- what can deliver ------------------------------------------------------------
    def hangs(self, w: Wait) -> Optional[str]:
        """Why wait ``w`` can never be satisfied, or None."""
        t = self.tasks.get(w.waits_on)
        return self.dead(w.waits_on)

    def dead(self, x: str) -> Optional[str]:
        """Why ``x`` can never deliver a result, or None."""
        t = self.tasks.get(x)
        if t is None:
            return None
        if t.state == "done":
            return None if t.result == "stored" else (t.why or t.result)
        if t.state == "pending" and t.pred is not None:
            p = self.tasks.get(t.pred)
            if p is None:
                return None
            if p.state == "done" and p.outcome != "complete":
                return f"after {p.id} ended {p.outcome}"
            if p.state == "pending":
                return self.dead(p.id)
        return None

    def completable(self) -> Set[str]:
        """Least fixed point: the tasks that hold a worker or wait and can finish.
        A wait on a task that can never deliver counts as one that ends (it is
        reported as a hang, which explains what waits behind it)."""
        can: Set[str] = set()
        queues = {t.queue for t in self.tasks.values()} | {t.slot[0] for t in self.tasks.values()
                                                           if t.slot is not None}
        while True:
            runnable = {q: self._runnable(q, can) for q in queues}
            grew = False
            for t in self.tasks.values():
                if t.id in can:
                    continue
                if t.state == "running":
                    ok = True
                elif t.state == "blocked":
                    w = self.waits.get(t.id)
                    ok = w is None or self._delivers(w, can, runnable)
                else:
                    continue
                if ok:
                    can.add(t.id)
                    grew = True
            if not grew:
                return can

    def _runnable(self, q, can: Set[str]) -> bool:
        """Will a worker of ``q`` ever be free (to run a queued task)?"""
        if not self.served(q):
            return True                 # nobody seen serving it: not judged
        holders = self.holders(q)
        return self.size(q) > len(holders) or any(t.id in can for t in holders)

    def _delivers(self, w: Wait, can: Set[str], runnable: dict) -> bool:
        if self.hangs(w) is not None:
            return True                 # a hang, reported as such
        t = self.tasks.get(w.waits_on)
        if t is None or t.state == "unknown":
            return True                 # never seen: not a verdict
        return self._finishes(t, can, runnable)

    def _finishes(self, t: Task, can: Set[str], runnable: dict) -> bool:
        if t.state == "done":
            return t.result == "stored"
        if t.state == "running":
            return True
        if t.state == "blocked":
            return t.id in can
        if t.state == "queued":
            return runnable.get(t.queue, self._runnable(t.queue, can))
        if t.state == "pending":
            p = self.tasks.get(t.pred) if t.pred is not None else None
            if p is None:
                return True
            before = (p.outcome == "complete") if p.state == "done" else \
                self._finishes(p, can, runnable)
            return before and runnable.get(t.queue, self._runnable(t.queue, can))
        return True

    def knot(self) -> List[Task]:
        can = self.completable()
        return [t for t in self.tasks.values() if t.state == "blocked" and t.id not in can]

    def _timed(self, w: Wait) -> bool:
        if w.timeout is not None:
            return True
        return bool(w.task_timeout) and self.worker_type.get(w.queue) in ENFORCES_TASK_TIMEOUT

    def _involved(self, knot: List[Task]) -> frozenset:
        qs = set()
        for t in knot:
            qs.add(t.slot[0] if t.slot is not None else t.queue)
            w = self.waits.get(t.id)
            x = self.tasks.get(w.waits_on) if w is not None else None
            if x is not None and x.state in ("queued", "pending"):
                qs.add(x.queue)
        return frozenset(qs)

    def _rests_on(self, knot: List[Task], qs: frozenset) -> frozenset:
        """The inferred pools a larger size of which would dissolve (part of) the knot."""
        inferred = frozenset(q for q in qs if not self.announced(q))
        out = set()
        stuck = {t.id for t in knot}
        for q in inferred:
            self.unbounded = {q}
            try:
                if {t.id for t in self.knot()} != stuck:
                    out.add(q)
            finally:
                self.unbounded = set()
        return frozenset(out)

    # -- events ------------------------------------------------------------------------
    def task(self, tid: str, queue) -> Task:
        t = self.tasks.get(tid)
        if t is None:
            t = self.tasks[tid] = Task(tid, queue)
        return t

    def _release(self, t: Task) -> None:
        t.slot = None
        self.waits.pop(t.id, None)

    def apply(self, i: int, e) -> None:
        k, data = e.kind, (e.data or {})
        if k == "enqueued":
            t = self.task(e.task, e.queue)
            t.queue = e.queue
            t.state = "queued"
            prev = e.task
            for step in data.get("then") or ():
                s = self.task(step, e.queue)
                if s.state == "unknown":
                    s.state = "pending"
                s.pred = prev
                prev = step
        elif k == "executing":
            slot = (e.queue, e.worker)
            t = self.task(e.task, e.queue)
            t.queue = e.queue
            t.state, t.slot = "running", slot
            self.seen.add(slot)
        elif k == "block":
            w = Wait(e.task, data["waits_on"], data.get("timeout"), data.get("task_timeout"),
                     e.queue, i, bool(data.get("preserve")),
                     data.get("waits_on_queue", e.queue))
            if e.task is None:
                self.waits[("app", e.worker)] = w
            else:
                t = self.task(e.task, e.queue)
                t.state = "blocked"
                self.waits[e.task] = w
        elif k == "unblock":
            if e.task is None:
                self.waits.pop(("app", e.worker), None)
            else:
                t = self.task(e.task, e.queue)
                self.waits.pop(e.task, None)
                if t.state == "blocked":
                    t.state = "running"
            if data.get("consumed"):
                self._consume(data["waits_on"], e.task, i)
        elif k == "read":
            if data.get("consumed"):
                self._consume(data["waits_on"], e.task, i)
        elif k in OUTCOMES:
            t = self.task(e.task, e.queue)
            t.state, t.outcome = "done", k
            if k == "complete":
                stored = data.get("stored", True)
                t.result = "stored" if stored else "none"
                t.why = "" if stored else "finished without storing a result"
            elif k in NEVER_DELIVERS:
                t.result, t.why = "dead", k
            else:
                t.result = "stored"     # an error result: get() returns (raises) it
            self._release(t)
        elif k == "consumer":
            w = e.worker
            key = (e.queue, w.host if w else None, w.pid if w else None)
            self.declared[key] = self.declared.get(key, 0) + data.get("workers", 0)
            if data.get("worker_type"):
                self.worker_type[e.queue] = data["worker_type"]
        elif k == "pool":
            self.pool_size[e.queue] = data["size"]
        elif k == "worker_up":
            self.up.add((e.queue, e.worker))
            self.down.discard((e.queue, e.worker))
        elif k == "worker_down":
            self.down.add((e.queue, e.worker))
            key = (e.queue, e.worker.host, e.worker.pid)
            ups = {s for s in self.up if (s[0], s[1].host, s[1].pid) == key}
            if ups and ups <= self.down:
                self.gone.add(key)      # the whole consumer shut down
        elif k == "lost":
            w = e.worker
            self.lost.add((e.queue, w))
            self.gone.add((e.queue, w.host, w.pid))
            for t in self.tasks.values():
                if t.state in ("running", "blocked") and t.slot is not None and \
                        t.slot[0] == e.queue and t.slot[1].host == w.host and \
                        t.slot[1].pid == w.pid:
                    t.state, t.outcome, t.result, t.why = "done", "lost", "dead", "lost"
                    self._release(t)

    def _consume(self, x: str, by: Optional[str], i: int) -> None:
        t = self.tasks.get(x)
        if t is not None and t.state == "done" and t.result == "stored":
            t.result, t.why, t.gone_at = "gone", f"read and removed by {by}", i

    # -- findings ----------------------------------------------------------------------
    def step(self, i: int, e) -> None:
        acts = e.kind == "executing"
        worker_is_new = (acts and (e.queue, e.worker) not in self.seen
                         and (e.queue, e.worker) not in self.up)
        guarded = (e.kind == "block" and e.task is not None and self.first_index() is None)
        self.apply(i, e)
        if e.kind in ("lost", "worker_down"):
            self.shrank = True
        made: List[Finding] = []
        # Hangs: every open wait on a task that can never deliver, once per wait.
        for w in sorted(self.waits.values(), key=lambda w: w.index):
            if w.index in self.hung:
                continue
            if self.hangs(w) is not None:
                self.hung.add(w.index)
                made.append(Finding("hang", i, w.waiter, w.waits_on))
        # Withdrawal: a worker nobody had seen, of a queue whose size was inferred.
        if worker_is_new and not self.announced(e.queue):
            for f in self.findings:
                if "withdraw-standing-only" in self.variants and f is not self.standing:
                    continue
                if not f.withdrawn and e.queue in f.inferred:
                    f.withdrawn = True
                    if self.standing is f:
                        self.standing = None
                        if self.knot():
                            self.ambiguous = self.ambiguous or "withdrawn-knot-stands"
        knot = self.knot()
        if not knot and self.standing is not None:
            self.standing.ended = i
            self.standing = None
        elif knot and self.standing is None:
            if e.kind == "block" and e.task is not None and any(t.id == e.task for t in knot):
                culprit = self.waits[e.task]
            else:
                culprit = max((self.waits[t.id] for t in knot), key=lambda w: w.index)
            waits = [self.waits[t.id] for t in knot]
            verdict = "stall" if any(self._timed(w) for w in waits) else "deadlock"
            qs = self._involved(knot)
            f = Finding(verdict, i, culprit.waiter, culprit.waits_on,
                        tuple(sorted(t.id for t in knot)), qs, self._rests_on(knot, qs))
            made.append(f)
            self.standing = f
        if guarded:
            self.blocks[i] = next((f for f in made if f.waiter == e.task), None)
        if len(made) > 1 and self.first_index() is None:
            self.ambiguous = self.ambiguous or "simultaneous"
        self.findings.extend(made)

    def first_index(self) -> Optional[int]:
        f = next((f for f in self.findings if not f.withdrawn), None)
        return None if f is None else f.index


def reference_verdict(events, variants=frozenset()) -> Result:
    """Replay ``events`` (in time order) and decide the verdict and culprit.

    >>> from hueyviz.core.event import Event, Worker
    >>> w = Worker("h", 1, "Worker-1")
    >>> evs = [Event(1.0, "worker_up", None, None, w, None),
    ...        Event(2.0, "executing", "m", "main", w, None),
    ...        Event(3.0, "enqueued", "s", "sub", w, {"parent": "m"}),
    ...        Event(4.0, "block", "m", "main", w, {"waits_on": "s"})]
    >>> r = reference_verdict(evs)
    >>> r.verdict, r.culprit, r.exact
    ('deadlock', ('m', 's'), True)

    ``variants`` names other readings (:data:`VARIANTS`), not the README's:
    the tests use them only to recognise the traces whose verdict depends on
    one of them.
    """
    ref = Reference(variants)
    events = list(events)
    for i, e in enumerate(events):
        ref.step(i, e)
    first = next((f for f in ref.findings if not f.withdrawn), None)
    queues = {t.queue for t in ref.tasks.values()} | {s[0] for s in ref.seen | ref.up} | \
        set(ref.pool_size) | {k[0] for k in ref.declared}
    sizes = {q: ref.size(q) for q in queues}
    return Result(
        verdict="ok" if first is None else first.verdict,
        culprit=None if first is None else first.culprit,
        exact=True if first is None else first.exact,
        findings=ref.findings, ambiguous=ref.ambiguous, blocks=ref.blocks,
        sizes=sizes, changed_pool=ref.shrank)


def outcome(r: Result) -> tuple:
    """What the tests compare: the verdict, and the culprit and exactness of a finding."""
    return (r.verdict, r.culprit, None if r.verdict == "ok" else r.exact)


def _guard_view(r: Result) -> Dict[int, Optional[tuple]]:
    """What the guard should find at each wait before the first finding: the
    knot it closes (verdict, culprit, exact), or None (it may block; a hang
    is not the guard's to refuse)."""
    return {i: None if f is None or f.verdict == "hang" else (f.verdict, f.culprit, f.exact)
            for i, f in r.blocks.items()}


class Readings:
    """The README's verdict on ``events`` and how far the other readings
    (:data:`VARIANTS`) agree with it.

    ``deviations``: the readings under which the verdict, culprit or exactness changes
    (``["combined"]`` when only all of them at once change it);
    ``guard``: for each wait before the first finding whose expectation no
    reading changes, what the guard should find there (see ``_guard_view``).
    """

    def __init__(self, events) -> None:
        events = list(events)
        self.result = reference_verdict(events)
        singles = {v: reference_verdict(events, {v}) for v in VARIANTS}
        together = reference_verdict(events, set(VARIANTS))
        base = outcome(self.result)

        def differs(other: Result) -> bool:
            return other.ambiguous is not None or outcome(other) != base

        self.deviations = [v for v, other in singles.items() if differs(other)]
        if not self.deviations and differs(together):
            self.deviations = ["combined"]
        views = [_guard_view(o) for o in [*singles.values(), together]]
        self.guard = {i: x for i, x in _guard_view(self.result).items()
                      if all(v.get(i, "missing") == x for v in views)}


def deviations(events) -> List[str]:
    """:attr:`Readings.deviations` of ``events``."""
    return Readings(events).deviations
