"""Event records: the one vocabulary every other module speaks.

An :class:`Event` is a small immutable tuple so that the tracer's hot path
only builds a tuple and appends it.  Its JSON form is one flat object per
line (see :func:`to_json_dict` / :func:`from_json_dict`).

Every event names its *queue*: the name of the Huey instance it happened
in.  The workers of the consumers of one queue form one pool; several
queues are several pools.
"""
from __future__ import annotations

import math
from json.encoder import encode_basestring_ascii as _esc
from typing import Any, Callable, Dict, NamedTuple, Optional, Tuple

import msgspec

from .errors import TraceFormatError

__all__ = [
    "KINDS",
    "OUTCOMES",
    "Event",
    "TraceFormatError",
    "Worker",
    "check_data",
    "from_json_dict",
    "to_json_dict",
    "to_json_line",
]

# Outcomes Huey signals for one execution attempt.  ``retrying`` follows an
# outcome when the task will run again.
OUTCOMES = frozenset({
    "complete", "error", "revoked", "expired", "locked", "canceled",
    "interrupted", "timeout", "rate-limited",
})
# ``read``: a ``Result.get`` that found the result without waiting (a
# dependency all the same), or a non-blocking read that removed a result.
TASK_KINDS = frozenset({"enqueued", "scheduled", "executing", "retrying",
                        "block", "unblock", "read"}) | OUTCOMES
SYSTEM_KINDS = frozenset({"worker_up", "worker_down", "pool", "dropped",
                          "lost", "consumer", "alive"})
KINDS = TASK_KINDS | SYSTEM_KINDS
COMMON = ("t", "kind", "task", "name", "host", "pid", "worker", "queue")
MAX_LIST = 1024        # longest list field (a pipeline's ``then``) accepted
# Times and durations beyond this many seconds (3e12 years) are rejected:
# every sum and difference of two of them stays finite, so no view divides
# by an infinite span.  Nanosecond Unix times (1.7e18) still load, with a
# warning that the clock is implausible (``core/trace.py``).
MAX_SECONDS = 1e20
MAX_COUNT = 2 ** 63 - 1    # counts: what a 64-bit integer column or orjson holds
MAX_POOL = 1_000_000       # workers one event may announce


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


class Event(msgspec.Struct, frozen=True, gc=False, order=True):
    """One thing that happened.

    ``t`` is seconds on the trace's clock (Unix time unless a test injects
    another clock); ``task`` and ``name`` are the Huey task id and task
    name, or ``None`` for pool events and for waits by non-task code;
    ``data`` holds the kind-specific fields, or ``None``; ``queue`` is the
    name of the Huey instance (``None``: not recorded, one default queue).

    A frozen msgspec struct rather than a tuple: a trace holds millions of
    them, and a struct is a quarter smaller (72 bytes), is built in C from
    columns (``map(Event, *columns)``), reads its fields at slot speed and is
    never scanned by the cyclic garbage collector (it refers to no other
    event, so it is in no cycle).
    """

    t: float
    kind: str
    task: Optional[str]
    name: Optional[str]
    worker: Optional[Worker]
    data: Optional[dict]
    queue: Optional[str] = None

    def get(self, key: str, default: Any = None) -> Any:
        return default if self.data is None else self.data.get(key, default)

    def _replace(self, **changes: Any) -> Event:
        """A copy with ``changes`` (as a named tuple's ``_replace``)."""
        return msgspec.structs.replace(self, **changes)


def to_json_dict(event: Event) -> dict:
    """Flat JSON object for one event (kind-specific fields inline)."""
    out: dict = {"t": event.t, "kind": event.kind}
    if event.task is not None:
        out["task"] = event.task
    if event.name is not None:
        out["name"] = event.name
    if event.queue is not None:
        out["queue"] = event.queue
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


_KIND_JSON = {k: f'"{k}"' for k in KINDS}
_tails: Dict[Tuple[Optional[str], Optional[Worker]], str] = {}


def to_json_line(event: Event) -> Optional[str]:
    """:func:`to_json_dict` as JSON text (ASCII), written at once for the
    events a tracer records most: a task's, of a known kind, with no
    kind-specific fields.  None for any other event (encode its dict).

    >>> to_json_line(Event(1.5, "executing", "a1", "job", Worker("h", 7, "W-1"), None, "q"))
    '{"t":1.5,"kind":"executing","task":"a1","name":"job","queue":"q","host":"h","pid":7,"worker":"W-1"}'
    """
    kind = _KIND_JSON.get(event.kind)
    if kind is None or event.data or event.task is None or event.name is None:
        return None
    key = (event.queue, event.worker)
    tail = _tails.get(key)
    if tail is None:
        # What follows the name is the same for every event of one worker.
        q, w = key
        tail = ("" if q is None else f',"queue":{_esc(q)}') + (
            "" if w is None else f',"host":{_esc(w.host)},"pid":{int(w.pid)},"worker":{_esc(w.name)}')
        if len(_tails) > 10_000:
            _tails.clear()
        _tails[key] = tail
    return f'{{"t":{event.t!r},"kind":{kind},"task":{_esc(event.task)},"name":{_esc(event.name)}{tail}}}'


# -- validation ------------------------------------------------------------------
def _bad(key: str, want: str, value: Any) -> TraceFormatError:
    shown = repr(value)
    if len(shown) > 40:
        shown = shown[:37] + "..."
    return TraceFormatError(f"field {key!r} must be {want}, got {shown}")


def _string(key: str, v: Any) -> Any:
    if type(v) is not str:
        raise _bad(key, "a string", v)
    return v


def _count(key: str, v: Any) -> Any:
    if type(v) is not int or not 0 <= v <= MAX_COUNT:
        raise _bad(key, "a whole number >= 0", v)
    return v


def _workers(key: str, v: Any) -> Any:
    if type(v) is not int or not 0 <= v <= MAX_POOL:
        raise _bad(key, f"a whole number of workers from 0 to {MAX_POOL}", v)
    return v


def _real(v: Any) -> Optional[float]:
    """``v`` as a finite float, or None (bools, strings, NaN, infinities, ints
    too large for a float)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except OverflowError:
        return None
    return f if math.isfinite(f) else None


def _seconds(key: str, v: Any) -> Any:
    if v is None:
        return v
    f = _real(v)
    if f is None or not 0 <= f <= MAX_SECONDS:
        raise _bad(key, "a finite number of seconds >= 0", v)
    return f


def _number(key: str, v: Any) -> Any:
    f = _real(v)
    if f is None or abs(f) > MAX_SECONDS:
        raise _bad(key, "a finite number", v)
    return v


def _flag(key: str, v: Any) -> Any:
    if type(v) is not bool:
        raise _bad(key, "true or false", v)
    return v


def _ids(key: str, v: Any) -> Any:
    if type(v) is not list or len(v) > MAX_LIST or any(type(x) is not str for x in v):
        raise _bad(key, f"a list of at most {MAX_LIST} task ids", v)
    return v


_Check = Callable[[str, Any], Any]
# What each kind-specific field holds, by its name (a name means the same
# thing whatever the kind): the one table behind the checks below and the
# typed decoder of :mod:`hueyviz.core.decoder`.
#   string   a string                      number   a finite number, kept as given
#   seconds  finite seconds >= 0, or null  flag     true or false
#   ids      a list of task ids            count    a whole number >= 0
#   workers  a pool size (0 to MAX_POOL)
FIELD_TYPES: Dict[str, str] = {
    "parent": "string", "via": "string", "then": "ids", "then_names": "ids", "eta": "string",
    "priority": "number", "args": "string",
    "waits_on": "string", "timeout": "seconds", "site": "string", "waits_on_queue": "string",
    "outcome": "string", "stored": "flag", "error": "string", "message": "string",
    "size": "workers", "workers": "workers", "worker_type": "string",
    "count": "count", "proc": "string", "reason": "string", "silent": "seconds",
    "sent": "count", "consumed": "flag", "blocking": "flag", "preserve": "flag",
    "backoff": "number", "max_delay": "seconds", "initial_delay": "seconds",
    "task_timeout": "seconds",
}
# Known fields per kind, and the ones it must have.  Other fields are kept
# as they are (a newer hueyviz may add some) and never read.
KIND_FIELDS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    "enqueued": (("parent", "via", "then", "then_names", "eta", "priority", "args"), ()),
    "scheduled": (("eta", "parent"), ()),
    "block": (("waits_on", "timeout", "site", "waits_on_queue", "backoff", "max_delay",
               "preserve", "task_timeout"), ("waits_on",)),
    "unblock": (("waits_on", "outcome", "consumed"), ("waits_on",)),
    "read": (("waits_on", "site", "waits_on_queue", "consumed", "blocking", "timeout",
              "backoff", "max_delay"), ("waits_on",)),
    "complete": (("stored",), ()),
    "error": (("error", "message"), ()),
    "pool": (("size",), ("size",)),
    "consumer": (("workers", "worker_type", "initial_delay", "backoff", "max_delay"),
                 ("workers",)),
    "dropped": (("count", "proc", "reason"), ("count",)),
    "lost": (("silent",), ()),
    "alive": (("proc", "sent"), ()),        # meta, dropped: read.follower
}
_CHECKS: Dict[str, _Check] = {
    "string": _string, "seconds": _seconds, "number": _number, "flag": _flag,
    "ids": _ids, "count": _count, "workers": _workers,
}
_SCHEMA: Dict[str, Tuple[Dict[str, _Check], Tuple[str, ...]]] = {
    kind: ({f: _CHECKS[FIELD_TYPES[f]] for f in fields}, required)
    for kind, (fields, required) in KIND_FIELDS.items()
}


def check_data(kind: str, data: Optional[dict]) -> Optional[dict]:
    """Check the kind-specific fields of an event; returns them (numbers
    normalised) or raises :class:`TraceFormatError` naming the field.

    >>> check_data("block", {"waits_on": "a1", "timeout": 2})
    {'waits_on': 'a1', 'timeout': 2.0}
    >>> check_data("pool", {"size": "x"})
    Traceback (most recent call last):
    ...
    hueyviz.core.errors.TraceFormatError: field 'size' must be a whole number of workers from 0 to 1000000, got 'x'
    """
    schema = _SCHEMA.get(kind)
    if schema is None:
        return data
    checks, required = schema
    for key in required:
        if data is None or data.get(key) is None:
            raise TraceFormatError(f"{kind} event without field {key!r}")
    if data:
        for key in data:            # usually one or two fields: walk those
            check = checks.get(key)
            if check is not None:
                data[key] = check(key, data[key])
    return data


def _opt_str(obj: dict, key: str, strings: Optional[dict]) -> Optional[str]:
    v = obj.get(key)
    if v is None:
        return None
    if type(v) is not str:
        raise _bad(key, "a string", v)
    return v if strings is None else strings.setdefault(v, v)


_REQUIRED = frozenset(k for k, (_, req) in _SCHEMA.items() if req)


def from_json_dict(obj: Any, workers: Optional[dict] = None,
                   strings: Optional[dict] = None, queue: Optional[str] = None) -> Event:
    """Validate and build an :class:`Event` from its JSON object.

    ``obj`` is consumed: its kind-specific fields stay in it and it becomes
    the event's ``data``, so a load builds no second dict per line.
    ``workers`` and ``strings`` intern :class:`Worker` values and task ids
    and names across a load, so a million events share them.  ``queue``
    is used when the object names none (files written before queues were
    recorded, or a source that knows its queue).
    Raises :class:`TraceFormatError` naming the bad field.

    >>> from_json_dict({"t": 1, "kind": "enqueued", "task": "a", "queue": "q"}).queue
    'q'
    >>> from_json_dict({"t": float("nan"), "kind": "pool", "size": 1})
    Traceback (most recent call last):
    ...
    hueyviz.core.errors.TraceFormatError: field 't' must be a finite number of seconds, at most 1e20 either way, got nan
    """
    # The fast path takes events as the tracer writes them (a million lines
    # a load); anything unusual takes the careful path, which says what is
    # wrong.  Both build the same Event.
    if type(obj) is dict and workers is not None and strings is not None:
        e = _well_formed(obj, workers, strings, queue)
        if e is not None:
            return e
    return _from_json_dict(obj, workers, strings, queue)


_FAST = ("t", "kind", "task", "name", "queue", "worker", "host", "pid")


def _well_formed(obj: dict, workers: dict, strings: dict, queue: Optional[str]
                 ) -> Optional[Event]:
    """The Event of an unsurprising ``obj``, or None (``obj`` unchanged)."""
    get = obj.get
    t = get("t")
    kind = get("kind")
    task = get("task")
    name = get("name")
    q = get("queue")
    wname = get("worker")
    if not (type(t) is float and -MAX_SECONDS <= t <= MAX_SECONDS and type(kind) is str
            and kind and (task is None or type(task) is str)
            and (name is None or type(name) is str) and (q is None or type(q) is str)):
        return None
    if wname is not None:
        host, pid = get("host", ""), get("pid", 0)
        if type(host) is not str or type(pid) is not int or type(wname) is not str:
            return None
        worker = workers.get((host, pid, wname))
        if worker is None:
            return None        # a new worker: the careful path checks and interns it
    else:
        worker = None
    pop = obj.pop
    for k in _FAST:
        pop(k, None)
    sd = strings.setdefault
    if task is not None:
        task = sd(task, task)
    if name is not None:
        name = sd(name, name)
    q = sd(q, q) if q is not None else queue
    if obj:
        check_data(kind, obj)
        v = obj.get("waits_on")
        if type(v) is str:
            obj["waits_on"] = sd(v, v)
        v = obj.get("parent")
        if type(v) is str:
            obj["parent"] = sd(v, v)
        return Event(t, kind, task, name, worker, obj, q)
    if kind in _REQUIRED:
        check_data(kind, None)         # raises: a required field is missing
    return Event(t, kind, task, name, worker, None, q)


def _from_json_dict(obj: Any, workers: Optional[dict] = None,
                    strings: Optional[dict] = None, queue: Optional[str] = None) -> Event:
    if not isinstance(obj, dict):
        raise TraceFormatError(f"event must be a JSON object, got {type(obj).__name__}")
    get = obj.get
    t = get("t")
    if type(t) is not float or not -MAX_SECONDS <= t <= MAX_SECONDS:   # NaN fails too
        t = _real(t)
        if t is None or abs(t) > MAX_SECONDS:
            raise _bad("t", "a finite number of seconds, at most 1e20 either way",
                       get("t"))
    kind = get("kind")
    if type(kind) is not str or not kind:
        raise TraceFormatError("missing field 'kind'")
    task = _opt_str(obj, "task", strings)
    name = _opt_str(obj, "name", strings)
    q = _opt_str(obj, "queue", strings)
    worker = None
    wname = get("worker")
    if wname is not None:
        host, pid = get("host", ""), get("pid", 0)
        if type(wname) is not str or type(host) is not str or type(pid) is not int or pid < 0:
            raise TraceFormatError("worker identity must be host (string), pid (whole "
                                   "number >= 0), worker (string)")
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
    data = check_data(kind, obj or None)
    if data is not None:
        for k in ("waits_on", "parent"):
            v = data.get(k)
            if type(v) is str and strings is not None:   # other kinds keep any value
                data[k] = strings.setdefault(v, v)
    return Event(t, kind, task, name, worker, data, q if q is not None else queue)
