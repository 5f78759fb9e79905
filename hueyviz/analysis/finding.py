"""The records a diagnosis is made of: wait edges, findings, the verdict.

Plain frozen data with JSON forms; computing them is
:mod:`hueyviz.analysis`'s job.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

__all__ = ["Edge", "Finding", "Diagnosis", "VERDICTS"]

VERDICTS = ("ok", "deadlock", "stall", "hang")


@dataclass(frozen=True)
class Edge:
    """A wait edge: ``waiter`` (task id, or None for non-task code) waits for
    ``waits_on`` while ``worker`` is held (None: holds no pool worker)."""

    waiter: Optional[str]
    waits_on: str
    waiter_name: Optional[str]
    waits_on_name: Optional[str]
    worker: Optional[str]
    worker_key: Optional[str] = None
    since: Optional[float] = None
    timeout: Optional[float] = None
    site: Optional[str] = None

    def to_dict(self) -> dict:
        return {"waiter": self.waiter, "waits_on": self.waits_on,
                "waiter_name": self.waiter_name, "waits_on_name": self.waits_on_name,
                "worker": self.worker, "worker_key": self.worker_key,
                "since": self.since, "timeout": self.timeout, "site": self.site}


@dataclass(frozen=True)
class Finding:
    """One deadlock, stall or hang, as first seen at time ``at``."""

    verdict: str
    at: float
    culprit: Optional[Edge]
    knot: Tuple[dict, ...]
    workers: Dict[str, int]
    message: str
    ends: Optional[float] = None      # stall: when the knot dissolves
    notes: Tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"verdict": self.verdict, "at": self.at,
                "culprit": self.culprit.to_dict() if self.culprit else None,
                "knot": list(self.knot), "workers": dict(self.workers),
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
    knot: Tuple[dict, ...]
    workers: Dict[str, int]
    message: str
    findings: Tuple[Finding, ...] = ()
    dropped: int = 0
    start: Optional[float] = None
    notes: Tuple[str, ...] = field(default=())

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
            "knot": list(self.knot), "workers": dict(self.workers),
            "message": self.message,
            "findings": [f.to_dict() for f in self.findings],
            "dropped": self.dropped, "start": self.start, "notes": list(self.notes),
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **kw)

    def __str__(self) -> str:
        return self.message

    def _repr_mimebundle_(self, include=None, exclude=None):
        bundle = {"text/plain": self.message}
        try:
            # Imported here, not at the top: drawing is downstream of the
            # analysis (one-direction data flow), and a notebook without a
            # Graphviz engine still gets the text.
            from ..render.knot import render_diagnosis
            bundle["image/svg+xml"] = render_diagnosis(self)
        except (ImportError, RuntimeError):
            pass
        return bundle
