"""Worker lanes: per worker, the executions it ran and the waits inside them.

Read off the :class:`~hueyviz.analysis.replay.History` of one replay pass:
a lane is every :class:`~hueyviz.analysis.replay.Span` of one worker slot.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ..core.event import Event, Worker
from .replay import History, Replay, Span

__all__ = ["Lane", "Span", "build_lanes", "lane_key", "lanes_of"]


@dataclass(slots=True)
class Lane:
    worker: Worker
    spans: List[Span] = field(default_factory=list)
    up: Optional[float] = None
    down: Optional[float] = None
    queue: Optional[str] = None


def lane_key(queue: Optional[str], worker: Worker, queues: int = 1) -> str:
    """``host/pid/name``, prefixed with the queue when there are several."""
    return worker.key if queues <= 1 else f"{queue}:{worker.key}"


def lanes_of(history: History) -> Dict[str, Lane]:
    """Per worker slot, the spans it ran, in start order."""
    queues = {sp.queue for sp in history.spans} | {q for q, _ in history.up}
    n = len(queues)
    lanes: Dict[str, Lane] = {}

    def lane(queue: Optional[str], w: Worker) -> Lane:
        key = lane_key(queue, w, n)
        ln = lanes.get(key)
        if ln is None:
            ln = lanes[key] = Lane(w, queue=queue)
        return ln

    for (q, w), t in history.up.items():
        lane(q, w).up = t
    for sp in history.spans:
        if sp.worker is not None:
            lane(sp.queue, sp.worker).spans.append(sp)
    for (q, w), t in history.down.items():
        lane(q, w).down = t
    return lanes


def build_lanes(events: Iterable[Event]) -> Dict[str, Lane]:
    """Per worker (keyed ``host/pid/name``; ``queue:host/pid/name`` when the
    trace has several queues), the spans it ran, in order."""
    rp = Replay(history=True)
    rp.apply_all(events)
    assert rp.history is not None
    return lanes_of(rp.history)
