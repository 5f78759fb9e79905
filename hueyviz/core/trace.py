"""The :class:`Trace`: an ordered, immutable event log, and its file format.

File format (JSON Lines): line 1 is a header object
``{"format": "hueyviz-trace", "version": 1, ...}``; every further line is one
event as produced by :func:`hueyviz.event.to_json_dict`.
"""
from __future__ import annotations

import hashlib
import itertools
import operator
import os
import socket
import warnings
from typing import IO, Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

import msgspec

from .._version import __version__
from .codec import dumps_line
from .collector import collector_paused
from .errors import OutputError
from .event import Event, to_json_dict
from .jsonl import FORMAT, VERSION, open_trace
from .pipe import open_lines

__all__ = ["FORMAT", "VERSION", "Trace", "TraceWarning", "clock_note", "time_ordered"]



class TraceWarning(UserWarning):
    """Something in a trace was skipped or repaired while loading."""


def make_header(**fields) -> dict:
    header = {"format": FORMAT, "version": VERSION, "hueyviz": __version__,
              "clock": "unix", "host": socket.gethostname(), "pid": os.getpid()}
    header.update({k: v for k, v in fields.items() if v is not None})
    return header


_time = operator.attrgetter("t")     # at C speed
_DIGEST_ENCODER = msgspec.json.Encoder(order="deterministic")
_DIGEST_SLICE = 65_536


def _in_order(events: Sequence[Event]) -> bool:
    ts = list(map(_time, events))
    return all(map(operator.le, ts, itertools.islice(ts, 1, None)))


def time_ordered(events: Iterable[Event]) -> Tuple[Event, ...]:
    """``events`` sorted by time (stable), as a tuple; no copy of a sorted tuple."""
    evs = events if isinstance(events, tuple) else tuple(events)
    return evs if _in_order(evs) else tuple(sorted(evs, key=_time))


# Where Unix times in seconds end and a clock in finer units begins: 1e11 s
# is the year 5138; milliseconds since 1970 passed 1e11 in 1973.
_CLOCK_UNITS = ((1e17, "nanoseconds", 1e9), (1e14, "microseconds", 1e6),
                (1e11, "milliseconds", 1e3))
_IMPLAUSIBLE = 1e19     # beyond nanoseconds since 1970 until the year 2286


def clock_note(events: Sequence[Event], header: Optional[dict] = None,
               source: Optional[str] = None) -> Optional[str]:
    """A warning when the times of a Unix-clock trace cannot be Unix seconds.

    >>> from hueyviz.core.event import Event
    >>> clock_note([Event(1.7e12, "pool", None, None, None, {"size": 1})]).split(":")[0]
    'timestamps look like milliseconds since 1970 (t = 1.7e+12), but a trace holds Unix seconds'
    >>> clock_note([Event(1.7e9, "pool", None, None, None, {"size": 1})]) is None
    True
    """
    if not events or (header is not None and header.get("clock", "unix") != "unix"):
        return None
    t = max(abs(events[0].t), abs(events[-1].t))
    where = f"{source}: " if source else ""
    if t >= _IMPLAUSIBLE:
        return (f"{where}timestamps are implausible for a clock in seconds (t = {t:.3g}): "
                "durations and dates will be meaningless")
    for limit, unit, factor in _CLOCK_UNITS:
        if t >= limit:
            return (f"{where}timestamps look like {unit} since 1970 (t = {t:.3g}), but a "
                    f"trace holds Unix seconds: durations read {factor:.0f} times too long "
                    f"and dates are wrong; divide t by {factor:.0f}")
    return None


def _logged_losses(events: Iterable[Event]) -> int:
    return sum(e.get("count", 0) for e in events if e.kind == "dropped")


def _header_unlogged(header: dict, events: List[Event]) -> int:
    return header_unlogged(header, _logged_losses(events))


def header_unlogged(header: dict, logged: int) -> int:
    """Losses the header knows of that are not ``dropped`` events in the file
    (which hold ``logged``)."""
    unlogged = header.get("unlogged")
    if type(unlogged) is int and unlogged >= 0:
        return unlogged
    total = header.get("dropped", 0)      # files written before "unlogged"
    if type(total) is not int or total < 0:
        return 0
    return max(0, total - logged)


class Trace(Sequence[Event]):
    """Ordered, immutable sequence of :class:`~hueyviz.event.Event`.

    ``header`` describes where the events came from; ``dropped`` counts
    events the recorder had to drop; ``warnings`` lists what loading
    skipped or repaired.  Derived views (:meth:`graph`, :meth:`lanes`,
    :meth:`state_at`) are computed on demand and never change the trace.

    Events are kept in time order: ``Trace(events)`` sorts what it is
    given by ``t`` (a stable sort: events with equal times keep their
    order), silently, as the tracer's threads may append a few
    microseconds out of order.  :meth:`load` sorts too, and warns when a
    file needed it.

    >>> t = Trace([Event(1.0, "enqueued", "a1", "job", None, None)])
    >>> len(t), t[0].kind, t.graph().nodes["a1"]["state"]
    (1, 'enqueued', 'queued')
    """

    __slots__ = ("_events", "_views", "header", "unlogged", "warnings")

    def __init__(self, events: Iterable[Event] = (), *, header: Optional[dict] = None,
                 dropped: int = 0, warnings: Iterable[str] = ()):
        self._init(time_ordered(events), header, dropped, warnings)

    @classmethod
    def _ordered(cls, events: Tuple[Event, ...], *, header: Optional[dict] = None,
                 dropped: int = 0, warnings: Iterable[str] = ()) -> Trace:
        """A trace of events known to be in time order (no check)."""
        tr = cls.__new__(cls)
        tr._init(events, header, dropped, warnings)
        return tr

    def _init(self, events: Tuple[Event, ...], header: Optional[dict], dropped: int,
              warnings: Iterable[str]) -> None:
        self._events = events
        self.header = dict(header) if header else make_header()
        # Losses come two ways: ``dropped`` events in the log (a sink that
        # could not write), and counts known only outside it (a ring that
        # evicted, a reader that saw gaps): ``unlogged``.  Each is counted once.
        self.unlogged = max(0, int(dropped))
        self.warnings = tuple(warnings)
        # Derived views, computed once: the trace never changes, and exporting
        # every format would otherwise rebuild the same lanes and states.
        self._views: dict = {}

    @property
    def dropped(self) -> int:
        """Events lost while recording or reading: the ``dropped`` events in
        the log plus losses known only outside it."""
        return self.unlogged + self.derived("logged", lambda: _logged_losses(self._events))

    # -- sequence -----------------------------------------------------------
    def __len__(self) -> int:
        return len(self._events)

    def __getitem__(self, i):
        if isinstance(i, slice):
            if i.step is not None and i.step < 0:
                return Trace(self._events[i], header=self.header)
            return Trace._ordered(self._events[i], header=self.header)
        return self._events[i]

    def __iter__(self) -> Iterator[Event]:
        return iter(self._events)

    def __eq__(self, other) -> bool:
        return isinstance(other, Trace) and self._events == other._events

    __hash__ = None  # type: ignore[assignment]

    @property
    def events(self) -> Tuple[Event, ...]:
        return self._events

    @property
    def start(self) -> Optional[float]:
        return self._events[0].t if self._events else None      # in time order

    @property
    def end(self) -> Optional[float]:
        return self._events[-1].t if self._events else None

    def window(self, start: Optional[float] = None, end: Optional[float] = None) -> Trace:
        """The events with ``start <= t <= end`` (times on the trace clock)."""
        lo = float("-inf") if start is None else start
        hi = float("inf") if end is None else end
        inside = [e for e in self._events if lo <= e.t <= hi]
        # The window keeps every known loss: one outside it may still explain
        # what is missing inside.
        return Trace._ordered(tuple(inside), header=self.header,
                              dropped=self.dropped - _logged_losses(inside),
                              warnings=self.warnings)

    @classmethod
    def merge(cls, traces: Iterable[Trace]) -> Trace:
        """One trace of several (several queues or sinks), in time order.

        The sort is stable, so events with equal times keep their order
        within each input; losses and warnings add up.
        """
        traces = list(traces)
        events = sorted((e for tr in traces for e in tr.events), key=_time)
        header = make_header(sources=[tr.header.get("source") or tr.header.get("huey")
                                      for tr in traces])
        return cls._ordered(tuple(events), header=header,
                            dropped=sum(tr.unlogged for tr in traces),
                            warnings=[w for tr in traces for w in tr.warnings])

    def digest(self) -> str:
        """SHA-256 of the events (their JSON as msgspec writes them, the keys
        of each event's fields sorted; the header left out): equal for equal
        events, wherever they were read from."""
        def make() -> str:
            h = hashlib.sha256()
            events = self._events
            try:
                # In C, a slice at a time: a million events in half a second.
                for i in range(0, len(events), _DIGEST_SLICE):
                    h.update(_DIGEST_ENCODER.encode(events[i:i + _DIGEST_SLICE]))
            except (TypeError, ValueError, OverflowError):
                # Fields JSON cannot hold (events built by hand): their repr.
                h = hashlib.sha256()
                for e in events:
                    h.update(dumps_line(to_json_dict(e)).encode())
                    h.update(b"\n")
            return h.hexdigest()
        return self.derived("digest", make)

    # -- derived views -------------------------------------------------------
    def derived(self, key: str, make: Callable[[], Any]) -> Any:
        """``make()``, computed once per trace and key and shared by callers.

        The trace never changes, so what is derived from it (the replay,
        lanes, states) is computed once.  Treat the result as read-only.
        """
        views = self._views
        if key not in views:
            with collector_paused():
                views[key] = make()
        return views[key]

    # The derived views below live in the layers above (the replay and the
    # analysis); :mod:`hueyviz.views` is the one module they are reached
    # through, imported only when asked for.
    def graph(self):
        """networkx ``MultiDiGraph`` of tasks with spawn, pipeline and wait edges."""
        from ..views import trace_graph
        return trace_graph(self)

    def lanes(self):
        """Per worker, the :class:`~hueyviz.analysis.lane.Lane` of spans it ran.

        Computed once and shared between callers: treat it as read-only.
        """
        from ..views import trace_lanes
        return trace_lanes(self)

    def state_at(self, t: Optional[float] = None):
        """The state of every task and worker at time ``t`` (default: the end).

        The last few states asked for are kept and shared: treat them as
        read-only.
        """
        from ..views import trace_state_at
        return trace_state_at(self, t)

    # -- files ----------------------------------------------------------------
    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write JSON Lines: a header line, then one event per line."""
        header = dict(self.header, dropped=self.dropped, unlogged=self.unlogged,
                      events=len(self._events))
        target = os.fspath(path)
        tmp = f"{target}.tmp"
        try:
            with open_trace(tmp, "wt", gz=target.endswith(".gz")) as f:
                self.write(f, header)
            os.replace(tmp, target)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise OutputError(target, exc) from None

    def write(self, f: IO[str], header: Optional[dict] = None) -> None:
        f.write(dumps_line(header or self.header) + "\n")
        for e in self._events:
            f.write(dumps_line(to_json_dict(e)) + "\n")

    @classmethod
    def load(cls, path: Union[str, os.PathLike], *, strict: bool = True,
             on_block: Optional[Callable[[List[Event]], Any]] = None) -> Trace:
        """Read a trace saved by :meth:`save` (or streamed by a file sink).

        A truncated last line (a recorder killed mid-write) is dropped with a
        :class:`TraceWarning`.  Any other bad line raises
        :class:`~hueyviz.event.TraceFormatError` naming the line, unless
        ``strict=False``, which skips it with a warning and keeps the rest.
        Events of kinds this version does not know are kept and warned about.
        ``on_block`` is called with each block of events as it is read, in
        file order (to analyse a large file while it loads).  A large file is
        read by a second process (:mod:`hueyviz.core.pipe`).
        """
        source = os.fspath(path)
        with open_lines(source, strict) as lines:
            return cls._parse(lines, source, on_block)

    @classmethod
    def read(cls, source, *, strict: bool = True) -> Trace:
        """Everything recorded at ``source`` so far, merged in time order.

        ``source`` is a trace file, a sink URL (``redis://``, ``sqlite:///``,
        ``file:///``), a Huey instance or an import path ``"app.huey"``; see
        :func:`hueyviz.read.follower.read_trace`.  Live sources skip corrupt entries
        with a count in ``warnings``.
        """
        from ..views import read_sources
        return read_sources(source, strict=strict)

    @classmethod
    def _parse(cls, lines, source: str,
               on_block: Optional[Callable[[List[Event]], Any]] = None) -> Trace:
        events: List[Event] = []
        with collector_paused():
            for block in lines.blocks():
                events.extend(block)
                if on_block is not None:
                    on_block(block)
        notes = lines.notes
        assert lines.header is not None       # Lines raises on a file without one
        late = lines.late_note()
        if late is not None:
            # The replay reads events in time order: file order would make a
            # different state (a task finishing before it started).
            events.sort(key=_time)
            notes.append(late)
        clock = clock_note(events, lines.header, source)
        if clock is not None:
            notes.append(clock)
        for note in notes:
            # stacklevel: warn -> _parse -> load -> the caller
            warnings.warn(note, TraceWarning, stacklevel=3)
        return cls._ordered(tuple(events), header=lines.header,
                            dropped=_header_unlogged(lines.header, events), warnings=notes)

    # -- display -------------------------------------------------------------
    def summary(self) -> str:
        if not self._events:
            return "Trace: empty"
        tasks = {e.task for e in self._events if e.task is not None}
        workers = {e.worker for e in self._events if e.worker is not None and e.kind == "executing"}
        span = (self.end or 0) - (self.start or 0)
        text = (f"Trace: {len(self._events)} events, {len(tasks)} tasks, "
                f"{len(workers)} workers, {span:.3f} s")
        if self.dropped:
            text += f", {self.dropped} events dropped"
        return text

    def __repr__(self) -> str:
        return f"<{self.summary()}>"

    def _repr_mimebundle_(self, include=None, exclude=None):
        from ..views import mimebundle
        return mimebundle(self)
