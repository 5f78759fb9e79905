"""The records a diagnosis is made of: wait edges, knots, findings, the verdict.

Plain frozen data, turned into JSON only at the edges (``to_dict``);
computing them is :mod:`hueyviz.analysis.detector`'s job.  Knot items are
typed (:class:`KnotWait`, :class:`KnotNeed`); they also answer
``item["key"]`` and ``item.get("key")`` with their JSON fields, as the
dicts of earlier versions did.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Dict, Optional, Tuple, Union

__all__ = [
    "VERDICTS",
    "Diagnosis",
    "Edge",
    "Finding",
    "KnotItem",
    "KnotNeed",
    "KnotWait",
    "QueueCount",
]

VERDICTS = ("ok", "deadlock", "stall", "hang")


class _Fields:
    """Read-only mapping access to a record's JSON fields."""

    def to_dict(self) -> dict:
        raise NotImplementedError

    def __getitem__(self, key: str) -> Any:
        return self.to_dict()[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.to_dict().get(key, default)


@dataclass(frozen=True)
class Edge(_Fields):
    """A wait edge: ``waiter`` (task id, or None for non-task code) waits for
    ``waits_on`` while ``worker`` is held (None: holds no pool worker).
    ``queue`` is the waiter's queue, ``waits_on_queue`` the awaited task's."""

    waiter: Optional[str]
    waits_on: str
    waiter_name: Optional[str]
    waits_on_name: Optional[str]
    worker: Optional[str]
    worker_key: Optional[str] = None
    since: Optional[float] = None
    timeout: Optional[float] = None
    site: Optional[str] = None
    queue: Optional[str] = None
    waits_on_queue: Optional[str] = None

    def to_dict(self) -> dict:
        return {"waiter": self.waiter, "waits_on": self.waits_on,
                "waiter_name": self.waiter_name, "waits_on_name": self.waits_on_name,
                "worker": self.worker, "worker_key": self.worker_key,
                "since": self.since, "timeout": self.timeout, "site": self.site,
                "queue": self.queue, "waits_on_queue": self.waits_on_queue}


@dataclass(frozen=True)
class KnotWait(_Fields):
    """A wait that is part of a knot, and the state of what it waits for."""

    edge: Edge
    waits_on_state: str
    kind: str = "waits_for"

    def to_dict(self) -> dict:
        d = self.edge.to_dict()
        d["kind"] = self.kind
        d["waits_on_state"] = self.waits_on_state
        return d


@dataclass(frozen=True)
class KnotNeed(_Fields):
    """A queued task the knot waits for, that needs a worker of its queue."""

    task: str
    name: Optional[str]
    queue_position: Optional[int]
    queue: Optional[str] = None
    kind: str = "needs_worker"

    def to_dict(self) -> dict:
        return {"kind": self.kind, "task": self.task, "name": self.name,
                "queue_position": self.queue_position, "queue": self.queue}


KnotItem = Union[KnotWait, KnotNeed]


@dataclass(frozen=True)
class QueueCount:
    """One queue's pool at a finding: its size, how many workers are
    blocked, and whether the size was announced (else inferred)."""

    total: int
    blocked: int
    exact: bool = True

    def to_dict(self) -> dict:
        return {"total": self.total, "blocked": self.blocked, "exact": self.exact}


def _queues_dict(queues: Dict[Optional[str], QueueCount]) -> dict:
    return {("" if q is None else q): c.to_dict() for q, c in queues.items()}


@dataclass(frozen=True)
class Finding:
    """One deadlock, stall or hang, as first seen at time ``at``.

    ``workers`` sums the pools involved (``total``, ``blocked``);
    ``queues`` has them per queue.  ``exact`` is False when a pool's size
    was inferred from the workers seen.
    """

    verdict: str
    at: float
    culprit: Optional[Edge]
    knot: Tuple[KnotItem, ...]
    workers: Dict[str, int]
    message: str
    ends: Optional[float] = None      # stall: when the knot dissolves
    notes: Tuple[str, ...] = ()
    queues: Dict[Optional[str], QueueCount] = field(default_factory=dict)
    exact: bool = True

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "at": self.at,
                "culprit": self.culprit.to_dict() if self.culprit else None,
                "knot": [k.to_dict() for k in self.knot], "workers": dict(self.workers),
                "queues": _queues_dict(self.queues), "exact": self.exact,
                "message": self.message, "ends": self.ends, "notes": list(self.notes)}


@dataclass(frozen=True)
class Diagnosis:
    """The verdict on a trace: the first finding, and the others.

    ``verdict`` is ``ok``, ``deadlock``, ``stall`` or ``hang``; ``at``,
    ``culprit``, ``knot``, ``workers`` and ``message`` describe the first
    finding (or the end state when ``ok``).
    """

    verdict: str
    at: Optional[float]
    culprit: Optional[Edge]
    knot: Tuple[KnotItem, ...]
    workers: Dict[str, int]
    message: str
    findings: Tuple[Finding, ...] = ()
    dropped: int = 0
    start: Optional[float] = None
    notes: Tuple[str, ...] = ()
    queues: Dict[Optional[str], QueueCount] = field(default_factory=dict)
    exact: bool = True

    @property
    def ok(self) -> bool:
        return self.verdict == "ok"

    @property
    def finding(self) -> Optional[Finding]:
        return self.findings[0] if self.findings else None

    def to_dict(self) -> dict:
        return {
            "verdict": self.verdict, "at": self.at,
            "culprit": self.culprit.to_dict() if self.culprit else None,
            "knot": [k.to_dict() for k in self.knot], "workers": dict(self.workers),
            "queues": _queues_dict(self.queues), "exact": self.exact,
            "message": self.message,
            "findings": [f.to_dict() for f in self.findings],
            "dropped": self.dropped, "start": self.start, "notes": list(self.notes),
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    def __str__(self) -> str:
        return self.message

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The one sanctioned upward reach: drawing lives above the analysis.
        from ..views import mimebundle
        return mimebundle(self)
