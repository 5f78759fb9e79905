"""A :class:`~hueyviz.model.Replay` kept in step with a live Huey instance.

The guard and the watchdog need "the state right now", cheaply, on every
blocking wait or every few seconds.  Replaying the whole trace each time is
linear in its length; a :class:`Mirror` instead registers on the Huey
instance's hook like a tracer and applies each event to one replay as it
happens (O(1) per event, under a lock), pruning finished tasks so that its
memory stays proportional to the work in flight.
"""
from __future__ import annotations

import os
import threading
import time
import weakref
from typing import Callable, Dict, Optional

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
    """

    capture_args = False    # the hook asks every registered recorder

    def __init__(self, huey, tracer=None, workers: Optional[int] = None,
                 clock: Optional[Callable[[], float]] = None) -> None:
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
        _mirrors.add(self)

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> Mirror:
        if self.hook is not None:
            return self
        with self.lock:
            hook = self.hook = hook_for(self.huey)
            hook.add(self)
            if self.tracer is not None:
                # Events emitted while we seed wait on the lock; each worker
                # thread has at most one in flight, and it may already be in
                # the snapshot: remember each worker's last one to skip it.
                for e in self.tracer.trace:
                    self._apply(e)
                    self._dup[e.worker] = e
            if self._workers:
                self._apply(Event(self.clock(), "pool", None, None, None,
                                  {"size": int(self._workers)}, hook.queue))
        return self

    def stop(self) -> None:
        if self.hook is not None:
            self.hook.remove(self)
            self.hook = None

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
        for tid in [tid for tid, rec in rp.tasks.items()
                    if rec.state == "finished" and tid not in rp.waiting]:
            del rp.tasks[tid]
        rp.waits[:] = [w for w in rp.waits if w.until is None]
        rp.lost.clear()
        self._since_prune = 0
        self._live_after_prune = len(rp.tasks)

    def idle_for(self) -> float:
        """Seconds since the last progress while work is in flight (else 0)."""
        if not self.in_flight:
            return 0.0
        return time.monotonic() - self.last_progress


def _after_fork_in_child() -> None:
    # A lock held by another thread at fork time stays held in the child.
    for m in list(_mirrors):
        m.lock = threading.RLock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
