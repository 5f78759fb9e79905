"""The background writer shared by the Redis, SQLite and file sinks.

A worker thread only appends the event tuple to a bounded deque (O(1), no
lock, no I/O, never raises).  One writer thread per process drains it in
batches, encodes to JSON and hands the batch to the backend's ``_write``.

Accounting (DESIGN.md rule 2): every event is either written once or
counted in ``dropped``; the count reaches the stream itself as a
``dropped`` event ``{"count": n}`` as soon as the backend takes writes
again.  A batch that failed is retried with the same sequence numbers, so a
partly applied batch is de-duplicated by the reader (``sender``, ``seq``),
and a gap in a sender's sequence tells the reader that something the sink
did write was lost later (MAXLEN trimming, a Redis restart without
persistence).

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
from ..core.event import Event, to_json_dict

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
    """

    max_backoff = 2.0

    def __init__(self, *, max_buffer: int = 200_000, keep: int = 10_000,
                 flush_interval: float = 0.05, batch_size: int = 2000,
                 heartbeat: float = 1.0):
        self.max_buffer = max_buffer
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
        self.dropped = 0          # appended but never written (this process)
        self.written = 0
        self.failures = 0         # failed write attempts
        self._reported = 0        # part of ``dropped`` already written as an event
        self._appended = 0
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
                self.dropped += 1
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
            self.dropped += 1

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
                except Exception:
                    self.failures += 1
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
        self.written += len(batch)
        self._last_write = now
        return len(self._buf) > 0

    def _take(self, now: float) -> List[Tuple[int, str]]:
        batch: List[Tuple[int, str]] = []
        lost = self.dropped - self._reported
        if lost > 0:
            self._reported += lost
            self._add(batch, Event(time.time(), "dropped", None, None, None,
                                   {"count": lost, "proc": self.proc}))
        buf = self._buf
        for _ in range(min(len(buf), self.batch_size)):
            e = buf.popleft()
            if e.kind in _WORKER_KINDS:
                self._has_workers = True
            self._add(batch, e)
        if not batch and self._has_workers and now - self._last_write >= self.heartbeat:
            self._add(batch, Event(time.time(), "alive", None, None, None,
                                   {"proc": self.proc}))
        return batch

    def _add(self, batch: list, e: Event) -> None:
        try:
            text = dumps(to_json_dict(e))
        except Exception:
            self.dropped += 1
            return
        self._seq += 1
        batch.append((self._seq, text))

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
            "buffered (up to %d) and retried, %d dropped so far",
            self.describe(), type(exc).__name__, exc, self.max_buffer, self.dropped)

    def _safe_disconnect(self) -> None:
        try:
            self._disconnect()
        except Exception:
            pass

    # -- control -----------------------------------------------------------------
    def flush(self, timeout: float = 5.0) -> bool:
        """Wait (bounded) until everything appended so far is written."""
        deadline = time.monotonic() + timeout
        idle = threading.Event()
        while self._buf or self._retry or self._busy or self.dropped > self._reported:
            if self._thread is None or not self._thread.is_alive():
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
            self.flush(timeout)
            self._stopping = True
            self._wake.set()
            th.join(timeout)
        self.closed = True
        # What could not be written is dropped, and counted.
        self.dropped += len(self._buf) + len(self._retry)
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
