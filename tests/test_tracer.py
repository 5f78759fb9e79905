"""The tracer against real Huey objects: what it records and what it leaves."""
import itertools
import logging
import threading

import pytest
from huey import MemoryHuey
from huey import api as huey_api
from huey import exceptions as huey_exceptions
from huey.exceptions import ResultTimeout
from workload import run_all

import hueyviz
from hueyviz import diagnose
from hueyviz.record import hotpath
from hueyviz.record.sink import MemorySink


@pytest.fixture(autouse=True, params=["C", "Python"])
def hot_path(request, monkeypatch):
    """Every test here runs on both builds of the tracer's hot path."""
    if request.param == "C":
        assert hotpath.compiled is not None, "the C hot path was not built"
    monkeypatch.setattr(hotpath, "enabled", request.param == "C")
    return request.param


def make_huey(name="t", **kw):
    huey = MemoryHuey(name, utc=False, **kw)

    @huey.task()
    def add(a, b):
        return a + b

    @huey.task()
    def nothing():
        return None

    @huey.task()
    def boom():
        raise ValueError("bad <input> \"quoted\"")

    @huey.task()
    def spawn(n):
        return [add(i, i).id for i in range(n)]

    huey.t = {"add": add, "nothing": nothing, "boom": boom, "spawn": spawn}
    return huey


def kinds(tracer):
    return [e.kind for e in tracer.trace]


def snapshot(huey):
    return (dict(vars(huey)), {k: list(v) for k, v in huey._signal.receivers.items()},
            dict(huey._startup), dict(huey._shutdown), huey_api.Result.get_raw_result)


def test_records_enqueue_execute_complete_with_worker_identity():
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        huey.t["add"](1, 2)
        run_all(huey)
    assert kinds(tracer) == ["enqueued", "executing", "complete"]
    e = tracer.trace[1]
    assert e.worker.name == "MainThread" and e.worker.pid > 0 and e.worker.host
    assert e.name == "add" and len(e.task) == 36


def test_parent_and_pipeline_are_recorded():
    huey = make_huey()
    add = huey.t["add"]
    with hueyviz.trace(huey) as tracer:
        spawn_result = huey.t["spawn"](2)
        pipe = add.s(1, 2).then(add, 10).then(add, 100)
        huey.enqueue(pipe)
        run_all(huey)
    tr = tracer.trace
    enq = {e.task: e for e in tr if e.kind == "enqueued"}
    children = [e for e in enq.values() if e.get("parent") == spawn_result.id]
    assert len(children) == 2 and all(e.get("via") is None for e in children)
    head = next(e for e in enq.values() if e.get("then"))
    assert len(head.get("then")) == 2
    second = enq[head.get("then")[0]]
    assert second.get("parent") == head.task and second.get("via") == "pipeline"
    g = tr.graph()
    kinds_ = {d["kind"] for _, _, d in g.edges(data=True)}
    assert {"spawn", "pipeline"} <= kinds_
    assert g.nodes[head.get("then")[1]]["state"] == "finished"


def test_error_records_type_and_message():
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        huey.t["boom"]()
        run_all(huey)
    err = next(e for e in tracer.trace if e.kind == "error")
    assert err.get("error") == "ValueError"
    assert err.get("message") == 'bad <input> "quoted"'


def test_complete_says_when_no_result_was_stored():
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        huey.t["nothing"]()
        huey.t["add"](1, 1)
        run_all(huey)
    done = [e for e in tracer.trace if e.kind == "complete"]
    assert [e.get("stored", True) for e in done] == [False, True]


def test_args_only_when_asked_and_bounded():
    huey = make_huey()
    secret = "s3cret-" + "x" * 1000
    with hueyviz.trace(huey) as tracer:
        huey.t["add"](secret, "y")
    assert "args" not in tracer.trace[0].data if tracer.trace[0].data else True
    assert secret not in repr(tracer.trace)
    with hueyviz.trace(huey, capture_args=True) as tracer:
        huey.t["add"](secret, "y")
    args = tracer.trace[0].get("args")
    assert args.startswith("('s3cret-") and len(args) <= 200


def test_detach_restores_huey_exactly():
    huey = make_huey()
    before = snapshot(huey)
    tracer = hueyviz.trace(huey)
    assert "execute" in vars(huey)
    assert huey_api.Result.get_raw_result is not before[4]
    tracer.detach()
    after = snapshot(huey)
    assert after == before
    huey.t["add"](1, 2)
    run_all(huey)
    assert len(tracer.trace) == 0


def test_attach_twice_does_not_double_record():
    huey = make_huey()
    tracer = hueyviz.trace(huey)
    tracer.attach()
    with tracer:
        huey.t["add"](1, 2)
        run_all(huey)
    assert kinds(tracer) == ["enqueued", "executing", "complete"]
    assert not tracer.attached


def test_two_hueys_are_traced_independently():
    h1, h2 = make_huey("one"), make_huey("two")
    with hueyviz.trace(h1) as t1, hueyviz.trace(h2) as t2:
        h1.t["add"](1, 2)
        h2.t["add"](1, 2)
        h2.t["add"](3, 4)
    assert len(t1.trace) == 1 and len(t2.trace) == 2
    assert t1.trace.header["huey"] == "one" and t2.trace.header["huey"] == "two"


def test_two_tracers_on_one_huey_and_partial_detach():
    huey = make_huey()
    before = snapshot(huey)
    a, b = hueyviz.trace(huey), hueyviz.trace(huey)
    huey.t["add"](1, 2)
    a.detach()
    huey.t["add"](1, 2)
    b.detach()
    assert len(a.trace) == 1 and len(b.trace) == 2
    assert snapshot(huey) == before


def test_max_events_bounds_memory_and_counts_drops():
    huey = make_huey()
    with hueyviz.trace(huey, max_events=5) as tracer:
        for i in range(4):
            huey.t["add"](i, i)
        run_all(huey)
    assert len(tracer.trace) == 5
    assert tracer.trace.dropped == 12 - 5 == tracer.dropped
    assert "7 events dropped" in tracer.trace.summary()


def test_a_failing_sink_never_breaks_tasks(caplog):
    class Broken(MemorySink):
        def append(self, event):
            raise OSError("disk on fire")

    huey = make_huey()
    with caplog.at_level(logging.WARNING, logger="hueyviz"):
        with hueyviz.trace(huey, sink=Broken()) as tracer:
            results = [huey.t["add"](i, 1) for i in range(3)]
            run_all(huey)
    assert [r.get() for r in results] == [1, 2, 3]
    assert tracer.errors == 9 and tracer.dropped == 9
    # Logged once, not once per failure (rate limited).
    assert sum("sink failed" in r.getMessage() for r in caplog.records) == 1


def test_injected_clock():
    huey = make_huey()
    ticks = itertools.count(100)
    with hueyviz.trace(huey, clock=lambda: float(next(ticks))) as tracer:
        huey.t["add"](1, 2)
        run_all(huey)
    assert tracer.trace.header["attached"] == 100.0
    assert [e.t for e in tracer.trace] == [101.0, 102.0, 103.0]


def test_no_block_event_when_the_result_is_already_there():
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        r = huey.t["add"](1, 2)
        run_all(huey)
        assert r.get(blocking=True, timeout=1) == 3
    assert "block" not in kinds(tracer)
    # The check did not consume anything the untraced call would not have.
    assert huey.result(r.id) is None


def test_preserved_results_stay_readable():
    huey = make_huey()
    with hueyviz.trace(huey):
        r = huey.t["add"](2, 2)
        run_all(huey)
        assert r.get(blocking=True, preserve=True) == 4
        assert huey.result(r.id, preserve=True) == 4


def test_block_and_unblock_from_non_task_code_with_timeout():
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        r = huey.t["add"](1, 2)
        with pytest.raises(ResultTimeout):
            r.get(blocking=True, timeout=0.05)
    block = next(e for e in tracer.trace if e.kind == "block")
    unblock = next(e for e in tracer.trace if e.kind == "unblock")
    assert block.task is None and block.get("waits_on") == r.id
    assert block.get("timeout") == 0.05
    assert block.get("site").split(":")[0].endswith("test_tracer.py")
    assert "in test_block_and_unblock" in block.get("site")
    assert unblock.get("outcome") == "timeout"


def test_immediate_mode_records_nested_execution_and_no_waits():
    huey = make_huey()
    huey.immediate = True
    add = huey.t["add"]

    @huey.task()
    def parent():
        return add(1, 2).get(blocking=True) + add(3, 4).get(blocking=True)

    with hueyviz.trace(huey) as tracer:
        assert parent().get() == 10
    tr = tracer.trace
    assert "block" not in kinds(tracer)
    lanes = list(tr.lanes().values())
    assert len(lanes) == 1
    assert [s.depth for s in lanes[0].spans] == [0, 1, 1]
    assert {e.get("parent") for e in tr if e.kind == "enqueued" and e.name == "add"} == {
        lanes[0].spans[0].task}
    assert diagnose(tr).verdict == "ok"


def test_consumer_announces_its_pool(consumer):
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=2)
        r = huey.t["add"](1, 2)
        assert run.wait_results([r])
        assert tracer.wait_for(
            lambda tr: sum(e.kind == "worker_up" for e in tr) == 2, timeout=10)
        run.stop()
        assert tracer.wait_for(
            lambda tr: sum(e.kind == "worker_down" for e in tr) == 2, timeout=10)
    tr = tracer.trace
    assert next(e for e in tr if e.kind == "consumer").get("workers") == 2
    ups = {e.worker.name for e in tr if e.kind == "worker_up"}
    assert ups == {"Worker-1", "Worker-2"}


def test_result_group_and_huey_result_waits_are_recorded(consumer):
    huey = make_huey()
    add = huey.t["add"]

    @huey.task()
    def fan():
        group = add.map([(1, 1), (2, 2)])
        first = huey.result(add(5, 5).id, blocking=True, timeout=10)
        return sum(group.get(blocking=True, timeout=10)) + first

    with hueyviz.trace(huey) as tracer:
        consumer(huey, workers=2)
        r = fan()
        assert r.get(blocking=True, timeout=15) == 16
    fan_id = r.id
    task_blocks = [e for e in tracer.trace if e.kind == "block" and e.task == fan_id]
    assert task_blocks, "the fan task must have blocked at least once"
    assert all(e.get("waits_on") for e in task_blocks)
    assert diagnose(tracer.trace).verdict == "ok"


def test_a_worker_starting_late_keeps_the_others_task_context():
    # Regression: a worker's startup once reset the thread-local state of every
    # thread, so the waits of tasks already running were recorded as waits by
    # non-task code.  Force that order: a task is running when a worker starts.
    import threading
    huey = make_huey()
    running, go = threading.Event(), threading.Event()

    @huey.task()
    def waits():
        running.set()
        assert go.wait(10)
        try:
            huey.t["add"](1, 1).get(blocking=True, timeout=0.01)
        except ResultTimeout:
            pass

    with hueyviz.trace(huey) as tracer:
        waits()
        runner = threading.Thread(target=lambda: huey.execute(huey.dequeue()))
        runner.start()
        assert running.wait(10)
        starter = threading.Thread(target=lambda: [h() for h in huey._startup.values()])
        starter.start()
        starter.join(10)
        go.set()
        runner.join(10)
    block = next(e for e in tracer.trace if e.kind == "block")
    assert block.task is not None and block.name == "waits"


def test_call_sites_are_portable():
    from hueyviz.record.hook import short_path
    assert short_path("/srv/venv/lib/site-packages/hueyviz/demo.py", "hueyviz.demo") == \
        "hueyviz/demo.py"
    assert short_path("/srv/app/tasks/__init__.py", "tasks") == "tasks/__init__.py"
    assert short_path("/tmp/ipykernel_6152/3705834055.py", "__main__") == "<notebook cell>"
    # A script run as __main__ keeps its path; a mismatched module name is not trusted.
    assert short_path("/home/u/job.py", "__main__") == "/home/u/job.py"
    assert short_path("/home/u/job.py", "other.mod") == "/home/u/job.py"


def test_a_wait_on_a_failed_task_ends_with_outcome_error():
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        r = huey.t["boom"]()

        def run_once_waited_on():
            # The task runs only once the wait has begun: no race.
            if tracer.wait_for(lambda tr: any(e.kind == "block" for e in tr), timeout=10):
                huey.execute(huey.dequeue())
        th = threading.Thread(target=run_once_waited_on)
        th.start()
        with pytest.raises(huey_exceptions.TaskException):
            r.get(blocking=True, timeout=10)
        th.join(10)
    (unblock,) = [e for e in tracer.trace if e.kind == "unblock"]
    assert unblock.get("outcome") == "error" and unblock.get("waits_on") == r.id
    assert tracer.trace.state_at().tasks[r.id].outcome == "error"


@pytest.mark.parametrize("workers", [3, {"t": 3}])
def test_trace_with_workers_announces_the_pool(workers):
    huey = make_huey()
    with hueyviz.trace(huey, workers=workers) as tracer:
        pass
    (pool,) = [e for e in tracer.trace if e.kind == "pool"]
    assert pool.get("size") == 3 and pool.queue == "t"
    d = diagnose(tracer.trace)
    assert d.workers["total"] == 3 and d.exact


def test_a_signal_is_recorded_before_any_receiver_of_the_application_runs():
    """Recording never depends on the order of receivers: an application's
    receiver for ``complete`` (which Huey calls before catch-all ones) finds
    the event already in the trace, and one that raises hides nothing
    (Huey versions whose Signal.send stops at a receiver that raises)."""
    huey = make_huey("order")
    seen_first = []

    @huey.signal("complete")
    def mine(signal, task, *args):
        seen_first.append(any(e.kind == "complete" and e.task == task.id
                              for e in tracer.trace))
        raise RuntimeError("an application receiver that fails")

    with hueyviz.trace(huey) as tracer:
        huey.t["add"](1, 2)
        run_all(huey)
        tr = tracer.trace
    assert seen_first == [True]
    assert [e.kind for e in tr] == ["enqueued", "executing", "complete"]
