"""``hueyviz record``: save what a live system records into a trace file.

The file is written as events arrive (a header line, then one event per
line, flushed after every read), so a recorder that is killed leaves a
trace that :meth:`hueyviz.Trace.load` reads up to the last complete line.

Order: the follower yields events in time order within its reorder window;
a straggler later than that (a writer that reconnected, a ``lost`` event
dated at the last sign of life) is written when it arrives.  When that
happened, the file is sorted by time once recording ends, so a finished
recording is in time order; a killed recorder's file may not be, and the
loader sorts it (with a warning saying how many events were late).

A source that cannot be read (Redis not listening, a database that went
away) is retried while recording; the first error is kept in
:attr:`RecordResult.error`, and the command line fails when nothing was
recorded because of it.
"""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import warnings
from dataclasses import dataclass, field
from typing import List, Optional

from ..core.codec import dumps_line
from ..core.errors import OutputError, SourceError
from ..core.event import Event, to_json_dict
from ..core.jsonl import open_trace
from .follower import Follower

__all__ = ["RecordResult", "record"]


@dataclass
class RecordResult:
    """What :func:`record` did.  ``error`` is the first reason the source
    could not be read (None: it always could); ``failed`` says recording
    stopped because of it; ``reordered`` counts events that arrived after
    later ones and were sorted into place at the end."""

    source: str
    path: str
    events: int = 0
    dropped: int = 0
    warnings: List[str] = field(default_factory=list)
    error: Optional[str] = None
    failed: bool = False
    reordered: int = 0
    written: bool = True     # False: nothing could be read, and no file was left behind


def record(source, path, *, duration: Optional[float] = None, start: str = "end",
           stop: Optional[threading.Event] = None, **follow_options) -> RecordResult:
    """Follow ``source`` and append its events to ``path``.

    Ends after ``duration`` seconds (None: until ``stop`` is set, Ctrl-C or
    SIGTERM).  Returns counts; events missing from the source are written as
    one ``dropped`` event at the end so that the trace carries the count.
    """
    from ..core.trace import make_header
    stop = stop or threading.Event()
    f = Follower(source, start=start, **follow_options)
    res = RecordResult(f.source.name, os.fspath(path))
    restore = _on_sigterm(stop)
    latest = [float("-inf")]
    try:
        try:
            out = open_trace(os.fspath(path), "wt")
        except OSError as exc:
            raise OutputError(res.path, exc) from None
        with out:
            out.write(dumps_line(make_header(source=f.source.name, recorder="hueyviz record"))
                      + "\n")
            out.flush()

            def write(events: List[Event]) -> None:
                for e in events:
                    out.write(dumps_line(to_json_dict(e)) + "\n")
                    if e.kind == "dropped":
                        res.dropped += int(e.get("count", 0) or 0)
                    if e.t < latest[0]:
                        res.reordered += 1
                    else:
                        latest[0] = e.t
                res.events += len(events)
                out.flush()

            def check() -> None:
                err = getattr(f.reader, "last_error", None)
                if err is not None and res.error is None:
                    res.error = f"cannot read {f.source.name}: {err}"

            try:
                for batch in _batches(f, duration, stop, check):
                    write(batch)
            except KeyboardInterrupt:
                pass
            except SourceError as exc:
                res.error, res.failed = str(exc), True
            check()
            write(f.drain())
            lost = f.lost
            if lost:
                write([Event(f.clock(), "dropped", None, None, None,
                             {"count": lost, "reason": "lost before it was read (see the "
                              "recorder's warnings)"})])
            res.warnings = f.warnings
            if res.error is not None and res.events and not res.failed:
                res.warnings.append(f"{res.error} (for a while: the recording may have gaps)")
    finally:
        f.close()
        restore()
    if res.failed and not res.events:
        # A header over nothing would read as an empty recording: leave none.
        with contextlib.suppress(OSError):
            os.unlink(res.path)
        res.written = False
    if res.reordered:
        _sort_file(res.path)
    return res


def _sort_file(path: str) -> None:
    """Rewrite a finished recording in time order (stable)."""
    from ..core.trace import Trace, TraceWarning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        tr = Trace.load(path, strict=False)
    tr.save(path)


def _batches(f: Follower, duration: Optional[float], stop: threading.Event, check):
    import time
    end = None if duration is None else time.monotonic() + duration
    while not stop.is_set():
        left = None if end is None else end - time.monotonic()
        if left is not None and left <= 0:
            # One last catch-up read, so --duration 0 saves what is stored.
            yield f.catch_up()
            return
        wait = f.poll_interval if left is None else min(f.poll_interval, left)
        batch = f.poll(wait)
        check()
        if batch:
            yield batch


def _on_sigterm(stop: threading.Event):
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    try:
        old = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    except (ValueError, OSError):  # pragma: no cover
        return lambda: None
    return lambda: signal.signal(signal.SIGTERM, old)
