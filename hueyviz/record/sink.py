"""Where recorded events go.

A sink's ``append`` runs on Huey's worker threads, so it must be O(1), never
block on I/O and never raise.  Every sink is bounded and counts what it had
to drop (DESIGN.md rule 2).
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Iterable, Optional, Tuple

from ..core.collector import collector_paused
from ..core.event import Event

__all__ = ["DEFAULT_MAX_EVENTS", "MemorySink"]

DEFAULT_MAX_EVENTS = 1_000_000

_new_event = tuple.__new__


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

    # Storage: each event is kept as a plain tuple ``(t, kind, task, name,
    # worker index, data, queue)``, not as an Event.  A plain tuple of atomic values
    # is built by one bytecode and the cyclic GC stops tracking it at its
    # first pass; an Event (a tuple *subclass*) costs three allocations to
    # build and stays tracked for good, so every full collection rescans the
    # whole ring -- measured, that was ~40% of the tracer's recording cost.
    # Events are rebuilt when read (events()).

    def __init__(self, max_events: int = DEFAULT_MAX_EVENTS):
        if max_events < 1:
            raise ValueError("max_events must be at least 1")
        self.max_events = max_events
        self._buf: deque = deque(maxlen=max_events)
        self.dropped = 0
        self._workers: list = []           # worker index -> Worker
        self._worker_ids: dict = {}        # Worker -> index
        self._lock = threading.Lock()      # only for registering a new worker

    def append(self, event: Event) -> None:
        self.append_fields(*event)

    def append_fields(self, t, kind, task, name, worker, data, queue=None) -> None:
        """``append(Event(t, kind, task, name, worker, data, queue))`` without
        building the Event (the tracer's hot path)."""
        buf = self._buf
        if len(buf) == self.max_events:
            self.dropped += 1
        if worker is not None:
            wid = self._worker_ids.get(worker)
            worker = self._add_worker(worker) if wid is None else wid
        buf.append((t, kind, task, name, worker, data, queue))

    def _add_worker(self, worker) -> int:
        with self._lock:
            wid = self._worker_ids.get(worker)
            if wid is None:
                wid = len(self._workers)
                self._workers.append(worker)      # before the id is published
                self._worker_ids[worker] = wid
            return wid

    def extend(self, events: Iterable[Event]) -> None:
        for e in events:
            self.append(e)

    def events(self, last: Optional[int] = None) -> Tuple[Event, ...]:
        """The kept events, oldest first (only the newest ``last`` if given).

        Rebuilding Events costs ~0.25 s per million; a reader that polls for
        new events should ask for ``last=<number of new events>``.
        """
        # tuple(deque) runs in C without releasing the GIL, so it is a
        # consistent snapshot even while workers append.
        raw = tuple(self._buf)
        if last is not None:
            raw = raw[max(0, len(raw) - last):] if last > 0 else ()
        workers = self._workers
        new = _new_event
        with collector_paused():
            return tuple([new(Event, (t, kind, task, name,
                                      None if w is None else workers[w], data, q))
                          for t, kind, task, name, w, data, q in raw])

    def clear(self) -> None:
        self._buf.clear()
        self.dropped = 0

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._buf)
