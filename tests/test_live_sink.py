"""The background-writer sinks without any server: bounds, drops and their
count in the stream, retries after an outage, fork, install(), resolve."""
import os
import threading
import time

import pytest
from huey import MemoryHuey, SqliteHuey
from livekit import wait_until

import hueyviz
from hueyviz import SourceError
from hueyviz.core.event import Event, TraceFormatError, Worker
from hueyviz.read.source import resolve_source
from hueyviz.record.filesink import FileSink
from hueyviz.record.sqlitesink import SqliteSink

W = Worker("h", 1, "Worker-1")


def ev(i, kind="executing"):
    return Event(time.time() + i * 1e-6, kind, f"t{i}", "job", W, None)


def test_full_buffer_drops_and_counts_and_the_count_reaches_the_stream(tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the sink wants a directory")
    sink = FileSink(str(blocker / "events"), max_buffer=5, flush_interval=0.01)
    for i in range(12):
        sink.append(ev(i))               # never blocks, never raises
    # The writer cannot write; one batch waits for retry, the rest is bounded.
    assert sink.dropped >= 12 - 5 - 5 and len(sink) + sink.dropped == 12
    assert not sink.flush(0.3)
    blocker.unlink()                     # the sink comes back
    assert sink.flush(10)
    sink.close()
    tr = hueyviz.Trace.read(str(blocker / "events"))
    got = [e.task for e in tr if e.kind == "executing"]
    assert len(got) + tr.dropped == 12 and len(set(got)) == len(got)
    # The writer announced what it refused; the reader counts exactly that.
    assert tr.dropped == sink.dropped == sink.refused > 0
    assert any(f"announced {sink.refused} events they could not write" in w for w in tr.warnings)


def test_sqlite_sink_batches_and_follow_reads_incrementally(tmp_path):
    db = str(tmp_path / "x.db")
    sink = SqliteSink(db, queue="q", flush_interval=0.01)
    f = hueyviz.follow(f"sqlite:///{db}?queue=q", reorder=0)
    for i in range(3):
        sink.append(ev(i))
    assert sink.flush(5)
    assert [e.task for e in f.poll(1.0)] == ["t0", "t1", "t2"]
    g = hueyviz.follow(f"sqlite:///{db}?queue=q", reorder=0)   # a second reader
    sink.append(ev(3))
    assert sink.flush(5)
    assert [e.task for e in f.poll(1.0)] == ["t3"]
    assert [e.task for e in g.poll(1.0)] == ["t0", "t1", "t2", "t3"]  # nothing taken away
    sink.close()
    f.close(), g.close()


def test_a_forked_child_writes_its_own_events_only(tmp_path):
    d = str(tmp_path / "ev")
    sink = FileSink(d, flush_interval=0.01)
    sink.append(ev(0))
    pid = os.fork()
    if pid == 0:                                      # the child
        try:
            sink.append(ev(1))
            os._exit(0 if sink.flush(5) else 1)
        finally:
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert sink.flush(5)
    sink.close()
    tr = hueyviz.Trace.read(d)
    assert sorted(e.task for e in tr) == ["t0", "t1"]   # t0 once: the parent's
    assert len(os.listdir(d)) == 2                      # one file per process


def test_install_is_idempotent_and_memory_huey_follows_in_process():
    huey = MemoryHuey("idem")

    @huey.task()
    def job():
        return 1
    t1 = hueyviz.install(huey)
    t2 = hueyviz.install(huey)
    assert t1 is t2
    f = hueyviz.follow(huey, reorder=0)
    job()
    assert [e.kind for e in f.poll(1.0)] == ["enqueued"]   # once, not twice
    hueyviz.uninstall(huey)
    assert "execute" not in vars(huey)


def test_default_sink_follows_the_storage(tmp_path):
    db = str(tmp_path / "h.db")
    huey = SqliteHuey("app", filename=db)
    tracer = hueyviz.install(huey)
    try:
        assert isinstance(tracer.sink, SqliteSink) and tracer.sink.filename == db
        assert resolve_source(huey).name.startswith("sqlite table hueyviz_events in ")
    finally:
        hueyviz.uninstall(huey)
        tracer.sink.close()


def test_resolve_source_errors_are_clear(tmp_path):
    with pytest.raises(TraceFormatError, match="cannot open trace: No such file"):
        resolve_source(str(tmp_path / "missing.jsonl"))
    with pytest.raises(TraceFormatError, match="cannot import 'nosuchmodule_hv'"):
        resolve_source("nosuchmodule_hv.huey")
    with pytest.raises(TraceFormatError, match="not a Huey instance"):
        resolve_source("os.sep")
    with pytest.raises(TraceFormatError, match="unknown source URL scheme"):
        resolve_source("ftp://x/y")
    with pytest.raises(SourceError, match="no such database file"):
        resolve_source(f"sqlite:///{tmp_path / 'none.db'}")
    assert not (tmp_path / "none.db").exists()          # reading never creates anything
    pytest.importorskip("redis")
    with pytest.raises(SourceError, match="cannot read redis stream hueyviz:app .*refused"):
        hueyviz.Trace.read("redis://127.0.0.1:1/0?queue=app")     # nothing listens there


def test_append_never_waits_for_io(tmp_path):
    """The writer is stuck inside a write (another connection holds the
    database's write lock); appends still return at once, and only the
    bounded buffer decides what is kept."""
    import sqlite3
    db = str(tmp_path / "locked.db")
    sink = SqliteSink(db, queue="q", flush_interval=0.01, max_buffer=1000)
    sink.append(ev(0))
    assert sink.flush(5)                       # the table exists, written = 1
    lock = sqlite3.connect(db, isolation_level=None)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        sink.append(ev(1))
        assert wait_until(lambda: sink._busy, 5)   # the writer is blocked in BEGIN IMMEDIATE
        done = threading.Event()

        def burst():
            for i in range(2, 5002):
                sink.append(ev(i))
            done.set()
        threading.Thread(target=burst, daemon=True).start()
        assert done.wait(5), "append waited for the blocked writer"
        assert sink._busy and sink.written == 1    # still blocked: nothing was written
        # ev 0 written, ev 1 in the blocked batch, 1000 buffered, the rest refused
        assert len(sink) + sink.dropped == 5002 and sink.refused == 5002 - 2 - 1000
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    assert sink.flush(15)
    sink.close()
    tr = hueyviz.Trace.read(f"sqlite:///{db}?queue=q")
    assert len(tr) == 1 + 1 + 1000 and tr.dropped == sink.refused


def test_clock_skew_between_hosts_is_measured_and_reported():
    import json

    from hueyviz.read.follower import Follower
    from hueyviz.read.source import Source

    class Reader:       # records as the Redis reader returns them (arrival clock last)
        def __init__(self, recs):
            self.recs = recs

        def fetch(self, timeout=0.0, count=0):
            out, self.recs = self.recs, []
            return out

        def seek_end(self):
            pass

        def trimmed(self):
            return False

        def close(self):
            pass
    now = time.time()
    recs = [(f"{h}/1/x", 1, json.dumps({"t": now + off, "kind": "enqueued", "task": h,
                                        "host": h, "pid": 1, "worker": "w"}), h, now + 0.01)
            for h, off in (("a", 0.0), ("b", 3.0))]
    tr = Follower(Source("fake", lambda: Reader(recs)), reorder=0).read_all()
    assert [e.task for e in tr] == ["a", "b"]          # merged by their own clocks
    assert any("hosts b and a differ by about 3.0 s" in w for w in tr.warnings)


def test_a_full_disk_gives_batches_up_and_the_count_reaches_readers(tmp_path):
    d = tmp_path / "ev"
    sink = FileSink(str(d), flush_interval=0.01, max_attempts=2)
    d.mkdir()
    own = d / (sink.sender.replace("/", "-") + ".jsonl")
    own.symlink_to("/dev/full")                  # every write: ENOSPC
    for i in range(30):
        sink.append(ev(i))
    assert wait_until(lambda: sink.given_up == 30, 20), (sink.given_up, sink.failures)
    assert not sink.flush(0.2)                   # the loss is not announced yet
    own.unlink()                                 # space again
    for i in range(30, 35):
        sink.append(ev(i))
    assert sink.flush(10)
    sink.close()
    tr = hueyviz.Trace.read(str(d))
    assert [e.task for e in tr] == [f"t{i}" for i in range(30, 35)]
    assert tr.dropped == sink.dropped == 30


def test_a_folder_holding_one_recording_twice_reads_it_once(tmp_path):
    """Two copies of one trace in a sink folder: read once, and said; the
    verdict is the recording's own (read twice, every task ran twice and
    the deadlock read as ok with lost workers)."""
    import shutil
    import warnings

    from hueyviz.demo import run_demo
    res = run_demo(out=str(tmp_path / "demo"), render=False)
    assert res.diagnosis.verdict == "deadlock"
    folder = tmp_path / "sink"
    folder.mkdir()
    for name in ("a.jsonl", "b.jsonl"):
        shutil.copy(tmp_path / "demo" / "trace.jsonl", folder / name)
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        tr = hueyviz.Trace.read(str(folder))
    assert len(tr) == len(res.trace)
    d = hueyviz.diagnose(tr)
    assert (d.verdict, d.culprit) == (res.diagnosis.verdict, res.diagnosis.culprit)
    assert [str(w.message) for w in said] == [
        f"{folder / 'b.jsonl'} holds the same recording as {folder / 'a.jsonl'} (the same "
        "header and first event): read once"]


def test_a_disk_that_fills_up_loses_nothing_uncounted_and_shutdown_is_prompt(tmp_path):
    """A real 256 KB filesystem fills up under the file sink: every event is
    in the file or counted by the writer, and flush/close give up at once
    rather than wait out their timeouts (uninstall at a worker's shutdown)."""
    import subprocess
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mnt)],
                             capture_output=True, text=True)
    if mounted.returncode:
        pytest.fail(f"this test mounts a 256 KB tmpfs (as root, as CI runs): {mounted.stderr}",
                    pytrace=False)
    try:
        sink = FileSink(str(mnt / "ev"), flush_interval=0.01)
        n = 9000
        for i in range(n):
            sink.append(ev(i))
        started = time.monotonic()
        assert not sink.flush(60)
        sink.close(60)
        assert time.monotonic() - started < 30     # far from the 120 s they were given
        assert sink.closed and not sink._thread.is_alive()
        tr = hueyviz.Trace.read(str(mnt / "ev"))
        written = sum(1 for e in tr if e.task is not None)
        assert 0 < written < n
        assert written + sink.dropped == n, (written, sink.dropped)
    finally:
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def test_uninstall_closes_the_sink_so_nothing_is_left_uncounted(tmp_path):
    from workload import run_all
    huey = MemoryHuey("uninstall-closes", utc=False)

    @huey.task()
    def job(i):
        return i

    tracer = hueyviz.install(huey, f"file://{tmp_path / 'ev'}")
    for i in range(50):
        job(i)
    run_all(huey)
    hueyviz.uninstall(huey)
    sink = tracer.sink
    assert sink.closed and not sink._thread.is_alive()
    tr = hueyviz.Trace.read(str(tmp_path / "ev"))
    assert sum(e.kind == "complete" for e in tr) == 50 and sink.dropped == 0
