"""The background writer shared by the Redis, SQLite and file sinks.

A worker thread only appends the event tuple to a bounded deque (O(1), no
lock, no I/O, never raises).  One writer thread per process drains it in
batches, encodes to JSON and hands the batch to the backend's ``_write``.

Accounting (DESIGN.md rule 2): every record a sender hands to the store
carries the sender id and a sequence number (1, 2, 3...), so readers
de-duplicate a retried batch and count each record that never reached them
(a gap).  What the sequence cannot show is announced: an ``alive`` record
carries ``meta`` (how many announcements this sender numbered so far, so
that a lost announcement is not counted as a lost event) and ``dropped``
(how many events this sender lost before they were numbered: a full
buffer, an event that would not encode).  The numbers are cumulative, so a
reader that misses one announcement learns everything from the next.

When the store refuses a batch (Redis over ``maxmemory``, a full disk,
a wrong key type) the batch is retried with backoff, and after
``max_attempts`` given up: its sequence numbers are never reused, so the
next record (at worst the announcement written for that purpose) shows
readers the gap.  A store that cannot be reached at all is retried without
giving up while the bounded buffer fills.  What a process had not handed to
the store when it was killed (``kill -9``: at most one ``flush_interval`` of
events on a healthy store) is beyond any count.

Processes: after ``fork`` the child drops the parent's buffered events (the
parent writes them), takes a new sender id and starts its own writer on its
first event.  Flushing at exit: ``atexit`` in ordinary processes and a
``multiprocessing`` finalizer in forked workers (they leave through
``os._exit``, which skips ``atexit``).  While a process has workers and has
nothing else to write, it writes an ``alive`` event every ``heartbeat``
seconds so that readers can tell a silent process from a vanished one.
"""
from __future__ import annotations

import atexit
import logging
import os
import socket
import threading
import time
import weakref
from collections import deque
from typing import List, Optional, Tuple

from ..core.codec import dumps
from ..core.event import Event, to_json_dict, to_json_line

__all__ = ["BufferedSink", "flush_all"]

_HOST = socket.gethostname()
_live: weakref.WeakSet = weakref.WeakSet()
_WORKER_KINDS = frozenset({"worker_up", "executing"})
_orphans: list = []   # connections inherited over fork: never closed by the child


class BufferedSink:
    """Base class: bounded buffer, writer thread, retries, accounting.

    Subclasses implement ``_connect()``, ``_write(batch)`` where ``batch``
    is a list of ``(seq, json_text)``, ``_disconnect()`` and ``reader()``.

    Parameters
    ----------
    max_buffer : int
        Events waiting for the writer; beyond it new events are dropped and
        counted (the worker thread never waits).
    keep : int
        How many recent events this process keeps in memory for
        :meth:`events` (``tracer.trace`` in the recording process).
    flush_interval : float
        Seconds between writes when the buffer is not filling up.
    batch_size : int
        Events per write.
    heartbeat : float
        Idle seconds after which a process with workers writes ``alive``.
    max_attempts : int
        Attempts at a batch the store refuses (see :meth:`_refused`)
        before it is given up and counted.
    """

    max_backoff = 2.0

    def __init__(self, *, max_buffer: int = 200_000, keep: int = 10_000,
                 flush_interval: float = 0.05, batch_size: int = 2000,
                 heartbeat: float = 1.0, max_attempts: int = 5):
        self.max_buffer = max_buffer
        self.max_attempts = max(1, max_attempts)
        self.keep = keep
        self.flush_interval = flush_interval
        self.batch_size = batch_size
        self.heartbeat = heartbeat
        self.closed = False
        self._last_log = float("-inf")
        self._reset()
        _live.add(self)
        try:
            # multiprocessing clears finalizers in a new Process; it runs
            # these hooks afterwards, so the flush-at-exit is registered there.
            from multiprocessing import util
            util.register_after_fork(self, BufferedSink._register_finalizer)
        except Exception:  # pragma: no cover
            pass

    def _reset(self) -> None:
        """Fresh per-process state (constructor, and the child after fork)."""
        pid = os.getpid()
        self.pid = pid
        self.proc = f"{_HOST}/{pid}"
        self.sender = f"{_HOST}/{pid}/{os.urandom(4).hex()}"
        # Losses, by where they happened; ``dropped`` is their sum.
        self.refused = 0          # not taken into the buffer (full, closed)
        self.unencodable = 0      # taken, but could not be encoded
        self.given_up = 0         # in batches the store refused max_attempts times
        self.unsent = 0           # still buffered when the sink closed
        self.written = 0          # records the store accepted (events and announcements)
        self.failures = 0         # failed write attempts
        self._refusing = False    # the last attempt was refused (a full disk, a full store)
        self._appended = 0
        self._meta = 0            # announcements numbered so far
        self._announced = 0       # ``dropped`` as the last announcement the store took said
        self._gap = False         # numbers given up that no later record shows yet
        self._unnumbered = 0      # given up and its numbers reused
        self._batch_news: Optional[int] = None   # ``dropped`` the batch in _retry announces
        self._attempts = 0
        self._buf: deque = deque()
        self._recent: deque = deque(maxlen=self.keep or 1)
        self._retry: List[Tuple[int, str]] = []
        self._seq = 0
        self._wake = threading.Event()
        self._start_lock = threading.Lock()
        self._thread: Optional[threading.Thread] = None
        self._stopping = False
        self._busy = False
        self._connected = False
        self._has_workers = False
        self._last_write = time.monotonic()

    # -- hot path (worker threads) -------------------------------------------
    def append(self, event: Event) -> None:
        try:
            if self._thread is None:
                self._start()
            buf = self._buf
            if len(buf) >= self.max_buffer or self.closed:
                self.refused += 1
                return
            buf.append(event)
            self._appended += 1
            if self.keep:
                self._recent.append(event)
            # A wait is written at once: a guard in another process decides
            # on it (the rest goes in batches every flush_interval).
            if len(buf) == self.batch_size or event.kind == "block":
                self._wake.set()
        except Exception:
            self.refused += 1

    @property
    def dropped(self) -> int:
        """Events this process recorded that will never be written."""
        return self.refused + self.unencodable + self.given_up + self.unsent

    def events(self) -> Tuple[Event, ...]:
        """The recent events this process recorded (not the whole stream)."""
        return tuple(self._recent) if self.keep else ()

    def __len__(self) -> int:
        return self._appended

    # -- writer thread ---------------------------------------------------------
    def _start(self) -> None:
        with self._start_lock:
            if self._thread is not None or self.closed:
                return
            th = threading.Thread(target=self._run, name="hueyviz-writer", daemon=True)
            self._thread = th
            th.start()

    def _run(self) -> None:
        backoff, next_try = 0.1, 0.0
        while True:
            self._wake.wait(self.flush_interval)
            self._wake.clear()
            stopping = self._stopping
            while True:
                now = time.monotonic()
                if now < next_try and not stopping:
                    break
                try:
                    more = self._flush_once(now)
                except Exception as exc:
                    self.failures += 1
                    self._attempts += 1
                    self._refusing = self._refused(exc)
                    if self._refusing:
                        if self._attempts >= self.max_attempts:
                            self._give_up()
                    else:
                        self._connected = False
                        self._safe_disconnect()
                    self._warn()
                    if stopping:
                        break
                    next_try = time.monotonic() + backoff
                    backoff = min(backoff * 2, self.max_backoff)
                    break
                backoff, next_try = 0.1, 0.0
                if not more:
                    break
            if stopping:
                return

    def _flush_once(self, now: float) -> bool:
        """Write one batch; return True when more is waiting."""
        # Busy from before the batch leaves the buffer: flush() must not see
        # an empty buffer while a batch is in nobody's hands.
        self._busy = True
        try:
            batch = self._retry or self._take(now)
            if not batch:
                return False
            self._retry = batch
            if not self._connected:
                self._connect()
                self._connected = True
            self._write(batch)
        finally:
            self._busy = False
        self._retry = []
        self._attempts = 0
        self._refusing = False
        self.written += len(batch)
        self._last_write = now
        if self._batch_news is not None:
            self._announced, self._gap = self._batch_news, False
            self._batch_news = None
        return len(self._buf) > 0

    def _take(self, now: float) -> List[Tuple[int, str]]:
        batch: List[Tuple[int, str]] = []
        buf = self._buf
        for _ in range(min(len(buf), self.batch_size)):
            e = buf.popleft()
            if e.kind in _WORKER_KINDS:
                self._has_workers = True
            self._add(batch, e)
        lost = self._lost_unnumbered()
        idle = not batch and self._has_workers and now - self._last_write >= self.heartbeat
        if lost != self._announced or self._gap or idle:
            self._announce(batch, lost)
        return batch

    def _lost_unnumbered(self) -> int:
        """Events lost without a sequence number: only an announcement tells."""
        return self.refused + self.unencodable + self._unnumbered

    def _announce(self, batch: list, lost: int) -> None:
        """Append an ``alive`` record: alive, and what readers cannot see
        from the sequence numbers alone."""
        self._meta += 1
        e = Event(time.time(), "alive", None, None, None,
                  {"proc": self.proc, "sent": self._seq + 1, "meta": self._meta,
                   "dropped": lost})
        self._add(batch, e)
        self._batch_news = lost

    def _events_in(self, batch: List[Tuple[int, str]]) -> int:
        # A batch holds at most one announcement, always last.
        return len(batch) - (1 if batch and self._batch_news is not None else 0)

    def _add(self, batch: list, e: Event) -> None:
        try:
            text = to_json_line(e) or dumps(to_json_dict(e))
        except Exception:
            self.unencodable += 1
            return
        self._seq += 1
        batch.append((self._seq, text))

    def _give_up(self) -> None:
        """Count the batch the store keeps refusing as lost and move on."""
        batch, n = self._retry, self._events_in(self._retry)
        self.given_up += n
        if self._atomic():
            # Nothing of it was written: its numbers are reused, so readers
            # see no gap, and its events are announced with the others lost
            # before they were numbered.
            self._seq = batch[0][0] - 1
            self._meta -= len(batch) - n
            self._unnumbered += n
        else:
            # Part of it may be in the store: its numbers are never reused,
            # and the next record (an announcement at least) shows the gap.
            self._gap = True
        self._retry = []
        self._attempts = 0
        self._batch_news = None

    def _refused(self, exc: BaseException) -> bool:
        """Whether ``exc`` is the store refusing this batch (full, wrong type),
        as opposed to not being reachable.  A refused batch is given up after
        ``max_attempts``; an unreachable store is retried for as long as the
        buffer holds."""
        return False

    def _atomic(self) -> bool:
        """Whether a failed batch is known to have been written not at all."""
        return False

    def _warn(self) -> None:
        # One line, at most once a minute: a sink that is down must not flood
        # the consumer's log (DESIGN.md rule 1).
        import sys
        now = time.monotonic()
        if now - self._last_log < 60.0:
            return
        self._last_log = now
        exc = sys.exc_info()[1]
        logging.getLogger("hueyviz").warning(
            "hueyviz: cannot write to %s (%s: %s); tasks keep running, events are "
            "buffered (up to %d) and retried, %d lost so far (counted, and announced "
            "to readers once the store takes writes again)",
            self.describe(), type(exc).__name__, exc, self.max_buffer, self.dropped)

    def _safe_disconnect(self) -> None:
        try:
            self._disconnect()
        except Exception:
            pass

    # -- control -----------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (bounded) until everything appended so far is written.

        False when it is not: the timeout passed, or the store refused what
        it was given twice meanwhile (a full disk): waiting longer would only
        hold the caller.  What is buffered stays buffered and is retried."""
        deadline = time.monotonic() + timeout
        idle = threading.Event()
        failures = self.failures
        while (self._buf or self._retry or self._busy or self._gap
               or self._lost_unnumbered() != self._announced):
            if self._thread is None or not self._thread.is_alive():
                return False
            if self._refusing and self.failures >= failures + 2:
                # Refused again since this flush began (a full disk): waiting
                # longer only holds the caller (uninstall at shutdown).
                return False
            self._wake.set()
            if time.monotonic() >= deadline:
                return False
            idle.wait(0.005)
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Flush (bounded), stop the writer and release the connection."""
        if self.closed or self.pid != os.getpid():
            return
        th = self._thread
        if th is not None and th.is_alive():
            # A store that refuses what it is given (a full disk) will not take
            # the rest while we wait: one more try, then count it, promptly.
            self.flush(min(timeout, 0.5) if self._refusing else timeout)
            self._stopping = True
            self._wake.set()
            th.join(timeout)
        self.closed = True
        # What could not be written is lost, and counted (here only: nobody
        # is left to announce it).
        self.unsent += len(self._buf) + self._events_in(self._retry)
        self._buf.clear()
        self._retry = []
        self._safe_disconnect()

    def _after_fork(self) -> None:
        # Connections inherited from the parent belong to the parent: forget
        # them without closing (closing could break the parent's socket).
        _orphans.append(self._forget_connection())
        self._reset()

    def _register_finalizer(self) -> None:
        # A multiprocessing worker leaves through os._exit (no atexit), but
        # after running its finalizers.
        if not self.closed:
            from multiprocessing import util
            util.Finalize(self, self.close, exitpriority=50)

    def _forget_connection(self):
        """Detach and return the inherited connection object (kept, not closed)."""
        return None

    # -- backend -------------------------------------------------------------------
    def _connect(self) -> None:
        raise NotImplementedError

    def _write(self, batch: List[Tuple[int, str]]) -> None:
        raise NotImplementedError

    def _disconnect(self) -> None:
        pass

    def __repr__(self) -> str:
        return (f"<{type(self).__name__} {self.describe()} written={self.written} "
                f"dropped={self.dropped}>")

    def describe(self) -> str:
        return ""


def flush_all(timeout: float = 5.0) -> None:
    """Flush and close every sink of this process (atexit)."""
    for sink in list(_live):
        try:
            sink.close(timeout)
        except Exception:
            pass


def _after_fork_in_child() -> None:
    for sink in list(_live):
        try:
            sink._after_fork()
        except Exception:
            pass


atexit.register(flush_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
