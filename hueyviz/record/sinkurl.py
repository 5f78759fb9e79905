"""Where a Huey instance records: its default sink, or one named by a URL.

=============  ======================================================
Huey storage   default sink
=============  ======================================================
Redis*         stream ``hueyviz:<name>`` in the same Redis
Sqlite         table ``hueyviz_events`` in the same database file
File           ``<path>.hueyviz/`` beside the storage directory
Memory, other  the in-process :class:`~hueyviz.record.sink.MemorySink`
=============  ======================================================

The URL forms (``redis://host:6379/0?queue=app``, ``sqlite:///path/huey.db``,
``file:///dir``) are read back by :mod:`hueyviz.read.source`.
"""
from __future__ import annotations

import os
from typing import Any, Optional
from urllib.parse import parse_qs, quote, unquote, urlsplit

from ..core.text import redact

__all__ = ["parse_url", "queue_name", "sink_for", "source_url", "sqlite_path", "strip_query"]


def queue_name(huey) -> str:
    return getattr(huey, "name", None) or "huey"


def sink_for(huey, url: Optional[str] = None, **options):
    """The sink ``huey`` records into: ``url`` if given, else by its storage."""
    if url is not None:
        return _sink_from_url(url, queue_name(huey), **options)
    storage: Any = getattr(huey, "storage", None)
    kind = _storage_kind(storage)
    if kind == "redis":
        from .redissink import RedisSink, make_pool, stream_key
        return RedisSink(stream=stream_key(queue_name(huey)),
                         pool=make_pool(pool=storage.pool), **options)
    if kind == "sqlite":
        from .sqlitesink import SqliteSink
        return SqliteSink(os.path.abspath(storage.filename), queue=queue_name(huey), **options)
    if kind == "file":
        from .filesink import FileSink, sink_dir_for
        return FileSink(sink_dir_for(storage.path), **options)
    from .sink import MemorySink
    return MemorySink()


def source_url(huey, url: Optional[str] = None) -> Optional[str]:
    """The URL that reads back what ``sink_for(huey, url)`` records, for
    another process (``hueyviz diagnose URL``); None for an in-process sink.

    >>> from huey import SqliteHuey
    >>> huey = SqliteHuey("app", filename="/tmp/hueyviz-doctest.db")
    >>> source_url(huey)
    'sqlite:////tmp/hueyviz-doctest.db?queue=app'
    >>> source_url(huey, "redis://h:6379/1")
    'redis://h:6379/1?queue=app'
    >>> huey.immediate = True           # tasks run in the caller; events stay in memory
    >>> source_url(huey) is None
    True
    """
    queue = queue_name(huey)
    if url is not None:
        parts, query, named = parse_url(url, None)
        if parts.scheme == "file" or named is not None or "stream" in query:
            return url          # a directory holds every queue; or the URL says which
        return f"{url}{'&' if parts.query else '?'}queue={quote(queue, safe='')}"
    storage: Any = getattr(huey, "storage", None)
    kind = _storage_kind(storage)
    if kind == "redis":
        return _redis_url(storage.pool) + f"queue={quote(queue, safe='')}"
    if kind == "sqlite":
        return (f"sqlite:///{quote(os.path.abspath(storage.filename))}"
                f"?queue={quote(queue, safe='')}")
    if kind == "file":
        from .filesink import sink_dir_for
        return f"file://{quote(sink_dir_for(storage.path))}"
    return None


def _redis_url(pool) -> str:
    """``pool``'s server and database as a URL ending in ``?`` or ``&``
    (TLS certificate options are not carried: name them in a sink URL)."""
    kw = pool.connection_kwargs
    if "path" in kw:
        return f"unix://{quote(kw['path'])}?db={kw.get('db', 0)}&"
    user, password = kw.get("username"), kw.get("password")
    auth = ""
    if user or password:
        auth = (quote(str(user or ""), safe="") + (":" + quote(str(password), safe="") if password else "")
                + "@")
    scheme = "rediss" if "SSL" in pool.connection_class.__name__ else "redis"
    host = kw.get("host", "localhost")
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{auth}{host}:{kw.get('port', 6379)}/{kw.get('db', 0)}?"


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


def parse_url(url: str, queue: Optional[str]):
    parts = urlsplit(url)
    query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
    return parts, query, query.pop("queue", None) or queue


def _sink_from_url(url: str, queue: str, **options):
    parts, query, queue = parse_url(url, queue)
    scheme = parts.scheme
    if "maxlen" in query:
        options["maxlen"] = int(query.pop("maxlen"))
    if scheme in ("redis", "rediss", "unix"):
        from .redissink import RedisSink, stream_key
        stream = query.pop("stream", None) or stream_key(queue)
        return RedisSink(strip_query(url), stream=stream, **options)
    if scheme == "sqlite":
        from .sqlitesink import SqliteSink
        return SqliteSink(sqlite_path(parts), queue=queue, **options)
    if scheme == "file":
        from .filesink import FileSink
        options.pop("maxlen", None)
        return FileSink(unquote(parts.path), **options)
    raise ValueError(f"unknown sink URL scheme {scheme!r} in {redact(url)!r}; "
                     "use redis://, sqlite:/// or file:///")


def strip_query(url: str) -> str:
    parts = urlsplit(url)
    keep = [(k, v) for k, v in
            ((p.split("=", 1) + [""])[:2] for p in parts.query.split("&") if p)
            if k not in ("queue", "stream", "maxlen")]
    q = "&".join(f"{k}={v}" for k, v in keep)
    # Cut the text, not geturl(): that drops the empty host of unix:///path.
    base = url.split("?", 1)[0]
    return f"{base}?{q}" if q else base


def sqlite_path(parts) -> str:
    """``sqlite:////abs/x.db`` (SQLAlchemy) and ``sqlite:///abs/x.db`` are
    absolute; ``sqlite:///rel/x.db`` is relative only when that file exists."""
    path = unquote(parts.path)
    if path.startswith("//"):
        return path[1:]
    if path.startswith("/") and not os.path.exists(path) and os.path.exists(path[1:]):
        return path[1:]
    return path
