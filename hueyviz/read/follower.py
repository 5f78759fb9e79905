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

Losses
    Every record carries its sender and sequence number, so the follower
    drops a record it already has (a retried batch) and counts each number
    that never arrives (trimmed by ``MAXLEN`` before it was read, lost with a
    Redis restart, refused by a full Redis).  Writers announce in their
    ``alive`` records what the numbers cannot show: how many of their
    announcements they numbered (a lost announcement is not a lost event)
    and how many events they lost before numbering them (a full buffer).
    A corrupt entry is skipped, counted and never fatal; an entry that was
    not written by hueyviz is skipped and counted apart.  :attr:`Follower.lost`
    sums the losses; :attr:`Follower.trace` carries them (``Trace.dropped``)
    and says where they came from (``Trace.warnings``).  What a writer never
    handed to the store before it was killed is beyond any count: see the
    README, "What hueyviz knows about losses".

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

class _Sender:
    """What the follower knows of one sender's sequence."""

    __slots__ = ("dropped", "gaps", "last", "meta")

    def __init__(self, last: int, counting: bool) -> None:
        self.last = last                    # highest number accounted for
        self.gaps = 0                       # numbers missed since the last announcement
        # Announced counters, from the start (0) or from the first one seen.
        self.meta: Optional[int] = 0 if counting else None
        self.dropped: Optional[int] = 0 if counting else None


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
        self.corrupt = 0          # of those, hueyviz entries that cannot be read: lost
        self.missing = 0          # numbered events that never arrived
        self.unwritten = 0        # events the writers announced they lost
        self.duplicates = 0       # re-sent after a failed write, ignored
        self.received = 0
        self._skip_first: Optional[str] = None
        self._senders: Dict[str, _Sender] = {}
        self._history = self._unread_history() if self._start_begin else (0, "")
        self._refused_writes = self._server_refusals()
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
        st = None
        if sender is not None and seq is not None:
            st = self._senders.get(sender)
            if st is None:
                counting = self._count_initial or (self._caught_up and self._start_begin)
                st = self._senders[sender] = _Sender(0 if counting else seq - 1, counting)
            if seq <= st.last:
                self.duplicates += 1
                return
            gap = seq - st.last - 1
            st.gaps += gap
            self.missing += gap
            st.last = seq
        if isinstance(payload, Event):
            e = payload
        else:
            try:
                if payload is None:
                    raise TraceFormatError(where.split(": ", 1)[-1])
                e = from_json_dict(loads(payload), self._workers)
            except Exception as exc:
                # Whatever an entry holds, reading goes on: it is skipped and
                # counted (a hueyviz entry that cannot be read is a lost event).
                self.skipped += 1
                if payload is not None:
                    self.corrupt += 1
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
            if st is not None:
                self._announced(st, e)
            return
        self._n += 1
        heapq.heappush(self._pending, (arrival, e.t, self._n, e))

    def _announced(self, st: _Sender, e: Event) -> None:
        """A writer's announcement: its cumulative counts (see record/writer.py)."""
        meta, dropped = e.get("meta"), e.get("dropped")
        if not (_count(meta) and _count(dropped)):
            return                  # an older writer's heartbeat: nothing to learn
        if st.meta is not None:
            # Announcements between the last one seen and this one that never
            # arrived were counted as missing numbers; they held no event.
            self.missing -= min(st.gaps, max(0, meta - st.meta - 1))
        st.meta, st.gaps = meta, 0
        if st.dropped is None:
            st.dropped = dropped    # joined late: count only what is new
        elif dropped > st.dropped:
            self.unwritten += dropped - st.dropped
            st.dropped = dropped

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
                self._refused_writes = self._server_refusals()
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
    def lost(self) -> int:
        """Events recorded but not in this follower's trace: numbered ones
        that never arrived, ones the writers announced they lost, and
        corrupt entries.  (History trimmed before reading began is not
        counted: the trace starts after it; see :attr:`warnings`.)"""
        return self.missing + self.unwritten + self.corrupt

    def _unread_history(self) -> Tuple[int, str]:
        """(entries trimmed before this follower began reading, how the store
        says it trimmed), and the server's refused writes (see warnings)."""
        readers = getattr(self.reader, "readers", [self.reader])
        n, how = 0, ""
        for r in readers:
            count = getattr(r, "trimmed_count", None)
            k = count() if count is not None else 0
            if k:
                n += k
                how = getattr(r, "trim_words", lambda: "")() or how
        return n, how

    def _server_refusals(self) -> List[Tuple[str, int]]:
        out = []
        for r in getattr(self.reader, "readers", [self.reader]):
            refused = getattr(r, "refused_writes", lambda: 0)()
            if refused:
                out.append((r.describe(), refused))
        return out

    @property
    def warnings(self) -> List[str]:
        notes = []
        name = self.source.name
        if self.skipped:
            notes.append(f"{name}: skipped {self.skipped} corrupt or foreign "
                         f"entr{'y' if self.skipped == 1 else 'ies'} (first: {self._skip_first})")
        if self.missing:
            notes.append(f"{name}: {self.missing} event{_s(self.missing)} never arrived "
                         "(written, then trimmed by MAXLEN before they were read, lost "
                         "when the store restarted, or refused by a full store); "
                         "counted as lost")
        if self.unwritten:
            notes.append(f"{name}: the recording processes announced {self.unwritten} "
                         f"event{_s(self.unwritten)} they could not write (a full buffer, or "
                         "batches the store refused); counted as lost")
        trimmed, how = self._history
        if trimmed:
            notes.append(f"{name}: the {how or 'store'} was trimmed (MAXLEN) before it was "
                         f"read: {trimmed} oldest entr{'y was' if trimmed == 1 else 'ies were'}"
                         " never read; the trace starts after them")
        for where, refused in self._refused_writes:
            notes.append(f"{where}: the Redis server refused {refused} write"
                         f"{_s(refused)} for lack of memory (maxmemory) since its "
                         "statistics were reset; writers count and announce what they "
                         "lose once it takes writes again, but not if they stopped "
                         "before that")
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
        notes.extend(getattr(self.reader, "notes", ()))      # what the reader passed over
        return notes

    @property
    def trace(self):
        """Everything followed so far (kept events, sorted by time)."""
        events = sorted(self._kept, key=lambda e: e.t) if self._keep else []
        return Trace(events, header=make_header(source=self.source.name),
                     dropped=self.lost, warnings=self.warnings)

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
                f"skipped={self.skipped} lost={self.lost}>")


def _count(v) -> bool:
    return type(v) is int and v >= 0


def _s(n: int) -> str:
    return "" if n == 1 else "s"


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
