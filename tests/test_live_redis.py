"""Live tracing on Redis with real huey_consumer processes.

Each test starts its own redis-server and its own consumers; fixtures kill
them (whole process groups) at the end, deadlocked or not.
"""
import json
import os
import subprocess
import sys
from collections import Counter

import pytest
from livekit import kinds, make_app, redis_server, wait_until  # noqa: F401

import hueyviz

try:
    import redis  # noqa: F401
except ImportError:  # pragma: no cover
    pytest.fail("the redis package is needed: pip install -e '.[test]'", pytrace=False)


def redis_app(make_app, srv, install=""):
    return make_app("RedisHuey", f"'app', url={srv.url!r}", install)


def task_kinds(trace):
    """{(task, kind): count} for the per-task lifecycle kinds."""
    return Counter((e.task, e.kind) for e in trace
                   if e.kind in ("enqueued", "executing", "complete"))


def up(n):
    return lambda tr: len(kinds(tr, "worker_up")) >= n


@pytest.mark.parametrize("kind,stop_signal", [
    ("thread", "INT"), ("process", "TERM"), ("greenlet", "INT")])
def test_every_worker_type_records_into_the_stream(make_app, redis_server, kind, stop_signal):
    if kind == "greenlet":
        try:
            import gevent  # noqa: F401
        except ImportError:
            pytest.fail("gevent is needed for greenlet workers: pip install -e '.[test]'",
                        pytrace=False)
    app = redis_app(make_app, redis_server)
    c = app.consumer(2, kind)
    m = app.module
    with hueyviz.follow(m.huey) as f:
        assert f.wait_for(up(2), 20), c.output()
        results = [m.sleepy(i) for i in range(30)] + [m.main(2)]
        assert [r.get(blocking=True, timeout=20) for r in results[:30]] == list(range(30))
        assert results[-1].get(blocking=True, timeout=20) == 1
        ids = {r.id for r in results}
        assert f.wait_for(lambda tr: sum(1 for e in kinds(tr, "complete") if e.task in ids)
                          == len(ids), 20)
        if stop_signal == "TERM":
            c.proc.terminate()    # huey: immediate stop; workers unwind and flush
            c.proc.wait(15)
        else:
            assert c.stop()
        assert f.wait_for(lambda tr: len(kinds(tr, "worker_down")) >= 2, 20), c.output()
        tr = f.trace
    counts = task_kinds(tr)
    # 33 tasks: 30 sleepy, main, 2 subs; each enqueued, started, finished once
    assert len({t for t, _ in counts}) == 33
    assert set(counts.values()) == {1} and len(counts) == 99
    assert tr.dropped == 0 and not tr.warnings
    (consumer,) = kinds(tr, "consumer")
    # Its size, worker type and how its workers poll (livekit's -d/-m/-b).
    assert consumer.data["workers"] == 2 and consumer.data["worker_type"] == kind
    assert {"initial_delay", "backoff", "max_delay"} <= set(consumer.data)
    # Workers are named as Huey numbers them, whatever their type.
    names = {e.worker.name for e in kinds(tr, "executing")}
    assert names == {"thread": {"Worker-1", "Worker-2"}, "process": {"process 1", "process 2"},
                     "greenlet": {"greenlet 1", "greenlet 2"}}[kind]
    pids = {e.worker.pid for e in kinds(tr, "executing")}
    if kind == "process":
        assert len(pids) == 2 and c.pid not in pids   # forked workers: own pids
    else:
        assert pids == {c.pid}
    # Producer events come from this process; lanes are per host/pid/worker.
    assert {e.worker.pid for e in kinds(tr, "enqueued") if e.get("parent") is None} == {os.getpid()}
    assert len([k for k in tr.lanes() if tr.lanes()[k].spans]) == 2
    d = hueyviz.diagnose(tr)
    assert d.verdict == "ok" and d.workers["total"] == 0   # everyone went home


def diagnose_cli(app, *extra):
    proc = subprocess.run([sys.executable, "-m", "hueyviz", "diagnose", "app.huey", "--json",
                           *extra], cwd=app.dir, capture_output=True, text=True, timeout=60)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout), proc


def test_two_consumers_form_one_pool_and_deadlock_needs_all_three(make_app, redis_server):
    app = redis_app(make_app, redis_server)
    a = app.consumer(2, "process")
    b = app.consumer(1, "thread")
    m = app.module
    with hueyviz.follow(m.huey) as f:
        assert f.wait_for(up(3), 20), a.output() + b.output()
        # Two blocking mains on a pool of three: the third worker runs the subs.
        two = [m.main(2) for _ in range(2)]
        assert [r.get(blocking=True, timeout=20) for r in two] == [1, 1]
        d, _ = diagnose_cli(app)
        assert d["verdict"] == "ok" and d["workers"]["total"] == 3
        # Three blocking mains hold all three workers of both consumers.
        three = [m.main(2, gate=3) for _ in range(3)]
        assert f.wait_for(lambda tr: hueyviz.diagnose(tr).verdict == "deadlock", 20), \
            (hueyviz.diagnose(f.trace).message, Counter(e.kind for e in f.trace),
             a.output(), b.output())
    d, proc = diagnose_cli(app)
    assert proc.returncode == 1
    assert d["verdict"] == "deadlock"
    assert d["workers"] == {"total": 3, "blocked": 3}
    assert d["culprit"]["waiter"] in {r.id for r in three}
    pids = {k["worker_key"].split("/")[1] for k in d["knot"] if k["kind"] == "waits_for"}
    assert len(pids) == 3          # two forked workers of a, the thread of b
    # Rescue: the fixture kills both consumers (process groups) at teardown.


@pytest.mark.parametrize("kind", ["thread", "process"])
def test_kill9_shows_lost_tasks_not_a_deadlock_and_restart_gets_new_lanes(
        make_app, redis_server, kind):
    app = redis_app(make_app, redis_server)
    a = app.consumer(2, kind)
    m = app.module
    with hueyviz.follow(m.huey, lost_after=2.5) as f:
        assert f.wait_for(up(2), 20), a.output()
        long = [m.sleepy(i, 60) for i in range(2)]
        ids = {r.id for r in long}
        assert f.wait_for(lambda tr: {e.task for e in kinds(tr, "executing")} >= ids, 20)
        a.kill()
        assert f.wait_for(lambda tr: len(kinds(tr, "lost")) == 2, 20)
        tr = f.trace
        d = hueyviz.diagnose(tr)
        assert d.verdict == "ok", d.message
        assert d.workers["total"] == 0
        assert any("2 tasks were lost" in n for n in d.notes)
        st = tr.state_at()
        assert {st.tasks[i].outcome for i in ids} == {"lost"}
        old_lanes = set(tr.lanes())
        b = app.consumer(1, "thread")
        assert f.wait_for(up(3), 20), b.output()
        ok = m.sleepy(99)
        assert ok.get(blocking=True, timeout=20) == 99
        assert f.wait_for(lambda tr: ok.id in {e.task for e in kinds(tr, "complete")}, 20)
        tr = f.trace
    new_lanes = set(tr.lanes()) - old_lanes
    assert len(new_lanes) == 1 and str(b.pid) in next(iter(new_lanes))
    d = hueyviz.diagnose(tr)
    assert d.verdict == "ok" and d.workers["total"] == 1
    spans = {sp.task: sp for ln in tr.lanes().values() for sp in ln.spans}
    assert {spans[i].outcome for i in ids} == {"lost"}


def test_sink_redis_restarted_under_load(make_app, redis_server, tmp_path):
    """The events go to a second Redis that is restarted mid-run: tasks are
    unaffected, the writers reconnect, and every event arrives once or is
    counted as lost."""
    from livekit import RedisServer
    sink_srv = RedisServer(tmp_path / "sink").start()
    try:
        app = redis_app(make_app, redis_server, install=f", {sink_srv.url!r}")
        c = app.consumer(2, "process")
        m = app.module
        f = hueyviz.follow(sink_srv.url + "?queue=app", reorder=0, lost_after=None)
        assert f.wait_for(up(2), 20), c.output()
        first = [m.sleepy(i, 0.002) for i in range(300)]
        sink_srv.stop()                       # sink down while tasks keep running
        during = [m.sleepy(i, 0.002) for i in range(300, 600)]
        assert wait_until(lambda: all(r.is_ready() for r in first + during), 30)
        sink_srv.start()                      # same port, empty (no persistence)
        after = [m.sleepy(i, 0.002) for i in range(600, 700)]
        results = [r.get(blocking=True, timeout=30) for r in first + during + after]
        assert results == list(range(700))    # no task failed because of tracing
        ids = {r.id for r in first + during + after}

        expected = {(i, k) for i in ids for k in ("enqueued", "executing", "complete")}
        assert m.huey._hueyviz_tracer.sink.flush(10)      # this process: the producer

        def settled(tr):
            seen = {(e.task, e.kind) for e in tr if e.task in ids}
            return len(expected - seen) <= tr.dropped
        assert f.wait_for(settled, 30), (f.warnings, c.output())
        tr = f.trace
        f.close()
    finally:
        sink_srv.stop()
    counts = task_kinds(tr)
    assert max(counts.values()) == 1             # nothing arrives twice
    missing = expected - set(counts)
    assert len(missing) <= tr.dropped, (len(missing), tr.dropped, tr.warnings)
    assert c.alive()


def test_corrupt_and_foreign_stream_entries_are_skipped_with_a_count(
        make_app, redis_server, capsys):
    app = redis_app(make_app, redis_server)
    m = app.module
    r = m.sleepy(1)
    m.huey._hueyviz_tracer.sink.flush(5)
    cl = redis_server.client()
    cl.xadd("hueyviz:app", {"foreign": "x"})
    cl.xadd("hueyviz:app", {"e": "{not json", "s": "h/1/x", "q": 1})
    cl.xadd("hueyviz:app", {"e": json.dumps({"kind": "executing"}), "s": "h/1/x", "q": 2})
    cl.xadd("hueyviz:app", {"e": json.dumps([1, 2])})
    m.sleepy(2)
    m.huey._hueyviz_tracer.sink.flush(5)
    import warnings
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = hueyviz.Trace.read(m.huey)
    assert [e.kind for e in tr] == ["enqueued", "enqueued"] and tr[0].task == r.id
    assert any("skipped 4 corrupt or foreign entries" in str(w.message) for w in caught)
    from hueyviz.cli import main
    assert main(["diagnose", redis_server.url + "?queue=app"]) == 0
    err = capsys.readouterr().err
    assert "skipped 4 corrupt or foreign entries" in err and "no field 'e'" in err


def test_scheduler_enqueues_are_recorded(make_app, redis_server):
    app = redis_app(make_app, redis_server)
    c = app.consumer(1, "thread")
    m = app.module
    with hueyviz.follow(m.huey) as f:
        assert f.wait_for(up(1), 20), c.output()
        r = m.sleepy.schedule((7,), delay=1)
        assert r.get(blocking=True, timeout=20) == 7
        assert f.wait_for(lambda tr: any(e.kind == "complete" and e.task == r.id
                                         for e in tr), 20)
        mine = [e for e in f.trace if e.task == r.id]
    assert [e.kind for e in mine] == ["enqueued", "scheduled", "enqueued", "executing",
                                      "complete"]
    assert mine[0].worker.pid == os.getpid() and mine[0].get("eta")   # the producer
    assert mine[2].worker.name == "Scheduler" and mine[2].worker.pid == c.pid
