"""Events in a Redis stream: :class:`RedisSink` writes, :class:`RedisReader` reads.

One stream per Huey (``hueyviz:<huey name>``), one entry per event with the
fields ``e`` (the event as JSON), ``s`` (sender: host/pid/random) and ``q``
(the sender's sequence number).  Each batch is one call of a small Lua
script doing the XADDs and an approximate ``MAXLEN`` trim (pipelined
``XADD`` where scripting is disabled).  A Redis over ``maxmemory`` refuses
the script before its first write, so a batch is all written or not at all;
the writer retries it and, after ``max_attempts``, counts it as lost (see
:mod:`hueyviz.record.writer`).  Readers use ``XREAD`` from the last id
they saw, so any number of readers follow the same stream without taking
events from each other (no consumer groups, nothing is acknowledged away).
"""
from __future__ import annotations

import time
from typing import Any, List, Optional, Tuple

from ..core import extras
from .writer import BufferedSink

__all__ = ["DEFAULT_MAXLEN", "RedisReader", "RedisSink", "make_pool", "stream_key"]

DEFAULT_MAXLEN = 500_000
_SOCKET = {"socket_timeout": 5.0, "socket_connect_timeout": 2.0}


def stream_key(name: Optional[str]) -> str:
    return f"hueyviz:{name or 'huey'}"


def make_pool(url: Optional[str] = None, pool=None):
    """A new connection pool: from a URL, or cloning ``pool``'s settings
    (never sharing its connections), always with socket timeouts so a hung
    Redis cannot hang the writer."""
    # Every Redis sink and source starts here: the one place that says which
    # extra to install when redis-py is missing.
    redis = extras.redis()
    if url is not None:
        return redis.ConnectionPool.from_url(url, **_SOCKET)
    kwargs = dict(pool.connection_kwargs)
    for k, v in _SOCKET.items():
        if kwargs.get(k) is None:
            kwargs[k] = v
    return redis.ConnectionPool(connection_class=pool.connection_class, **kwargs)


# One round trip per batch: a pipeline of N XADDs costs the client ~30 us
# per command to pack and parse (pure-Python redis-py), the script ~1 us.
# The batch's events travel as one argument, a line each (JSON holds no raw
# newline), as redis-py packs each argument in Python.  Sequence numbers of
# a batch are consecutive from ARGV[3].  Atomic, so a failed batch is either
# all written or not at all.
_XADD_BATCH = """
local seq = tonumber(ARGV[3])
local n = 0
for text in string.gmatch(ARGV[4], '[^\\n]+') do
  redis.call('XADD', KEYS[1], '*', 'e', text, 's', ARGV[2], 'q', seq + n)
  n = n + 1
end
redis.call('XTRIM', KEYS[1], 'MAXLEN', '~', ARGV[1])
return n
"""


class RedisSink(BufferedSink):
    """Batched ``XADD`` into ``stream`` through its own connection pool
    (a server-side script per batch; a pipeline where scripting is off).

    >>> sink = RedisSink("redis://localhost:1/0", stream="hueyviz:demo")
    >>> sink.describe()
    'redis stream hueyviz:demo at localhost:1/0'
    """

    def __init__(self, url: Optional[str] = None, *, stream: str, pool=None,
                 maxlen: int = DEFAULT_MAXLEN, **options):
        super().__init__(**options)
        self.url = url
        self.stream = stream
        self.maxlen = maxlen
        self._pool = pool if pool is not None else make_pool(url)
        self._client: Any = None
        self._script: Any = None
        self.use_script = True

    def describe(self) -> str:
        return f"redis stream {self.stream}{_at(self._pool)}"

    def _connect(self) -> None:
        import redis
        if self._client is None:
            self._client = redis.Redis(connection_pool=self._pool)
            self._script = self._client.register_script(_XADD_BATCH)

    def _write(self, batch: List[Tuple[int, str]]) -> None:
        if self.use_script:
            import redis
            try:
                self._script(keys=[self.stream], args=[
                    self.maxlen, self.sender, batch[0][0],
                    "\n".join([text for _seq, text in batch])])
                return
            except redis.ResponseError as exc:
                if not scripting_unavailable(exc):
                    raise
                self.use_script = False      # scripting disabled: plain pipelines
        pipe = self._client.pipeline(transaction=False)
        stream, sender, last = self.stream, self.sender, len(batch) - 1
        for i, (seq, text) in enumerate(batch):
            fields = {"e": text, "s": sender, "q": seq}
            if i == last:
                pipe.xadd(stream, fields, maxlen=self.maxlen, approximate=True)
            else:
                pipe.xadd(stream, fields)
        pipe.execute()

    def _refused(self, exc: BaseException) -> bool:
        # A reply from the server (out of memory, a foreign key of the
        # stream's name...) refuses this data; a connection error does not.
        # A read-only replica (a failover in progress) is not: reconnect.
        import redis
        return isinstance(exc, redis.ResponseError) and not isinstance(
            exc, redis.exceptions.ReadOnlyError)

    def _atomic(self) -> bool:
        # The script: refused before its first write, or all written.
        return self.use_script

    def _disconnect(self) -> None:
        self._pool.disconnect()

    def _forget_connection(self):
        # redis-py pools notice the fork themselves (pid check) and open new
        # sockets in the child without touching the parent's.
        return None

    def reader(self) -> RedisReader:
        return RedisReader(self._pool, self.stream)

    def store_reader(self) -> StoreReader:
        """Every hueyviz stream in this Redis database (the guard's view)."""
        return StoreReader(self._pool, self.stream)


class RedisReader:
    """Incremental reader of one stream; ``fetch`` returns new records.

    A record is ``(sender, seq, json_text, where)``; corrupt or foreign
    entries come back with ``json_text=None`` and are counted by the caller.
    """

    def __init__(self, pool, stream: str, start: str = "0-0"):
        import redis
        self.pool = pool
        self.stream = stream
        self.last_id = start
        self.client = redis.Redis(connection_pool=pool)
        self.errors = 0
        self.last_error: Optional[BaseException] = None
        self._next_try = 0.0

    def describe(self) -> str:
        return f"redis stream {self.stream}{_at(self.pool)}"

    def seek_end(self) -> None:
        """Start after the newest entry (follow only what arrives from now)."""
        try:
            info: Any = self.client.xinfo_stream(self.stream)
            last = info.get("last-generated-id") or info.get(b"last-generated-id")
            if last:
                self.last_id = last.decode() if isinstance(last, bytes) else str(last)
        except Exception:
            pass   # no stream yet: everything that arrives is new

    def trimmed(self) -> bool:
        """Whether entries were ever deleted from the stream (MAXLEN)."""
        try:
            info: Any = self.client.xinfo_stream(self.stream)
        except Exception:
            return False          # no stream (yet): nothing was trimmed
        deleted = info.get("max-deleted-entry-id", info.get(b"max-deleted-entry-id"))
        if deleted is None:
            return True           # Redis < 7 cannot tell: assume it was
        deleted = deleted.decode() if isinstance(deleted, bytes) else str(deleted)
        # Redis 7.0 moves max-deleted-entry-id on XDEL only, not when MAXLEN trims.
        added, length = info.get("entries-added"), info.get("length")
        trimmed = isinstance(added, int) and isinstance(length, int) and added > length
        return deleted != "0-0" or trimmed

    def trimmed_count(self) -> int:
        """Entries trimmed from the stream so far (Redis >= 7 knows: entries
        ever added less those kept; older servers: 0, and ``trimmed()``
        answers "maybe")."""
        try:
            info: Any = self.client.xinfo_stream(self.stream)
        except Exception:
            return 0
        added = info.get("entries-added", info.get(b"entries-added"))
        length = info.get("length", info.get(b"length"))
        if not isinstance(added, int) or not isinstance(length, int):
            return 0
        self._kept = length
        return max(0, added - length)

    def trim_words(self) -> str:
        kept = getattr(self, "_kept", None)
        return f"stream {self.stream}" + (f" (it keeps about {kept} entries)" if kept else "")

    def refused_writes(self) -> int:
        """Writes the server refused for lack of memory (``INFO errorstats``,
        Redis >= 6.2), by any client, since its statistics were reset."""
        try:
            stats: Any = self.client.info("errorstats")
        except Exception:
            return 0
        oom = stats.get("errorstat_OOM") if isinstance(stats, dict) else None
        count = oom.get("count") if isinstance(oom, dict) else None
        return count if isinstance(count, int) else 0

    def fetch(self, timeout: float = 0.0, count: int = 10_000) -> List[tuple]:
        import redis
        if time.monotonic() < self._next_try:
            time.sleep(max(0.0, min(timeout, self._next_try - time.monotonic())))
            return []
        block = int(timeout * 1000) if timeout > 0 else None
        try:
            resp = self.client.xread({self.stream: self.last_id}, count=count, block=block)
        except redis.ResponseError:
            # The key exists but is not a stream: a foreign key of that name.
            self.errors += 1
            raise
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            # Following: keep going and reconnect with backoff.  One-shot
            # reads (Trace.read) look at last_error and fail clearly.
            self.errors += 1
            self.last_error = exc
            self._next_try = time.monotonic() + min(2.0, 0.1 * 2 ** min(self.errors, 5))
            return []
        self.errors = 0
        self.last_error = None
        out = []
        streams: Any = resp or ()
        for _name, entries in streams:
            for eid, fields in entries:
                eid = eid.decode() if isinstance(eid, bytes) else eid
                out.append(_record(eid, fields, self.stream))
                self.last_id = eid
        return out

    def close(self) -> None:
        try:
            self.client.close()
        except Exception:
            pass


def is_out_of_memory(exc: BaseException) -> bool:
    """Whether a Redis error is the server refusing writes over ``maxmemory``.

    redis-py strips the ``OOM`` prefix (and raises ``OutOfMemoryError``
    where it knows it); inside a script the message also names the
    script, so the text is read with care.

    >>> is_out_of_memory(Exception("command not allowed when used memory > 'maxmemory'. "
    ...                            "script: 4d46..., on @user_script:1."))
    True
    """
    try:
        from redis.exceptions import OutOfMemoryError
    except ImportError:          # redis-py < 4.2: the message says it
        pass
    else:
        if isinstance(exc, OutOfMemoryError):
            return True
    text = str(exc)
    return "maxmemory" in text or text.startswith("OOM ")


def scripting_unavailable(exc: BaseException) -> bool:
    """Whether a Redis error means this server will not run our script at all
    (EVAL/EVALSHA renamed away, denied by an ACL, or scripting disabled), as
    opposed to the script failing on this batch.

    >>> scripting_unavailable(Exception("unknown command 'evalsha', with args beginning with: "))
    True
    >>> scripting_unavailable(Exception("command not allowed when used memory > 'maxmemory'. "
    ...                                 "script: 4d46..., on @user_script:1."))
    False
    """
    if is_out_of_memory(exc):
        return False
    text = str(exc).lower()
    about_scripts = any(w in text for w in ("eval", "script"))
    return about_scripts and any(w in text for w in (
        "unknown command", "noperm", "no permissions", "disabled", "not allowed"))


def _at(pool) -> str:
    kw = getattr(pool, "connection_kwargs", {})
    if "path" in kw:
        return f" at {kw['path']}"
    return f" at {kw.get('host', 'localhost')}:{kw.get('port', 6379)}/{kw.get('db', 0)}"


def _record(eid: str, fields: dict, stream: str) -> tuple:
    where = f"{stream} entry {eid}"
    text = fields.get(b"e", fields.get("e"))
    if text is None:
        return (None, None, None, where + ": no field 'e' (not written by hueyviz)")
    sender = fields.get(b"s", fields.get("s"))
    seq = fields.get(b"q", fields.get("q"))
    try:
        sender = sender.decode() if isinstance(sender, bytes) else sender
        seq = int(seq) if seq is not None else None
    except (ValueError, UnicodeDecodeError):
        sender, seq = None, None
    try:   # the Redis server's clock when the entry arrived: one clock for all hosts
        arrived = int(eid.split("-", 1)[0]) / 1000.0
    except ValueError:
        arrived = None
    return (sender, seq, text, where, arrived)


def find_streams(client) -> List[str]:
    """Names of hueyviz streams in this Redis database."""
    out = []
    for key in client.scan_iter(match="hueyviz:*", count=1000, _type="stream"):
        out.append(key.decode() if isinstance(key, bytes) else key)
    return sorted(out)


class StoreReader:
    """Every ``hueyviz:*`` stream of one Redis database, found again now and
    then (a queue whose consumers start later joins); ``fetch`` reads them
    all.  Starts with ``first``, the stream of the Huey that asked."""

    rescan = 2.0         # seconds between looks for new streams

    def __init__(self, pool, first: str):
        self.pool = pool
        self.readers: dict = {first: RedisReader(pool, first)}
        self._scanned = float("-inf")
        self._at_end = False

    def describe(self) -> str:
        return f"every hueyviz stream{_at(self.pool)}"

    @property
    def last_error(self):
        return next((r.last_error for r in self.readers.values()
                     if r.last_error is not None), None)

    def _scan(self) -> None:
        now = time.monotonic()
        if now - self._scanned < self.rescan:
            return
        self._scanned = now
        try:
            found = find_streams(next(iter(self.readers.values())).client)
        except Exception:
            return                         # the next fetch says what is wrong
        for name in found:
            if name not in self.readers:
                r = self.readers[name] = RedisReader(self.pool, name)
                if self._at_end:
                    r.seek_end()

    def seek_end(self) -> None:
        self._scan()
        self._at_end = True
        for r in self.readers.values():
            r.seek_end()

    def trimmed(self) -> bool:
        return any(r.trimmed() for r in self.readers.values())

    def fetch(self, timeout: float = 0.0, count: int = 10_000) -> List[tuple]:
        self._scan()
        out: List[tuple] = []
        for r in list(self.readers.values()):
            out.extend(r.fetch(0.0, count))
        if not out and timeout > 0:
            # Block on the first stream only: the others are read next time.
            out.extend(next(iter(self.readers.values())).fetch(min(timeout, 0.1), count))
        return out

    def close(self) -> None:
        for r in self.readers.values():
            r.close()
