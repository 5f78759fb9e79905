"""Where events are: one resolver for the library and the CLI.

A *source* names recorded events: a Huey instance, a sink URL
(``redis://host:6379/0?queue=app``, ``sqlite:///path/huey.db``,
``file:///dir``), a trace file or a directory of per-process files, or an
import path ``app.huey`` written the way ``huey_consumer`` takes it.
:func:`resolve_source` turns any of them into a :class:`Source` that opens
readers; :func:`sink_for` picks where a Huey instance records by default:

=============  ======================================================
Huey storage   default sink
=============  ======================================================
Redis*         stream ``hueyviz:<name>`` in the same Redis
Sqlite         table ``hueyviz_events`` in the same database file
File           ``<path>.hueyviz/`` beside the storage directory
Memory, other  the in-process :class:`~hueyviz.sink.MemorySink`
=============  ======================================================
"""
from __future__ import annotations

import importlib
import os
import re
import sys
import warnings
from dataclasses import dataclass
from typing import Any, Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from ..core.event import TraceFormatError

__all__ = ["Source", "resolve_source", "sink_for", "read_trace", "load_import_path"]

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


# -- recording side --------------------------------------------------------------
def _queue_name(huey) -> str:
    return getattr(huey, "name", None) or "huey"


def sink_for(huey, url: Optional[str] = None, **options):
    """The sink ``huey`` records into: ``url`` if given, else by its storage."""
    if url is not None:
        return _sink_from_url(url, _queue_name(huey), **options)
    storage = getattr(huey, "storage", None)
    kind = _storage_kind(storage)
    if kind == "redis":
        from ..record.redissink import RedisSink, make_pool, stream_key
        return RedisSink(stream=stream_key(_queue_name(huey)),
                         pool=make_pool(pool=storage.pool), **options)
    if kind == "sqlite":
        from ..record.sqlitesink import SqliteSink
        return SqliteSink(os.path.abspath(storage.filename), queue=_queue_name(huey), **options)
    if kind == "file":
        from ..record.filesink import FileSink, sink_dir_for
        return FileSink(sink_dir_for(storage.path), **options)
    from ..record.sink import MemorySink
    return MemorySink()


def _storage_kind(storage) -> str:
    for cls in type(storage).__mro__:
        n = cls.__name__
        if n == "RedisStorage":
            return "redis"
        if n == "SqliteStorage":
            return "sqlite"
        if n == "FileStorage":
            return "file"
    return "memory"


def _parse(url: str, queue: Optional[str]):
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return parts, query, query.pop("queue", None) or queue


def _sink_from_url(url: str, queue: str, **options):
    parts, query, queue = _parse(url, queue)
    scheme = parts.scheme
    if "maxlen" in query:
        options["maxlen"] = int(query.pop("maxlen"))
    if scheme in ("redis", "rediss", "unix"):
        from ..record.redissink import RedisSink, stream_key
        stream = query.pop("stream", None) or stream_key(queue)
        return RedisSink(_strip_query(url), stream=stream, **options)
    if scheme == "sqlite":
        from ..record.sqlitesink import SqliteSink
        return SqliteSink(_sqlite_path(parts), queue=queue, **options)
    if scheme == "file":
        from ..record.filesink import FileSink
        options.pop("maxlen", None)
        return FileSink(unquote(parts.path), **options)
    raise ValueError(f"unknown sink URL scheme {scheme!r} in {url!r}; "
                     "use redis://, sqlite:/// or file:///")


def _strip_query(url: str) -> str:
    parts = urlsplit(url)
    keep = [(k, v) for k, v in
            ((p.split("=", 1) + [""])[:2] for p in parts.query.split("&") if p)
            if k not in ("queue", "stream", "maxlen")]
    q = "&".join(f"{k}={v}" for k, v in keep)
    return parts._replace(query=q).geturl()


def _sqlite_path(parts) -> str:
    """``sqlite:////abs/x.db`` (SQLAlchemy) and ``sqlite:///abs/x.db`` are
    absolute; ``sqlite:///rel/x.db`` is relative only when that file exists."""
    path = unquote(parts.path)
    if path.startswith("//"):
        return path[1:]
    if path.startswith("/") and not os.path.exists(path) and os.path.exists(path[1:]):
        return path[1:]
    return path


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
    try:
        return getattr(mod, attr)
    except AttributeError:
        raise TraceFormatError(f"module {module!r} has no attribute {attr!r}") from None


def resolve_source(source) -> Source:
    """Turn a Huey, a sink URL, a file/directory or ``app.huey`` into a :class:`Source`.

    >>> resolve_source("sqlite:////tmp/huey.db?queue=app").name
    'sqlite table hueyviz_events in /tmp/huey.db (queue app)'
    >>> resolve_source("no/such/trace.jsonl")
    Traceback (most recent call last):
    ...
    hueyviz.core.event.TraceFormatError: no/such/trace.jsonl: cannot open trace: No such file or directory
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
        if _is_sqlite(text):
            return _url_source(f"sqlite:///{os.path.abspath(text)}")
        return Source(text, lambda: FileReader(text), live=False, path=text)
    if _IMPORT_PATH.match(text) and not text.lower().endswith(_FILE_SUFFIXES):
        obj = load_import_path(text)
        if not (hasattr(obj, "storage") and hasattr(obj, "create_consumer")):
            raise TraceFormatError(f"{text} is a {type(obj).__name__}, not a Huey instance")
        return _huey_source(obj)
    raise TraceFormatError("cannot open trace: No such file or directory", source=text)


def _is_sqlite(path: str) -> bool:
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
                f"{type(huey).__name__} {_queue_name(huey)!r} keeps events in the "
                "recording process only; call hueyviz.install(huey) and read "
                "from that process, or give install() a sink URL")
        sink.close()
    return _sink_source(sink)


def _sink_source(sink) -> Source:
    if not hasattr(sink, "reader"):
        from .follower import MemoryReader
        return Source("in-process memory sink", lambda: MemoryReader(sink))
    return Source(sink.describe(), sink.reader)


def _url_source(url: str) -> Source:
    parts, query, queue = _parse(url, None)
    scheme = parts.scheme
    if scheme in ("redis", "rediss", "unix"):
        from ..record.redissink import RedisReader, find_streams, make_pool
        pool = make_pool(_strip_query(url))
        stream = query.get("stream") or (f"hueyviz:{queue}" if queue else None)
        if stream is None:
            import redis
            try:
                streams = find_streams(redis.Redis(connection_pool=pool))
            except redis.RedisError as exc:
                raise TraceFormatError(f"cannot read {url}: {exc}") from None
            if len(streams) != 1:
                found = ", ".join(streams) or "none"
                raise TraceFormatError(
                    f"{url}: say which queue with ?queue=NAME (hueyviz streams found: {found})")
            stream = streams[0]
        return Source(RedisReader(pool, stream).describe(), lambda: RedisReader(pool, stream))
    if scheme == "sqlite":
        from ..record.sqlitesink import SqliteReader, find_queues
        path = _sqlite_path(parts)
        if queue is None:
            queues = find_queues(path)
            if len(queues) != 1:
                raise TraceFormatError(
                    f"{url}: say which queue with ?queue=NAME (queues found: "
                    f"{', '.join(queues) or 'none'})")
            queue = queues[0]
        return Source(f"sqlite table hueyviz_events in {path} (queue {queue})",
                      lambda: SqliteReader(path, queue), path=path)
    if scheme == "file":
        path = unquote(parts.path)
        return resolve_source(path)
    raise TraceFormatError(f"unknown source URL scheme {scheme!r} in {url!r}; "
                           "use redis://, sqlite:/// or file:///")


def read_trace(source, *, strict: bool = True, lost_after: Optional[float] = None):
    """Everything recorded at ``source`` so far, merged into one :class:`~hueyviz.Trace`.

    A finished trace file goes through :meth:`Trace.load` (``strict``
    applies); live sources skip corrupt or foreign entries with a count.
    """
    from ..core.trace import Trace
    if isinstance(source, (str, os.PathLike)) and not isinstance(source, Source):
        text = os.fspath(source)
        if "://" not in text and os.path.isfile(text) and not _is_sqlite(text):
            return Trace.load(text, strict=strict)
    from .follower import Follower
    kw = {} if lost_after is None else {"lost_after": lost_after}
    with Follower(resolve_source(source), reorder=0.0, **kw) as f:
        tr = f.read_all()
    from ..core.trace import TraceWarning
    for note in tr.warnings:
        warnings.warn(note, TraceWarning, stacklevel=2)
    return tr
