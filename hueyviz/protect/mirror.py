"""A :class:`~hueyviz.analysis.replay.Replay` kept in step with a live system.

The guard and the watchdog need "the state right now", cheaply, on every
blocking wait or every few seconds.  Replaying the whole trace each time is
linear in its length; a :class:`Mirror` instead registers on the Huey
instance's hook like a tracer and applies each event to one replay as it
happens (O(1) per event, under a lock), pruning finished tasks so that its
memory stays proportional to the work in flight.

Seeing the whole system
    Events of this process come through the hook at once.  When the Huey
    instance records into a shared sink (a Redis stream, a SQLite table,
    files: ``hueyviz.install(huey)``), the mirror also follows that sink, so
    the workers and waits of every other consumer process (on this machine
    or others) are in its replay too: a background thread reads what the
    others wrote every ``interval`` seconds, and :meth:`refresh` reads it
    on demand (the guard does, before each decision).  What the others did
    in the last moments before a refresh may not have reached the sink yet
    (their writers flush a ``block`` at once and the rest every 50 ms): see
    :mod:`hueyviz.protect.guard` for which way that can err.
"""
from __future__ import annotations

import os
import socket
import threading
import time
import weakref
from typing import Any, Callable, Dict, List, Optional

from ..analysis.replay import Replay
from ..core.event import OUTCOMES, Event, Worker
from ..record.hook import HueyHook, hook_for, rate_limited_logger

__all__ = ["Mirror"]

# Events that show the pool moving forward.
PROGRESS = frozenset({"executing", "unblock", "retrying"}) | OUTCOMES
_PRUNE_MIN = 4096
_mirrors: weakref.WeakSet = weakref.WeakSet()


class Mirror:
    """Follow ``huey`` live: ``replay`` (read it under ``lock``), ``in_flight``
    (ids enqueued or started here, and not finished) and ``last_progress`` (monotonic time of
    the last executing/unblock/outcome event, or of new work after idling).

    Parameters
    ----------
    huey : huey.Huey
    tracer : Tracer, optional
        Seed the state from what this tracer recorded so far (so a mirror
        created after the consumer started still knows the pool and the
        tasks in flight).
    workers : int, optional
        Declare the pool size (as ``trace(workers=...)``).
    clock : callable
        Event timestamps (default: the tracer's clock, else ``time.time``).
    follow : "auto", False, or a source
        Also follow the events other processes write: ``"auto"`` follows the
        shared sink the instance was ``install()``-ed with (if it has one);
        a source (a sink, URL...) follows that; False follows nothing.
    interval : float
        Seconds between background reads of the followed source.
    """

    capture_args = False    # the hook asks every registered recorder

    def __init__(self, huey, tracer=None, workers: Optional[int] = None,
                 clock: Optional[Callable[[], float]] = None, follow: Any = "auto",
                 interval: float = 0.1) -> None:
        self.huey = huey
        self.tracer = tracer
        self.clock = clock or getattr(tracer, "clock", None) or time.time
        self.lock = threading.RLock()
        self.replay = Replay()
        self.in_flight: Dict[str, None] = {}
        self.last_progress = time.monotonic()
        self.errors = 0
        self.hook: Optional[HueyHook] = None
        self._log = rate_limited_logger()
        self._dup: Dict[Optional[Worker], Event] = {}   # seeding overlap, per worker
        self._skip: Dict[Optional[Worker], dict] = {}   # blocks applied ahead of their event
        self._since_prune = 0
        self._live_after_prune = 0
        self._workers = workers
        self._source = _followed_source(huey, follow)
        self.follower: Any = None
        self.follow_lock = threading.Lock()      # the follower is not thread-safe
        self._interval = interval
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._me = (socket.gethostname(), os.getpid())
        self._started_at = float("inf")
        _mirrors.add(self)

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> Mirror:
        if self.hook is not None:
            return self
        with self.lock:
            hook = self.hook = hook_for(self.huey)
            hook.add(self)
            self._started_at = self.clock()
            if self.tracer is not None and self._source is None:
                # Events emitted while we seed wait on the lock; each worker
                # thread has at most one in flight, and it may already be in
                # the snapshot: remember each worker's last one to skip it.
                for e in self.tracer.trace:
                    self._apply(e)
                    self._dup[e.worker] = e
            if self._workers:
                self._apply(Event(self.clock(), "pool", None, None, None,
                                  {"size": int(self._workers)}, hook.queue))
        if self._source is not None:
            self._start_following()
        return self

    def stop(self) -> None:
        self._stop.set()
        th, self._thread = self._thread, None
        if th is not None and th is not threading.current_thread():
            th.join(5.0)
        if self.follower is not None:
            with self.follow_lock:
                self.follower.close()
            self.follower = None
        if self.hook is not None:
            self.hook.remove(self)
            self.hook = None

    # -- following the others ------------------------------------------------
    def _start_following(self) -> None:
        from ..read.follower import Follower
        # Everything the sink holds, this process's past included (the hook
        # only brings what happens from now): the pool, tasks in flight.
        own = getattr(getattr(self.huey, "_hueyviz_tracer", None), "sink", None)
        flush = getattr(own, "flush", None)
        if callable(flush):
            flush(1.0)
        self.follower = Follower(self._source, start="begin", reorder=0.0)
        self.refresh(initial=True)
        self._stop.clear()
        self._thread = threading.Thread(target=self._follow_loop, name="hueyviz-mirror",
                                        daemon=True)
        self._thread.start()

    def refresh(self, initial: bool = False, wait: Optional[float] = None) -> Optional[int]:
        """Apply what the other processes wrote since the last read (no wait);
        returns how many events that was.  With ``wait``, give up after that
        many seconds if the follower is busy (a read stuck on a sink that
        does not answer holds it for its socket timeout): None then."""
        if self.follower is None:
            return 0
        if not self.follow_lock.acquire(timeout=-1 if wait is None else wait):
            return None
        try:
            if self.follower is None:
                return 0
            events = self.follower.catch_up() if initial else self.follower.poll(0)
        finally:
            self.follow_lock.release()
        mine = self._me
        queue = getattr(self.huey, "name", None)
        taken: List[Event] = []
        for e in events:
            w = e.worker
            # This process's own events of this queue come through the hook
            # from the start; those of its other queues (another Huey of a
            # django-huey project, say) only through the store.
            own = w is not None and (w.host, w.pid) == mine and e.queue in (None, queue)
            if own and not (initial and e.t < self._started_at):
                continue
            taken.append(e)
        if taken:
            with self.lock:
                for e in taken:
                    self._apply(e)
        return len(taken)

    def _follow_loop(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.refresh()
            except Exception:                   # a sink that is down: keep going
                self._failed("mirror follower")

    # -- hook API (runs on Huey's threads; never raises) ---------------------
    def _record(self, kind, task_id, name, worker, data, queue=None) -> None:
        try:
            with self.lock:
                if self._dup:
                    prev = self._dup.pop(worker, None)
                    if (prev is not None and prev.kind == kind and prev.task == task_id
                            and prev.data is data):
                        return
                if kind == "block" and self._skip.get(worker) is data:
                    del self._skip[worker]
                    return
                self._apply(Event(self.clock(), kind, task_id, name, worker, data, queue))
        except Exception:
            self._failed("mirror")

    def _failed(self, where: str) -> None:
        self.errors += 1
        self._log(f"hueyviz: {where} failed ({self.errors} failures so far)")

    # -- state ----------------------------------------------------------------
    def apply_ahead(self, kind, task_id, name, worker, data, queue=None) -> None:
        """Apply an event before the hook emits it (call with ``lock`` held);
        the emitted copy is then skipped.  Only for ``block``."""
        self._apply(Event(self.clock(), kind, task_id, name, worker, data, queue))
        self._skip[worker] = data

    def _apply(self, e: Event) -> None:
        self.replay.apply(e)
        kind = e.kind
        if kind == "enqueued":
            if not self.in_flight:
                self.last_progress = time.monotonic()   # new work after idling
            if e.task is not None:
                self.in_flight[e.task] = None
        elif kind in PROGRESS:
            self.last_progress = time.monotonic()
            if e.task is not None:
                if kind in OUTCOMES:
                    self.in_flight.pop(e.task, None)
                elif kind == "executing":
                    # Enqueued by another process (a web process, another
                    # queue's consumer): in flight from its start here.
                    self.in_flight[e.task] = None
        self._since_prune += 1
        if self._since_prune >= max(_PRUNE_MIN, self._live_after_prune):
            self._prune()

    def _prune(self) -> None:
        rp = self.replay
        rp.evict()
        self._since_prune = 0
        self._live_after_prune = len(rp.tasks)

    def idle_for(self) -> float:
        """Seconds since the last progress while work is in flight (else 0)."""
        if not self.in_flight:
            return 0.0
        return time.monotonic() - self.last_progress


def _followed_source(huey, follow: Any) -> Any:
    """The shared sink to follow, or None."""
    if follow is False or follow is None:
        return None
    if follow != "auto":
        return follow
    tracer = getattr(huey, "_hueyviz_tracer", None)
    sink = getattr(tracer, "sink", None)
    # Only sinks that other processes write into too: a MemorySink is this
    # process's own events, which the hook brings already.  Every queue of
    # that store: a knot may cross queues (django-huey's consumers).
    if sink is None or not hasattr(sink, "reader"):
        return None
    store = getattr(sink, "store_reader", None)
    if store is None:
        return sink
    from ..read.source import Source
    return Source(sink.describe() + " and the other queues there", store)


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time stays held in the child.
    for m in list(_mirrors):
        m.lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
