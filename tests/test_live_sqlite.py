"""Live tracing with SqliteHuey (a table in the same file) and FileHuey
(per-process files beside its storage): real huey_consumer processes."""
import json
import os
import sqlite3
import subprocess
import sys
import warnings
from collections import Counter

import pytest
from livekit import kinds, make_app  # noqa: F401

import hueyviz


def lifecycle(trace, ids):
    return Counter((e.task, e.kind) for e in trace if e.task in ids and
                   e.kind in ("enqueued", "executing", "complete"))


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_sqlite_huey_records_into_a_table_of_the_same_file(make_app, tmp_path, kind):
    db = str(tmp_path / "huey.db")
    app = make_app("SqliteHuey", f"'app', filename={db!r}")
    c = app.consumer(2, kind)
    m = app.module
    with hueyviz.follow(m.huey) as f:
        assert f.wait_for(lambda tr: len(kinds(tr, "worker_up")) >= 2, 20), c.output()
        results = [m.sleepy(i) for i in range(20)] + [m.main(2)]
        assert [r.get(blocking=True, timeout=20) for r in results] == list(range(20)) + [1]
        ids = {r.id for r in results}
        assert f.wait_for(lambda tr: len(lifecycle(tr, ids | {e.task for e in tr if
                                                              e.get("parent") in ids}))
                          == 3 * 23, 20)
        assert c.stop()
        assert f.wait_for(lambda tr: len(kinds(tr, "worker_down")) == 2, 20), c.output()
    # The same events, read afterwards through every spelling of the source.
    url = f"sqlite:///{db}?queue=app"
    for source in (m.huey, url, db):
        tr = hueyviz.Trace.read(source)
        counts = Counter((e.task, e.kind) for e in tr
                         if e.kind in ("enqueued", "executing", "complete"))
        assert len(counts) == 3 * 23 and set(counts.values()) == {1}
        assert tr.dropped == 0 and hueyviz.diagnose(tr).verdict == "ok"
    with sqlite3.connect(db) as conn:
        assert conn.execute("pragma journal_mode").fetchone()[0] == "wal"
        tables = {r[0] for r in conn.execute("select name from sqlite_master")}
    assert "hueyviz_events" in tables and "task" in tables    # huey's own table too
    # The CLI reads the import path the consumers were started with.
    out = subprocess.run([sys.executable, "-m", "hueyviz", "diagnose", "app.huey", "--json"],
                         cwd=app.dir, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verdict"] == "ok"


def test_corrupt_rows_are_skipped_with_a_count(make_app, tmp_path, capsys):
    db = str(tmp_path / "huey.db")
    app = make_app("SqliteHuey", f"'app', filename={db!r}")
    m = app.module
    m.sleepy(1)
    assert m.huey._hueyviz_tracer.sink.flush(5)
    with sqlite3.connect(db) as conn:
        conn.executemany("insert into hueyviz_events (queue, sender, seq, event) "
                         "values ('app', ?, ?, ?)",
                         [("x/1/a", 1, "garbage"), ("x/1/a", 2, None),
                          (None, None, json.dumps({"t": "soon", "kind": "executing"}))])
    m.sleepy(2)
    assert m.huey._hueyviz_tracer.sink.flush(5)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = hueyviz.Trace.read(f"sqlite:///{db}")      # one queue: found by itself
    assert [e.kind for e in tr] == ["enqueued", "enqueued"]
    assert any("skipped 3 corrupt or foreign entries" in str(w.message) for w in caught)
    from hueyviz.cli import main
    assert main(["diagnose", db]) == 0
    assert "skipped 3 corrupt" in capsys.readouterr().err


def test_file_huey_records_files_beside_its_path_and_record_cli(make_app, tmp_path):
    store = str(tmp_path / "store")
    # FileHuey's default file lock: use_thread_lock=True shares nothing between
    # the worker processes, and a worker can then dequeue a task file while the
    # test process is still writing it (a lost task, a ResultTimeout).
    app = make_app("FileHuey", f"'app', path={store!r}")
    c = app.consumer(2, "process")
    m = app.module
    rec_out = str(tmp_path / "rec.jsonl")
    recorder = subprocess.Popen(
        [sys.executable, "-m", "hueyviz", "record", "app.huey", "-o", rec_out,
         "--from-start", "--duration", "30"], cwd=app.dir,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with hueyviz.follow(m.huey) as f:
            assert f.wait_for(lambda tr: len(kinds(tr, "worker_up")) >= 2, 20), c.output()
            results = [m.sleepy(i) for i in range(10)]
            assert [r.get(blocking=True, timeout=20) for r in results] == list(range(10))
            ids = {r.id for r in results}
            assert f.wait_for(lambda tr: len(lifecycle(tr, ids)) == 30, 20)
        assert c.stop()
        d = store + ".hueyviz"
        files = os.listdir(d)
        assert len(files) >= 3      # this process and the two forked workers
        assert all(f.endswith(".jsonl") for f in files)
        # Each per-process file is a trace of its own.
        one = hueyviz.Trace.load(os.path.join(d, sorted(files)[0]))
        assert one.header["format"] == "hueyviz-trace"
        tr = hueyviz.Trace.read(f"file://{d}")
        assert len(lifecycle(tr, ids)) == 30
    finally:
        recorder.terminate()           # SIGTERM: the recorder stops and says what it saved
        _, err = recorder.communicate(timeout=30)
    assert recorder.returncode == 0, err
    assert "recorded" in err
    saved = hueyviz.Trace.load(rec_out)
    assert len(lifecycle(saved, ids)) == 30
