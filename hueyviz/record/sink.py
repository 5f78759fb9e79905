"""Where recorded events go.

A sink's ``append`` runs on Huey's worker threads, so it must be O(1), never
block on I/O and never raise.  Every sink is bounded and counts what it had
to drop (DESIGN.md rule 2).
"""
from __future__ import annotations

from collections import deque
from sys import intern
from typing import Callable, Iterable, Optional, Tuple

from ..core.event import Event
from . import hotpath

__all__ = ["DEFAULT_MAX_EVENTS", "MemorySink"]

DEFAULT_MAX_EVENTS = 1_000_000


class MemorySink:
    """In-process ring buffer that keeps the newest ``max_events`` events.

    Keeping the newest (not the oldest) is deliberate: when a queue hangs,
    the last events are the ones that explain it.  ``dropped`` counts the
    evicted ones and travels with every snapshot.

    >>> sink = MemorySink(max_events=2)
    >>> for i in range(3):
    ...     sink.append(Event(float(i), "pool", None, None, None, {"size": 1}))
    >>> [e.t for e in sink.events()], sink.dropped
    ([1.0, 2.0], 1)
    """

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS):
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self._buf: deque = deque(maxlen=max_events)
        self.dropped = 0

    def append(self, event: Event) -> None:
        buf = self._buf
        if len(buf) == self.max_events:
            self.dropped += 1
        buf.append(event)

    def append_fields(self, t, kind, task, name, worker, data, queue=None) -> None:
        """``append(Event(t, kind, task, name, worker, data, queue))`` in one
        call (the tracer's hot path)."""
        buf = self._buf
        if len(buf) == self.max_events:
            self.dropped += 1
        buf.append(Event(t, kind, task, name, worker, data, queue))

    def recorder(self, clock: Callable[[], float], failed: Callable[[str], None]) -> Callable:
        """The tracer's hot path into this ring: ``record(kind, task, name,
        worker, data, queue)`` stamps ``clock()`` and appends, in one call
        per event (``append_fields`` takes two); ``failed`` counts what
        could not be kept.  The C ``Recorder``, where built, does the same."""
        buf, most, sink = self._buf, self.max_events, self
        c = hotpath.active()
        if c is not None:
            return c.Recorder(buf, most, sink, clock, failed, Event)

        def record(kind, task, name, worker, data, queue=None):
            try:
                if len(buf) == most:
                    sink.dropped += 1
                # A worker's events carry the id of the task it unpickled, a
                # copy of the one the enqueue carried: one string per task
                # kept instead of two (an interned string dies with its events).
                buf.append(Event(clock(), kind, None if task is None else intern(task), name,
                                 worker, data, queue))
            except Exception:
                failed("sink")
        return record

    def extend(self, events: Iterable[Event]) -> None:
        for e in events:
            self.append(e)

    def events(self, last: Optional[int] = None) -> Tuple[Event, ...]:
        """The kept events, oldest first (only the newest ``last`` if given)."""
        # tuple(deque) runs in C without releasing the GIL, so it is a
        # consistent snapshot even while workers append.
        raw = tuple(self._buf)
        if last is not None:
            raw = raw[max(0, len(raw) - last):] if last > 0 else ()
        return raw

    def clear(self) -> None:
        self._buf.clear()
        self.dropped = 0

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._buf)
