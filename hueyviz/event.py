"""Event records: the one vocabulary every other module speaks.

An :class:`Event` is a small immutable tuple so that the tracer's hot path
only builds a tuple and appends it.  Its JSON form is one flat object per
line (see :func:`to_json_dict` / :func:`from_json_dict`).
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple, Optional

__all__ = [
    "Event", "Worker", "KINDS", "OUTCOMES", "TraceFormatError",
    "to_json_dict", "from_json_dict",
]

# Outcomes Huey signals for one execution attempt.  ``retrying`` follows an
# outcome when the task will run again.
OUTCOMES = frozenset({
    "complete", "error", "revoked", "expired", "locked", "canceled",
    "interrupted", "timeout", "rate-limited",
})
TASK_KINDS = frozenset({"enqueued", "scheduled", "executing", "retrying",
                        "block", "unblock"}) | OUTCOMES
SYSTEM_KINDS = frozenset({"worker_up", "worker_down", "pool", "dropped",
                          "lost", "consumer", "alive"})
KINDS = TASK_KINDS | SYSTEM_KINDS

# Fields every kind needs beyond the common ones; checked on load so that a
# trace with a block that names no awaited task fails loudly, not later.
REQUIRED = {
    "block": ("waits_on",),
    "unblock": ("waits_on",),
    "pool": ("size",),
    "consumer": ("workers",),
    "dropped": ("count",),
}
COMMON = ("t", "kind", "task", "name", "host", "pid", "worker")


class Worker(NamedTuple):
    """Where an event happened: one thread, process or greenlet."""

    host: str
    pid: int
    name: str

    @property
    def key(self) -> str:
        return f"{self.host}/{self.pid}/{self.name}"

    def __str__(self) -> str:
        return self.name


class Event(NamedTuple):
    """One thing that happened.

    ``t`` is seconds on the trace's clock (Unix time unless a test injects
    another clock); ``task`` and ``name`` are the Huey task id and task
    name, or ``None`` for pool events and for waits by non-task code;
    ``data`` holds the kind-specific fields, or ``None``.
    """

    t: float
    kind: str
    task: Optional[str]
    name: Optional[str]
    worker: Optional[Worker]
    data: Optional[dict]

    def get(self, key: str, default: Any = None) -> Any:
        return default if self.data is None else self.data.get(key, default)


class TraceFormatError(ValueError):
    """A trace file or record that cannot be used, with where and why."""

    def __init__(self, message: str, line: Optional[int] = None,
                 source: Optional[str] = None):
        where = ""
        if source is not None:
            where = f"{source}"
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.line = line
        self.source = source


def to_json_dict(event: Event) -> dict:
    """Flat JSON object for one event (kind-specific fields inline)."""
    out: dict = {"t": event.t, "kind": event.kind}
    if event.task is not None:
        out["task"] = event.task
    if event.name is not None:
        out["name"] = event.name
    w = event.worker
    if w is not None:
        out["host"] = w.host
        out["pid"] = w.pid
        out["worker"] = w.name
    if event.data:
        for k, v in event.data.items():
            if k not in out:
                out[k] = v
    return out


def _opt_str(obj: dict, key: str) -> Optional[str]:
    v = obj.get(key)
    if v is None or isinstance(v, str):
        return v
    raise TraceFormatError(f"field {key!r} must be a string, got {type(v).__name__}")


def from_json_dict(obj: Any, workers: Optional[dict] = None) -> Event:
    """Validate and build an :class:`Event` from its JSON object.

    ``workers`` interns :class:`Worker` values across a load so that a
    million events share a handful of worker objects.
    Raises :class:`TraceFormatError` naming the bad field.
    """
    if not isinstance(obj, dict):
        raise TraceFormatError(f"event must be a JSON object, got {type(obj).__name__}")
    t = obj.get("t")
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        raise TraceFormatError("missing or non-numeric time field 't'")
    kind = obj.get("kind")
    if not isinstance(kind, str) or not kind:
        raise TraceFormatError("missing field 'kind'")
    for key in REQUIRED.get(kind, ()):
        if obj.get(key) is None:
            raise TraceFormatError(f"{kind} event without field {key!r}")
    task = _opt_str(obj, "task")
    name = _opt_str(obj, "name")
    worker = None
    wname = obj.get("worker")
    if wname is not None:
        host, pid = obj.get("host", ""), obj.get("pid", 0)
        if not isinstance(wname, str) or not isinstance(host, str) or \
                isinstance(pid, bool) or not isinstance(pid, int):
            raise TraceFormatError("worker identity must be host (string), pid (integer), worker (string)")
        key = (host, pid, wname)
        if workers is None:
            worker = Worker(*key)
        else:
            worker = workers.get(key)
            if worker is None:
                worker = workers[key] = Worker(*key)
    data = {k: v for k, v in obj.items() if k not in COMMON} or None
    return Event(float(t), kind, task, name, worker, data)
