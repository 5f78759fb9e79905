"""Following a live system: :func:`follow` and the :class:`Follower`.

The follower reads new records from a source (see :mod:`hueyviz.source`),
de-duplicates them per sender, counts what is missing, skips corrupt or
foreign entries with a count, merges the events of every process into one
time order and infers lost workers.

Merging and clocks
    Every event carries its recording host's wall clock.  Within a host
    that is one clock; across hosts the merge is only as good as their
    synchronisation (NTP keeps it to milliseconds).  The follower holds
    each record back ``reorder`` seconds (default 0.2 s, four writer
    flushes) and yields what it holds sorted by time, so events of
    different processes that arrive out of order within that window come
    out in order; later stragglers are yielded when they arrive.
    :attr:`Follower.trace` and :meth:`hueyviz.Trace.read` always sort the
    whole log (a stable sort: equal times keep their arrival order).
    Tolerance: within one host, exact; across hosts, the hosts' clock
    difference.  On Redis the follower measures it (each entry id is the
    Redis server's clock at arrival) and warns when hosts differ by more
    than ``SKEW_WARNING`` (1 s).  Times are not rewritten: the trace keeps
    what each host's clock said.

Lost workers
    A recording process that has workers writes an ``alive`` record once a
    second while it has nothing else to write.  When a process with
    workers up or tasks running has been silent for ``lost_after`` seconds
    (default 5 s, by the reader's clock against the event times: hosts
    must agree to well within that), the follower emits a ``lost`` event
    for each of its workers, dated at the last sign of life.  The analysis
    then marks their tasks lost and shrinks the pool, and never counts the
    vanished workers as blocked.  If the process speaks again (it was only
    paused), its workers come back as they execute.
"""
from __future__ import annotations

import heapq
import os
import time
import warnings
from collections import deque
from typing import Callable, Dict, List, Optional, Tuple

from ..core.codec import loads
from ..core.errors import SourceError, TraceFormatError
from ..core.event import Event, Worker, from_json_dict
from ..core.trace import Trace, TraceWarning, make_header
from .source import Source, is_sqlite, resolve_sources

__all__ = ["DEFAULT_LOST_AFTER", "Follower", "follow", "read_trace"]

DEFAULT_LOST_AFTER = 5.0
SKEW_WARNING = 1.0     # seconds of clock difference between hosts worth a warning

class _Proc:
    __slots__ = ("last", "lost", "workers")

    def __init__(self) -> None:
        self.last = float("-inf")
        self.workers: Dict[Tuple[Optional[str], Worker], None] = {}
        self.lost = False


class Follower:
    """Incremental, merged view of a source.  Iterate it for new events.

    Parameters
    ----------
    source
        Anything :func:`~hueyviz.read.source.resolve_source` accepts, or a list of them
        (merged into one time order).
    start : {"begin", "end"}
        Read from the oldest kept record, or only what arrives from now.
    reorder : float
        Seconds each record is held back to merge processes in time order.
    lost_after : float or None
        Silence after which a process with workers is presumed dead
        (``None``: never infer).
    keep : int
        Events kept for :attr:`trace` (oldest forgotten first); 0 keeps none.
    poll : float
        Longest single blocking read, in seconds.
    """

    def __init__(self, source, *, start: str = "begin", reorder: float = 0.2,
                 lost_after: Optional[float] = DEFAULT_LOST_AFTER, keep: int = 1_000_000,
                 poll: float = 0.1, clock: Callable[[], float] = time.time):
        self.source = resolve_sources(source)
        self.reader = self.source.open()
        if start == "end":
            self.reader.seek_end()
        elif start != "begin":
            raise ValueError("start must be 'begin' or 'end'")
        # Reading from the beginning, a sender's first record should be its
        # first (seq 1) unless the store trimmed old records: then only gaps
        # after the first sighting (or of senders new since the catch-up) count.
        trimmed = getattr(self.reader, "trimmed", lambda: True)
        self._start_begin = start == "begin"
        self._count_initial = self._start_begin and not trimmed()
        self._caught_up = False
        self.reorder = reorder
        self.lost_after = lost_after if self.source.live else None
        self.poll_interval = poll
        self.clock = clock
        self.closed = False
        self.skipped = 0          # corrupt or foreign entries
        self.missing = 0          # gaps in a sender's sequence
        self.duplicates = 0       # re-sent after a failed write, ignored
        self.received = 0
        self._skip_first: Optional[str] = None
        self._last_seq: Dict[str, int] = {}
        self._pending: list = []
        self._n = 0
        self._procs: Dict[str, _Proc] = {}
        self._workers: dict = {}
        self._lag: Dict[str, float] = {}
        self._kept: deque = deque(maxlen=keep or 1)
        self._keep = keep
        self.forgotten = 0

    # -- reading ---------------------------------------------------------------
    def poll(self, timeout: Optional[float] = None) -> List[Event]:
        """New events, waiting at most ``timeout`` (default ``poll``) seconds."""
        if self.closed:
            return []
        wait = self.poll_interval if timeout is None else timeout
        try:
            records = self.reader.fetch(wait)
        except Exception as exc:
            raise SourceError(f"cannot read {self.source.name}: {exc}") from None
        arrival = time.monotonic()
        for rec in records:
            self._take(rec, arrival)
        if not records:
            self._caught_up = True
        out = self._release(arrival)
        out.extend(self._infer_lost())
        return out

    def _take(self, rec: tuple, arrival: float) -> None:
        sender, seq, payload, where = rec[:4]
        if sender is not None and seq is not None:
            last = self._last_seq.get(sender)
            if last is not None:
                if seq <= last:
                    self.duplicates += 1
                    return
                self.missing += seq - last - 1
            elif self._count_initial or (self._caught_up and self._start_begin):
                self.missing += max(0, seq - 1)
            self._last_seq[sender] = seq
        if isinstance(payload, Event):
            e = payload
        else:
            try:
                if payload is None:
                    raise TraceFormatError(where.split(": ", 1)[-1])
                e = from_json_dict(loads(payload), self._workers)
            except (TraceFormatError, ValueError, TypeError) as exc:
                self.skipped += 1
                if self._skip_first is None:
                    reason = str(exc) if payload is not None else where.split(": ", 1)[-1]
                    self._skip_first = f"{where.split(': ', 1)[0]}: {reason}"
                return
        self.received += 1
        if len(rec) > 4 and rec[4] is not None and e.worker is not None:
            # Redis stamps arrival with its own clock: min(arrival - t) per host
            # is that host's clock offset plus the shortest delivery delay.
            lag = rec[4] - e.t
            host = e.worker.host
            if lag < self._lag.get(host, float("inf")):
                self._lag[host] = lag
        self._seen(e)
        if e.kind == "alive":
            return
        self._n += 1
        heapq.heappush(self._pending, (arrival, e.t, self._n, e))

    def _seen(self, e: Event) -> None:
        w = e.worker
        proc = f"{w.host}/{w.pid}" if w is not None else e.get("proc")
        if not isinstance(proc, str):
            return
        st = self._procs.get(proc)
        if st is None:
            st = self._procs[proc] = _Proc()
        if e.t > st.last:
            st.last = e.t
        st.lost = False
        if w is not None:
            if e.kind in ("worker_up", "executing"):
                st.workers[(e.queue, w)] = None
            elif e.kind in ("worker_down", "lost"):
                st.workers.pop((e.queue, w), None)

    def _release(self, now: float) -> List[Event]:
        pend = self._pending
        cut = now - self.reorder
        ready = []
        while pend and pend[0][0] <= cut:
            ready.append(heapq.heappop(pend))
        ready.sort(key=lambda r: (r[1], r[2]))
        out = [r[3] for r in ready]
        self._remember(out)
        return out

    def _infer_lost(self) -> List[Event]:
        if self.lost_after is None:
            return []
        now = self.clock()
        out = []
        for st in self._procs.values():
            if st.lost or not st.workers or now - st.last <= self.lost_after:
                continue
            for q, w in st.workers:
                out.append(Event(st.last, "lost", None, None, w,
                                 {"silent": round(now - st.last, 3)}, q))
            st.workers.clear()
            st.lost = True
        self._remember(out)
        return out

    def _remember(self, events: List[Event]) -> None:
        if self._keep:
            over = len(self._kept) + len(events) - self._keep
            if over > 0:
                self.forgotten += over
            self._kept.extend(events)

    def __iter__(self):
        while not self.closed:
            yield from self.poll()

    def iter(self, duration: Optional[float] = None):
        """Yield events as they arrive, for ``duration`` seconds (None: forever)."""
        end = None if duration is None else time.monotonic() + duration
        while not self.closed:
            left = None if end is None else end - time.monotonic()
            if left is not None and left <= 0:
                break
            yield from self.poll(self.poll_interval if left is None
                                 else min(self.poll_interval, left))
        yield from self.drain()

    def drain(self) -> List[Event]:
        """Everything held back for ordering, now."""
        return self._release(float("inf"))

    def catch_up(self) -> List[Event]:
        """Read until nothing more is waiting and return it all, in order."""
        while True:
            try:
                recs = self.reader.fetch(0.0)
            except Exception as exc:
                raise SourceError(f"cannot read {self.source.name}: {exc}") from None
            if not recs:
                self._caught_up = True
                break
            arrival = time.monotonic()
            for rec in recs:
                self._take(rec, arrival)
        out = self.drain()
        out.extend(self._infer_lost())
        return out

    def read_all(self):
        """Read until nothing more is waiting; return the merged :class:`Trace`."""
        self.catch_up()
        err = getattr(self.reader, "last_error", None)
        if err is not None:
            raise SourceError(f"cannot read {self.source.name}: {err}")
        return self.trace

    # -- results -----------------------------------------------------------------
    @property
    def warnings(self) -> List[str]:
        notes = []
        name = self.source.name
        if self.skipped:
            notes.append(f"{name}: skipped {self.skipped} corrupt or foreign "
                         f"entr{'y' if self.skipped == 1 else 'ies'} (first: {self._skip_first})")
        if self.missing:
            notes.append(f"{name}: {self.missing} events are missing (written, then "
                         "trimmed by MAXLEN or lost when the store restarted before "
                         "they were read); counted as dropped")
        if len(self._lag) > 1:
            lo, hi = min(self._lag.values()), max(self._lag.values())
            if hi - lo > SKEW_WARNING:
                fast = min(self._lag, key=lambda h: self._lag[h])
                slow = max(self._lag, key=lambda h: self._lag[h])
                notes.append(f"{name}: the clocks of hosts {fast} and {slow} differ by "
                             f"about {hi - lo:.1f} s (measured against the Redis server's "
                             "clock); events of different hosts are ordered by their own "
                             "clocks, so their order across hosts is off by up to that much")
        if self.forgotten:
            notes.append(f"{name}: the follower kept only the newest {self._keep} events")
        return notes

    @property
    def trace(self):
        """Everything followed so far (kept events, sorted by time)."""
        events = sorted(self._kept, key=lambda e: e.t) if self._keep else []
        return Trace(events, header=make_header(source=self.source.name),
                     dropped=self.missing, warnings=self.warnings)

    def wait_for(self, predicate: Callable, timeout: float) -> bool:
        """Follow until ``predicate(self.trace)`` holds, at most ``timeout`` s."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.poll(min(self.poll_interval, max(0.0, deadline - time.monotonic())))
            if got and predicate(self.trace):
                return True
            if time.monotonic() >= deadline:
                return predicate(self.trace)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.reader.close()

    def __enter__(self) -> Follower:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return (f"<Follower {self.source.name} received={self.received} "
                f"skipped={self.skipped} missing={self.missing}>")


def follow(source, **options) -> Follower:
    """Follow ``source`` live: iterate the result for new events as they arrive.

    ``source`` is a Huey instance, a sink URL, a file or directory, or an
    import path ``app.huey``.  Readers never take events from each other.
    See :class:`Follower` for the options (``start="end"`` for only new
    events, ``reorder``, ``lost_after``).

    >>> from huey import MemoryHuey
    >>> import hueyviz
    >>> huey = MemoryHuey("follow-doc")
    >>> @huey.task()
    ... def ping():
    ...     return 1
    >>> _ = hueyviz.install(huey)
    >>> f = hueyviz.follow(huey, reorder=0)
    >>> _ = ping()
    >>> [e.kind for e in f.poll(1.0)]
    ['enqueued']
    """
    return Follower(source, **options)


def read_trace(source, *, strict: bool = True, lost_after: Optional[float] = None):
    """Everything recorded at ``source`` so far, merged into one :class:`~hueyviz.Trace`.

    ``source`` may be a list of sources: their events are merged in time
    order into one trace (several queues recorded into several sinks).
    A finished trace file goes through :meth:`Trace.load` (``strict``
    applies); live sources skip corrupt or foreign entries with a count.
    """
    if isinstance(source, (list, tuple)):
        if len(source) != 1:
            files = [s for s in source if _is_trace_file(s)]
            if len(files) == len(source):
                return Trace.merge([Trace.load(os.fspath(s), strict=strict) for s in source])
            parts = [read_trace(s, strict=strict, lost_after=lost_after) for s in files]
            rest = [s for s in source if not _is_trace_file(s)]
            if rest:
                parts.append(_follow_all(rest, lost_after))
            return Trace.merge(parts)
        source = source[0]
    if _is_trace_file(source):
        return Trace.load(os.fspath(source), strict=strict)
    return _follow_all(source, lost_after)


def _is_trace_file(source) -> bool:
    if isinstance(source, (str, os.PathLike)) and not isinstance(source, Source):
        text = os.fspath(source)
        return "://" not in text and os.path.isfile(text) and not is_sqlite(text)
    return False


def _follow_all(source, lost_after: Optional[float]):
    kw: dict = {} if lost_after is None else {"lost_after": lost_after}
    with Follower(resolve_sources(source), reorder=0.0, **kw) as f:
        tr = f.read_all()
    for note in tr.warnings:
        warnings.warn(note, TraceWarning, stacklevel=2)
    return tr
