"""The replay: the one definition of the state of every task and worker at time t.

:class:`Replay` is a state machine fed with events in time order.  It is
the only place that turns events into states; everything else hueyviz shows
is derived from it (DESIGN.md, "one replay"):

- the analysis (:mod:`hueyviz.analysis.detector`) reads its state after each
  event;
- :func:`state_at` snapshots it at an instant (the wait-for graph);
- with ``history=True`` it also keeps a :class:`History` of what happened:
  every state change of every task, every execution (the worker lanes) and
  every wait, and the queue depth over time.  Lanes, the render timeline,
  the what-if scripts, the Perfetto export and the widget's data are all
  read off that history.

Queues and pools
    Every event names its queue (its Huey instance).  The workers of one
    queue form one :class:`Pool`; a running task holds a worker of its own
    queue.  A worker is identified within its queue (a *slot*: queue plus
    host/pid/thread), because two consumers in one process both call their
    threads ``Worker-1``.
"""
from __future__ import annotations

import operator
from dataclasses import dataclass, field, fields
from types import ModuleType
from typing import Callable, Dict, Iterable, List, Optional, Set, Tuple

import msgspec

from ..core.event import OUTCOMES, Event, Worker
from ..record import hotpath

_compiled: Optional[ModuleType] = None
if hotpath.enabled:             # HUEYVIZ_PURE_PYTHON=1: no C is even imported
    try:
        from . import _replay as _compiled
    except ImportError:         # pragma: no cover - the test command builds it
        _compiled = None

__all__ = [
    "NO_RESULT_OUTCOMES",
    "RESULT_OUTCOMES",
    "History",
    "Pool",
    "PoolState",
    "Replay",
    "Slot",
    "Span",
    "State",
    "TaskRecord",
    "Wait",
    "state_at",
]

# A worker of one queue.
Slot = Tuple[Optional[str], Worker]

# Outcomes after which a waiter gets something back: a value, or an Error
# that Result.get raises as TaskException.
RESULT_OUTCOMES = frozenset({"complete", "error", "timeout", "locked", "rate-limited",
                             "canceled"})
# Outcomes after which the task will never store a result: huey stores
# nothing for a revoked or expired task, nor for one interrupted by a
# shutdown (KeyboardInterrupt returns before the result is stored).
NO_RESULT_OUTCOMES = frozenset({"revoked", "expired", "lost", "interrupted"})


# The records made per execution and per wait are msgspec structs: built in
# C with their defaults, fields read at slot speed, never scanned by the
# cyclic garbage collector (they are in no cycle).  A TaskRecord, written
# to at every event of its task, stays a slotted dataclass: assigning a
# struct's field takes three times as long.
class Wait(msgspec.Struct, gc=False):
    """One blocking wait: ``waiter`` (a task id, or None for non-task code)
    waits on ``waits_on`` from ``since`` until ``until``.  ``queue`` is the
    waiter's queue (whose worker it holds), ``target_queue`` the awaited
    task's."""

    waits_on: str
    since: float
    worker: Optional[Worker]
    waiter: Optional[str] = None
    timeout: Optional[float] = None
    site: Optional[str] = None
    until: Optional[float] = None
    outcome: Optional[str] = None
    queue: Optional[str] = None
    target_queue: Optional[str] = None
    # When Huey's own task timeout (``@huey.task(timeout=...)``) would
    # interrupt the waiter; only greenlet and process workers enforce it.
    task_deadline: Optional[float] = None

    @property
    def deadline(self) -> Optional[float]:
        return None if self.timeout is None else self.since + self.timeout


@dataclass(slots=True)
class TaskRecord:
    """What is known about one task id at some point of the replay."""

    id: str
    name: Optional[str] = None
    state: str = "unknown"   # queued scheduled pending running blocked finished unknown
    outcome: Optional[str] = None
    worker: Optional[Worker] = None
    parent: Optional[str] = None
    via: Optional[str] = None
    then: tuple = ()
    enqueued: Optional[float] = None
    started: Optional[float] = None
    finished: Optional[float] = None
    attempts: int = 0
    args: Optional[str] = None
    stored: Optional[bool] = None     # False: finished without a result
    error: Optional[str] = None
    wait: Optional[Wait] = None       # the wait in progress, if blocked
    queue: Optional[str] = None
    priority: float = 0
    order: int = 0                    # enqueue sequence number (queue order)
    after: Optional[str] = None       # the pipeline step that enqueues this one
    consumed: Optional[float] = None  # when a read removed its result (preserve=False)
    consumed_by: Optional[str] = None  # the task that read it (None: non-task code)

    @property
    def has_result(self) -> bool:
        """True once a waiter on this task would get something back: it
        finished with a result that no read has removed yet."""
        if self.state != "finished" or self.consumed is not None:
            return False
        if self.outcome == "complete":
            return self.stored is not False
        return self.outcome in RESULT_OUTCOMES

    @property
    def never_result(self) -> bool:
        """True once no result can ever arrive for this task: none was stored,
        or the one stored was read and removed."""
        return self.state == "finished" and (
            self.outcome in NO_RESULT_OUTCOMES or self.consumed is not None
            or (self.outcome == "complete" and self.stored is False))

    @property
    def slot(self) -> Optional[Slot]:
        return None if self.worker is None else (self.queue, self.worker)

    def label(self) -> str:
        short = self.id[:8]
        if self.args is not None:
            return f"{self.name or '?'}{self.args} [{short}]"
        return f"{self.name or '?'} [{short}]"


@dataclass(slots=True)
class Pool:
    """The workers of one queue.

    Its size is the larger of what was announced (``consumer`` and ``pool``
    events, less workers that went down or were lost) and the workers seen;
    it is *exact* once something announced it, else inferred from the
    workers seen executing, and then it can only grow.
    """

    queue: Optional[str]
    members: Dict[Worker, None] = field(default_factory=dict)   # in order of arrival
    declared: int = 0
    announced: int = 0
    # What each consumer process (host, pid) announced: a process lost
    # takes all of it, also workers that never came up or ran a task.
    processes: Dict[Tuple[str, int], int] = field(default_factory=dict)
    backlog: Dict[str, None] = field(default_factory=dict)      # queued ids, in order
    busy: int = 0            # workers holding a task (running or blocked)
    blocked: int = 0         # of those, how many are blocked
    prioritised: bool = False
    # thread, greenlet, process (as announced: consumer events), "mixed" when
    # its consumers differ, "immediate" for Huey's immediate mode, or None.
    worker_type: Optional[str] = None
    # How its consumer's workers poll an empty queue: (initial_delay,
    # backoff, max_delay) as announced, or None.
    polling: Optional[Tuple[float, float, float]] = None

    @property
    def enforces_task_timeout(self) -> bool:
        """Whether Huey interrupts a task at its ``timeout`` on these workers."""
        return self.worker_type in ("greenlet", "process")

    @property
    def size(self) -> int:
        return max(self.declared, len(self.members))

    @property
    def exact(self) -> bool:
        """Whether the size was announced rather than inferred."""
        return bool(self.declared or self.announced)

    @property
    def free(self) -> int:
        return max(0, self.size - self.busy)

    @property
    def running(self) -> int:
        return self.busy - self.blocked


class Span(msgspec.Struct, gc=False):
    """One execution of a task on a worker (a bar in a lane)."""

    task: str
    name: Optional[str]
    start: float
    end: Optional[float]          # None: still running when the trace ends
    outcome: Optional[str]        # complete, error, retrying, lost, ... or None
    depth: int = 0                # >0: nested execution (immediate mode)
    blocked: List[Wait] = msgspec.field(default_factory=list)
    queue: Optional[str] = None
    worker: Optional[Worker] = None


@dataclass(slots=True)
class History:
    """Everything that happened, as recorded by one :class:`Replay` pass.

    ``changes`` are the state changes of every task, as three parallel
    columns (time, task id, new state) in time order; the state of a task at
    time t is its last change at or before t.  ``spans`` are the executions
    in start order, each with its blocked intervals; ``depth`` is, per
    queue, the number of queued tasks after each change.
    """

    change_t: List[float] = field(default_factory=list)
    change_task: List[str] = field(default_factory=list)
    change_state: List[str] = field(default_factory=list)
    spans: List[Span] = field(default_factory=list)
    depth: Dict[Optional[str], List[Tuple[float, int]]] = field(default_factory=dict)
    up: Dict[Slot, float] = field(default_factory=dict)
    down: Dict[Slot, float] = field(default_factory=dict)
    spawns: List[Tuple[float, str, str]] = field(default_factory=list)  # (t, parent, child)
    # Reads that found the result without waiting: dependencies as real as
    # the waits in the spans (since == until).
    reads: List[Wait] = field(default_factory=list)
    # Per queue, (t, size, busy, blocked) of its pool after each change: "n of
    # N workers busy" at time t counts the live pool then (a lost or stopped
    # consumer's workers have left it), not every worker ever seen.
    pools: Dict[Optional[str], List[Tuple[float, int, int, int]]] = field(default_factory=dict)


class Replay:
    """Feed events in time order with :meth:`apply`; read the state in between.

    Parameters
    ----------
    history : bool
        Also keep a :class:`History` of every change (``self.history``).

    ``fast`` is the C version of the plain enqueue, start and finish
    (``_replay.c``), for :meth:`apply_all`; None where it was not built or
    ``hotpath.enabled`` is off.
    """

    fast: Optional[Callable[[Replay, List[Event], int], int]]

    def __init__(self, history: bool = False) -> None:
        self.fast = _RUN if hotpath.enabled else None
        self.t = float("-inf")
        self.tasks: Dict[str, TaskRecord] = {}
        self.pools: Dict[Optional[str], Pool] = {}
        self.stacks: Dict[Slot, List[str]] = {}       # slot -> executing ids, innermost last
        self.thread_waits: Dict[Worker, Wait] = {}    # waits by non-task code
        self.waits: List[Wait] = []
        self.waiting: Dict[str, List[Wait]] = {}      # target id -> waits in progress
        self.dropped = 0
        self.lost: List[str] = []
        self.anomalies: List[str] = []                # events that contradict the state
        self.evicted = 0                              # settled tasks forgotten (evict())
        self.anomaly_count = 0
        self.history: Optional[History] = History() if history else None
        self._open: Dict[str, Span] = {}              # task id -> its running span
        self._last: Dict[str, Span] = {}              # task id -> its latest span
        self._touched: List[Pool] = []                # pools the current event changed
        self._order = 0
        # Evicted tasks whose result was read and removed: a later wait on one
        # never returns (bounded: the oldest go first).
        self._consumed: Dict[str, Tuple[float, Optional[str], Optional[str]]] = {}
        # Awaited ids known to have left the queue without being seen
        # running (an autopsy: ids of running tasks are not visible).  A wait
        # on one can end only if some running task of that queue can.
        self.inflight: Set[str] = set()

    # -- pools --------------------------------------------------------------
    def pool(self, queue: Optional[str]) -> Pool:
        p = self.pools.get(queue)
        if p is None:
            p = self.pools[queue] = Pool(queue)
        return p

    def pool_size(self, queue: Optional[str] = None) -> int:
        """The size of ``queue``'s pool, or of all pools together (None)."""
        if queue is not None or (len(self.pools) == 1 and None in self.pools):
            p = self.pools.get(queue)
            return p.size if p else 0
        return sum(p.size for p in self.pools.values())

    @property
    def exact(self) -> bool:
        """Whether every pool's size was announced rather than inferred."""
        return bool(self.pools) and all(p.exact for p in self.pools.values())

    def pool_members(self) -> List[Slot]:
        return [(q, w) for q, p in self.pools.items() for w in p.members]

    def is_member(self, queue: Optional[str], worker: Optional[Worker]) -> bool:
        p = self.pools.get(queue)
        return worker is not None and p is not None and worker in p.members

    def holder(self, slot: Slot) -> Optional[TaskRecord]:
        stack = self.stacks.get(slot)
        return self.tasks[stack[-1]] if stack else None

    def blocked_holders(self, queue: Optional[str] = None) -> List[TaskRecord]:
        """Tasks holding a pool worker while they wait (of one queue, or all)."""
        out = []
        for q, p in self.pools.items():
            if (queue is not None and q != queue) or not p.blocked:
                continue        # the counter says none: no need to look (10,000 pools)
            for w in p.members:
                rec = self.holder((q, w))
                if rec is not None and rec.state == "blocked":
                    out.append(rec)
        return out

    def queue_position(self, task_id: str) -> Optional[int]:
        """How many queued tasks run before ``task_id`` (priority, then order)."""
        rec = self.tasks.get(task_id)
        if rec is None or rec.state != "queued":
            return None
        p = self.pools.get(rec.queue)
        if p is None or task_id not in p.backlog:
            return None
        if not p.prioritised:
            for i, tid in enumerate(p.backlog):
                if tid == task_id:
                    return i
        key = (-rec.priority, rec.order)
        tasks = self.tasks
        return sum(1 for tid in p.backlog
                   if (-tasks[tid].priority, tasks[tid].order) < key)

    # -- events -----------------------------------------------------------
    def task(self, task_id: Optional[str], name: Optional[str] = None,
             queue: Optional[str] = None) -> TaskRecord:
        if task_id is None:
            # Task events without a task id are rejected when read; a test or
            # a hand-built list may still hold one: it names an unknown task.
            task_id = "?"
        rec = self.tasks.get(task_id)
        if rec is None:
            rec = self.tasks[task_id] = TaskRecord(task_id, name, queue=queue)
        else:
            if name is not None and rec.name is None:
                rec.name = name
            if queue is not None and rec.queue is None:
                rec.queue = queue
        return rec

    def apply(self, e: Event) -> None:
        if e.t > self.t:
            self.t = e.t
        handler = _HANDLERS.get(e.kind)
        if handler is not None:
            handler(self, e)
            if self._touched:
                self._record_pools()

    def apply_all(self, events: Iterable[Event]) -> None:
        """:meth:`apply` each event of ``events``, in order."""
        fast = self.fast
        if fast is None:
            for e in events:
                self.apply(e)
            return
        evs = events if isinstance(events, list) else list(events)
        i, n = 0, len(evs)
        while i < n:
            i = fast(self, evs, i)          # up to the first event C leaves
            if i < n:
                self.apply(evs[i])
                i += 1

    def _touch(self, p: Pool) -> None:
        """``p``'s size, busy or blocked count may have changed: the history
        records its row after the event."""
        if self.history is not None and p not in self._touched:
            self._touched.append(p)

    def _record_pools(self) -> None:
        """Append each pool the event changed (and only if it did)."""
        assert self.history is not None
        t = self.t
        rows = self.history.pools
        for p in self._touched:
            n = len(p.members)
            size = p.declared if p.declared > n else n      # Pool.size, written out
            busy, blocked = p.busy, p.blocked
            pts = rows.get(p.queue)
            if pts is None:
                pts = rows[p.queue] = []
            elif pts:
                last = pts[-1]
                if last[1] == size and last[2] == busy and last[3] == blocked:
                    continue
                if last[0] == t:
                    pts[-1] = (t, size, busy, blocked)
                    continue
            pts.append((t, size, busy, blocked))
        self._touched.clear()

    def evict(self, keep: frozenset = frozenset()) -> int:
        """Forget tasks that are settled: finished with a result that nobody
        waits for (and not in ``keep``).  Returns how many were forgotten.

        A stream that never ends then holds memory in proportion to the work
        in flight.  Safe: Huey blocks on a result only while it is absent, so
        a later wait on a forgotten task can only mean its result was
        consumed by an earlier ``get`` (and then the wait really never
        returns).  Tasks that ended without a result are kept: a wait on
        them is a hang.  Only without a history (the views need every task).
        """
        if self.history is not None:
            return 0
        gone = [tid for tid, rec in self.tasks.items()
                if rec.state == "finished" and (rec.has_result or rec.consumed is not None)
                and tid not in self.waiting and tid not in keep]
        tombs = self._consumed
        for tid in gone:
            rec = self.tasks.pop(tid)
            if rec.consumed is not None:
                tombs[tid] = (rec.consumed, rec.consumed_by, rec.name)
        while len(tombs) > _MAX_TOMBS:
            del tombs[next(iter(tombs))]
        self.lost.clear()
        self.evicted += len(gone)
        return len(gone)

    def _revive(self, rec: TaskRecord) -> None:
        """A task evicted after its result was read, named again."""
        tomb = self._consumed.pop(rec.id, None)
        if tomb is not None and rec.state == "unknown":
            rec.consumed, rec.consumed_by, name = tomb
            rec.name = rec.name or name
            rec.outcome = "complete"
            self._set(rec, "finished")

    def undelivered(self, rec: TaskRecord) -> Optional[List[TaskRecord]]:
        """Why ``rec``'s result can never arrive, or None if it still may.

        ``[rec]`` when ``rec`` itself never stores one (or it was read and
        removed); for a pipeline step not yet enqueued, the chain from the
        step that ended without enqueuing its successor down to ``rec``:
        Huey enqueues a step only when the one before it completes, so every
        step after a revoked, expired or failed one never runs.
        """
        if rec.never_result:
            return [rec]
        chain = [rec]
        while rec.state == "pending" and rec.after is not None and len(chain) <= 1024:
            up = self.tasks.get(rec.after)
            if up is None:
                return None
            chain.append(up)
            if up.state == "finished" and up.outcome != "complete":
                return chain[::-1]
            rec = up
        return None

    def _anomaly(self, text: str) -> None:
        self.anomaly_count += 1
        if len(self.anomalies) < 20:
            self.anomalies.append(text)

    # The pools' busy/blocked counters follow each slot's top task.  Every
    # change to a stack or to the state of a task on top of one goes through
    # _leave / _enter, so the counters always equal a full count.
    def _leave(self, slot: Optional[Slot]) -> None:
        self._count(slot, -1)

    def _enter(self, slot: Optional[Slot]) -> None:
        self._count(slot, 1)

    def _count(self, slot: Optional[Slot], sign: int) -> None:
        stack = self.stacks.get(slot) if slot is not None else None
        if stack and slot is not None:
            p = self.pools[slot[0]]       # a worker with a stack is in a pool
            p.busy += sign
            if self.tasks[stack[-1]].state == "blocked":
                p.blocked += sign
            if self.history is not None and p not in self._touched:
                self._touched.append(p)

    def _on_top(self, rec: TaskRecord) -> Optional[Slot]:
        slot = rec.slot
        if slot is None:
            return None
        stack = self.stacks.get(slot)
        return slot if stack and stack[-1] == rec.id else None

    def _set(self, rec: TaskRecord, state: str) -> None:
        """The one place a task's state changes (and is recorded)."""
        old = rec.state
        rec.state = state
        if (old == "blocked") is not (state == "blocked") and rec.worker is not None:
            # Only a task on top of its worker's stack counts in its pool.
            stack = self.stacks.get((rec.queue, rec.worker))
            if stack and stack[-1] == rec.id:
                p = self.pools[rec.queue]
                p.blocked += 1 if state == "blocked" else -1
                if self.history is not None and p not in self._touched:
                    self._touched.append(p)
        h = self.history
        if h is not None:
            h.change_t.append(self.t)
            h.change_task.append(rec.id)
            if state == "finished":
                state = _FINISHED.get(rec.outcome or "") or f"finished:{rec.outcome}"
            h.change_state.append(state)

    def _queue(self, rec: TaskRecord) -> None:
        p = self.pools.get(rec.queue)
        if p is None:
            p = self.pool(rec.queue)
        backlog = p.backlog
        if rec.id not in backlog:
            backlog[rec.id] = None
            if self.history is not None:
                self._depth(p)

    def _dequeue(self, rec: TaskRecord) -> None:
        p = self.pools.get(rec.queue)
        if p is not None and p.backlog.pop(rec.id, 0) is None and self.history is not None:
            self._depth(p)

    def _depth(self, p: Pool) -> None:
        h = self.history
        if h is not None:
            d = h.depth.get(p.queue)
            if d is None:
                d = h.depth[p.queue] = []
            t = self.t
            if d and d[-1][0] == t:
                d[-1] = (t, len(p.backlog))
            else:
                d.append((t, len(p.backlog)))

    # The three handlers below run for nearly every event of a large trace:
    # the busy/blocked bookkeeping of _leave/_enter is written out in them
    # (same effect, a third of the time).
    def _enqueued(self, e: Event) -> None:
        rec = self.task(e.task, e.name, e.queue)
        tid = rec.id
        data = e.data
        t = e.t
        late = rec.started is not None and t <= rec.started
        if rec.enqueued is None or (late and t < rec.enqueued):
            rec.enqueued = t
            if data:
                rec.parent = data.get("parent")
                rec.via = data.get("via")
                rec.then = tuple(data.get("then") or ())
                rec.args = data.get("args", rec.args)
                rec.priority = data.get("priority") or 0
                if rec.priority:
                    self.pool(rec.queue).prioritised = True
                if rec.parent is not None and self.history is not None:
                    self.history.spawns.append((t, rec.parent, rec.id))
            before = tid
            names = (data.get("then_names") if data else None) or ()
            for i, succ in enumerate(rec.then):
                # Huey enqueues a pipeline's next step when this one completes.
                nxt = self.task(succ, names[i] if i < len(names) else None, rec.queue)
                if nxt.state == "unknown":
                    nxt.after = before
                    self._set(nxt, "pending")
                before = succ
        if late:
            # Delivered after the task was seen starting (another process's
            # writer was slower): it tells when and by whom it was enqueued,
            # not what the task is doing now.
            return
        if rec.state == "running" or rec.state == "blocked":
            self._anomaly(f"task {rec.id[:8]} enqueued again while it runs")
            self._release(rec)
        self._order += 1
        rec.order = self._order
        self._set(rec, "queued")
        p = self.pools.get(rec.queue)
        if p is None:
            p = self.pool(rec.queue)
        if tid not in p.backlog:
            p.backlog[tid] = None
            if self.history is not None:
                self._depth(p)

    def _scheduled(self, e: Event) -> None:
        rec = self.task(e.task, e.name, e.queue)
        self._dequeue(rec)
        self._set(rec, "scheduled")

    def _executing(self, e: Event) -> None:
        rec = self.task(e.task, e.name, e.queue)
        tid = rec.id
        worker = e.worker
        holds = rec.state == "running" or rec.state == "blocked"
        if holds and rec.worker != worker:
            self._anomaly(f"task {rec.id[:8]} started on {worker} while it runs on "
                          f"{rec.worker}: a duplicate task id?")
        if holds or rec.wait is not None or tid in self._open:
            self._release(rec)          # a task holds at most one worker
        if rec.state == "queued":
            self._dequeue(rec)
        rec.worker = worker
        rec.started = e.t
        rec.finished = None
        rec.outcome = None
        rec.attempts += 1
        self._set(rec, "running")
        if worker is None:
            return
        queue = rec.queue
        p = self.pools.get(queue)
        if p is None:
            p = self.pool(queue)
        h = self.history
        if worker not in p.members:
            p.members[worker] = None
            if h is not None and p not in self._touched:
                self._touched.append(p)
        slot = (queue, worker)
        stack = self.stacks.get(slot)
        if stack is None:
            stack = self.stacks[slot] = []
        # The new top is running: the worker becomes busy, or stops counting
        # as blocked if the task it covers (an immediate-mode caller) was.
        if not stack:
            p.busy += 1
        elif self.tasks[stack[-1]].state == "blocked":
            p.blocked -= 1
        stack.append(tid)
        if h is not None:
            if p not in self._touched:
                self._touched.append(p)
            sp = Span(tid, rec.name, e.t, None, None, len(stack) - 1, [], queue, worker)
            h.spans.append(sp)
            self._open[tid] = self._last[tid] = sp

    def _release(self, rec: TaskRecord) -> None:
        """``rec`` leaves its worker (finished, lost or gone)."""
        if rec.wait is not None:
            self._end_wait(rec.wait, self.t, "abandoned")
            rec.wait = None
        if rec.worker is not None:
            stack = self.stacks.get((rec.queue, rec.worker))
            if stack and rec.id in stack:
                # _leave, remove, _enter: the old top stops counting, the new one starts.
                p = self.pools[rec.queue]
                tasks = self.tasks
                p.busy -= 1
                if tasks[stack[-1]].state == "blocked":
                    p.blocked -= 1
                stack.remove(rec.id)
                if rec.state == "blocked":
                    rec.state = "running"      # off the stack: no longer holds a worker
                if stack:
                    p.busy += 1
                    if tasks[stack[-1]].state == "blocked":
                        p.blocked += 1
                if self.history is not None and p not in self._touched:
                    self._touched.append(p)
        if self._open:
            sp = self._open.pop(rec.id, None)
            if sp is not None:
                sp.end = self.t

    def _end_wait(self, w: Wait, t: float, outcome: str) -> None:
        w.until, w.outcome = t, outcome
        lst = self.waiting.get(w.waits_on)
        if lst is not None:
            for i, x in enumerate(lst):
                if x is w:
                    del lst[i]
                    break
            if not lst:
                del self.waiting[w.waits_on]

    def _outcome(self, e: Event) -> None:
        rec = self.task(e.task, e.name, e.queue)
        tid = rec.id
        kind = e.kind
        state = rec.state
        if (state == "queued" or state == "unknown" or state == "pending") and kind not in (
                "revoked", "expired", "canceled"):
            self._anomaly(f"task {rec.id[:8]} ended ({kind}) before it was seen starting")
        p = self.pools.get(rec.queue)
        if p is not None and p.backlog and p.backlog.pop(tid, 0) is None and \
                self.history is not None:
            self._depth(p)
        if rec.wait is not None or rec.worker is not None or self._open:
            self._release(rec)
        rec.outcome = kind
        rec.finished = e.t
        data = e.data
        if kind == "complete":
            rec.stored = True if data is None else data.get("stored", True)
        elif kind == "error":
            rec.error = None if data is None else data.get("error")
        if self.history is not None:
            sp = self._last.get(tid)
            if sp is not None and sp.end == e.t:
                sp.outcome = kind
        self._set(rec, "finished")

    def _last_span(self, rec: TaskRecord) -> Optional[Span]:
        return self._last.get(rec.id)

    def _retrying(self, e: Event) -> None:
        rec = self.task(e.task, e.name, e.queue)
        rec.outcome = "retrying"
        sp = self._last_span(rec)
        if sp is not None:
            sp.outcome = "retrying"
        # Huey re-enqueues or schedules the task right after this signal.
        self._set(rec, "queued")

    def _block(self, e: Event) -> None:
        data = e.data or {}
        target_id: str = data.get("waits_on") or "?"
        if e.task is None:
            target = self.task(target_id, None, data.get("waits_on_queue", e.queue))
            if target.state == "unknown" and self._consumed:
                self._revive(target)
            w = Wait(target_id, e.t, e.worker, None, data.get("timeout"), data.get("site"),
                     queue=None, target_queue=target.queue)
            if e.worker is not None:
                old = self.thread_waits.get(e.worker)
                if old is not None and old.waits_on == target_id and old.since == e.t:
                    return              # delivered twice
                self.thread_waits[e.worker] = w
            if self.history is not None:
                self.waits.append(w)
            self.waiting.setdefault(target_id, []).append(w)
            return
        rec = self.task(e.task, e.name, e.queue)
        if rec.state == "blocked" and rec.wait is not None and rec.wait.waits_on == target_id \
                and rec.wait.since == e.t:
            return                      # delivered twice
        target = self.task(target_id, None, data.get("waits_on_queue", rec.queue))
        if target.state == "unknown" and self._consumed:
            self._revive(target)
        if rec.state not in ("running", "blocked") and e.worker is not None:
            # The executing event was lost (ring buffer); the block proves it ran.
            self._executing(Event(e.t, "executing", e.task, e.name, e.worker, None, rec.queue))
        w = Wait(target_id, e.t, e.worker, e.task, data.get("timeout"), data.get("site"),
                 queue=rec.queue, target_queue=target.queue)
        task_timeout = data.get("task_timeout")
        if task_timeout and rec.started is not None:
            w.task_deadline = rec.started + task_timeout
        if self.history is not None:      # every wait ever: for the views
            self.waits.append(w)
        self.waiting.setdefault(target_id, []).append(w)
        if rec.wait is not None:
            self._end_wait(rec.wait, e.t, "abandoned")
        rec.wait = w
        if rec.state != "blocked":
            self._set(rec, "blocked")
        sp = self._open.get(rec.id)
        if sp is not None:
            sp.blocked.append(w)

    def _unblock(self, e: Event) -> None:
        outcome = e.get("outcome", "result")
        if e.get("consumed"):
            self._consume(e)
        if e.task is None:
            w = self.thread_waits.pop(e.worker, None) if e.worker else None
            if w is not None:
                self._end_wait(w, e.t, outcome)
            return
        rec = self.task(e.task, e.name, e.queue)
        w, rec.wait = rec.wait, None
        if w is not None:
            self._end_wait(w, e.t, outcome)
        if rec.state == "blocked":
            self._set(rec, "running")

    def _consume(self, e: Event) -> None:
        """A read removed the result of ``waits_on`` from Huey's store."""
        target = self.tasks.get(e.get("waits_on"))
        if target is not None and target.state == "finished" and target.consumed is None:
            target.consumed, target.consumed_by = e.t, e.task

    def _read(self, e: Event) -> None:
        data = e.data or {}
        target_id: str = data.get("waits_on") or "?"
        if e.get("consumed"):
            self._consume(e)
        if self.history is None or e.get("blocking") is False:
            return
        rec = self.tasks.get(e.task) if e.task is not None else None
        target = self.tasks.get(target_id)
        w = Wait(target_id, e.t, e.worker, e.task, data.get("timeout"), data.get("site"),
                 e.t, "ready", rec.queue if rec is not None else e.queue,
                 target.queue if target is not None else data.get("waits_on_queue", e.queue))
        self.history.reads.append(w)

    def _worker_up(self, e: Event) -> None:
        if e.worker is None:
            return
        p = self.pool(e.queue)
        if e.worker not in p.members:
            p.members[e.worker] = None
            p.announced += 1
            self._touch(p)
        if self.history is not None:
            self.history.up[(e.queue, e.worker)] = e.t

    def _worker_down(self, e: Event) -> None:
        if e.worker is None:
            return
        p = self.pool(e.queue)
        p.members.pop(e.worker, None)
        p.declared = max(0, p.declared - 1)
        proc = (e.worker.host, e.worker.pid)
        if p.processes.get(proc):
            p.processes[proc] -= 1
        self._touch(p)
        if self.history is not None:
            self.history.down[(e.queue, e.worker)] = e.t

    def _pool(self, e: Event) -> None:
        p = self.pool(e.queue)
        p.declared = int(e.get("size", 0))
        self._touch(p)

    def _consumer(self, e: Event) -> None:
        p = self.pool(e.queue)
        n = int(e.get("workers", 0))
        p.declared += n
        if e.worker is not None and n:
            proc = (e.worker.host, e.worker.pid)
            p.processes[proc] = p.processes.get(proc, 0) + n
        d0 = e.get("initial_delay")
        if d0 is not None:
            p.polling = (float(d0), max(1.0, float(e.get("backoff", 1.15))),
                         max(float(d0), float(e.get("max_delay", 10.0))))
        kind = e.get("worker_type")
        if kind is not None:
            p.worker_type = kind if p.worker_type in (None, kind) else "mixed"
        self._touch(p)

    def _dropped(self, e: Event) -> None:
        self.dropped += int(e.get("count", 0))

    def _lost(self, e: Event) -> None:
        # A process vanished (kill -9): what its workers ran will never
        # finish.  The follower says so once per worker, at one instant; the
        # first says it for the whole process, or the pool would shrink
        # while the dying process's other workers still hold tasks.
        w = e.worker
        if w is None:
            return
        proc = (w.host, w.pid)

        def gone(x) -> bool:
            return x is not None and (x.host, x.pid) == proc

        slots = [s for s in self.stacks if gone(s[1]) and (e.queue is None or s[0] == e.queue)]
        for slot in slots:
            for tid in list(self.stacks.get(slot, ())):
                rec = self.tasks[tid]
                self._release(rec)
                rec.outcome, rec.finished = "lost", e.t
                sp = self._last_span(rec)
                if sp is not None:
                    sp.outcome = "lost"
                self._set(rec, "finished")
                self.lost.append(tid)
        for q, p in self.pools.items():
            if e.queue is not None and q != e.queue:
                continue
            members = [m for m in p.members if gone(m)]
            # Like worker_down: the consumer's declared size shrinks too (by
            # all the process announced), or a killed-and-restarted consumer
            # would count its workers twice.
            n = max(p.processes.pop(proc, 0), len(members))
            if n:
                p.declared = max(0, p.declared - n)
                self._touch(p)
            for m in members:
                del p.members[m]
                if self.history is not None:
                    self.history.down[(q, m)] = e.t


_HANDLERS = {
    "enqueued": Replay._enqueued,
    "scheduled": Replay._scheduled,
    "executing": Replay._executing,
    "retrying": Replay._retrying,
    "block": Replay._block,
    "unblock": Replay._unblock,
    "read": Replay._read,
    "worker_up": Replay._worker_up,
    "worker_down": Replay._worker_down,
    "pool": Replay._pool,
    "consumer": Replay._consumer,
    "dropped": Replay._dropped,
    "lost": Replay._lost,
}
_HANDLERS.update({k: Replay._outcome for k in OUTCOMES})
# The C runner checks TaskRecord's fields against its own list: a build
# older than this file is not used.
_RUN: Optional[Callable[[Replay, List[Event], int], int]] = None
if _compiled is not None:
    try:
        _RUN = _compiled.Runner(TaskRecord, TaskRecord(""), Pool, Event,
                                tuple(f.name for f in fields(TaskRecord)), History, Span).run
    except (TypeError, AttributeError):     # pragma: no cover - a stale build
        _RUN = None
_MAX_TOMBS = 1 << 16
# The recorded name of each finished state, built once.
_FINISHED = {k: f"finished:{k}" for k in (*OUTCOMES, "lost", "retrying")}


# -- snapshots ---------------------------------------------------------------
@dataclass(frozen=True)
class PoolState:
    """One queue's pool at one instant: its size, whether it was announced,
    and what each worker seen holds (a task id, or None when idle)."""

    queue: Optional[str]
    size: int
    exact: bool
    holders: Dict[Worker, Optional[str]]
    backlog: Tuple[str, ...]


@dataclass(frozen=True)
class State:
    """The state of every task and worker at one instant."""

    t: float
    tasks: Dict[str, TaskRecord]
    pools: Dict[Optional[str], PoolState]
    thread_waits: tuple
    positions: Dict[str, int] = field(default_factory=dict)   # queued id -> tasks ahead

    @property
    def pool_size(self) -> int:
        return sum(p.size for p in self.pools.values())

    @property
    def holders(self) -> Dict[Slot, Optional[str]]:
        return {(q, w): tid for q, p in self.pools.items() for w, tid in p.holders.items()}

    @property
    def queue(self) -> tuple:
        return tuple(tid for p in self.pools.values() for tid in p.backlog)

    def by_state(self, state: str) -> List[TaskRecord]:
        return [r for r in self.tasks.values() if r.state == state]


# Every field, in the constructor's order: a copy six times faster than
# copy.copy (a slotted dataclass goes through __reduce_ex__), for the 10^5-10^6
# records of a large trace.
_record_fields = operator.attrgetter(*(f.name for f in fields(TaskRecord)))


def snapshot(rp: Replay, t: Optional[float] = None, share: bool = False) -> State:
    """A frozen copy of the replay's state (its tasks are copies; with
    ``share``, the replay's own records, for a replay that is fed no more:
    copying a million of them costs seconds)."""
    tasks = dict(rp.tasks) if share else {k: TaskRecord(*_record_fields(v))
                                          for k, v in rp.tasks.items()}
    pools = {}
    positions: Dict[str, int] = {}
    for q, p in rp.pools.items():
        holders = {}
        for w in p.members:
            stack = rp.stacks.get((q, w))
            holders[w] = stack[-1] if stack else None
        pools[q] = PoolState(q, p.size, p.exact, holders, tuple(p.backlog))
        # queue_position() of each, in one pass (it scans the backlog per task)
        recs = rp.tasks
        ahead = list(p.backlog)
        if p.prioritised:
            ahead.sort(key=lambda tid: (-recs[tid].priority, recs[tid].order))
        for i, tid in enumerate(ahead):
            if recs[tid].state == "queued":
                positions[tid] = i
    return State(rp.t if t is None else t, tasks, pools, tuple(rp.thread_waits.values()),
                 positions)


def state_at(events: Iterable[Event], t: Optional[float] = None) -> State:
    """Replay ``events`` up to and including time ``t`` (default: all)."""
    rp = Replay()
    for e in events:
        if t is not None and e.t > t:
            break
        rp.apply(e)
    return snapshot(rp, t)
