"""The Python stacks of live processes: the one module that runs a stack reader.

``hueyviz autopsy`` reads the stack of every thread of a consumer process
(and of its worker processes) without stopping or changing it.  The reader
is `py-spy <https://github.com/benfred/py-spy>`_ (``py-spy dump --json
--locals``, a binary shipped in its PyPI wheel: ``pip install
'hueyviz[autopsy]'``).  Measured on Huey's real wait loop (``BaseStorage.
wait_result``) it shows every thread's name, its frames with file and line,
and the repr of plain locals: the awaited task id is the ``key`` string
local of ``wait_result``, its ``timeout``, ``deadline`` and ``delay`` are
numbers.  pystack shows the same; neither sees the stacks of suspended
greenlets (only gevent's hub), so greenlet workers cannot be read.

py-spy suspends the process for the few milliseconds it takes to copy the
stacks (a consistent snapshot) and resumes it; it writes nothing.  Each
call is bounded by a timeout; its failures become one clear
:class:`StackError` (no permission to trace, no such process, not a Python
process, a Python version py-spy does not know).

The process table (``/proc``) is read here too: command lines, parents,
children and working directories, to find consumer processes.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sysconfig
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple

from ..core.errors import MissingDependency, SourceError

__all__ = [
    "Frame",
    "StackError",
    "ThreadStack",
    "children",
    "command_line",
    "find_processes",
    "number_local",
    "object_type",
    "parent",
    "read_stack",
    "read_stacks",
    "reader_name",
    "string_local",
    "working_dir",
]

TIMEOUT = 15.0          # seconds one py-spy call may take
PARALLEL = 8            # py-spy calls at once (process workers: one per process)
_OBJECT = re.compile(r"^<([A-Za-z_][\w.]*) at 0x[0-9a-f]+>$")


class StackError(SourceError):
    """A stack that cannot be read; the message says why and what to do."""


@dataclass(frozen=True)
class Frame:
    """One frame: ``function`` is its qualified name, ``file`` the short
    file name py-spy gives (``huey/api.py``, ``app.py``), ``locals`` the
    repr py-spy shows of each local (strings JSON-quoted, objects as
    ``<Type at 0x...>``)."""

    function: str
    file: str
    path: str
    line: int
    locals: Dict[str, str]

    @property
    def code_name(self) -> str:
        """The function's own name (``<genexpr>`` of ``main.<locals>.<genexpr>``)."""
        return self.function.rsplit(".", 1)[-1]

    def where(self) -> str:
        """``file:line in function``, as hueyviz writes a call site."""
        return f"{self.file}:{self.line} in {self.code_name}"


@dataclass(frozen=True)
class ThreadStack:
    """One thread of one process; ``frames`` innermost first."""

    pid: int
    name: Optional[str]
    frames: Tuple[Frame, ...]


def string_local(shown: Optional[str]) -> Optional[str]:
    """The value of a string local as py-spy shows it (``"abc"``), else None.

    >>> string_local('"54ebeb4f-9a70"'), string_local("<Result at 0x7f9e>")
    ('54ebeb4f-9a70', None)
    """
    if not shown or not shown.startswith('"'):
        return None
    try:
        value = json.loads(shown)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def number_local(shown: Optional[str]) -> Optional[float]:
    """A number local (``1.15``, ``3``), else None (``None``, ``True``, objects).

    >>> number_local("0.818"), number_local("None"), number_local("True")
    (0.818, None, None)
    """
    if not shown or shown in ("True", "False"):
        return None
    try:
        return float(shown)
    except ValueError:
        return None


def object_type(shown: Optional[str]) -> Optional[str]:
    """The type name of an object local (``<main at 0x7f..>`` -> ``main``).

    >>> object_type("<main at 0x7f9e1ccc8590>")
    'main'
    """
    m = _OBJECT.match(shown or "")
    return m.group(1) if m else None


# -- the reader ----------------------------------------------------------------
def _executable() -> str:
    """The py-spy binary: beside this Python's scripts (a venv not on PATH), else on PATH."""
    here = os.path.join(sysconfig.get_path("scripts"), "py-spy")
    if os.path.isfile(here) and os.access(here, os.X_OK):
        return here
    found = shutil.which("py-spy")
    if found is None:
        raise MissingDependency("py-spy", "autopsy", "reading the stacks of a live consumer")
    return found


_version: Dict[str, str] = {}


def reader_name() -> str:
    """``py-spy 0.4.3``: the stack reader and its version (``py-spy`` when unknown)."""
    try:
        exe = _executable()
    except MissingDependency:
        return "py-spy"
    if exe not in _version:
        try:
            out = subprocess.run([exe, "--version"], capture_output=True, text=True,
                                 timeout=TIMEOUT).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        _version[exe] = out or "py-spy"
    return _version[exe]


def read_stack(pid: int, timeout: float = TIMEOUT) -> List[ThreadStack]:
    """Every thread of process ``pid`` with its frames and locals.

    Raises :class:`StackError` (a :class:`~hueyviz.core.errors.SourceError`)
    with the reason and the fix, :class:`MissingDependency` without py-spy.
    """
    exe = _executable()
    try:
        done = subprocess.run([exe, "dump", "--pid", str(pid), "--json", "--locals"],
                              capture_output=True, text=True, timeout=timeout,
                              errors="replace")
    except subprocess.TimeoutExpired:
        raise StackError(f"py-spy did not read the stacks of process {pid} within "
                         f"{timeout:g} s; nothing was changed") from None
    except OSError as exc:
        raise StackError(f"cannot run py-spy ({exe}): {exc.strerror or exc}") from None
    if done.returncode != 0:
        raise failure(pid, done.stderr + done.stdout)
    try:
        threads = json.loads(done.stdout)
    except ValueError:
        raise StackError(f"py-spy gave no readable stacks for process {pid}: "
                         f"{_first_line(done.stdout + done.stderr)}") from None
    return [_thread(pid, t) for t in threads if isinstance(t, dict)]


def read_stacks(pids: Iterable[int], timeout: float = TIMEOUT) -> Dict[int, List[ThreadStack]]:
    """:func:`read_stack` of each pid, several at once; the first failure raises."""
    pids = list(dict.fromkeys(pids))
    if len(pids) == 1:
        return {pids[0]: read_stack(pids[0], timeout)}
    with ThreadPoolExecutor(max_workers=min(PARALLEL, len(pids) or 1)) as pool:
        futures = {pid: pool.submit(read_stack, pid, timeout) for pid in pids}
        return {pid: f.result() for pid, f in futures.items()}


def _thread(pid: int, t: dict) -> ThreadStack:
    frames = []
    for f in t.get("frames") or ():
        shown = {str(x.get("name")): str(x.get("repr")) for x in f.get("locals") or ()
                 if isinstance(x, dict)}
        frames.append(Frame(str(f.get("name", "?")), str(f.get("short_filename") or
                                                          f.get("filename") or "?"),
                            str(f.get("filename") or ""), int(f.get("line") or 0), shown))
    name = t.get("thread_name")
    return ThreadStack(int(t.get("pid") or pid), name if isinstance(name, str) else None,
                       tuple(frames))


def _first_line(text: str) -> str:
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("Stack backtrace"):
            return line[:300]
    return "no output"


def failure(pid: int, output: str) -> StackError:
    """The one-line error for py-spy's ``output`` on process ``pid``.

    >>> msg = str(failure(os.getpid(), "Error: Unsupported version of Python: 3.99.0"))
    >>> "(3.99.0) is not supported by py-spy" in msg
    True
    """
    low = output.lower()
    if not os.path.exists(f"/proc/{pid}") and os.path.isdir("/proc"):
        return StackError(f"no process {pid} (it has ended, or the pid is wrong)")
    if "permission denied" in low or "operation not permitted" in low:
        return StackError(
            f"no permission to read the stacks of process {pid} (ptrace): run hueyviz autopsy "
            "as root (sudo) or as the user that runs the consumer; in a container start it "
            "with --cap-add SYS_PTRACE; where kernel.yama.ptrace_scope is above 1, "
            "`sudo sysctl kernel.yama.ptrace_scope=1` (or 0) allows it")
    m = re.search(r"unsupported version of python:?\s*([^\s]*)", output, re.IGNORECASE)
    if m:
        version = m.group(1).strip() or "its version"
        return StackError(
            f"the Python of process {pid} ({version}) is not supported by {reader_name()}: "
            "upgrade it (pip install -U py-spy) to one that knows that version")
    if "failed to find python version" in low or "python interpreter" in low \
            or "failed to get python" in low:
        return StackError(f"process {pid} ({_comm(pid)}) is not a Python process, so not a "
                          "Huey consumer")
    return StackError(f"py-spy could not read process {pid}: {_first_line(output)}")


# -- the process table -----------------------------------------------------------
def _read(path: str) -> Optional[bytes]:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _comm(pid: int) -> str:
    raw = _read(f"/proc/{pid}/comm")
    return raw.decode(errors="replace").strip() if raw else "?"


def command_line(pid: int) -> List[str]:
    """The arguments process ``pid`` was started with ([] if unreadable)."""
    raw = _read(f"/proc/{pid}/cmdline")
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a] if raw else []


def parent(pid: int) -> Optional[int]:
    raw = _read(f"/proc/{pid}/stat")
    if not raw:
        return None
    fields = raw[raw.rfind(b")") + 2:].split()     # the name may hold spaces and ")"
    try:
        return int(fields[1])
    except (IndexError, ValueError):
        return None


def _pids() -> List[int]:
    try:
        return sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    except OSError:
        return []


def children(pid: int) -> List[int]:
    """The processes whose parent is ``pid``, in pid order (order of creation)."""
    return [p for p in _pids() if p != pid and parent(p) == pid]


def working_dir(pid: int) -> Optional[str]:
    try:
        return os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return None


def find_processes(words: Tuple[str, ...]) -> List[int]:
    """Processes (not this one) whose command line contains one of ``words``."""
    me = os.getpid()
    out = []
    for pid in _pids():
        if pid == me:
            continue
        line = " ".join(command_line(pid))
        if any(w in line for w in words):
            out.append(pid)
    return out
