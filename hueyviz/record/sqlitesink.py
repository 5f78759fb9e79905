"""Events in a SQLite table: :class:`SqliteSink` writes, :class:`SqliteReader` reads.

The table ``hueyviz_events`` lives in the same database file as SqliteHuey's
queue (WAL mode, so readers never block writers).  Each batch is one
``BEGIN IMMEDIATE`` transaction with ``executemany``; rows beyond
``maxlen`` per queue are deleted from the oldest end now and then.  The
``INTEGER PRIMARY KEY AUTOINCREMENT`` id is the reading cursor: SQLite
serialises writers, so ids grow in commit order and a reader asking for
``id > last`` misses nothing.
"""
from __future__ import annotations

import os
import sqlite3
import time
from typing import List, Optional, Tuple

from .writer import BufferedSink

__all__ = ["TABLE", "SqliteReader", "SqliteSink"]

TABLE = "hueyviz_events"
_SCHEMA = (f"CREATE TABLE IF NOT EXISTS {TABLE} ("
           "id INTEGER PRIMARY KEY AUTOINCREMENT, queue TEXT NOT NULL, "
           "sender TEXT, seq INTEGER, event TEXT)")
_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_queue ON {TABLE} (queue, id)"
_META = ("CREATE TABLE IF NOT EXISTS hueyviz_meta "
         "(queue TEXT PRIMARY KEY, trimmed INTEGER NOT NULL DEFAULT 0)")
DEFAULT_MAXLEN = 500_000


def _connect(filename: str, timeout: float = 10.0) -> sqlite3.Connection:
    conn = sqlite3.connect(filename, timeout=timeout, isolation_level=None,
                           check_same_thread=False)
    try:
        conn.execute("PRAGMA journal_mode=WAL")
    except sqlite3.OperationalError:
        pass   # another process is switching it right now; it ends up WAL
    conn.execute("PRAGMA synchronous=NORMAL")
    return conn


class SqliteSink(BufferedSink):
    """Batched inserts into ``hueyviz_events`` of ``filename`` for ``queue``."""

    trim_every = 50   # batches between trims

    def __init__(self, filename: str, *, queue: str = "huey",
                 maxlen: int = DEFAULT_MAXLEN, **options):
        super().__init__(**options)
        self.filename = filename
        self.queue = queue
        self.maxlen = maxlen
        self._conn: Optional[sqlite3.Connection] = None
        self._batches = 0

    def describe(self) -> str:
        return f"sqlite table {TABLE} in {self.filename} (queue {self.queue})"

    def _connect(self) -> None:
        if self._conn is None:
            conn = _connect(self.filename)
            conn.execute(_SCHEMA)
            conn.execute(_INDEX)
            conn.execute(_META)
            self._conn = conn

    def _write(self, batch: List[Tuple[int, str]]) -> None:
        conn = self._conn
        assert conn is not None            # _connect() ran first
        q, s = self.queue, self.sender
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(
                f"INSERT INTO {TABLE} (queue, sender, seq, event) VALUES (?, ?, ?, ?)",
                [(q, s, seq, text) for seq, text in batch])
            self._batches += 1
            if self._batches % self.trim_every == 0:
                conn.execute(
                    f"DELETE FROM {TABLE} WHERE queue = ? AND id <= "
                    f"(SELECT MAX(id) FROM {TABLE} WHERE queue = ?) - ?",
                    (q, q, self.maxlen))
                gone = conn.execute("SELECT changes()").fetchone()[0]
                if gone:
                    # ``trimmed`` counts the rows deleted, so readers can say
                    # how much of the history they never saw.
                    conn.execute("INSERT INTO hueyviz_meta (queue, trimmed) VALUES (?, ?) "
                                 "ON CONFLICT(queue) DO UPDATE SET trimmed = trimmed + ?",
                                 (q, gone, gone))
            conn.execute("COMMIT")
        except BaseException:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass
            raise

    def _refused(self, exc: BaseException) -> bool:
        # A full disk or a constraint refuses the data; a lock (another
        # writer) or a vanished file is waited out.
        if isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError)):
            return True
        return isinstance(exc, sqlite3.DatabaseError) and "full" in str(exc)

    def _atomic(self) -> bool:
        return True      # one transaction per batch, rolled back on failure

    def _disconnect(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def _forget_connection(self):
        conn, self._conn = self._conn, None
        return conn

    def reader(self) -> SqliteReader:
        return SqliteReader(self.filename, self.queue)

    def store_reader(self) -> SqliteReader:
        """Every queue recorded in this database file (the guard's view)."""
        return SqliteReader(self.filename, None)


class SqliteReader:
    """Incremental reader of one queue's rows (or, with ``queue=None``, of every
    queue's, in commit order); see :class:`~hueyviz.record.redissink.RedisReader`."""

    def __init__(self, filename: str, queue: Optional[str]):
        self.filename = filename
        self.queue = queue
        self.last_id = 0
        self._conn: Optional[sqlite3.Connection] = None
        # Why the last fetch found nothing to read (None: it could read).
        # Following waits for the file; one-shot reads (Trace.read) fail on it.
        self.last_error: Optional[str] = None

    def describe(self) -> str:
        which = f"queue {self.queue}" if self.queue is not None else "every queue"
        return f"sqlite table {TABLE} in {self.filename} ({which})"

    def _where(self) -> Tuple[str, tuple]:
        return ("queue = ? AND ", (self.queue,)) if self.queue is not None else ("", ())

    def _db(self) -> Optional[sqlite3.Connection]:
        # Read-only, and only once the file exists: a reader must never
        # create the database it was pointed at (a typo would leave a file).
        if self._conn is None and os.path.exists(self.filename):
            self._conn = sqlite3.connect(f"file:{self.filename}?mode=ro", uri=True,
                                         timeout=10.0, check_same_thread=False)
        return self._conn

    def seek_end(self) -> None:
        db = self._db()
        if db is None:
            return             # no file yet: everything that arrives is new
        try:
            where, args = self._where()
            row = db.execute(f"SELECT MAX(id) FROM {TABLE} WHERE {where}1",
                             args).fetchone()
            self.last_id = row[0] or 0
        except sqlite3.OperationalError:
            pass   # no table yet

    def trimmed(self) -> bool:
        """Whether the sink ever deleted old rows of this queue (maxlen)."""
        return self.trimmed_count() != 0

    def trimmed_count(self) -> int:
        """How many old rows of this queue the sink deleted (maxlen).  Files
        written before the count was kept say 1 for "some"."""
        db = self._db()
        if db is None:
            return 0
        try:
            if self.queue is None:
                row = db.execute("SELECT MAX(trimmed) FROM hueyviz_meta").fetchone()
            else:
                row = db.execute("SELECT trimmed FROM hueyviz_meta WHERE queue = ?",
                                 (self.queue,)).fetchone()
        except sqlite3.OperationalError:
            return 0
        return int(row[0]) if row and row[0] else 0

    def fetch(self, timeout: float = 0.0, count: int = 10_000) -> List[tuple]:
        deadline = time.monotonic() + timeout
        while True:
            db = self._db()
            self.last_error = None if db is not None else f"no such database file {self.filename}"
            try:
                if db is None:
                    raise sqlite3.OperationalError("no such table: the file does not exist yet")
                where, args = self._where()
                rows = db.execute(
                    f"SELECT id, sender, seq, event FROM {TABLE} "
                    f"WHERE {where}id > ? ORDER BY id LIMIT ?",
                    (*args, self.last_id, count)).fetchall()
            except sqlite3.OperationalError as exc:
                if "no such table" not in str(exc) and "locked" not in str(exc):
                    raise
                rows = []
            if rows or time.monotonic() >= deadline:
                break
            time.sleep(min(0.02, max(0.0, deadline - time.monotonic())))
        out: List[tuple] = []
        for rid, sender, seq, text in rows:
            self.last_id = rid
            where = f"{TABLE} row {rid}"
            if not isinstance(text, (str, bytes)):
                out.append((None, None, None, where + ": empty event column"))
                continue
            out.append((sender if isinstance(sender, str) else None,
                        seq if isinstance(seq, int) else None, text, where))
        return out

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def find_queues(filename: str) -> List[str]:
    """Queues that have events in ``filename`` (empty if there is no table)."""
    try:
        conn = sqlite3.connect(f"file:{filename}?mode=ro", uri=True)
    except sqlite3.Error:
        return []
    try:
        return [r[0] for r in conn.execute(f"SELECT DISTINCT queue FROM {TABLE}")]
    except sqlite3.Error:
        return []
    finally:
        conn.close()
