"""Small traces a real Huey could record, for the reference detector.

Traces are built from a schedule of things that happen in a Huey system,
not from random events: an application enqueues tasks (some of them
pipelines), a free worker takes the head of its queue (FIFO), a running
task enqueues a child, waits for a task (a ``read`` when the result is
already stored, else a ``block``, with or without a timeout, with or
without ``preserve``), gets its result, times out, finishes (storing a
result, storing none, or raising); the application waits too; queued tasks
are revoked or expire; consumer processes are lost or shut down.  The
events are those the tracer writes for each (``record/hook.py``): the
``consumer`` / ``worker_up`` / ``pool`` announcements of each queue's
style, ``then`` on a pipeline's enqueue, ``consumed`` on the reads that
remove a result, ``waits_on_queue`` on a wait across queues, the waiting
task's ``task_timeout``, and ``lost`` per worker of a silent process.

Timing is not modelled: one event per second, and timeouts long enough
(1000 s) that none would have expired within a trace.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Dict, List, Optional

from hypothesis import strategies as st

from hueyviz.core.event import Event, Worker

MAX_TASKS = 8
HOST = "h"
APP = Worker(HOST, 99, "MainThread")
LONG = 1000.0
STYLES = ("consumer", "up", "pool", "inferred")


@dataclass
class Proc:
    queue: Optional[str]
    pid: int
    workers: List[Worker]
    style: str
    worker_type: Optional[str]
    alive: bool = True


@dataclass
class W:
    worker: Worker
    proc: Proc
    up: bool = False
    seen: bool = False
    task: Optional[str] = None          # the task it holds
    order: int = 0                      # when a reader first saw it


@dataclass
class T:
    id: str
    name: str
    queue: Optional[str]
    state: str = "queued"               # pre pending queued running blocked done
    worker: Optional[W] = None
    waits_on: Optional[str] = None
    timeout: Optional[float] = None
    preserve: bool = False
    result: Optional[str] = None        # stored error none gone dead
    then: List[str] = field(default_factory=list)
    revoke: Optional[str] = None        # revoked / expired when dequeued
    task_timeout: Optional[float] = None
    parent: Optional[str] = None


@dataclass
class Generated:
    events: List[Event]
    queues: List[Optional[str]]
    styles: Dict[Optional[str], str]
    sizes: Dict[Optional[str], int]     # the true pool sizes
    changed: bool                       # processes lost or shut down

    def __repr__(self) -> str:          # what Hypothesis prints for a failure
        return "Generated(\n" + "".join(f"    {e!r},\n" for e in self.events) + \
            f"  queues={self.queues}, styles={self.styles}, sizes={self.sizes})"


class World:
    def __init__(self) -> None:
        self.t = 0.0
        self.events: List[Event] = []
        self.tasks: Dict[str, T] = {}
        self.backlog: Dict[Optional[str], List[str]] = {}
        self.workers: List[W] = []
        self.procs: List[Proc] = []
        self.app_wait: Optional[T] = None       # the app's wait, as a pseudo task
        self.app_waits_on: Optional[str] = None
        self.app_timeout: Optional[float] = None
        self.app_preserve = False
        self.changed = False
        self.first_queue: Optional[str] = None

    def emit(self, kind, task, name, worker, data, queue, same_time=False) -> None:
        if not same_time:
            self.t += 1.0
        self.events.append(Event(self.t, kind, task, name, worker, data or None, queue))

    def new_id(self) -> str:
        return f"t{len(self.tasks) + 1}"

    # -- what may happen now -------------------------------------------------------------
    def idle(self) -> List[W]:
        return [w for w in self.workers if w.proc.alive and w.task is None
                and self.backlog.get(w.proc.queue)]

    def running(self) -> List[T]:
        return [t for t in self.tasks.values() if t.state == "running"]

    def blocked(self) -> List[T]:
        return [t for t in self.tasks.values() if t.state == "blocked"]

    def deliverable(self, x: Optional[str]) -> bool:
        t = self.tasks.get(x) if x else None
        return t is not None and t.state == "done" and t.result in ("stored", "error")

    # How often each kind of step is offered when it is possible: the waits
    # and spawns that make knots more than the revokes and losses that end them.
    WEIGHTS: ClassVar[Dict[str, int]] = {
        "start": 3, "finish": 2, "enqueue": 2, "spawn": 3, "wait": 3, "deliver": 2, "timeout": 1,
        "app_wait": 1, "revoke": 1, "lose": 1, "shutdown": 1, "task_timeout": 3}

    def actions(self) -> List[str]:
        """What may happen next, each kind repeated by its weight."""
        room = len(self.tasks) < MAX_TASKS
        can = []
        if self.idle():
            can.append("start")
        if self.running():
            can.append("finish")
        if room:
            can.append("enqueue")
        if room and self.running():
            can.append("spawn")
        if self.running() and self.tasks:
            can.append("wait")
        if any(self.deliverable(t.waits_on) for t in self.blocked()) or (
                self.app_waits_on is not None and self.deliverable(self.app_waits_on)):
            can.append("deliver")
        if any(t.timeout for t in self.blocked()) or (
                self.app_waits_on is not None and self.app_timeout):
            can.append("timeout")
        if self.app_waits_on is None and self.tasks:
            can.append("app_wait")
        if any(t.state == "queued" and t.revoke is None for t in self.tasks.values()):
            can.append("revoke")
        if self.losable():
            can.append("lose")
        if self.closable():
            can.append("shutdown")
        if self.interruptible():
            can.append("task_timeout")
        return [k for k in can for _ in range(self.WEIGHTS[k])]

    def losable(self) -> List[Proc]:
        return [p for p in self.procs if p.alive and p.style != "pool"
                and any(w.up or w.seen for w in self.workers if w.proc is p)]

    def closable(self) -> List[Proc]:
        return [p for p in self.procs if p.alive and p.style in ("consumer", "up")
                and all(w.up and w.task is None for w in self.workers if w.proc is p)]

    def interruptible(self) -> List[T]:
        return [t for t in self.blocked() if t.task_timeout and t.worker is not None
                and t.worker.proc.worker_type in ("greenlet", "process")]

    # -- doing it --------------------------------------------------------------------------
    def make_task(self, name, queue, steps=0, task_timeout=None, parent=None) -> T:
        t = T(self.new_id(), name, queue, task_timeout=task_timeout, parent=parent)
        self.tasks[t.id] = t
        prev = t
        for _ in range(steps):
            s = T(self.new_id(), "step", queue, state="pending")
            self.tasks[s.id] = s
            prev.then = [s.id]
            prev = s
        # then lists the whole rest of the chain
        chain = []
        cur = t
        while cur.then:
            chain.append(cur.then[0])
            cur = self.tasks[cur.then[0]]
        t.then = chain
        return t

    def enqueue(self, t: T, by: Optional[W], parent: Optional[str], via: Optional[str] = None):
        data = {}
        if parent is not None:
            data["parent"] = parent
        if via is not None:
            data["via"] = via
        if t.then:
            data["then"] = list(t.then)
            data["then_names"] = [self.tasks[x].name for x in t.then]
        t.state = "queued"
        self.backlog.setdefault(t.queue, []).append(t.id)
        self.emit("enqueued", t.id, t.name, APP if by is None else by.worker, data, t.queue)

    def start(self, w: W) -> None:
        q = w.proc.queue
        tid = self.backlog[q].pop(0)
        t = self.tasks[tid]
        if not w.up and w.proc.style == "consumer":
            w.up = True
            self.emit("worker_up", None, None, w.worker, None, q)
        if not w.order:
            w.order = len(self.events)
        if t.revoke:
            self.emit(t.revoke, t.id, t.name, w.worker, None, q)
            self.end(t, "dead")
            return
        w.seen = True
        w.task = t.id
        t.state, t.worker = "running", w
        self.emit("executing", t.id, t.name, w.worker, None, q)

    def end(self, t: T, result: str) -> None:
        t.state, t.result = "done", result
        if t.worker is not None:
            t.worker.task = None
        if result == "dead":
            for x in t.then:                    # never enqueued
                self.tasks[x].state = "never"

    def finish(self, t: T, how: str) -> None:
        w = t.worker
        if how == "error":
            self.emit("error", t.id, t.name, w.worker, {"error": "ValueError", "message": "x"},
                      t.queue)
            self.end(t, "error")
            return
        self.emit("complete", t.id, t.name, w.worker, {"stored": False} if how == "none" else None,
                  t.queue)
        self.end(t, "stored" if how == "stored" else "none")
        if t.then:
            nxt = self.tasks[t.then[0]]
            nxt.then = t.then[1:]
            self.enqueue(nxt, w, t.id, via="pipeline")

    def wait(self, waiter: Optional[T], x: str, timeout, preserve) -> None:
        target = self.tasks.get(x)
        # A task never seen (enqueued before the recording, or never): its
        # Result still belongs to one Huey, the first queue's.
        tq = target.queue if target is not None else self.first_queue
        if waiter is not None:
            worker, queue, tid, name = waiter.worker.worker, waiter.queue, waiter.id, waiter.name
        else:
            worker, queue, tid, name = APP, tq, None, None
        data = {"waits_on": x}
        if timeout is not None:
            data["timeout"] = timeout
        if waiter is not None and tq != waiter.queue:
            data["waits_on_queue"] = tq
        if self.deliverable(x):
            if not preserve:
                data["consumed"] = True
                target.result = "gone"
            self.emit("read", tid, name, worker, data, queue)
            return
        if preserve:
            data["preserve"] = True
        if waiter is not None and waiter.task_timeout:
            data["task_timeout"] = waiter.task_timeout
        self.emit("block", tid, name, worker, data, queue)
        if waiter is None:
            self.app_waits_on, self.app_timeout, self.app_preserve = x, timeout, preserve
        else:
            waiter.state, waiter.waits_on = "blocked", x
            waiter.timeout, waiter.preserve = timeout, preserve

    def resume(self, waiter: Optional[T], outcome: str) -> None:
        if waiter is None:
            x, preserve = self.app_waits_on, self.app_preserve
            worker, queue, tid, name = APP, self.tasks[x].queue if x in self.tasks else \
                self.first_queue, None, None
        else:
            x, preserve = waiter.waits_on, waiter.preserve
            worker, queue, tid, name = waiter.worker.worker, waiter.queue, waiter.id, waiter.name
        data = {"waits_on": x, "outcome": outcome}
        if outcome in ("result", "error") and not preserve:
            data["consumed"] = True
            self.tasks[x].result = "gone"
        self.emit("unblock", tid, name, worker, data, queue)
        if waiter is None:
            self.app_waits_on = self.app_timeout = None
        else:
            waiter.state, waiter.waits_on, waiter.timeout = "running", None, None

    def lose(self, p: Proc) -> None:
        p.alive = False
        self.changed = True
        # The reader reports every worker of the silent process at once, in
        # the order it saw them (read/follower.py).
        first = True
        for w in sorted((w for w in self.workers if w.proc is p and (w.up or w.seen)),
                        key=lambda w: w.order):
            self.emit("lost", None, None, w.worker, {"silent": 5.0}, p.queue, same_time=not first)
            first = False
        for w in self.workers:
            if w.proc is p and w.task is not None:
                self.end(self.tasks[w.task], "dead")
                w.task = None

    def shutdown(self, p: Proc) -> None:
        p.alive = False
        self.changed = True
        for w in self.workers:
            if w.proc is p:
                self.emit("worker_down", None, None, w.worker, None, p.queue)


@st.composite
def traces(draw) -> Generated:
    """A well-formed trace of at most 8 tasks, 3 workers a queue, 1 or 2 queues."""
    nq = draw(st.integers(1, 2))
    queues: List[Optional[str]] = ["a", "b"] if nq == 2 else [draw(st.sampled_from([None, "a"]))]
    world = World()
    world.first_queue = queues[0]
    styles, sizes = {}, {}
    pid = 10
    lazy = draw(st.booleans())
    for q in queues:
        style = draw(st.sampled_from(STYLES))
        n = draw(st.integers(1, 3))
        split = [n] if n == 1 or not draw(st.booleans()) else [1, n - 1]
        wtype = draw(st.sampled_from(["thread", "greenlet", "process"])) if style == "consumer" \
            else None
        styles[q], sizes[q] = style, n
        for k in split:
            pid += 1
            p = Proc(q, pid, [Worker(HOST, pid, f"Worker-{i + 1}") for i in range(k)], style, wtype)
            world.procs.append(p)
            for wk in p.workers:
                world.workers.append(W(wk, p))
    # What the recording starts with: each queue's announcements.
    for q in queues:
        if styles[q] == "pool":
            world.emit("pool", None, None, None, {"size": sizes[q]}, q)
    for p in world.procs:
        if p.style == "consumer":
            world.emit("consumer", None, None, Worker(HOST, p.pid, "MainThread"),
                       {"workers": len(p.workers), "worker_type": p.worker_type}, p.queue)
    for w in world.workers:
        if w.proc.style == "up" or (w.proc.style == "consumer" and not lazy):
            w.up = True
            world.emit("worker_up", None, None, w.worker, None, w.proc.queue)
            w.order = len(world.events)
    # A task enqueued before the recording began (no enqueue event): it sits in the queue.
    if draw(st.integers(0, 3)) == 0:
        q = draw(st.sampled_from(queues))
        t = world.make_task("old", q)
        t.state = "queued"
        world.backlog.setdefault(q, []).append(t.id)

    def pick(xs):
        return draw(st.sampled_from(xs))

    steps = draw(st.integers(1, 40))
    for _ in range(steps):
        can = world.actions()
        if not can:
            break
        what = pick(can)
        if what == "start":
            world.start(pick(world.idle()))
        elif what == "finish":
            t = pick(world.running())
            world.finish(t, pick(["stored", "none"] if t.then else ["stored", "none", "error"]))
        elif what in ("enqueue", "spawn"):
            parent = pick(world.running()) if what == "spawn" else None
            room = MAX_TASKS - len(world.tasks)
            steps_ = draw(st.integers(0, min(2, room - 1)))
            tt = LONG if steps_ == 0 and draw(st.booleans()) else None
            t = world.make_task("sub" if parent else "main", pick(queues), steps_, tt,
                                parent.id if parent else None)
            world.enqueue(t, parent.worker if parent else None, parent.id if parent else None)
        elif what in ("wait", "app_wait"):
            waiter = pick(world.running()) if what == "wait" else None
            options = sorted(x for x in world.tasks if waiter is None or x != waiter.id)
            # A task mostly waits for its own subtasks (three times as likely).
            mine = [x for x in options if waiter is not None and world.tasks[x].parent == waiter.id]
            x = pick(options + mine * 3 + ["ghost"])
            timeout = LONG if draw(st.integers(0, 3)) == 0 else None
            preserve = draw(st.integers(0, 5)) == 0
            world.wait(waiter, x, timeout, preserve)
        elif what == "deliver":
            ready = [t for t in world.blocked() if world.deliverable(t.waits_on)]
            if world.app_waits_on is not None and world.deliverable(world.app_waits_on):
                ready.append(None)
            w = pick(ready)
            x = w.waits_on if w is not None else world.app_waits_on
            world.resume(w, "error" if world.tasks[x].result == "error" else "result")
        elif what == "timeout":
            timed = [t for t in world.blocked() if t.timeout]
            if world.app_waits_on is not None and world.app_timeout:
                timed.append(None)
            world.resume(pick(timed), "timeout")
        elif what == "revoke":
            t = pick([t for t in world.tasks.values() if t.state == "queued" and t.revoke is None])
            t.revoke = pick(["revoked", "expired"])
        elif what == "lose":
            world.lose(pick(world.losable()))
        elif what == "shutdown":
            world.shutdown(pick(world.closable()))
        elif what == "task_timeout":
            t = pick(world.interruptible())
            # Huey raises TaskTimeout inside the wait, stores the error, emits "timeout".
            world.emit("unblock", t.id, t.name, t.worker.worker,
                       {"waits_on": t.waits_on, "outcome": "failed"}, t.queue)
            world.emit("timeout", t.id, t.name, t.worker.worker, None, t.queue)
            world.end(t, "error")
    return Generated(world.events, queues, styles, sizes, world.changed)
