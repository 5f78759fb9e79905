"""The :class:`Tracer`: records what Huey instances do into one sink."""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple, Union

from ..core.errors import UsageError
from ..core.event import MAX_POOL, Event
from ..core.trace import Trace, make_header
from .hook import hook_for, rate_limited_logger
from .sink import DEFAULT_MAX_EVENTS, MemorySink

__all__ = ["Tracer", "trace"]


Workers = Union[None, int, Dict[str, int]]


class Tracer:
    """Records enqueue, start, block and finish events of Huey instances.

    Use it as a context manager or call :meth:`attach` / :meth:`detach`.
    Recording never raises into Huey: a failing receiver is counted in
    ``errors`` and logged at most once a minute.

    Parameters
    ----------
    *hueys : huey.Huey
        The instances to trace, into one ring and on one clock.  Each is a
        queue (named by its ``name``); a task of one may wait for a task of
        another.
    capture_args : bool
        Record task arguments as bounded reprs.  Off by default because
        arguments may hold secrets.
    max_events : int
        Bound of the in-memory ring; the oldest events are dropped first and
        counted in ``dropped``.
    sink : object, optional
        Where events go; defaults to a :class:`~hueyviz.sink.MemorySink`.
    workers : int or dict, optional
        Pool size, when consumers were started before the tracer attached
        (consumers started afterwards announce their workers themselves):
        an int for every traced queue, or ``{queue name: size}``.
    clock : callable
        Returns the time in seconds; tests inject a fake one.
    """

    def __init__(self, *hueys, capture_args: bool = False,
                 max_events: int = DEFAULT_MAX_EVENTS, sink=None,
                 workers: Workers = None,
                 clock: Callable[[], float] = time.time):
        if not hueys or any(not hasattr(h, "create_consumer") for h in hueys):
            raise TypeError("trace() wants one or more Huey instances, got "
                            + (", ".join(type(h).__name__ for h in hueys) or "none"))
        _check_workers(workers)
        self.hueys: Tuple = hueys
        self.capture_args = capture_args
        self.errors = 0
        self._log = rate_limited_logger()
        self.sink = sink if sink is not None else MemorySink(max_events)
        self.workers = workers
        self.clock = clock
        self._hooks: tuple = ()
        huey = hueys[0]
        self._header = make_header(huey=getattr(huey, "name", None),
                                   storage=type(huey.storage).__name__,
                                   huey_class=type(huey).__name__)
        if len(hueys) > 1:
            self._header["queues"] = [getattr(h, "name", None) for h in hueys]

    @property
    def huey(self):
        """The (first) traced Huey instance."""
        return self.hueys[0]

    # -- lifecycle ------------------------------------------------------------
    @property
    def attached(self) -> bool:
        return bool(self._hooks)

    def attach(self) -> Tracer:
        """Start recording; attaching an attached tracer does nothing."""
        if not self._hooks:
            self._hooks = tuple(hook_for(h) for h in self.hueys)
            for hook in self._hooks:
                hook.add(self)
            self._header.setdefault("attached", self.clock())
            for hook in self._hooks:
                size = self._declared(hook.queue)
                if size:
                    self._record("pool", None, None, None, {"size": size}, hook.queue)
        return self

    def _declared(self, queue: Optional[str]) -> int:
        w = self.workers
        if isinstance(w, dict):
            return int(w.get(queue, 0) or 0) if queue is not None else 0
        return int(w or 0)

    def detach(self) -> None:
        """Stop recording and restore the Huey instances exactly."""
        hooks, self._hooks = self._hooks, ()
        for hook in hooks:
            hook.remove(self)

    def __enter__(self) -> Tracer:
        return self.attach()

    def __exit__(self, *exc) -> None:
        self.detach()

    # -- recording (hot path) ---------------------------------------------------
    # ``sink`` and ``clock`` stay plain-looking attributes, but assigning
    # either rebuilds ``_record``: one closure per tracer with every lookup
    # hoisted, which the hook calls once per event.
    @property
    def sink(self):
        return self._sink

    @sink.setter
    def sink(self, sink) -> None:
        self._sink = sink
        self._rebuild()

    @property
    def clock(self) -> Callable[[], float]:
        return self._clock

    @clock.setter
    def clock(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._rebuild()

    def _rebuild(self) -> None:
        sink, clock = getattr(self, "_sink", None), getattr(self, "_clock", None)
        if sink is None or clock is None:
            return
        failed = self._failed
        if getattr(type(sink), "append", None) is MemorySink.append:
            # A MemorySink whose append is not overridden records in one call.
            record = sink.recorder(clock, failed)
        else:
            # A sink without ``append`` fails (and is counted) at record time.
            append: Any = getattr(sink, "append", None)

            def record(kind, task_id, name, worker, data, queue=None):
                try:
                    append(Event(clock(), kind, task_id, name, worker, data, queue))
                except Exception:
                    failed("sink")
        self._record = record
        for hook in getattr(self, "_hooks", ()):
            hook.refresh()

    @property
    def capture_args(self) -> bool:
        return self._capture_args

    @capture_args.setter
    def capture_args(self, value: bool) -> None:
        self._capture_args = bool(value)
        for hook in getattr(self, "_hooks", ()):
            hook.refresh()

    def _failed(self, where: str) -> None:
        self.errors += 1
        self._log(f"hueyviz: {where} failed ({self.errors} failures so far); "
                  "Huey keeps running, the event is lost")

    # -- reading ---------------------------------------------------------------
    @property
    def dropped(self) -> int:
        return self.sink.dropped + self.errors

    @property
    def trace(self) -> Trace:
        """Snapshot of everything recorded so far."""
        return Trace(self.sink.events(), header=self._header, dropped=self.dropped)

    def wait_for(self, predicate: Callable[[Trace], bool], timeout: float,
                 poll: float = 0.01) -> bool:
        """Wait until ``predicate(self.trace)`` holds, at most ``timeout`` s.

        The predicate is re-evaluated only when new events arrived, so an
        expensive check (a diagnosis) runs a few times, not every poll.
        """
        deadline = time.monotonic() + timeout
        seen = -1
        idle = threading.Event()
        while True:
            n = len(self.sink) + self.sink.dropped
            if n != seen:
                seen = n
                if predicate(self.trace):
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            idle.wait(min(poll, remaining))

    def __repr__(self) -> str:
        state = "attached" if self.attached else "detached"
        return (f"<Tracer {state} huey={self._header.get('huey')!r} "
                f"events={len(self.sink)} dropped={self.dropped}>")


def _check_workers(workers: Workers) -> None:
    sizes = workers.values() if isinstance(workers, dict) else [workers]
    for n in sizes:
        if n is not None and (isinstance(n, bool) or not isinstance(n, int)
                              or not 0 <= n <= MAX_POOL):
            raise UsageError(f"workers= wants a pool size (a whole number from 0 to {MAX_POOL})"
                             f" or {{queue name: size}}, not {workers!r}")


def trace(*hueys, capture_args: bool = False, max_events: int = DEFAULT_MAX_EVENTS,
          sink=None, workers: Workers = None,
          clock: Callable[[], float] = time.time) -> Tracer:
    """Attach a :class:`Tracer` to one or more Huey instances and return it.

    Several instances (several queues, as django-huey runs them) are
    recorded into one trace on one clock.

    >>> from huey import MemoryHuey
    >>> huey = MemoryHuey()
    >>> @huey.task()
    ... def add(a, b):
    ...     return a + b
    >>> with trace(huey) as tracer:
    ...     result = add(1, 2)
    ...     _ = huey.execute(huey.dequeue())
    >>> [e.kind for e in tracer.trace]
    ['enqueued', 'executing', 'complete']
    """
    return Tracer(*hueys, capture_args=capture_args, max_events=max_events,
                  sink=sink, workers=workers, clock=clock).attach()
