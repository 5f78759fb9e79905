"""The :class:`Trace`: an ordered, immutable event log, and its file format.

File format (JSON Lines): line 1 is a header object
``{"format": "hueyviz-trace", "version": 1, ...}``; every further line is one
event as produced by :func:`hueyviz.event.to_json_dict`.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import operator
import os
import socket
import warnings
from typing import IO, Any, Callable, Iterable, Iterator, List, Optional, Sequence, Tuple, Union

from .._version import __version__
from .codec import loads
from .collector import collector_paused
from .errors import OutputError
from .event import KINDS, Event, TraceFormatError, from_json_dict, to_json_dict

__all__ = ["FORMAT", "VERSION", "Trace", "TraceWarning", "clock_note", "time_ordered"]

FORMAT = "hueyviz-trace"
VERSION = 1


class TraceWarning(UserWarning):
    """Something in a trace was skipped or repaired while loading."""


def make_header(**fields) -> dict:
    header = {"format": FORMAT, "version": VERSION, "hueyviz": __version__,
              "clock": "unix", "host": socket.gethostname(), "pid": os.getpid()}
    header.update({k: v for k, v in fields.items() if v is not None})
    return header


_time = operator.itemgetter(0)     # Event.t, at C speed


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
    """Losses the header knows of that are not ``dropped`` events in the file."""
    unlogged = header.get("unlogged")
    if type(unlogged) is int and unlogged >= 0:
        return unlogged
    total = header.get("dropped", 0)      # files written before "unlogged"
    if type(total) is not int or total < 0:
        return 0
    return max(0, total - _logged_losses(events))


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
        return self.unlogged + _logged_losses(self._events)

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
        return min((e.t for e in self._events), default=None)

    @property
    def end(self) -> Optional[float]:
        return max((e.t for e in self._events), default=None)

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
        """SHA-256 of the events as :meth:`save` writes them (the header left
        out): equal for equal events, wherever they were read from."""
        def make() -> str:
            h = hashlib.sha256()
            dump = json.dumps
            for e in self._events:
                h.update(dump(to_json_dict(e), default=repr).encode())
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
            with open(tmp, "w", encoding="utf-8") as f:
                self.write(f, header)
            os.replace(tmp, target)
        except OSError as exc:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise OutputError(target, exc) from None

    def write(self, f: IO[str], header: Optional[dict] = None) -> None:
        # ASCII-only JSON: U+2028 and friends in task names must not split lines
        # for readers that treat them as line breaks.
        dump = json.dumps
        f.write(dump(header or self.header) + "\n")
        for e in self._events:
            f.write(dump(to_json_dict(e), default=repr) + "\n")

    @classmethod
    def load(cls, path: Union[str, os.PathLike], *, strict: bool = True) -> Trace:
        """Read a trace saved by :meth:`save` (or streamed by a file sink).

        A truncated last line (a recorder killed mid-write) is dropped with a
        :class:`TraceWarning`.  Any other bad line raises
        :class:`~hueyviz.event.TraceFormatError` naming the line, unless
        ``strict=False``, which skips it with a warning and keeps the rest.
        Events of kinds this version does not know are kept and warned about.
        """
        source = os.fspath(path)
        try:
            f = open(source, "rb")
        except OSError as exc:
            raise TraceFormatError(f"cannot open trace: {exc.strerror}", source=source) from None
        with f:
            return cls._parse(f, source, strict)

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
    def _parse(cls, f: Iterable[bytes], source: str, strict: bool) -> Trace:
        notes: List[str] = []
        events: List[Event] = []
        workers: dict = {}
        strings: dict = {}
        with collector_paused():
            return cls._parse_lines(f, source, strict, notes, events, workers, strings)

    @classmethod
    def _parse_lines(cls, f, source, strict, notes, events, workers, strings) -> Trace:
        header = None
        unknown: dict = {}
        pending_error = None
        lineno = 0
        latest = float("-inf")
        late = 0                      # events earlier than one before them
        first_late = None
        for lineno, raw in enumerate(f, 1):
            if pending_error is not None:
                # A bad line with more lines after it is corruption, not truncation.
                if strict:
                    raise pending_error
                notes.append(f"skipped {pending_error}")
                pending_error = None
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except ValueError as exc:
                err = TraceFormatError(f"invalid JSON ({exc})", lineno, source)
                if not raw.endswith(b"\n"):
                    notes.append(f"{source}:{lineno}: last line is truncated; "
                                 f"loaded the {len(events)} complete events before it")
                    break
                pending_error = err
                continue
            if header is None:
                header = cls._check_header(obj, lineno, source)
                continue
            try:
                e = from_json_dict(obj, workers, strings)
            except TraceFormatError as exc:
                err = TraceFormatError(str(exc), lineno, source)
                if strict:
                    raise err from None
                notes.append(f"skipped {err}")
                continue
            if e.kind not in KINDS:
                unknown[e.kind] = unknown.get(e.kind, 0) + 1
            if e.t < latest:
                late += 1
                if first_late is None:
                    first_late = (lineno, e.t, latest)
            else:
                latest = e.t
            events.append(e)
        if pending_error is not None:
            if strict:
                raise pending_error
            notes.append(f"skipped {pending_error}")
        if header is None:
            raise TraceFormatError("empty file: no hueyviz header line", lineno or 1, source)
        for kind, n in sorted(unknown.items()):
            notes.append(f"{source}: kept {n} event(s) of unknown kind {kind!r} "
                         "(written by a newer hueyviz?); the analysis ignores them")
        if first_late is not None:
            # The replay reads events in time order: file order would make a
            # different state (a task finishing before it started).
            events.sort(key=_time)
            line, t, before = first_late
            notes.append(f"{source}: {late} event{'s were' if late != 1 else ' was'} out of "
                         f"time order (first: line {line}, t = {t!r} after t = {before!r}); "
                         "sorted by time")
        clock = clock_note(events, header, source)
        if clock is not None:
            notes.append(clock)
        for note in notes:
            # stacklevel: warn -> _parse_lines -> _parse -> load -> the caller
            warnings.warn(note, TraceWarning, stacklevel=4)
        return cls._ordered(tuple(events), header=header,
                            dropped=_header_unlogged(header, events), warnings=notes)

    @staticmethod
    def _check_header(obj, lineno: int, source: str) -> dict:
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise TraceFormatError(
                f"not a hueyviz trace: line {lineno} should be a header with "
                f'"format": "{FORMAT}"', lineno, source)
        version = obj.get("version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise TraceFormatError("header has no integer 'version'", lineno, source)
        if version > VERSION:
            raise TraceFormatError(
                f"trace format version {version} is newer than this hueyviz "
                f"reads ({VERSION}); upgrade hueyviz", lineno, source)
        return obj

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
