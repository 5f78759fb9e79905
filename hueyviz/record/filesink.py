"""Events in JSON Lines files: :class:`FileSink` writes, :class:`FileReader` reads.

Each recording process appends to its own file ``<host>-<pid>-<id>.jsonl``
in one directory (for FileHuey: ``<its path>.hueyviz/`` beside its
storage), so processes never interleave partial lines.  Every file starts
with the usual trace header, so each one is also a valid trace for
:meth:`hueyviz.Trace.load`.  The reader tails every file in the directory
(or one trace file) and only takes complete lines.

A file has one writer, so a line's place in it is its sequence number (see
:mod:`hueyviz.record.writer`): a batch that fails half-way is cut off again
(``ftruncate``), so the file never holds half a batch or the same line twice.
"""
from __future__ import annotations

import errno
import glob
import json
import os
from typing import Dict, List, Optional, Tuple

from .writer import _HOST, BufferedSink

__all__ = ["FileReader", "FileSink", "sink_dir_for"]


def sink_dir_for(path: str) -> str:
    """Where FileHuey's events go: ``<path>.hueyviz`` beside its storage."""
    return os.path.abspath(os.fspath(path)).rstrip(os.sep) + ".hueyviz"


class FileSink(BufferedSink):
    """Appends batches to this process's file in ``directory``."""

    def __init__(self, directory: str, **options):
        super().__init__(**options)
        self.directory = directory
        self._fd: Optional[int] = None
        self.path: Optional[str] = None
        self._size = 0              # bytes of whole batches in the file
        self._torn = False          # a failed batch could not be cut off

    def describe(self) -> str:
        return f"files in {self.directory}"

    def _connect(self) -> None:
        if self._fd is None:
            from ..core.trace import make_header
            os.makedirs(self.directory, exist_ok=True)
            name = self.sender.replace("/", "-").replace(os.sep, "-")
            path = os.path.join(self.directory, f"{name}.jsonl")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                if os.fstat(fd).st_size == 0:
                    header = make_header(sender=self.sender, host=_HOST, pid=self.pid)
                    _write_all(fd, (json.dumps(header) + "\n").encode())
            except BaseException:
                os.close(fd)      # retried later: never leak a descriptor per attempt
                raise
            self.path, self._fd = path, fd
            self._size = os.fstat(fd).st_size

    def _write(self, batch: List[Tuple[int, str]]) -> None:
        fd = self._fd
        assert fd is not None              # _connect() ran first
        data = "".join(text + "\n" for _seq, text in batch).encode()
        try:
            _write_all(fd, data)
        except BaseException:
            try:
                os.ftruncate(fd, self._size)
            except OSError:
                self._torn = True
            raise
        self._size += len(data)

    def _refused(self, exc: BaseException) -> bool:
        # A full disk or quota refuses the data; anything else (the directory
        # is gone, permissions) is retried while the buffer holds.
        return isinstance(exc, OSError) and exc.errno in (
            errno.ENOSPC, errno.EDQUOT, errno.EFBIG)

    def _atomic(self) -> bool:
        return not self._torn

    def _disconnect(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)

    def _forget_connection(self):
        fd, self._fd = self._fd, None
        return fd

    def reader(self) -> FileReader:
        return FileReader(self.directory)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


class FileReader:
    """Tails a directory of per-process files, or a single trace file."""

    def __init__(self, path: str):
        self.path = path
        self.offsets: Dict[str, int] = {}
        self.lines: Dict[str, int] = {}     # event lines read per file: their numbers
        # A file that starts like another (the same header and first event) is
        # a copy of that recording: read twice, every task would run twice.
        self._starts: Dict[bytes, str] = {}
        self.copies: Dict[str, str] = {}    # copy -> the file read instead
        self.notes: List[str] = []

    def describe(self) -> str:
        return f"files in {self.path}" if os.path.isdir(self.path) else self.path

    def _files(self) -> List[str]:
        if os.path.isdir(self.path):
            return sorted(glob.glob(os.path.join(self.path, "*.jsonl")))
        return [self.path]

    def seek_end(self) -> None:
        for f in self._files():
            try:
                with open(f, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            end = data.rfind(b"\n") + 1
            lines = data[:end].split(b"\n")[:-1]
            if lines and _is_header(lines[0]):
                _check(lines[0], f)
                lines = lines[1:]
            self.offsets[f] = end
            self.lines[f] = sum(1 for raw in lines if raw.strip())

    def trimmed(self) -> bool:
        return False               # files are never cut from the front

    def fetch(self, timeout: float = 0.0, count: int = 0) -> List[tuple]:
        import threading
        import time
        deadline = time.monotonic() + timeout
        idle = threading.Event()
        while True:
            out = self._read_new()
            if out or time.monotonic() >= deadline:
                return out
            idle.wait(min(0.02, max(0.0, deadline - time.monotonic())))

    def _is_copy(self, f: str, data: bytes) -> bool:
        head = data.split(b"\n", 2)
        if len(head) < 3 or not _is_header(head[0]):
            return False
        key = head[0] + b"\n" + head[1]
        first = self._starts.setdefault(key, f)
        if first == f:
            return False
        self.copies[f] = first
        self.notes.append(f"{f} holds the same recording as {first} (the same header and "
                          "first event): read once")
        return True

    def _read_new(self) -> List[tuple]:
        out: List[tuple] = []
        for f in self._files():
            if f in self.copies:
                continue
            off = self.offsets.get(f, 0)
            try:
                with open(f, "rb") as fh:
                    fh.seek(off)
                    data = fh.read()
            except OSError:
                continue
            if not data:
                continue
            if off == 0 and os.path.isdir(self.path) and self._is_copy(f, data):
                continue
            lines = data.split(b"\n")
            tail = lines.pop()          # incomplete last line: read it next time
            base = off
            n = self.lines.get(f, 0)
            for raw in lines:
                lineno_off = base
                base += len(raw) + 1
                if not raw.strip():
                    continue
                if lineno_off == 0 and _is_header(raw):
                    _check(raw, f)
                    continue
                n += 1
                out.append((f, n, raw, f"{f} at byte {lineno_off}"))
            self.lines[f] = n
            self.offsets[f] = off + len(data) - len(tail)
        return out

    def close(self) -> None:
        pass


def _is_header(raw: bytes) -> bool:
    return b'"format"' in raw[:200]


def _check(raw: bytes, path: str) -> None:
    """A file's header, read like a trace file's: a format this hueyviz does
    not know (a newer version) is refused, never read as the old one."""
    from ..core.errors import TraceFormatError
    from ..core.jsonl import check_header
    try:
        obj = json.loads(raw)
    except ValueError:
        raise TraceFormatError("the header line is not JSON", 1, path) from None
    check_header(obj, 1, path)
