"""Events in JSON Lines files: :class:`FileSink` writes, :class:`FileReader` reads.

Each recording process appends to its own file ``<host>-<pid>-<id>.jsonl``
in one directory (for FileHuey: ``<its path>.hueyviz/`` beside its
storage), so processes never interleave partial lines.  Every file starts
with the usual trace header, so each one is also a valid trace for
:meth:`hueyviz.Trace.load`.  The reader tails every file in the directory
(or one trace file) and only takes complete lines.
"""
from __future__ import annotations

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

    def describe(self) -> str:
        return f"files in {self.directory}"

    def _connect(self) -> None:
        if self._fd is None:
            from ..core.trace import make_header
            os.makedirs(self.directory, exist_ok=True)
            name = self.sender.replace("/", "-").replace(os.sep, "-")
            path = os.path.join(self.directory, f"{name}.jsonl")
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            if os.fstat(fd).st_size == 0:
                header = make_header(sender=self.sender, host=_HOST, pid=self.pid)
                _write_all(fd, (json.dumps(header) + "\n").encode())
            self.path, self._fd = path, fd

    def _write(self, batch: List[Tuple[int, str]]) -> None:
        assert self._fd is not None        # _connect() ran first
        _write_all(self._fd, "".join(text + "\n" for _seq, text in batch).encode())

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
        self.partial: Dict[str, bytes] = {}

    def describe(self) -> str:
        return f"files in {self.path}" if os.path.isdir(self.path) else self.path

    def _files(self) -> List[str]:
        if os.path.isdir(self.path):
            return sorted(glob.glob(os.path.join(self.path, "*.jsonl")))
        return [self.path]

    def seek_end(self) -> None:
        for f in self._files():
            try:
                self.offsets[f] = os.path.getsize(f)
            except OSError:
                pass

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

    def _read_new(self) -> List[tuple]:
        out: List[tuple] = []
        for f in self._files():
            off = self.offsets.get(f, 0)
            try:
                with open(f, "rb") as fh:
                    fh.seek(off)
                    data = fh.read()
            except OSError:
                continue
            if not data:
                continue
            lines = data.split(b"\n")
            tail = lines.pop()          # incomplete last line: read it next time
            base = off
            for raw in lines:
                lineno_off = base
                base += len(raw) + 1
                if not raw.strip():
                    continue
                if lineno_off == 0 and b'"format"' in raw[:200]:
                    continue            # the header line
                out.append((None, None, raw, f"{f} at byte {lineno_off}"))
            self.offsets[f] = off + len(data) - len(tail)
        return out

    def close(self) -> None:
        pass
