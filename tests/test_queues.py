"""Queues as pools: the analysis across several Huey instances.

Hand-built events first (each rule of the model), then real consumers:
two Huey instances with their own consumers, and a tracer attached to a
consumer that was already running (huey issue #618).
"""
import threading

from huey import MemoryHuey
from story import Story, attached_late

import hueyviz
from hueyviz import diagnose, whatif


# -- the model, on hand-built events -----------------------------------------------
def test_a_knot_across_two_queues_is_a_deadlock_naming_both():
    # a's only worker holds main, which waits for b's mid; b's only worker
    # holds mid, which waits for a's leaf.
    s = Story(1, queue="a")
    b = s.add_queue("b", 1, pid=2)[0]
    s.enqueue("main", q="a")
    s.start("main", 0)
    s.enqueue("mid", parent="main", by=0, q="b")
    s.block("main", "mid", 0)
    assert diagnose(s.events).verdict == "ok"          # b's worker is free
    s.start("mid", b)
    s.enqueue("leaf", parent="mid", by=b, q="a")
    s.block("mid", "leaf", b)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert (d.culprit.waiter, d.culprit.waits_on) == ("mid", "leaf")
    assert (d.culprit.queue, d.culprit.waits_on_queue) == ("b", "a")
    assert "queue `a`: 1 of 1 workers blocked" in d.message
    assert "queue `b`: 1 of 1 workers blocked" in d.message
    assert d.workers == {"total": 2, "blocked": 2}
    assert {q: (c.total, c.blocked) for q, c in d.queues.items()} == {"a": (1, 1), "b": (1, 1)}


def test_idle_workers_of_another_queue_do_not_hide_a_knot():
    s = Story(1, queue="a")
    s.add_queue("b", 2, pid=2)                          # idle: they serve b only
    s.start("main", 0)
    s.enqueue("sub", parent="main", by=0, q="a")
    s.block("main", "sub", 0)
    d = diagnose(s.events)
    assert d.verdict == "deadlock" and d.culprit.waiter == "main"
    assert set(d.queues) == {"a"} and d.workers == {"total": 1, "blocked": 1}


def test_a_cross_queue_wait_with_a_free_worker_is_ok_and_completes():
    s = Story(1, queue="a")
    b = s.add_queue("b", 1, pid=2)[0]
    s.start("main", 0)
    s.enqueue("other", parent="main", by=0, q="b")
    s.block("main", "other", 0)
    s.start("other", b)
    s.finish("other", w=b)
    s.unblock("main", "other", 0)
    s.finish("main", w=0)
    d = diagnose(s.events)
    assert d.verdict == "ok" and "queue `a`: 1" in d.message and "queue `b`: 1" in d.message


def test_a_wait_on_a_queue_nobody_serves_is_said_not_silently_ok():
    s = Story(2, queue="a")
    s.start("main", 0)
    s.enqueue("report", parent="main", by=0, q="reports")
    s.block("main", "report", 0)
    d = diagnose(s.events)
    assert d.verdict == "ok"
    assert any("queue `reports`, which no consumer was seen serving" in n for n in d.notes)


def test_an_inferred_pool_finding_is_withdrawn_when_an_unseen_worker_acts():
    s = attached_late(4)        # huey #618
    d = diagnose(s.events)
    assert d.verdict == "deadlock" and len(d.findings) == 1
    assert d.culprit.waiter == "main3"                  # the fourth wait closed it
    assert d.workers == {"total": 4, "blocked": 4}
    assert "4 of 4 are blocked" in d.message
    assert not d.exact and any("inferred" in n for n in d.notes)


def test_an_announced_pool_is_exact_and_keeps_its_finding():
    s = Story(1)
    s.start("main", 0)
    s.block("main", "sub", 0)
    s.enqueue("sub")
    d = diagnose(s.events)
    assert d.exact and d.verdict == "deadlock"


def test_a_pool_that_shrinks_closes_the_knot_with_the_latest_wait():
    from hueyviz.analysis.detector import find_knot
    from hueyviz.analysis.replay import Replay
    s = Story(3)
    for i in (0, 1):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        s.block(f"main{i}", f"sub{i}", i)
    assert diagnose(s.events).verdict == "ok"           # Worker-3 is free
    s.kind("worker_down", w=2)
    d = diagnose(s.events)
    assert d.verdict == "deadlock" and d.culprit.waiter == "main1"
    rp = Replay()
    for e in s.events:
        rp.apply(e)
    f = find_knot(rp)                                   # what the watchdog reports
    assert (f.culprit.waiter, f.culprit.waits_on) == (d.culprit.waiter, d.culprit.waits_on)


def test_whatif_replays_queue_order_per_queue():
    s = Story(1, queue="a")
    b = s.add_queue("b", 1, pid=2)[0]
    s.enqueue("main", q="a")
    s.start("main", 0)
    s.enqueue("mid", parent="main", by=0, q="b")
    s.block("main", "mid", 0)
    s.start("mid", b)
    s.finish("mid", w=b)
    s.unblock("main", "mid", 0)
    s.finish("main", w=0)
    w = whatif(s.events, workers={"a": [1, 2], "b": 1})
    assert [r.verdict for r in w.runs] == ["ok", "ok"]
    assert w.min_safe_workers == {"a": 1, "b": 1}
    assert [r.to_dict()["workers"] for r in w.runs] == [{"a": 1, "b": 1}, {"a": 2, "b": 1}]


# -- real consumers ------------------------------------------------------------------
def _two_queues():
    a, b = MemoryHuey("a", utc=False), MemoryHuey("b", utc=False)
    return a, b


def test_cross_queue_knot_with_two_real_consumers(consumer):
    a, b = _two_queues()
    blocked = threading.Event()

    @a.task()
    def leaf():
        return "leaf"

    @b.task()
    def mid():
        return leaf().get(blocking=True, timeout=20)

    @a.task()
    def main():
        return mid().get(blocking=True, timeout=20)

    with hueyviz.trace(a, b) as tracer:
        ca, cb = consumer(a, workers=1), consumer(b, workers=1)
        r = main()
        ca.results.append(r)

        def stuck(tr):
            return sum(e.kind == "block" and e.task is not None for e in tr) >= 2
        assert tracer.wait_for(stuck, timeout=15)
        blocked.set()
        tr = tracer.trace
    d = diagnose(tr)
    assert d.verdict == "stall"          # the waits have timeouts: it dissolves
    names = {d.culprit.waiter_name, d.culprit.waits_on_name}
    assert names == {"mid", "leaf"}
    assert d.culprit.queue == "b" and d.culprit.waits_on_queue == "a"
    assert "queue `a`" in d.message and "queue `b`" in d.message
    assert {q: c.blocked for q, c in d.queues.items()} == {"a": 1, "b": 1}
    # The cross-queue block is the waiter's, with its worker: never "non-task code".
    blocks = [e for e in tr if e.kind == "block"]
    assert all(e.task is not None for e in blocks)
    assert {(e.name, e.queue, e.get("waits_on_queue")) for e in blocks} == {
        ("main", "a", "b"), ("mid", "b", "a")}


def test_knot_in_one_queue_while_the_other_idles(consumer):
    a, b = _two_queues()

    @b.task()
    def unrelated():
        return 1

    @a.task()
    def sub():
        return 2

    @a.task()
    def main():
        return sub().get(blocking=True)

    with hueyviz.trace(a, b) as tracer:
        ca = consumer(a, workers=1)
        consumer(b, workers=2)
        assert unrelated().get(blocking=True, timeout=10) == 1
        r = main()
        ca.results.append(r)
        assert tracer.wait_for(lambda tr: diagnose(tr).verdict == "deadlock", timeout=15)
        tr = tracer.trace
    d = diagnose(tr)
    assert d.culprit.waiter_name == "main" and set(d.queues) == {"a"}
    assert d.workers == {"total": 1, "blocked": 1}
    assert "1 of 1 are blocked" in d.message


def test_cross_queue_wait_that_completes(consumer):
    a, b = _two_queues()

    @b.task()
    def report(n):
        return n * 2

    @a.task()
    def main():
        return report(21).get(blocking=True, timeout=10)

    with hueyviz.trace(a, b) as tracer:
        ca = consumer(a, workers=1)
        consumer(b, workers=1)
        r = main()
        ca.results.append(r)
        assert r.get(blocking=True, timeout=15) == 42
        assert tracer.wait_for(lambda tr: sum(e.kind == "complete" for e in tr) >= 2, 10)
        tr = tracer.trace
    d = diagnose(tr)
    assert d.verdict == "ok"
    waits = [e for e in tr if e.kind == "block"]
    # main's wait (a task of a, on b); the test's own wait on main (not a task).
    assert [(e.name, e.queue, e.get("waits_on_queue")) for e in waits] == [
        (None, "a", None), ("main", "a", "b")] or [
        (e.name, e.queue, e.get("waits_on_queue")) for e in waits] == [
        ("main", "a", "b"), (None, "a", None)]
    lanes = tr.lanes()
    assert {ln.queue for ln in lanes.values() if ln.spans} == {"a", "b"}


def test_tracer_attached_to_a_running_consumer_finds_the_fourth_wait(consumer):
    """huey #618: 4 workers already running, 4 tasks each blocking on a subtask."""
    huey = MemoryHuey("late", utc=False)

    @huey.task()
    def sub(i):
        return i

    @huey.task()
    def main(i):
        return sub(i).get(blocking=True)

    run = consumer(huey, workers=4)          # started before the tracer: no announcements
    with hueyviz.trace(huey) as tracer:
        # Hold the storage lock while enqueueing, so that no worker takes a
        # main before all four are queued (then every worker takes a main
        # before any subtask: the deadlock of the report, every time).
        with huey.storage._lock:
            results = [main(i) for i in range(4)]
        run.results.extend(results)
        assert tracer.wait_for(
            lambda tr: sum(e.kind == "block" for e in tr) == 4
            and diagnose(tr).verdict == "deadlock", timeout=20)
        tr = tracer.trace
    assert not [e for e in tr if e.kind in ("consumer", "worker_up", "pool")]
    d = diagnose(tr)
    last_block = [e for e in tr if e.kind == "block"][-1]
    assert d.verdict == "deadlock" and len(d.findings) == 1
    assert d.culprit.waiter == last_block.task            # the fourth wait
    assert d.workers == {"total": 4, "blocked": 4} and "4 of 4 are blocked" in d.message


def test_whatif_on_a_three_worker_recording_matches_real_runs(consumer):
    """The classic workload recorded on 3 workers: 2 would deadlock, 3 is the minimum.

    Checked against a real run on 2 workers: the replay must agree with it.
    """
    from hueyviz.demo import build_huey

    def record(workers):
        huey = build_huey(f"classic-{workers}", subtasks=3, work=0.01)
        main = huey.demo_tasks["main_task"]
        with hueyviz.trace(huey) as tracer:
            results = [main(u) for u in ("alice", "bob")]     # queued before the consumer
            run = consumer(huey, workers=workers)
            run.results.extend(results)

            def settled(tr):
                return all(r.is_ready() for r in results) or diagnose(tr).verdict == "deadlock"
            assert tracer.wait_for(settled, timeout=20)
            return tracer.trace

    three = record(3)
    assert diagnose(three).verdict == "ok"
    w = whatif(three, workers=range(1, 5))
    assert w.exact, w.notes
    assert [r.verdict for r in w.runs] == ["deadlock", "deadlock", "ok", "ok"]
    assert w.min_safe_workers == 3
    two = record(2)
    assert diagnose(two).verdict == "deadlock"          # what the replay of 2 said
    # The replayed run is a trace like any other: the same analysis names its knot.
    replayed = w.runs[1].trace
    assert diagnose(replayed).verdict == "deadlock"
    assert diagnose(replayed).workers == {"total": 2, "blocked": 2}


def test_two_instances_installed_on_one_shared_sink_read_as_one_trace(consumer, tmp_path,
                                                                      capsys):
    """django-huey style: each queue its own SqliteHuey and consumer, all
    installed with one sink URL; the URL without ?queue= reads every queue."""
    import json

    from huey import SqliteHuey

    from hueyviz.cli import main as cli
    url = f"sqlite:///{tmp_path / 'events.db'}"
    a = SqliteHuey("a", filename=str(tmp_path / "a.db"))
    b = SqliteHuey("b", filename=str(tmp_path / "b.db"))

    import threading

    from hueyviz.record.hook import find_hook
    waiting = threading.Event()

    @b.task()
    def report(n):
        # Done only once main waits for it: a result already there is no wait.
        waiting.wait(10)
        return n + 1

    @a.task()
    def main():
        return report(1).get(blocking=True, timeout=10)

    ta, tb = hueyviz.install(a, url), hueyviz.install(b, url)
    # Called just before a wait that will block begins (the guard's hook).
    find_hook(a).before_block += (lambda task, *_: task is not None and waiting.set(),)
    try:
        consumer(a, workers=1)
        consumer(b, workers=1)
        assert main().get(blocking=True, timeout=15) == 2
        assert ta.sink.flush(5) and tb.sink.flush(5)

        def complete():
            # flush() is the writer's own promise; read until every event is in.
            tr = hueyviz.Trace.read(url)
            return tr if sum(e.kind in ("block", "unblock") for e in tr) >= 4 else None
        from livekit import wait_until
        assert wait_until(complete, 10)
        tr = complete()
        assert {e.queue for e in tr if e.queue} == {"a", "b"}
        d = diagnose(tr)
        assert d.verdict == "ok" and set(d.queues) == {"a", "b"}
        waits = [e for e in tr if e.kind == "block" and e.task is not None]
        assert [(e.queue, e.get("waits_on_queue")) for e in waits] == [("a", "b")]
        assert cli(["diagnose", url, "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert set(out["queues"]) == {"a", "b"}
    finally:
        hueyviz.uninstall(a)
        hueyviz.uninstall(b)
        ta.sink.close()
        tb.sink.close()
