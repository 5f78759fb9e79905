"""hueyviz.guard on real threaded consumers."""
import logging
import threading

import pytest
from huey import MemoryHuey
from huey.api import Result
from huey.exceptions import TaskException

import hueyviz
from hueyviz import DeadlockError, diagnose
from hueyviz.record.hook import _original_get_raw_result, find_hook


def nested_huey(name, gate=None):
    """main_task(user) enqueues 3 subtasks and blocks on them; with ``gate``,
    bob's main task starts its subtasks only after alice's blocked."""
    huey = MemoryHuey(name, utc=False)
    caught = []

    @huey.task()
    def subtask(user, i):
        return f"{user}-{i}"

    @huey.task()
    def main_task(user):
        if gate is not None and user == "bob":
            assert gate(), "alice never blocked"
        results = [subtask(user, i) for i in range(3)]
        try:
            return [r.get(blocking=True) for r in results]
        except DeadlockError as exc:
            caught.append((user, exc))
            raise

    return huey, main_task, caught


def blocked_once(tracer):
    return lambda: tracer.wait_for(
        lambda tr: any(e.kind == "block" and e.task for e in tr), timeout=10)


def test_second_waiter_gets_deadlock_error_and_first_completes(consumer):
    gate = []
    huey, main_task, caught = nested_huey("g1", gate=lambda: gate[0]())
    tracer = hueyviz.trace(huey)
    gate.append(blocked_once(tracer))
    with hueyviz.guard(huey) as g:
        alice, bob = main_task("alice"), main_task("bob")
        run = consumer(huey, workers=2)
        run.results += [alice, bob]
        assert alice.get(blocking=True, timeout=15) == ["alice-0", "alice-1", "alice-2"]
        with pytest.raises(TaskException) as info:
            bob.get(blocking=True, timeout=15)
    assert "DeadlockError" in info.value.metadata["error"]
    assert [u for u, _ in caught] == ["bob"]
    exc = caught[0][1]
    assert isinstance(exc, TaskException)
    text = str(exc)
    assert text.startswith("hueyviz.guard refused this wait")
    assert "Deadlock:" in text and "no worker is free: 2 of 2 are blocked" in text
    assert "test_guard.py:" in text
    assert exc.finding.culprit.waiter == bob.id
    assert len(g.findings) == 1 and g.checked >= 2
    tracer.detach()
    tr = tracer.trace
    errors = [e for e in tr if e.kind == "error"]
    assert [(e.task, e.get("error")) for e in errors] == [(bob.id, "DeadlockError")]
    # bob's wait never began: the trace shows no knot.
    assert diagnose(tr).verdict == "ok"


def test_enough_workers_untouched(consumer):
    huey, main_task, caught = nested_huey("g2")
    with hueyviz.guard(huey) as g:
        run = consumer(huey, workers=3)
        rs = [main_task("alice"), main_task("bob")]
        run.results += rs
        assert [r.get(blocking=True, timeout=15) for r in rs] == [
            ["alice-0", "alice-1", "alice-2"], ["bob-0", "bob-1", "bob-2"]]
    assert not caught and not g.findings


def test_warn_logs_and_records_but_lets_it_block(consumer, caplog):
    huey, main_task, caught = nested_huey("g3")
    logged = threading.Event()

    class Flag(logging.Handler):
        def emit(self, record):
            if "refused this wait" in record.getMessage():
                logged.set()

    handler = Flag()
    logging.getLogger("hueyviz").addHandler(handler)
    try:
        with hueyviz.trace(huey) as tracer, hueyviz.guard(huey, "warn") as g:
            rs = [main_task("alice"), main_task("bob")]
            run = consumer(huey, workers=2)
            run.results += rs
            assert logged.wait(15)
            assert tracer.wait_for(lambda tr: diagnose(tr).verdict == "deadlock", 15)
            assert len(g.findings) == 1 and not caught
    finally:
        logging.getLogger("hueyviz").removeHandler(handler)


def test_off_unless_enabled_and_removed_cleanly():
    huey = MemoryHuey("g4", utc=False)
    assert find_hook(huey) is None
    g = hueyviz.guard(huey)
    hook = find_hook(huey)
    assert hook is not None and len(hook.before_block) == 1
    g.remove()
    assert hook.before_block == ()
    assert find_hook(huey) is None
    assert Result.get_raw_result is _original_get_raw_result
    with pytest.raises(ValueError):
        hueyviz.guard(huey, action="ignore")


def test_guard_seeded_from_a_tracer_knows_the_pool(consumer):
    gate = []
    huey, main_task, caught = nested_huey("g5", gate=lambda: gate[0]())
    tracer = hueyviz.trace(huey)
    gate.append(blocked_once(tracer))
    run = consumer(huey, workers=2)     # consumer announced before the guard
    with hueyviz.guard(huey, tracer=tracer) as g:
        alice, bob = main_task("alice"), main_task("bob")
        run.results += [alice, bob]
        assert alice.get(blocking=True, timeout=15) == ["alice-0", "alice-1", "alice-2"]
        with pytest.raises(TaskException):
            bob.get(blocking=True, timeout=15)
    tracer.detach()
    assert [u for u, _ in caught] == ["bob"] and len(g.findings) == 1


def test_deadlock_error_pickles_and_reads():
    import pickle
    e = pickle.loads(pickle.dumps(DeadlockError("knot in words")))
    assert str(e) == "knot in words" and isinstance(e, TaskException)


def test_block_events_carry_the_call_site_of_the_wait(consumer):
    huey = MemoryHuey("sites", utc=False)
    lines = {}
    tracer = hueyviz.trace(huey)

    @huey.task()
    def child():
        # Finish only once the parent is blocked on us, so its wait blocks.
        assert blocked_once(tracer)()
        return 1

    def wait_for(result):
        lines["wait"] = wait_for.__code__.co_firstlineno + 2
        return result.get(blocking=True)

    @huey.task()
    def parent():
        return wait_for(child())

    with tracer:
        run = consumer(huey, workers=2)
        r = parent()
        run.results.append(r)
        assert r.get(blocking=True, timeout=15) == 1
    blocks = [e for e in tracer.trace if e.kind == "block" and e.task]
    assert blocks, "the parent's wait did not block"
    from hueyviz.record.hook import short_path
    assert short_path(__file__, __name__) == "test_guard.py"
    assert blocks[0].get("site") == f"test_guard.py:{lines['wait']} in wait_for"
    # What the lanes tooltip and TraceView read: Wait.site of the model.
    spans = [sp for lane in tracer.trace.lanes().values() for sp in lane.spans
             if sp.task == r.id]
    assert spans[0].blocked[0].site == blocks[0].get("site")
