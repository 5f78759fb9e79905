"""Derived views of a trace: the replayed state machine and the task graph.

The per-worker lanes are in :mod:`hueyviz.lane`.

Everything here is computed from the event log on demand and never mutates
it (DESIGN.md rule 4).  :class:`Replay` is the single state machine that
both :func:`state_at` and the analysis drive, so "what was true at time t"
has exactly one definition.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional

import networkx as nx

from ..core.event import OUTCOMES, Event, Worker

__all__ = ["TaskRecord", "Wait", "Replay", "State", "build_graph", "state_at"]

# Outcomes after which a waiter gets something back: a value, or an Error
# that Result.get raises as TaskException.
_RESULT_OUTCOMES = frozenset({"complete", "error", "timeout", "locked",
                              "rate-limited", "canceled", "interrupted"})
# Outcomes after which the task will never store a result.
_NO_RESULT_OUTCOMES = frozenset({"revoked", "expired", "lost"})


@dataclass(slots=True)
class Wait:
    """One blocking wait: ``waiter`` (a task id, or None for non-task code)
    waits on ``waits_on`` from ``since`` until ``until``."""

    waits_on: str
    since: float
    worker: Optional[Worker]
    waiter: Optional[str] = None
    timeout: Optional[float] = None
    site: Optional[str] = None
    until: Optional[float] = None
    outcome: Optional[str] = None

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

    @property
    def has_result(self) -> bool:
        """True once a waiter on this task would get something back."""
        if self.state != "finished":
            return False
        if self.outcome == "complete":
            return self.stored is not False
        return self.outcome in _RESULT_OUTCOMES

    @property
    def never_result(self) -> bool:
        """True once no result can ever arrive for this task."""
        return self.state == "finished" and (
            self.outcome in _NO_RESULT_OUTCOMES
            or (self.outcome == "complete" and self.stored is False))

    def label(self) -> str:
        short = self.id[:8]
        if self.args is not None:
            return f"{self.name or '?'}{self.args} [{short}]"
        return f"{self.name or '?'} [{short}]"


class Replay:
    """Feed events in order; read the state in between.

    The pool is every worker announced by ``worker_up`` or seen executing a
    task, until ``worker_down`` or ``lost``; its size is at least what a
    ``pool`` event declared.  Consumers started before the tracer attached
    announce nothing, so seeing a worker execute is enough to count it.
    """

    def __init__(self) -> None:
        self.t = float("-inf")
        self.tasks: Dict[str, TaskRecord] = {}
        self.queue: Dict[str, None] = {}          # queued ids, FIFO order
        self.stacks: Dict[Worker, List[str]] = {}  # worker -> executing ids
        self.members: Dict[Worker, None] = {}   # the pool, in order of arrival
        self.announced = 0                     # how many came by worker_up
        self.declared = 0
        self.thread_waits: Dict[Worker, Wait] = {}  # waits by non-task code
        self.waits: List[Wait] = []
        self.waiting: Dict[str, List[Wait]] = {}  # target id -> waits in progress
        self.dropped = 0
        self.lost: List[str] = []

    # -- pool -------------------------------------------------------------
    def pool(self) -> List[Worker]:
        return list(self.members)

    def pool_size(self) -> int:
        return max(self.declared, len(self.members))

    def in_pool(self, worker: Optional[Worker]) -> bool:
        return worker is not None and worker in self.members

    def holder(self, worker: Worker) -> Optional[TaskRecord]:
        stack = self.stacks.get(worker)
        return self.tasks[stack[-1]] if stack else None

    def blocked_holders(self) -> List[TaskRecord]:
        out = []
        for w in self.pool():
            rec = self.holder(w)
            if rec is not None and rec.state == "blocked":
                out.append(rec)
        return out

    def queue_position(self, task_id: str) -> Optional[int]:
        for i, tid in enumerate(self.queue):
            if tid == task_id:
                return i
        return None

    # -- events -----------------------------------------------------------
    def task(self, task_id: str, name: Optional[str] = None) -> TaskRecord:
        rec = self.tasks.get(task_id)
        if rec is None:
            rec = self.tasks[task_id] = TaskRecord(task_id, name)
        elif name is not None and rec.name is None:
            rec.name = name
        return rec

    def apply(self, e: Event) -> None:
        if e.t > self.t:
            self.t = e.t
        handler = _HANDLERS.get(e.kind)
        if handler is not None:
            handler(self, e)

    def _enqueued(self, e: Event) -> None:
        rec = self.task(e.task, e.name)
        if rec.enqueued is None:
            rec.enqueued = e.t
            rec.parent = e.get("parent")
            rec.via = e.get("via")
            rec.then = tuple(e.get("then") or ())
            rec.args = e.get("args", rec.args)
            for succ in rec.then:
                # Huey enqueues a pipeline's next step when this one completes.
                nxt = self.task(succ)
                if nxt.state == "unknown":
                    nxt.state = "pending"
        rec.state = "queued"
        self.queue[rec.id] = None

    def _scheduled(self, e: Event) -> None:
        rec = self.task(e.task, e.name)
        rec.state = "scheduled"
        self.queue.pop(rec.id, None)

    def _executing(self, e: Event) -> None:
        rec = self.task(e.task, e.name)
        self.queue.pop(rec.id, None)
        rec.state = "running"
        rec.worker = e.worker
        rec.started = e.t
        rec.finished = None
        rec.outcome = None
        rec.attempts += 1
        if e.worker is not None:
            if e.worker not in self.members:
                self.members[e.worker] = None
            self.stacks.setdefault(e.worker, []).append(rec.id)

    def _release(self, rec: TaskRecord) -> None:
        stack = self.stacks.get(rec.worker) if rec.worker else None
        if stack and rec.id in stack:
            stack.remove(rec.id)
        if rec.wait is not None:
            self._end_wait(rec.wait, self.t, "abandoned")
            rec.wait = None

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
        rec = self.task(e.task, e.name)
        self.queue.pop(rec.id, None)
        self._release(rec)
        rec.state = "finished"
        rec.outcome = e.kind
        rec.finished = e.t
        if e.kind == "complete":
            rec.stored = e.get("stored", True)
        elif e.kind == "error":
            rec.error = e.get("error")

    def _retrying(self, e: Event) -> None:
        rec = self.task(e.task, e.name)
        rec.outcome = "retrying"
        # Huey re-enqueues or schedules the task right after this signal.
        rec.state = "queued"

    def _block(self, e: Event) -> None:
        target = e.get("waits_on")
        self.task(target)
        w = Wait(target, e.t, e.worker, e.task, e.get("timeout"), e.get("site"))
        self.waits.append(w)
        self.waiting.setdefault(target, []).append(w)
        if e.task is None:
            if e.worker is not None:
                self.thread_waits[e.worker] = w
            return
        rec = self.task(e.task, e.name)
        if rec.state != "running" and e.worker is not None:
            # The executing event was lost (ring buffer); the block proves it ran.
            self._executing(Event(e.t, "executing", e.task, e.name, e.worker, None))
        rec.state = "blocked"
        rec.wait = w

    def _unblock(self, e: Event) -> None:
        outcome = e.get("outcome", "result")
        if e.task is None:
            w = self.thread_waits.pop(e.worker, None) if e.worker else None
        else:
            rec = self.task(e.task, e.name)
            w, rec.wait = rec.wait, None
            if rec.state == "blocked":
                rec.state = "running"
        if w is not None:
            self._end_wait(w, e.t, outcome)

    def _worker_up(self, e: Event) -> None:
        if e.worker is not None and e.worker not in self.members:
            self.members[e.worker] = None
            self.announced += 1

    def _worker_down(self, e: Event) -> None:
        if e.worker is not None:
            self.members.pop(e.worker, None)
            self.declared = max(0, self.declared - 1)

    def _pool(self, e: Event) -> None:
        self.declared = int(e.get("size", 0))

    def _consumer(self, e: Event) -> None:
        self.declared += int(e.get("workers", 0))

    @property
    def exact(self) -> bool:
        """Whether the pool size was announced rather than inferred."""
        return bool(self.declared or self.announced)

    def _dropped(self, e: Event) -> None:
        self.dropped += int(e.get("count", 0))

    def _lost(self, e: Event) -> None:
        # A worker vanished (kill -9): what it ran will never finish.
        w = e.worker
        for tid in list(self.stacks.get(w, ())):
            rec = self.tasks[tid]
            self._release(rec)
            rec.state, rec.outcome, rec.finished = "finished", "lost", e.t
            self.lost.append(tid)
        if w in self.members:
            # Like worker_down: the consumer's declared size shrinks too, or a
            # killed-and-restarted consumer would count its workers twice.
            del self.members[w]
            self.declared = max(0, self.declared - 1)


_HANDLERS = {
    "enqueued": Replay._enqueued,
    "scheduled": Replay._scheduled,
    "executing": Replay._executing,
    "retrying": Replay._retrying,
    "block": Replay._block,
    "unblock": Replay._unblock,
    "worker_up": Replay._worker_up,
    "worker_down": Replay._worker_down,
    "pool": Replay._pool,
    "consumer": Replay._consumer,
    "dropped": Replay._dropped,
    "lost": Replay._lost,
}
_HANDLERS.update({k: Replay._outcome for k in OUTCOMES})


@dataclass(frozen=True)
class State:
    """The state of every task and worker at one instant."""

    t: float
    tasks: Dict[str, TaskRecord]
    holders: Dict[Worker, Optional[str]]
    pool_size: int
    queue: tuple
    thread_waits: tuple

    def by_state(self, state: str) -> List[TaskRecord]:
        return [r for r in self.tasks.values() if r.state == state]


def state_at(events: Iterable[Event], t: Optional[float] = None) -> State:
    """Replay ``events`` up to and including time ``t`` (default: all)."""
    rp = Replay()
    for e in events:
        if t is not None and e.t > t:
            break
        rp.apply(e)
    tasks = {k: copy.copy(v) for k, v in rp.tasks.items()}
    holders = {w: (rp.stacks[w][-1] if rp.stacks.get(w) else None)
               for w in rp.pool()}
    return State(rp.t if t is None else t, tasks, holders, rp.pool_size(),
                 tuple(rp.queue), tuple(rp.thread_waits.values()))


# -- graph -------------------------------------------------------------------
def build_graph(events: Iterable[Event]) -> nx.MultiDiGraph:
    """Task graph: nodes are task ids, edges ``spawn``/``pipeline``/``wait``.

    Waits by non-task code appear as nodes ``thread:<host/pid/name>`` with
    ``kind='thread'``.
    """
    rp = Replay()
    for e in events:
        rp.apply(e)
    g = nx.MultiDiGraph()
    for rec in rp.tasks.values():
        g.add_node(rec.id, kind="task", name=rec.name, state=rec.state,
                   outcome=rec.outcome,
                   worker=rec.worker.key if rec.worker else None,
                   enqueued=rec.enqueued, started=rec.started,
                   finished=rec.finished, attempts=rec.attempts,
                   args=rec.args, parent=rec.parent)
    for rec in rp.tasks.values():
        if rec.parent is not None and rec.parent in g:
            kind = "pipeline" if rec.via == "pipeline" else "spawn"
            g.add_edge(rec.parent, rec.id, kind=kind, via=rec.via)
        prev = rec.id
        for succ in rec.then:
            if succ in g and not g.has_edge(prev, succ):
                g.add_edge(prev, succ, kind="pipeline", via="then")
            prev = succ
    for w in rp.waits:
        src = w.waiter
        if src is None:
            src = f"thread:{w.worker.key if w.worker else '?'}"
            if src not in g:
                g.add_node(src, kind="thread", name=w.worker.name if w.worker else "?")
        g.add_edge(src, w.waits_on, kind="wait", since=w.since, until=w.until,
                   timeout=w.timeout, outcome=w.outcome, site=w.site)
    return g
