"""Reading a large trace file in a second process, while this one works.

:func:`open_lines` gives the events of a trace file the way
:class:`~hueyviz.core.jsonl.Lines` does (``blocks()``, then ``header``,
``notes``, ``count``, ``late_note()`` ...).  For a large file on a machine
with a second core, :class:`PipedLines` has a child process
(``python -c ...``) do the reading -- decompressing,
parsing, checking every field, all of :class:`Lines` -- and send each
block's events through a pipe as columns, which this process zips back
into events: it spends its time on what it does with them (the replay),
and the two halves of the work overlap.

The child is a plain subprocess, not multiprocessing: it never imports the
caller's ``__main__``.  If it cannot be started, the file is read here.  If
it ends without finishing, that is a :class:`~hueyviz.core.errors.SourceError`
naming its exit status: the caller has already used part of the file.
``HUEYVIZ_READER=inline`` reads every file here.
"""
from __future__ import annotations

import os
import pickle
import struct
import subprocess
import sys
import tempfile
from array import array
from itertools import chain
from operator import attrgetter
from typing import IO, Any, Iterator, List, Optional, Tuple, Union

from .errors import SourceError, TraceFormatError
from .event import Event
from .jsonl import Lines, open_trace

__all__ = ["MIN_BYTES", "PipedLines", "open_lines"]

MIN_BYTES = 48 << 20          # smaller files are read here: a child costs ~0.2 s to start
_GZ_MIN_BYTES = MIN_BYTES // 6
_FRAME = struct.Struct("<Q")
_PIPE_BYTES = 1 << 20         # the child may run this far ahead
# One getter per field: seven passes of map() over a block cost a third of
# transposing its rows (zip(*rows) builds a tuple per event).
_GETTERS = tuple(attrgetter(f) for f in Event.__struct_fields__)
_STATE = ("header", "notes", "count", "late", "first_late", "losses", "careful_blocks")
_CHILD = "import sys; from hueyviz.core.pipe import _child; sys.exit(_child(sys.argv[1], sys.argv[2] == '1'))"


def open_lines(path: str, strict: bool = True, intern: bool = True,
               min_bytes: Optional[int] = None) -> Union[_OwnedLines, PipedLines]:
    """A reader of the events of the trace file ``path``: in a child
    process when the file is large and a second core is there, else here.
    Call ``close()`` when done (or use it as a context manager)."""
    if os.environ.get("HUEYVIZ_READER") != "inline" and _cores() > 1:
        try:
            size = os.path.getsize(path)
        except OSError:
            size = 0
        least = min_bytes if min_bytes is not None else (
            _GZ_MIN_BYTES if path.endswith(".gz") else MIN_BYTES)
        if size >= least:
            try:
                return PipedLines(path, strict, intern)
            except OSError:
                pass            # no child to be had: read it here
    try:
        f = open_trace(path, "rb")
    except OSError as exc:
        raise TraceFormatError(f"cannot open trace: {exc.strerror}", source=path) from None
    return _OwnedLines(f, path, strict, intern)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


class _OwnedLines(Lines):
    """:class:`Lines` that closes its file."""

    def close(self) -> None:
        self.f.close()          # type: ignore[attr-defined]

    def __enter__(self) -> _OwnedLines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


class PipedLines:
    """The events of a trace file read by a child process (see the module
    docstring); once ``blocks()`` is exhausted, the reader's findings about
    the file (``header``, ``notes``, ``count``, ...) are those of the
    :class:`Lines` that ran in the child."""

    def __init__(self, path: str, strict: bool = True, intern: bool = True):
        self.source = path
        self.header: Optional[dict] = None
        self.notes: List[str] = []
        self.count = 0
        self.late = 0
        self.first_late: Optional[Tuple[int, float, float]] = None
        self.losses = 0
        self.careful_blocks = 0
        self.intern = intern
        self.workers: dict = {}
        self.strings: dict = {}
        self._stderr = tempfile.TemporaryFile()
        env = dict(os.environ)
        # The child imports this copy of hueyviz, installed or not.
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = os.pathsep.join([here] + [p for p in (env.get("PYTHONPATH"),) if p])
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _CHILD, path, "1" if strict else "0"],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._stderr, env=env)
        assert self._proc.stdout is not None
        self._out: IO[bytes] = self._proc.stdout
        _widen(self._out.fileno())

    def __iter__(self) -> Iterator[Event]:
        return chain.from_iterable(self.blocks())

    def blocks(self) -> Iterator[List[Event]]:
        """The events, a block at a time (in file order)."""
        ended = False
        try:
            while True:
                frame = _read_frame(self._out)
                if frame is None:
                    break
                what, body = pickle.loads(frame)
                if what == "block":
                    yield self._events(body)
                elif what == "end":
                    for k, v in zip(_STATE, body):
                        setattr(self, k, v)
                    ended = True
                    break
                elif what == "error":
                    raise TraceFormatError(*body)
            if not ended:
                raise SourceError(self._died())
        finally:
            self.close()

    def _events(self, body: tuple) -> List[Event]:
        ts, kinds, tasks, names, workers, datas, queues = body
        times = array("d")
        times.frombytes(ts)
        if self.intern:
            # Names, queues and workers come interned within a block; across
            # blocks, and task ids, they are interned here, as Lines does.
            sd = self.strings.setdefault
            tasks = map(sd, tasks, tasks)
            names = map(sd, names, names)
            wd = self.workers.setdefault
            workers = map(wd, workers, workers)
        return list(map(Event, times, kinds, tasks, names, workers, datas, queues))

    def _died(self) -> str:
        try:
            rc = self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            rc = None
        self._stderr.seek(0)
        err = self._stderr.read().decode("utf-8", "replace").strip().splitlines()
        last = err[-1] if err else "no message"
        return (f"{self.source}: the process reading it ended before the end of the file "
                f"(exit status {rc}): {last[:300]}; set HUEYVIZ_READER=inline to read "
                "it in this process")

    def late_note(self, how: str = "sorted by time") -> Optional[str]:
        return Lines.late_note(self, how)       # type: ignore[arg-type]

    def close(self) -> None:
        proc = self._proc
        if proc.poll() is None:
            proc.kill()
        try:
            self._out.close()
        finally:
            proc.wait()
            self._stderr.close()

    def __enter__(self) -> PipedLines:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def _widen(fd: int) -> None:
    """Let the pipe hold a megabyte (Linux), so the child runs ahead."""
    try:
        import fcntl
        fcntl.fcntl(fd, getattr(fcntl, "F_SETPIPE_SZ", 1031), _PIPE_BYTES)
    except (ImportError, OSError, ValueError):
        pass


def _read_frame(f: IO[bytes]) -> Optional[bytes]:
    head = f.read(_FRAME.size)
    if len(head) < _FRAME.size:
        return None
    (n,) = _FRAME.unpack(head)
    body = f.read(n)
    return body if len(body) == n else None


def _write_frame(f: IO[bytes], obj: Any) -> None:
    body = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    f.write(_FRAME.pack(len(body)))
    f.write(body)


def _columns(events: List[Event]) -> tuple:
    ts, *rest = [tuple(map(get, events)) for get in _GETTERS]
    return (array("d", ts).tobytes(), *rest)


def _child(path: str, strict: bool) -> int:
    out = sys.stdout.buffer
    try:
        f = open_trace(path, "rb")
    except OSError as exc:
        _write_frame(out, ("error", (f"cannot open trace: {exc.strerror}", None, path)))
        return 0
    # Interned within the child, names, queues and workers cross the pipe
    # once per block (pickle's memo); task ids are not worth it here.
    with f:
        lines = Lines(f, path, strict, intern=False)
        names: dict = {}
        try:
            for events in lines.blocks():
                body = _columns(events)
                sd = names.setdefault
                body = body[:3] + (tuple(map(sd, body[3], body[3])),) + body[4:6] + (
                    tuple(map(sd, body[6], body[6])),)
                _write_frame(out, ("block", body))
        except TraceFormatError as exc:
            _write_frame(out, ("error", (exc.reason, exc.line, exc.source)))
            return 0
    _write_frame(out, ("end", tuple(getattr(lines, k) for k in _STATE)))
    out.flush()
    return 0

