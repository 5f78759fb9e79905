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


_new_event = tuple.__new__


def _opt_str(obj: dict, key: str, strings: Optional[dict]) -> Optional[str]:
    v = obj.get(key)
    if v is None:
        return None
    if type(v) is not str:
        raise TraceFormatError(f"field {key!r} must be a string, got {type(v).__name__}")
    return v if strings is None else strings.setdefault(v, v)


def from_json_dict(obj: Any, workers: Optional[dict] = None,
                   strings: Optional[dict] = None) -> Event:
    """Validate and build an :class:`Event` from its JSON object.

    ``obj`` is consumed: its kind-specific fields stay in it and it becomes
    the event's ``data``, so a load builds no second dict per line.
    ``workers`` and ``strings`` intern :class:`Worker` values and task ids
    and names across a load, so a million events share them.
    Raises :class:`TraceFormatError` naming the bad field.
    """
    if not isinstance(obj, dict):
        raise TraceFormatError(f"event must be a JSON object, got {type(obj).__name__}")
    get = obj.get
    t = get("t")
    if type(t) is not float:
        if isinstance(t, bool) or not isinstance(t, (int, float)):
            raise TraceFormatError("missing or non-numeric time field 't'")
        try:
            t = float(t)
        except OverflowError:
            t = math.inf
    if not math.isfinite(t):
        raise TraceFormatError("missing or non-numeric time field 't'")
    kind = get("kind")
    if type(kind) is not str or not kind:
        raise TraceFormatError("missing field 'kind'")
    required = REQUIRED.get(kind)
    if required is not None:
        for key in required:
            if get(key) is None:
                raise TraceFormatError(f"{kind} event without field {key!r}")
    task = _opt_str(obj, "task", strings)
    name = _opt_str(obj, "name", strings)
    worker = None
    wname = get("worker")
    if wname is not None:
        host, pid = get("host", ""), get("pid", 0)
        if type(wname) is not str or type(host) is not str or type(pid) is not int:
            raise TraceFormatError("worker identity must be host (string), pid (integer), worker (string)")
        key = (host, pid, wname)
        if workers is None:
            worker = Worker(*key)
        else:
            worker = workers.get(key)
            if worker is None:
                worker = workers[key] = Worker(*key)
    pop = obj.pop
    for k in COMMON:
        pop(k, None)
    # tuple.__new__ skips NamedTuple.__new__'s Python frame: same type, same fields.
    return _new_event(Event, (t, kind, task, name, worker, obj or None))
