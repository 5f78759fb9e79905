"""What a Huey storage holds right now, read through Huey's own API.

For ``hueyviz autopsy``: the pending queue in the order the workers will
take it (Huey's ``enqueued_items``: priority first where the storage
honours priorities), the schedule, and which results are stored.  Nothing
is consumed or written: messages are read with ``enqueued_items`` /
``scheduled_items`` and decoded with the instance's own serializer (so a
task whose module this process has not imported is still listed, where
``huey.pending()`` would skip it), results with ``has_data_for_key`` and
``peek_data``, never ``pop``; a revocation is read with ``peek_data``
rather than ``huey.is_revoked``, which deletes a revocation that expired.
"""
from __future__ import annotations

import datetime
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Iterable, List, Optional, Set, Tuple, TypeVar

from ..core.errors import SourceError

__all__ = ["StorageSnapshot", "StoredTask", "probe", "read_storage"]

TIMEOUT = 15.0          # seconds a storage call may take before it counts as unreachable
LIST_RESULTS = 200      # result keys listed when the store holds at most this many
_T = TypeVar("_T")


@dataclass(frozen=True)
class StoredTask:
    """A task message in the queue or the schedule."""

    id: str
    name: Optional[str]
    priority: Optional[float] = None
    eta: Optional[str] = None
    # The pipeline steps after it (``.then()``): (id, name) each, in order.
    then: Tuple[Tuple[str, Optional[str]], ...] = ()
    expired: bool = False             # its ``expires`` passed: Huey will skip it

    def to_dict(self) -> dict:
        out: dict = {"id": self.id, "name": self.name}
        if self.priority:
            out["priority"] = self.priority
        if self.eta is not None:
            out["eta"] = self.eta
        if self.then:
            out["then"] = [tid for tid, _ in self.then]
        if self.expired:
            out["expired"] = True
        return out


@dataclass
class StorageSnapshot:
    """What one storage held when it was read."""

    queue: str
    storage: str                                   # the storage class
    pending: List[StoredTask] = field(default_factory=list)    # in dequeue order
    scheduled: List[StoredTask] = field(default_factory=list)  # by eta
    results: int = 0                               # entries in the result store
    result_keys: Optional[List[str]] = None        # all of them, when few
    stored: Set[str] = field(default_factory=set)  # asked-about ids with a result
    revoked: Set[str] = field(default_factory=set)  # asked-about ids revoked
    skipped: int = 0                               # messages that could not be decoded

    def to_dict(self, limit: int = 100) -> dict:
        return {
            "queue": self.queue, "storage": self.storage,
            "pending_count": len(self.pending),
            "pending": [t.to_dict() for t in self.pending[:limit]],
            "scheduled_count": len(self.scheduled),
            "scheduled": [t.to_dict() for t in self.scheduled[:limit]],
            "results": self.results, "result_keys": self.result_keys,
            "stored": sorted(self.stored), "revoked": sorted(self.revoked),
            "undecodable": self.skipped,
        }


def _bounded(what: str, huey, call: Callable[[], _T]) -> _T:
    """``call()`` within TIMEOUT; any failure is the storage being unreachable."""
    box: Dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = call()
        except BaseException as exc:        # reported below
            box["error"] = exc
    t = threading.Thread(target=run, name="hueyviz-storage-read", daemon=True)
    t.start()
    t.join(TIMEOUT)
    where = f"{type(huey.storage).__name__} of queue {huey.name!r}"
    if t.is_alive():
        raise SourceError(f"the storage ({where}) did not answer {what} within {TIMEOUT:g} s: "
                          "is it reachable from here?")
    exc = box.get("error")
    if exc is not None:
        if isinstance(exc, KeyboardInterrupt):
            raise exc
        raise SourceError(f"the storage ({where}) is unreachable: {what} failed with "
                          f"{type(exc).__name__}: {exc}") from None
    return box["value"]


def probe(huey) -> int:
    """The queue's length, or :class:`SourceError` if the storage cannot be read."""
    return int(_bounded("a queue length", huey, huey.storage.queue_size))


def _decode(huey, raw: bytes, now: datetime.datetime) -> Optional[StoredTask]:
    try:
        msg = huey.serializer.deserialize(raw)
        tid = str(msg.id)
    except Exception:
        return None
    then: List[Tuple[str, Optional[str]]] = []
    nxt = getattr(msg, "on_complete", None)
    while nxt is not None and len(then) < 1024:
        then.append((str(nxt.id), _short(nxt.name)))
        nxt = getattr(nxt, "on_complete", None)
    eta = getattr(msg, "eta", None)
    expires = getattr(msg, "expires_resolved", None)
    expired = False
    if isinstance(expires, datetime.datetime):
        ref = now if (expires.tzinfo is None) == (now.tzinfo is None) else None
        expired = ref is not None and expires < ref
    priority = getattr(msg, "priority", None)
    return StoredTask(tid, _short(msg.name),
                      float(priority) if isinstance(priority, (int, float)) and priority else None,
                      eta.isoformat() if isinstance(eta, datetime.datetime) else None,
                      tuple(then), expired)


def _short(name: Any) -> Optional[str]:
    """``app.main`` (Huey's registry key) -> ``main``, the task's name."""
    return None if name is None else str(name).rpartition(".")[2]


def read_storage(huey, ask: Iterable[str] = ()) -> StorageSnapshot:
    """The queue, the schedule and the result store of ``huey``, untouched.

    ``ask``: task ids (the ones being waited for) whose stored result and
    revocation are looked up one by one.
    """
    storage = huey.storage
    snap = StorageSnapshot(str(huey.name), type(storage).__name__)
    now = huey._get_timestamp() if hasattr(huey, "_get_timestamp") else datetime.datetime.now()

    def decode_into(items: Iterable[bytes], out: List[StoredTask]) -> None:
        for raw in items:
            task = _decode(huey, raw, now)
            if task is None:
                snap.skipped += 1
            else:
                out.append(task)

    def read() -> None:
        decode_into(storage.enqueued_items(), snap.pending)
        decode_into(storage.scheduled_items(), snap.scheduled)
        snap.results = int(storage.result_store_size())
        if snap.results <= LIST_RESULTS:
            snap.result_keys = sorted(k.decode(errors="replace") if isinstance(k, bytes)
                                      else str(k) for k in storage.result_items())
        for tid in dict.fromkeys(ask):
            if storage.has_data_for_key(tid):
                snap.stored.add(tid)
            if _revoked(huey, storage.peek_data(f"r:{tid}"), now):
                snap.revoked.add(tid)
    _bounded("a read of its queue, schedule and results", huey, read)
    return snap


def _revoked(huey, raw: Any, now: datetime.datetime) -> bool:
    """Whether a revocation entry (``huey.revoke``) is in force, read without
    the deletion ``Huey._check_revoked`` makes of one that expired."""
    from huey.constants import EmptyData
    if raw is EmptyData or raw is None:
        return False
    try:
        until, once = huey.serializer.deserialize(raw)
    except Exception:
        return False
    if once or until is None:
        return True
    try:
        return bool(until > now)
    except TypeError:
        return True
