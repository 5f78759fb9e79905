"""Worker lanes: per worker, the executions it ran and the waits inside them."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, Iterable, List, Optional

from ..core.event import OUTCOMES, Event, Worker
from .replay import Wait

__all__ = ["Span", "Lane", "build_lanes"]


@dataclass(slots=True)
class Span:
    """One execution of a task on a worker."""

    task: str
    name: Optional[str]
    start: float
    end: Optional[float]          # None: still running when the trace ends
    outcome: Optional[str]        # complete, error, retrying, lost, ... or None
    depth: int = 0                # >0: nested execution (immediate mode)
    blocked: List[Wait] = field(default_factory=list)


@dataclass(slots=True)
class Lane:
    worker: Worker
    spans: List[Span] = field(default_factory=list)
    up: Optional[float] = None
    down: Optional[float] = None


def build_lanes(events: Iterable[Event]) -> Dict[str, Lane]:
    """Per worker (keyed ``host/pid/name``), the spans it ran, in order."""
    lanes: Dict[str, Lane] = {}
    open_: Dict[Worker, List[Span]] = {}
    by_task: Dict[str, Span] = {}

    def lane(w: Worker) -> Lane:
        ln = lanes.get(w.key)
        if ln is None:
            ln = lanes[w.key] = Lane(w)
        return ln

    for e in events:
        k = e.kind
        if k == "executing" and e.worker is not None:
            stack = open_.setdefault(e.worker, [])
            sp = Span(e.task, e.name, e.t, None, None, depth=len(stack))
            stack.append(sp)
            lane(e.worker).spans.append(sp)
            by_task[e.task] = sp
        elif k in OUTCOMES or k == "retrying":
            sp = by_task.get(e.task)
            if sp is None:
                continue
            if k == "retrying":
                sp.outcome = "retrying"
                continue
            sp.end, sp.outcome = e.t, k
            stack = open_.get(e.worker) if e.worker else None
            if stack and sp in stack:
                stack.remove(sp)
            for w in sp.blocked:
                if w.until is None:
                    w.until, w.outcome = e.t, "abandoned"
            del by_task[e.task]
        elif k == "block" and e.task is not None:
            sp = by_task.get(e.task)
            if sp is not None:
                sp.blocked.append(Wait(e.get("waits_on"), e.t, e.worker, e.task,
                                       e.get("timeout"), e.get("site")))
        elif k == "unblock" and e.task is not None:
            sp = by_task.get(e.task)
            if sp is not None and sp.blocked and sp.blocked[-1].until is None:
                sp.blocked[-1].until = e.t
                sp.blocked[-1].outcome = e.get("outcome", "result")
        elif k == "worker_up" and e.worker is not None:
            lane(e.worker).up = e.t
        elif k == "worker_down" and e.worker is not None:
            lane(e.worker).down = e.t
        elif k == "lost" and e.worker is not None:
            for sp in open_.pop(e.worker, []):
                sp.end, sp.outcome = e.t, "lost"
                by_task.pop(sp.task, None)
    return lanes
