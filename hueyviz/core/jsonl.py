"""Reading trace files line by line: the one parser behind ``Trace.load`` and
the streaming readers.

:class:`Lines` yields the events of a JSON Lines trace in file order and
keeps, as it goes, what a caller must be told: the header, lines skipped,
kinds it does not know, events out of time order, losses the file records.
:func:`time_sorted` puts a stream in time order with a bounded window, so a
file of any length is read in bounded memory.  A name ending in ``.gz`` is
read and written through gzip, transparently.
"""
from __future__ import annotations

import gzip
import heapq
import io
import zlib
from collections import deque
from itertools import chain
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from .codec import loads
from .errors import TraceFormatError
from .event import KINDS, Event, from_json_dict

__all__ = ["FORMAT", "VERSION", "Lines", "check_header", "open_trace", "time_sorted"]

FORMAT = "hueyviz-trace"
VERSION = 1


def open_trace(path: str, mode: str = "rb", gz: Optional[bool] = None) -> Any:
    """``open``, or ``gzip.open`` for a name ending in ``.gz`` (or ``gz=True``)."""
    encoding = "utf-8" if "t" in mode else None
    if gz if gz is not None else path.endswith(".gz"):
        if mode == "rb":
            return _GzipLines(path, "rb")
        return gzip.open(path, mode, compresslevel=6, encoding=encoding)
    return open(path, mode, encoding=encoding)


class _GzipLines(gzip.GzipFile):
    """A gzip file whose lines come a chunk at a time (GzipFile's own
    iteration is a Python call per line), and end cleanly at a cut: every
    complete line before it is yielded before ``EOFError`` is raised."""

    def __iter__(self) -> Iterator[bytes]:
        rest = b""
        read1 = self.read1
        while True:
            chunk = read1(1 << 16)
            if not chunk:
                break
            lines = io.BytesIO(rest + chunk).readlines()
            rest = lines.pop() if not lines[-1].endswith(b"\n") else b""
            yield from lines
        if rest:
            yield rest


def check_header(obj, lineno: int, source: str) -> dict:
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


class Lines:
    """The events of one trace file, in file order; iterate once.

    A truncated last line (a recorder killed mid-write) ends the events with
    a note.  Any other bad line raises :class:`TraceFormatError` naming the
    line, unless ``strict`` is False, which skips it with a note.
    """

    def __init__(self, f: Iterable[bytes], source: str, strict: bool = True):
        self.f = f
        self.source = source
        self.strict = strict
        self.header: Optional[dict] = None
        self.notes: List[str] = []
        self.count = 0
        self.late = 0                 # events earlier than one before them
        self.first_late: Optional[Tuple[int, float, float]] = None
        self.losses = 0               # counts of the file's own `dropped` events
        self.workers: dict = {}
        self.strings: dict = {}
        self._unknown: dict = {}

    def __iter__(self) -> Iterator[Event]:
        source, strict, notes = self.source, self.strict, self.notes
        workers, strings = self.workers, self.strings
        pending_error = None
        lineno = 0
        latest = float("-inf")
        try:
            for lineno, raw in enumerate(self.f, 1):
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
                                     f"loaded the {self.count} complete events before it")
                        break
                    pending_error = err
                    continue
                if self.header is None:
                    self.header = check_header(obj, lineno, source)
                    continue
                try:
                    e = from_json_dict(obj, workers, strings)
                except TraceFormatError as exc:
                    err = TraceFormatError(str(exc), lineno, source)
                    if strict:
                        raise err from None
                    notes.append(f"skipped {err}")
                    continue
                kind = e.kind
                if kind not in KINDS:
                    self._unknown[kind] = self._unknown.get(kind, 0) + 1
                elif kind == "dropped":
                    self.losses += e.get("count", 0)
                if e.t < latest:
                    self.late += 1
                    if self.first_late is None:
                        self.first_late = (lineno, e.t, latest)
                else:
                    latest = e.t
                self.count += 1
                yield e
        except EOFError:
            # A .gz whose writer was killed: the complete lines before the cut are good.
            notes.append(f"{source}: the compressed file is truncated (its writer was "
                         f"stopped?); loaded the {self.count} complete events before the cut")
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise TraceFormatError(f"not a readable gzip file ({exc})", lineno, source) from None
        if pending_error is not None:
            if strict:
                raise pending_error
            notes.append(f"skipped {pending_error}")
        if self.header is None:
            raise TraceFormatError("empty file: no hueyviz header line", lineno or 1, source)
        for kind, n in sorted(self._unknown.items()):
            notes.append(f"{source}: kept {n} event(s) of unknown kind {kind!r} "
                         "(written by a newer hueyviz?); the analysis ignores them")

    def late_note(self, how: str = "sorted by time") -> Optional[str]:
        if self.first_late is None:
            return None
        line, t, before = self.first_late
        return (f"{self.source}: {self.late} event{'s were' if self.late != 1 else ' was'} "
                f"out of time order (first: line {line}, t = {t!r} after t = {before!r}); "
                f"{how}")


def time_sorted(events: Iterable[Event], window: int = 100_000,
                counter: Optional[list] = None) -> Iterator[Event]:
    """``events`` in time order, holding at most ``window`` back: each event
    is released once ``window`` later ones have arrived.  The sort is stable.
    An event that arrives after a later one was released cannot be put back
    in place: it is released at once and counted in ``counter[0]``.
    """
    # While events arrive in order (a file one tracer wrote) they wait in a
    # FIFO; the first one out of order turns the FIFO, already sorted and so
    # already a heap, into the heap that sorts the rest.
    fifo: deque = deque()
    append, popleft = fifo.append, fifo.popleft
    it = enumerate(events)
    last = released = float("-inf")
    for n, e in it:
        t = e.t
        if t < last:
            yield from _heap_sorted(list(fifo), chain([(n, e)], it), window, counter, released)
            return
        last = t
        append((t, n, e))
        if len(fifo) > window:
            released, _, out = popleft()
            yield out
    for _, _, e in fifo:
        yield e


def _heap_sorted(heap: list, rest: Iterator[Tuple[int, Any]], window: int,
                 counter: Optional[list], released: float) -> Iterator[Event]:
    push, pop = heapq.heappush, heapq.heappop
    for n, e in rest:
        push(heap, (e.t, n, e))
        if len(heap) > window:
            t, _, out = pop(heap)
            if t < released and counter is not None:
                counter[0] += 1
            released = max(released, t)
            yield out
    while heap:
        t, _, out = pop(heap)
        if t < released and counter is not None:
            counter[0] += 1
        released = max(released, t)
        yield out
