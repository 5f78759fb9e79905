"""``hueyviz record``: save what a live system records into a trace file.

The file is written as events arrive (a header line, then one event per
line, flushed after every read), so a recorder that is killed leaves a
trace that :meth:`hueyviz.Trace.load` reads up to the last complete line.
"""
from __future__ import annotations

import json
import os
import signal
import threading
from dataclasses import dataclass, field
from typing import List, Optional

from ..core.event import Event, to_json_dict
from .follower import Follower

__all__ = ["RecordResult", "record"]


@dataclass
class RecordResult:
    source: str
    path: str
    events: int = 0
    dropped: int = 0
    warnings: List[str] = field(default_factory=list)


def record(source, path, *, duration: Optional[float] = None, start: str = "end",
           stop: Optional[threading.Event] = None, **follow_options) -> RecordResult:
    """Follow ``source`` and append its events to ``path``.

    Ends after ``duration`` seconds (None: until ``stop`` is set, Ctrl-C or
    SIGTERM).  Returns counts; events missing from the source are written as
    one ``dropped`` event at the end so that the trace carries the count.
    """
    from ..core.trace import make_header
    stop = stop or threading.Event()
    restore = _on_sigterm(stop)
    f = Follower(source, start=start, **follow_options)
    res = RecordResult(f.source.name, os.fspath(path))
    dumps = json.dumps
    try:
        with open(path, "w", encoding="utf-8") as out:
            out.write(dumps(make_header(source=f.source.name, recorder="hueyviz record")) + "\n")
            out.flush()

            def write(events: List[Event]) -> None:
                for e in events:
                    out.write(dumps(to_json_dict(e), ensure_ascii=False, default=repr) + "\n")
                    if e.kind == "dropped":
                        res.dropped += int(e.get("count", 0) or 0)
                res.events += len(events)
                out.flush()

            try:
                for batch in _batches(f, duration, stop):
                    write(batch)
            except KeyboardInterrupt:
                pass
            write(f.drain())
            lost = f.lost
            if lost:
                write([Event(f.clock(), "dropped", None, None, None,
                             {"count": lost, "reason": "lost before it was read (see the "
                              "recorder's warnings)"})])
            res.warnings = f.warnings
    finally:
        f.close()
        restore()
    return res


def _batches(f: Follower, duration: Optional[float], stop: threading.Event):
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
