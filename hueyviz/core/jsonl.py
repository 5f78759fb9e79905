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
from itertools import accumulate, chain, compress, count, islice
from operator import attrgetter, le, lt
from typing import Any, Iterable, Iterator, List, Optional, Tuple

from .codec import loads
from .decoder import decode_block
from .errors import TraceFormatError
from .event import KINDS, Event, from_json_dict

__all__ = ["FORMAT", "VERSION", "Lines", "check_header", "open_trace", "sorted_blocks", "time_sorted"]

_time = attrgetter("t")

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
        for block in _blocks(self):
            yield from io.BytesIO(block).readlines()


BLOCK = 1 << 18       # bytes read and decoded at a time: its objects stay in cache
# No event line comes near this (the longest fields are bounded: 1,024 ids,
# 200-character arguments); a longer line ends the read, compressed or not,
# before it costs more memory than this.
MAX_LINE = 64 << 20


class LineTooLong(ValueError):
    """A line longer than :data:`MAX_LINE`, ``offset`` bytes into the content."""

    def __init__(self, offset: int):
        super().__init__(offset)
        self.offset = offset


def _blocks(f: Any, size: int = BLOCK) -> Iterator[bytes]:
    """The content of ``f`` (a binary file, or an iterable of lines) as
    blocks of whole lines; the last may lack its newline.  A cut gzip
    stream raises ``EOFError`` after the complete lines before the cut."""
    # A gzip stream is read with read1: one that ends in a cut raises
    # EOFError, and read() would drop what it had gathered in that call.  A
    # plain file with read(): read1 returns at most its 8 KB buffer a call.
    read = getattr(f, "read1" if isinstance(f, gzip.GzipFile) else "read", None)
    if read is None:
        yield from _grouped(f, size)
        return
    rest: List[bytes] = []          # the start of a line longer than a chunk
    held = offset = 0
    while True:
        chunk = read(size)
        if not chunk:
            break
        cut = chunk.rfind(b"\n")
        if cut < 0:
            rest.append(chunk)
            held += len(chunk)
            if held > MAX_LINE:
                raise LineTooLong(offset)
            continue
        block = b"".join(rest) + chunk[:cut + 1]
        offset += len(block)
        yield block
        rest = [chunk[cut + 1:]]
        held = len(rest[0])
    if held:
        yield b"".join(rest)


def _grouped(lines: Iterable[bytes], size: int) -> Iterator[bytes]:
    parts: List[bytes] = []
    n = 0
    for line in lines:
        parts.append(line)
        n += len(line)
        if n >= size and line.endswith(b"\n"):
            yield b"".join(parts)
            parts, n = [], 0
    if parts:
        yield b"".join(parts)


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
    """The events of one trace file, in file order; iterate once (by event,
    or by block with :meth:`blocks`).

    A truncated last line (a recorder killed mid-write) ends the events with
    a note.  Any other bad line raises :class:`TraceFormatError` naming the
    line, unless ``strict`` is False, which skips it with a note.

    Blocks of lines are decoded by :func:`~hueyviz.core.decoder.decode_block`
    in C; a block it does not vouch for is read line by line on the careful
    path (:func:`~hueyviz.core.event.from_json_dict`), which says what is
    wrong and where.  Both give the same events.
    """

    def __init__(self, f: Iterable[bytes], source: str, strict: bool = True,
                 intern: bool = True):
        self.f = f
        self.source = source
        self.strict = strict
        self.intern = intern            # share one copy of each id and name (a kept trace)
        self.header: Optional[dict] = None
        self.notes: List[str] = []
        self.count = 0
        self.late = 0                 # events earlier than one before them
        self.first_late: Optional[Tuple[int, float, float]] = None
        self.losses = 0               # counts of the file's own `dropped` events
        self.workers: dict = {}
        self.strings: dict = {}
        self.careful_blocks = 0       # blocks read line by line
        self._unknown: dict = {}
        self._latest = float("-inf")
        self._done = False

    def __iter__(self) -> Iterator[Event]:
        return chain.from_iterable(self.blocks())

    def blocks(self) -> Iterator[List[Event]]:
        """The events, a block of lines at a time (in file order)."""
        lineno = 0
        try:
            for block in _blocks(self.f):
                n_lines = block.count(b"\n") + (not block.endswith(b"\n"))
                # The block with the header is read the careful way: it is one.
                got = None if self.header is None else decode_block(
                    block, self.workers, self.strings, self.intern)
                if got is None:
                    self.careful_blocks += 1
                    events = self._careful(block, lineno)
                else:
                    events = got.events
                    self.losses += got.losses
                    self._check_order(events, block, lineno)
                lineno += n_lines
                self.count += len(events)
                if events:
                    yield events
                if self._done:
                    break
        except EOFError:
            # A .gz whose writer was killed: the complete lines before the cut are good.
            self.notes.append(f"{self.source}: the compressed file is truncated (its writer "
                              f"was stopped?); loaded the {self.count} complete events "
                              "before the cut")
        except (gzip.BadGzipFile, zlib.error) as exc:
            raise TraceFormatError(f"not a readable gzip file ({exc})", lineno or None,
                                   self.source) from None
        except LineTooLong:
            raise TraceFormatError(f"a line longer than {MAX_LINE >> 20} MiB: not a trace "
                                   "event (a corrupt or foreign file?)", lineno + 1,
                                   self.source) from None
        if self.header is None:
            raise TraceFormatError("empty file: no hueyviz header line", lineno or 1, self.source)
        for kind, n in sorted(self._unknown.items()):
            self.notes.append(f"{self.source}: kept {n} event(s) of unknown kind {kind!r} "
                              "(written by a newer hueyviz?); the analysis ignores them")

    def _careful(self, block: bytes, lineno: int) -> List[Event]:
        """The events of ``block`` read one line at a time."""
        source, strict, notes = self.source, self.strict, self.notes
        workers, strings = self.workers, self.strings
        out: List[Event] = []
        for raw in io.BytesIO(block):
            lineno += 1
            if not raw.strip():
                continue
            try:
                obj = loads(raw)
            except ValueError as exc:
                if not raw.endswith(b"\n"):
                    # Only the last line of a file lacks its newline.
                    notes.append(f"{source}:{lineno}: last line is truncated; "
                                 f"loaded the {self.count + len(out)} complete events before it")
                    self._done = True
                    break
                err = TraceFormatError(f"invalid JSON ({exc})", lineno, source)
                if strict:
                    raise err from None
                notes.append(f"skipped {err}")
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
            if e.t < self._latest:
                self.late += 1
                if self.first_late is None:
                    self.first_late = (lineno, e.t, self._latest)
            else:
                self._latest = e.t
            out.append(e)
        return out

    def _check_order(self, events: List[Event], block: bytes, lineno: int) -> None:
        """Count the events of a decoded block that are earlier than one
        before them."""
        if not events:
            return
        ts = list(map(_time, events))
        if ts[0] >= self._latest and all(map(le, ts, islice(ts, 1, None))):
            self._latest = ts[-1]
            return
        before = list(accumulate(ts, max, initial=self._latest))
        late = sum(map(lt, ts, before))
        self._latest = before[-1] if ts[-1] < before[-1] else ts[-1]
        if not late:
            return
        self.late += late
        if self.first_late is None:
            i = next(compress(count(), map(lt, ts, before)))
            self.first_late = (lineno + _line_of(block, i), ts[i], before[i])

    def late_note(self, how: str = "sorted by time") -> Optional[str]:
        if self.first_late is None:
            return None
        line, t, before = self.first_late
        return (f"{self.source}: {self.late} event{'s were' if self.late != 1 else ' was'} "
                f"out of time order (first: line {line}, t = {t!r} after t = {before!r}); "
                f"{how}")


def _line_of(block: bytes, i: int) -> int:
    """The line (1-based, within ``block``) of its ``i``-th non-blank line."""
    seen = -1
    for n, raw in enumerate(io.BytesIO(block), 1):
        if raw.strip():
            seen += 1
            if seen == i:
                return n
    return n


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


def sorted_blocks(blocks: Iterable[List[Event]], window: int = 100_000,
                  counter: Optional[list] = None) -> Iterator[List[Event]]:
    """:func:`time_sorted` a block at a time: blocks (lists of events) in
    time order, holding back at least ``window`` events.  While the blocks
    come in order they pass through whole, at no cost per event; from the
    first one out of order on, the events held and the rest are sorted one
    by one (and come out in blocks again)."""
    held: deque = deque()
    n_held = 0
    last = released = float("-inf")
    it = iter(blocks)
    for block in it:
        if not block:
            continue
        ts = list(map(_time, block))
        if ts[0] < last or not all(map(le, ts, islice(ts, 1, None))):
            heap = [(e.t, n, e) for n, e in enumerate(chain.from_iterable(held))]
            rest = enumerate(chain(block, chain.from_iterable(it)), len(heap))
            yield from _in_blocks(_heap_sorted(heap, rest, window, counter, released))
            return
        last = ts[-1]
        held.append(block)
        n_held += len(block)
        while n_held - len(held[0]) >= window:
            out = held.popleft()
            n_held -= len(out)
            released = out[-1].t
            yield out
    yield from held


def _in_blocks(events: Iterator[Event], size: int = 4096) -> Iterator[List[Event]]:
    return iter(lambda: list(islice(events, size)), [])


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
