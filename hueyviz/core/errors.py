"""Every error hueyviz raises on purpose, in one hierarchy.

Each message says what is wrong, where, and what to do about it.  The
command line turns any :class:`HueyvizError` into one line on stderr and
exit status 2 ("unusable input"); status 1 is reserved for a finding.
"""
from __future__ import annotations

from typing import Optional

from huey.exceptions import TaskException

__all__ = [
    "DeadlockError",
    "EngineNotFound",
    "HueyvizError",
    "MissingDependency",
    "OutputError",
    "SourceError",
    "TraceFormatError",
    "UsageError",
]


class HueyvizError(Exception):
    """Base class of hueyviz's own errors."""


class TraceFormatError(HueyvizError, ValueError):
    """A trace file, stream entry or event that cannot be used, with where and why.

    >>> str(TraceFormatError("bad field", 3, "t.jsonl"))
    't.jsonl:3: bad field'
    """

    def __init__(self, message: str, line: Optional[int] = None,
                 source: Optional[str] = None):
        where = "" if source is None else source
        if line is not None:
            where = f"{where}:{line}" if where else f"line {line}"
        super().__init__(f"{where}: {message}" if where else message)
        self.reason = message
        self.line = line
        self.source = source


class SourceError(HueyvizError):
    """A source that cannot be read: missing, unreachable, or holding no events."""


class OutputError(HueyvizError, OSError):
    """A file or directory that cannot be written (``-o``, ``--out``, ``save``).

    Also an :class:`OSError`, so code that handles the operating system's
    refusal keeps handling it; ``errno`` and ``filename`` are the original's.
    """

    def __init__(self, path: object, exc: OSError, what: str = "write"):
        reason = exc.strerror or str(exc)
        super().__init__(f"cannot {what} {path}: {reason}; choose a path you can write to")
        self.errno = exc.errno
        self.filename = path

    def __str__(self) -> str:
        return str(self.args[0])


class UsageError(HueyvizError, ValueError):
    """An argument out of range (a worker count of 0, a time that is NaN...)."""


class MissingDependency(HueyvizError, ImportError):
    """An optional dependency is not installed; the message names the extra."""

    def __init__(self, module: str, extra: str, purpose: str):
        super().__init__(f"{purpose} needs the {module!r} package: "
                         f"pip install 'hueyviz[{extra}]'")
        self.name = module


class EngineNotFound(HueyvizError, RuntimeError):
    """No usable Graphviz engine; the message says what to install."""


class DeadlockError(HueyvizError, TaskException):
    """Raised by ``Result.get`` inside a task when the wait would deadlock.

    A subclass of huey's :class:`~huey.exceptions.TaskException`, the error
    ``Result.get`` already raises when the awaited task failed: code that
    handles a failed subtask (``except TaskException``) handles a refused
    wait the same way (the result will not come), and huey stores it the
    way it stores a failed subtask's error.  ``finding`` holds the knot.
    """

    def __init__(self, message: str = "", finding: object = None):
        TaskException.__init__(self, {"error": f"DeadlockError: {message}"}, message)
        self.message = message
        self.finding = finding

    def __str__(self) -> str:
        return self.message
