"""Where events are: one resolver for the library and the CLI.

A *source* names recorded events: a Huey instance, a sink URL
(``redis://host:6379/0?queue=app``, ``sqlite:///path/huey.db``,
``file:///dir``), a trace file or a directory of per-process files, or an
import path ``app.huey`` written the way ``huey_consumer`` takes it.
:func:`resolve_source` turns any of them into a :class:`Source` that opens
readers; :func:`resolve_sources` merges several into one.  Where a Huey
instance records by default is :func:`hueyviz.record.sinkurl.sink_for`.
Reading never creates anything.
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, List, Optional
from urllib.parse import unquote, urlsplit, urlunsplit

from ..core.errors import SourceError, TraceFormatError
from ..core.text import redact
from ..record.sink import MemorySink
from ..record.sinkurl import parse_url, queue_name, sink_for, sqlite_path, strip_query

__all__ = [
    "MemoryReader",
    "MergedReader",
    "Source",
    "load_import_path",
    "resolve_source",
    "resolve_sources",
]

_IMPORT_PATH = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)+$")
_FILE_SUFFIXES = (".jsonl", ".json", ".db", ".sqlite", ".sqlite3", ".txt", ".log", ".gz")


@dataclass
class Source:
    """A resolved source: ``open()`` returns a fresh incremental reader
    (``fetch(timeout) -> records``, ``seek_end()``, ``close()``)."""

    name: str
    open: Callable[[], Any]
    live: bool = True        # False: a finished trace file
    path: Optional[str] = None


# -- reading side ---------------------------------------------------------------
def load_import_path(path: str):
    """Import ``module.attr`` (current directory on ``sys.path``, like
    huey_consumer) and return the attribute."""
    module, _, attr = path.rpartition(".")
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module)
    except ImportError as exc:
        raise TraceFormatError(f"cannot import {module!r} for {path!r}: {exc}") from None
    except SyntaxError as exc:
        where = f"{exc.filename}:{exc.lineno}" if exc.filename else module
        raise TraceFormatError(f"cannot import {module!r} for {path!r}: syntax error at "
                               f"{where}: {exc.msg}; fix the module") from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:        # SystemExit too: a module that exits
        # The module's own code failed while importing (a missing setting, a
        # server it connects to at import): that is the user's to fix.
        raise TraceFormatError(f"cannot import {module!r} for {path!r}: importing it raised "
                               f"{type(exc).__name__}: {exc}; fix the module (python -c "
                               f"'import {module}' shows the traceback)") from None
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise TraceFormatError(f"module {module!r} has no attribute {attr!r}") from None
    except Exception as exc:      # a module-level __getattr__ that fails
        raise TraceFormatError(f"cannot read {path!r}: {type(exc).__name__}: {exc}") from None


def resolve_source(source) -> Source:
    """Turn a Huey, a sink URL, a file/directory or ``app.huey`` into a :class:`Source`.

    >>> resolve_source("sqlite:////tmp/huey.db?queue=app").name
    'sqlite table hueyviz_events in /tmp/huey.db (queue app)'
    >>> resolve_source("no/such/trace.jsonl")
    Traceback (most recent call last):
    ...
    hueyviz.core.errors.TraceFormatError: no/such/trace.jsonl: cannot open trace: No such file or directory
    """
    if isinstance(source, Source):
        return source
    if hasattr(source, "storage") and hasattr(source, "create_consumer"):
        return _huey_source(source)
    if hasattr(source, "sink") and hasattr(source, "attach"):       # a Tracer
        return _sink_source(source.sink)
    if hasattr(source, "append") and hasattr(source, "events"):     # a sink
        return _sink_source(source)
    text = os.fspath(source) if isinstance(source, os.PathLike) else source
    if not isinstance(text, str):
        raise TraceFormatError(f"cannot read events from a {type(source).__name__}")
    if "://" in text:
        return _url_source(text)
    from ..record.filesink import FileReader
    if os.path.isdir(text):
        return Source(f"files in {text}", lambda: FileReader(text), path=text)
    if os.path.exists(text):
        if is_sqlite(text):
            return _url_source(f"sqlite:///{os.path.abspath(text)}")
        return Source(text, lambda: FileReader(text), live=False, path=text)
    if _IMPORT_PATH.match(text) and not text.lower().endswith(_FILE_SUFFIXES):
        obj = load_import_path(text)
        if not (hasattr(obj, "storage") and hasattr(obj, "create_consumer")):
            raise TraceFormatError(f"{text} is a {type(obj).__name__}, not a Huey instance")
        return _huey_source(obj)
    raise TraceFormatError("cannot open trace: No such file or directory", source=text)


def is_sqlite(path: str) -> bool:
    try:
        with open(path, "rb") as f:
            return f.read(16) == b"SQLite format 3\x00"
    except OSError:
        return False


def _huey_source(huey) -> Source:
    tracer = getattr(huey, "_hueyviz_tracer", None)
    sink = tracer.sink if tracer is not None else None
    if sink is None:
        sink = sink_for(huey)
        if not hasattr(sink, "reader"):
            raise TraceFormatError(
                f"{type(huey).__name__} {queue_name(huey)!r} keeps events in the "
                "recording process only; call hueyviz.install(huey) and read "
                "from that process, or give install() a sink URL")
        sink.close()
    return _sink_source(sink)


def _sink_source(sink) -> Source:
    if not hasattr(sink, "reader"):
        return Source("in-process memory sink", lambda: MemoryReader(sink))
    return Source(sink.describe(), sink.reader)


def _opener(cls, *args) -> Callable[[], Any]:
    """A fresh ``cls(*args)`` per call: each follower gets its own reader."""
    return lambda: cls(*args)


def with_env_credentials(url: str) -> str:
    """A Redis URL with its password given out of band: ``redis://`` alone
    means the URL in ``$HUEYVIZ_REDIS_URL`` (or ``$REDIS_URL``), and a URL
    without credentials takes those of that variable when it names the same
    server, so the password need not sit in shell history or ``ps``.

    >>> import os; os.environ["HUEYVIZ_REDIS_URL"] = "redis://:pw@cache:6379/0"
    >>> with_env_credentials("redis://"), with_env_credentials("redis://cache:6379/2?queue=a")
    ('redis://:pw@cache:6379/0', 'redis://:pw@cache:6379/2?queue=a')
    >>> with_env_credentials("redis://other:6379/0")
    'redis://other:6379/0'
    >>> del os.environ["HUEYVIZ_REDIS_URL"]
    """
    env = os.environ.get("HUEYVIZ_REDIS_URL") or os.environ.get("REDIS_URL")
    parts = urlsplit(url)
    if not env or parts.scheme not in ("redis", "rediss") or "@" in parts.netloc:
        return url
    if not parts.netloc and not parts.path.strip("/") and not parts.query:
        return env
    theirs = urlsplit(env)
    same = (theirs.hostname, theirs.port or 6379) == (parts.hostname, parts.port or 6379)
    if not same or "@" not in theirs.netloc:
        return url
    return urlunsplit(parts._replace(netloc=theirs.netloc.rpartition("@")[0] + "@" + parts.netloc))


def _url_source(url: str) -> Source:
    url = with_env_credentials(url)
    shown = redact(url)
    parts, query, queue = parse_url(url, None)
    scheme = parts.scheme
    if scheme in ("redis", "rediss", "unix"):
        from ..record.redissink import RedisReader, find_streams, make_pool
        pool = make_pool(strip_query(url))
        stream = query.get("stream") or (f"hueyviz:{queue}" if queue else None)
        if stream is not None:
            return Source(RedisReader(pool, stream).describe(), lambda: RedisReader(pool, stream))
        import redis
        try:
            streams = find_streams(redis.Redis(connection_pool=pool))
        except redis.RedisError as exc:
            raise SourceError(f"cannot read {shown}: {redact(exc)}") from None
        if not streams:
            raise SourceError(f"{shown}: no hueyviz stream in this Redis database "
                              "(nothing was recorded there, or it was deleted)")
        # Every queue recorded there, merged: one pool per queue.
        return resolve_sources([Source(RedisReader(pool, st).describe(), _opener(RedisReader, pool, st))
                                for st in streams])
    if scheme == "sqlite":
        from ..record.sqlitesink import SqliteReader, find_queues
        path = sqlite_path(parts)
        if queue is None and not os.path.exists(path):
            raise SourceError(f"{shown}: no such database file {path}")
        queues = [queue] if queue is not None else find_queues(path)
        if not queues:
            raise SourceError(f"{shown}: no hueyviz events in {path} (table hueyviz_events "
                              "is missing or empty)")
        return resolve_sources([
            Source(f"sqlite table hueyviz_events in {path} (queue {q})",
                   _opener(SqliteReader, path, q), path=path) for q in queues])
    if scheme == "file":
        path = unquote(parts.path)
        return resolve_source(path)
    raise TraceFormatError(f"unknown source URL scheme {scheme!r} in {shown!r}; "
                           "use redis://, sqlite:/// or file:///")


class MergedReader:
    """Reads several sources as one: each fetch takes what every reader has.

    Records keep their sender ids, so the follower de-duplicates and counts
    gaps per sender across all of them; events are merged by time there.
    """

    def __init__(self, readers: List[Any]):
        self.readers = readers

    def describe(self) -> str:
        return " + ".join(r.describe() for r in self.readers)

    def seek_end(self) -> None:
        for r in self.readers:
            r.seek_end()

    def trimmed(self) -> bool:
        return any(getattr(r, "trimmed", lambda: True)() for r in self.readers)

    @property
    def last_error(self):
        return next((e for e in (getattr(r, "last_error", None) for r in self.readers)
                     if e is not None), None)

    def fetch(self, timeout: float = 0.0, count: int = 10_000) -> List[tuple]:
        out: List[tuple] = []
        for r in self.readers:
            out.extend(r.fetch(0.0))
        if out or timeout <= 0:
            return out
        # Nothing waiting: block briefly on each in turn until the timeout.
        deadline = time.monotonic() + timeout
        while True:
            for r in self.readers:
                left = deadline - time.monotonic()
                got = r.fetch(max(0.0, min(0.05, left)))
                if got:
                    out.extend(got)
            if out or time.monotonic() >= deadline:
                return out

    def close(self) -> None:
        for r in self.readers:
            r.close()


def resolve_sources(sources) -> Source:
    """:func:`resolve_source` for one source, or several merged into one
    (a list or tuple of anything :func:`resolve_source` takes)."""
    if not isinstance(sources, (list, tuple)):
        return resolve_source(sources)
    resolved = [resolve_source(s) for s in sources]
    if len(resolved) == 1:
        return resolved[0]
    return Source(" + ".join(s.name for s in resolved),
                  lambda: MergedReader([s.open() for s in resolved]),
                  live=any(s.live for s in resolved))


class MemoryReader:
    """Reader over an in-process sink (MemorySink or a tracer's sink)."""

    def __init__(self, sink):
        self.sink = sink
        self.seen = 0

    def describe(self) -> str:
        return "in-process memory sink"

    def _total(self) -> int:
        return len(self.sink) + getattr(self.sink, "dropped", 0)

    def seek_end(self) -> None:
        self.seen = self._total()

    def fetch(self, timeout: float = 0.0, count: int = 0) -> List[tuple]:
        deadline = time.monotonic() + timeout
        idle = threading.Event()
        while True:
            total = self._total()
            if total > self.seen or time.monotonic() >= deadline:
                break
            idle.wait(min(0.01, max(0.0, deadline - time.monotonic())))
        new, self.seen = total - self.seen, total
        if new <= 0:
            return []
        if isinstance(self.sink, MemorySink):
            evs = self.sink.events(last=new)   # rebuild only the new events
        else:
            evs = self.sink.events()
            evs = evs[max(0, len(evs) - new):]
        return [(None, None, e, "memory") for e in evs]

    def close(self) -> None:
        pass
