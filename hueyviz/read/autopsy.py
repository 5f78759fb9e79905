"""One instant of a stuck consumer, read from the outside: ``hueyviz autopsy``.

Nothing was recorded, so nothing is replayed: the consumer's processes are
read with :mod:`~hueyviz.read.stack` (every worker: the task it runs, where,
and the id of the result it waits for), its storage with
:mod:`~hueyviz.read.storage` (the queue in order, the schedule, the stored
results and revocations of the awaited tasks), and both become the events a
recording of that instant would hold (:meth:`Snapshot.events`), so the one
detector judges them (:mod:`hueyviz.analysis.autopsy`).

What one instant cannot show is kept apart and said:

- the ids of *running* tasks: a stack shows a task only as an object (its
  class, which is the task's name, and its address), never its id.  Those
  tasks get the id ``?`` + address; a wait on an id that is in no queue, no
  schedule and no result store is on a task that has left the queue: one of
  the running ones, or one gone without a result (:attr:`Snapshot.inflight`);
- which wait closed the knot: the waits are given in the order the queue
  suggests (a wait on a task further back in the queue began later);
- greenlet workers: py-spy sees gevent's hub, not the suspended greenlets.
"""
from __future__ import annotations

import ast
import os
import socket
import time
from dataclasses import dataclass, field, replace
from typing import List, Optional, Sequence, Set, Tuple

from ..core.event import Event, Worker
from .stack import (
    Frame,
    StackError,
    ThreadStack,
    children,
    command_line,
    find_processes,
    number_local,
    parent,
    read_stack,
    read_stacks,
    reader_name,
    string_local,
    working_dir,
)
from .storage import StorageSnapshot, read_storage

__all__ = ["CONSUMER_WORDS", "SeenWorker", "Snapshot", "consumer_pids", "take"]

# Command lines of processes that run a Huey consumer.
CONSUMER_WORDS = ("huey_consumer", "run_huey", "djangohuey")
_WAIT_FRAMES = ("wait_result",)            # BaseStorage / RedisStorage .wait_result
_GET_FRAMES = ("Result.get", "Result.get_raw_result", "Result.__call__", "Huey.result",
               "ResultGroup.get", "ResultGroup.__call__", "ResultGroup.__getitem__",
               "ResultGroup.as_completed")


@dataclass(frozen=True)
class SeenWorker:
    """One worker as its stack shows it."""

    pid: int
    name: str                       # as Huey numbers them: Worker-1, process 2
    task: Optional[str] = None      # the task it runs (its name), None when idle
    ref: Optional[str] = None       # the running task object's address
    site: Optional[str] = None      # file:line in function: the wait, or where it runs
    waits_on: Optional[str] = None  # the task id whose result it waits for
    timeout: Optional[float] = None
    remaining: Optional[float] = None   # of the timeout, when read (wait_result's deadline)

    @property
    def task_id(self) -> Optional[str]:
        """The id it is given here: ``?`` and the task object's address."""
        return None if self.task is None else f"?{self.ref or self.pid}"

    def to_dict(self) -> dict:
        return {"pid": self.pid, "worker": self.name, "task": self.task,
                "task_id": self.task_id, "site": self.site, "waits_on": self.waits_on,
                "timeout": self.timeout, "remaining": self.remaining}


@dataclass(frozen=True)
class SeenConsumer:
    pid: int
    workers: int                    # as started (-w), or as many as were seen
    worker_type: str                # thread, process
    command: str


@dataclass
class Snapshot:
    """A consumer and its storage at one instant."""

    queue: str
    at: float
    host: str
    consumers: List[SeenConsumer]
    workers: List[SeenWorker]
    storage: StorageSnapshot
    reader: str
    took: float = 0.0               # seconds the reading took
    # Were the consumers found on this host (every one running the app), or
    # named by the caller (others may serve the queue)?
    discovered: bool = False
    notes: List[str] = field(default_factory=list)

    @property
    def awaited(self) -> List[str]:
        return list(dict.fromkeys(w.waits_on for w in self.workers if w.waits_on))

    @property
    def inflight(self) -> Set[str]:
        return inflight([self])

    def events(self) -> List[Event]:
        return events([self])

    def to_dict(self) -> dict:
        return {"queue": self.queue, "at": self.at, "host": self.host, "reader": self.reader,
                "discovered": self.discovered,
                "took": round(self.took, 3),
                "consumers": [{"pid": c.pid, "workers": c.workers,
                               "worker_type": c.worker_type} for c in self.consumers],
                "workers": [w.to_dict() for w in self.workers],
                "storage": self.storage.to_dict(), "inflight": sorted(self.inflight)}


def inflight(snaps: Sequence[Snapshot]) -> Set[str]:
    """Awaited ids in no queue, schedule or result store, not revoked:
    left the queue, so running (ids of running tasks are not visible) or
    gone without a result."""
    known: Set[str] = set()
    for s in snaps:
        st = s.storage
        known |= {t.id for t in st.pending} | {t.id for t in st.scheduled} | st.stored \
            | st.revoked
    return {tid for s in snaps for tid in s.awaited if tid not in known}


def events(snaps: Sequence[Snapshot]) -> List[Event]:
    """What a recording of this instant would hold (queues read together),
    the waits in the order the queues suggest they began."""
    out: List[Event] = []
    tick = [min((s.at for s in snaps), default=0.0) - 1e-3]

    def add(q, kind, task, name, worker, data=None):
        tick[0] += 1e-6
        out.append(Event(tick[0], kind, task, name, worker, data or None, q))

    where: dict = {}                        # task id -> (queue, place in it)
    for s in snaps:
        for i, t in enumerate(s.storage.pending):
            where.setdefault(t.id, (s.queue, i))
        for t in s.storage.scheduled:
            where.setdefault(t.id, (s.queue, len(s.storage.pending)))
    for s in snaps:
        q = s.queue
        for c in s.consumers:
            add(q, "consumer", None, None, Worker(s.host, c.pid, "MainThread"),
                {"workers": c.workers, "worker_type": c.worker_type})
        for w in s.workers:
            add(q, "worker_up", None, None, Worker(s.host, w.pid, w.name))
    for s in snaps:
        q, storage = s.queue, Worker(s.host, 0, "storage")
        for t in s.storage.pending:
            data: dict = {}
            if t.priority:
                data["priority"] = t.priority
            if t.then:
                data["then"] = [tid for tid, _ in t.then]
                data["then_names"] = [n or "?" for _, n in t.then]
            add(q, "enqueued", t.id, t.name, storage, data)
            if t.expired:
                add(q, "expired", t.id, t.name, None)
        for t in s.storage.scheduled:
            add(q, "scheduled", t.id, t.name, storage, {"eta": t.eta} if t.eta else None)
    done: Set[str] = set()
    for s in snaps:
        for tid in sorted(s.storage.revoked - done):
            add(s.queue, "revoked", tid, None, None)
        for tid in sorted(s.storage.stored - s.storage.revoked - done):
            # Ran on no worker of this instant: started and finished unseen.
            add(s.queue, "executing", tid, None, None)
            add(s.queue, "complete", tid, None, None)
        done |= s.storage.revoked | s.storage.stored
    for s in snaps:
        for w in s.workers:
            if w.task is not None:
                add(s.queue, "executing", w.task_id, w.task, Worker(s.host, w.pid, w.name))
    waits = [(s, w) for s in snaps for w in s.workers if w.waits_on]
    waits.sort(key=lambda sw: (where.get(sw[1].waits_on or "", (None, 1 << 30))[1],
                               sw[0].queue, sw[1].pid, sw[1].name))
    for s, w in waits:
        data = {"waits_on": w.waits_on}
        other = where.get(w.waits_on or "")
        if other is not None and other[0] != s.queue:
            data["waits_on_queue"] = other[0]
        if w.site:
            data["site"] = w.site
        if w.timeout is not None:
            # What is left of it: the wait began before this instant.
            data["timeout"] = round(max(0.0, w.remaining), 3) \
                if w.remaining is not None else w.timeout
        add(s.queue, "block", w.task_id, w.task, Worker(s.host, w.pid, w.name), data)
    return out


# -- reading a consumer --------------------------------------------------------------
def consumer_pids(app: Optional[str] = None, queue: Optional[str] = None,
                  djhuey: bool = False, module_file: Optional[str] = None) -> List[int]:
    """The consumer processes of one queue on this host, parents only
    (process workers are their children): ``huey_consumer APP``, or in a
    Django project ``manage.py djangohuey --queue QUEUE`` and, for djhuey's
    one queue (``djhuey``), ``manage.py run_huey``."""
    found = []
    for pid in find_processes(CONSUMER_WORDS):
        args = command_line(pid)
        head = " ".join(args[:3])
        plain = "huey_consumer" in head and app is not None and app in args \
            and _same_module(pid, app, module_file)
        django = ("djangohuey" in head and queue is not None
                  and _option(args, "--queue") == queue) or ("run_huey" in head and djhuey)
        if plain or django:
            found.append(pid)
    mine = set(found)
    return [p for p in found if parent(p) not in mine]


def _same_module(pid: int, app: str, module_file: Optional[str]) -> bool:
    """Whether the consumer ``pid`` imports ``app`` from ``module_file``:
    huey_consumer imports from its working directory first, so another
    project's ``app.huey`` on this host is told apart by the file there."""
    cwd = working_dir(pid)
    if module_file is None or cwd is None:
        return True
    base = os.path.join(cwd, *app.rpartition(".")[0].split("."))
    for there in (base + ".py", os.path.join(base, "__init__.py")):
        if os.path.exists(there):
            try:
                return os.path.samefile(there, module_file)
            except OSError:
                return False
    return True                 # imported from elsewhere (an installed package): cannot tell


def _option(args: List[str], name: str) -> Optional[str]:
    for i, a in enumerate(args):
        if a == name and i + 1 < len(args):
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return None


def take(huey, pids: Sequence[int], host: Optional[str] = None,
         discovered: bool = False) -> Snapshot:
    """Read the consumer processes ``pids`` (parents; their worker processes
    are found) and ``huey``'s storage.  Raises
    :class:`~hueyviz.read.stack.StackError` or
    :class:`~hueyviz.core.errors.SourceError`, one line each."""
    return take_all([(huey, pids)], host, discovered)[0]


def take_all(queues: Sequence[Tuple[object, Sequence[int]]], host: Optional[str] = None,
             discovered: bool = False) -> List[Snapshot]:
    """:func:`take` of several queues at one instant (django-huey's):
    every stack first, then every storage, each asked about every awaited
    id (a task of one queue may wait for a task of another)."""
    started = time.monotonic()
    read: List[Tuple[object, List[SeenConsumer], List[SeenWorker]]] = []
    for huey, pids in queues:
        consumers: List[SeenConsumer] = []
        workers: List[SeenWorker] = []
        for pid in pids:
            c, ws = _consumer(pid)
            consumers.append(c)
            workers.extend(ws)
        read.append((huey, consumers, workers))
    # Forked worker processes share their parent's memory layout: two of
    # them can run tasks at one address.  The pid keeps such ids apart.
    refs = [w.ref for _, _, ws in read for w in ws if w.ref]
    if len(refs) != len(set(refs)):
        read = [(h, cs, [replace(w, ref=f"{w.pid}.{w.ref}") if w.ref else w for w in ws])
                for h, cs, ws in read]
    # The storages after the stacks: a task a worker waits for that finished
    # meanwhile shows as stored (its waiter is about to return), never as
    # missing.
    awaited = [w.waits_on for _, _, ws in read for w in ws if w.waits_on]
    stores = [read_storage(h, awaited) for h, _, _ in read]
    at, took = time.time(), time.monotonic() - started
    return [Snapshot(str(getattr(h, "name", "?")), at, host or socket.gethostname(), cs, ws,
                     st, reader_name(), took, discovered=discovered)
            for (h, cs, ws), st in zip(read, stores)]


def _consumer(pid: int) -> Tuple[SeenConsumer, List[SeenWorker]]:
    # A stack read between two greenlet switches can show neither the hub
    # nor the consumer's loop: read again (three reads at most).
    for _ in range(3):
        threads = read_stack(pid)
        if any(_has(t, "Consumer.run") or _has(t, "Consumer.loop") or _gevent(t)
               for t in threads):
            break
        time.sleep(0.05)
    command = " ".join(command_line(pid))[:200]
    config = _config(threads)
    if (config and config[1] == "greenlet") or any(_gevent(t) for t in threads):
        raise StackError(
            f"process {pid} runs greenlet workers: the stack reader sees gevent's hub, not "
            "the suspended greenlets, so an autopsy cannot tell what they wait for; record "
            "the consumer with hueyviz instead (hueyviz.trace, or hueyviz record)")
    if not any(_has(t, "Consumer.run") or _has(t, "Consumer.loop") for t in threads):
        if any(w in command for w in CONSUMER_WORDS):
            raise StackError(f"process {pid} ({command}) runs no consumer loop yet (starting "
                             "or stopping): try again in a moment")
        raise StackError(f"process {pid} ({command or '?'}) is not a Huey consumer: none of "
                         "its threads runs Consumer.run")
    kind = config[1] if config else None
    seen = [_worker(t.pid, t.name or "?", t) for t in threads if _has(t, "Worker.loop")]
    if not seen and kind != "thread":
        kids = [k for k in children(pid)]
        stacks = read_stacks(kids) if kids else {}
        n = 0
        for kid in kids:
            ts = stacks.get(kid, [])
            if any(_has(t, "Worker.loop") for t in ts):
                n += 1
                t = next(t for t in ts if _has(t, "Worker.loop"))
                seen.append(_worker(kid, f"process {n}", t))
        if seen:
            kind = "process"
    count = config[0] if config else len(seen)
    return SeenConsumer(pid, count, kind or "thread", command), seen


def _gevent(t: ThreadStack) -> bool:
    # gevent's hub running: not merely gevent being imported (Huey's
    # consumer module tries to import it whatever the worker type).
    return any(f.function.startswith("Hub.") and (
        f.file.startswith("gevent/") or f"{os.sep}gevent{os.sep}" in f.path) for f in t.frames)


def _has(t: ThreadStack, function: str) -> bool:
    return any(f.function == function for f in t.frames)


def _config(threads: List[ThreadStack]) -> Optional[Tuple[int, str]]:
    """(workers, worker_type) from huey_consumer's ``config`` local."""
    for t in threads:
        for f in t.frames:
            shown = f.locals.get("config") if f.function == "consumer_main" else None
            if not shown:
                continue
            try:
                value = ast.literal_eval(shown)
            except (ValueError, SyntaxError, MemoryError, RecursionError):
                return None
            if isinstance(value, (tuple, list)) and len(value) >= 2 and \
                    isinstance(value[0], int) and value[1] in ("thread", "process", "greenlet"):
                return int(value[0]), str(value[1])
    return None


def _is_huey(f: Frame) -> bool:
    return f"{os.sep}huey{os.sep}" in f.path or f.file.startswith("huey/")


def _worker(pid: int, name: str, t: ThreadStack) -> SeenWorker:
    frames = t.frames                  # innermost first
    run = next((i for i, f in enumerate(frames) if f.function == "Huey._execute"), None)
    if run is None:
        return SeenWorker(pid, name)
    task_shown = frames[run].locals.get("task", "")
    task, ref = _object(task_shown)
    waits_on = None
    timeout = remaining = None
    site = None
    wait = next((i for i, f in enumerate(frames[:run]) if f.code_name in _WAIT_FRAMES
                 and f.function.endswith("wait_result")), None)
    if wait is not None:
        shown = frames[wait].locals
        waits_on = string_local(shown.get("key"))
        timeout = number_local(shown.get("timeout"))
        deadline = number_local(shown.get("deadline"))
        # time.monotonic() is one clock for every process of the host.
        remaining = None if deadline is None or timeout is None else \
            min(timeout, deadline - time.monotonic())
        outer = [f for f in frames[wait:run] if not _is_huey(f)]
        if outer:
            site = outer[0].where()
    if site is None:
        own = [f for f in frames[:run] if not _is_huey(f)]
        if own:
            site = own[0].where()
    return SeenWorker(pid, name, task, ref, site, waits_on, timeout, remaining)


def _object(shown: str) -> Tuple[Optional[str], Optional[str]]:
    """``<main at 0x7f98>`` -> (``main``, ``7f98``)."""
    if shown.startswith("<") and " at 0x" in shown and shown.endswith(">"):
        name, _, addr = shown[1:-1].rpartition(" at 0x")
        return name.rsplit(".", 1)[-1] or None, addr
    return None, None
