"""hueyviz.watchdog on real threaded consumers."""
import logging
import threading

import pytest

import hueyviz
from hueyviz.demo import build_huey, rescue


class Reports(logging.Handler):
    """Collects watchdog reports; ``first`` is set by the first one."""

    def __init__(self):
        super().__init__()
        self.messages = []
        self.first = threading.Event()

    def emit(self, record):
        msg = record.getMessage()
        if msg.startswith("hueyviz watchdog"):
            self.messages.append(msg)
            self.first.set()


@pytest.fixture
def reports():
    h = Reports()
    log = logging.getLogger("hueyviz")
    log.addHandler(h)
    yield h
    log.removeHandler(h)


def start(huey, workers):
    return huey.create_consumer(workers=workers, worker_type="thread", periodic=False,
                                initial_delay=0.005, max_delay=0.05,
                                check_worker_health=False)


def until(predicate, timeout=10.0):
    idle = threading.Event()
    for _ in range(int(timeout / 0.01)):
        if predicate():
            return True
        idle.wait(0.01)
    return predicate()


def test_fires_once_on_a_stuck_consumer(reports):
    huey = build_huey("watchdog-stuck")
    main_task = huey.demo_tasks["main_task"]
    with hueyviz.watchdog(huey, after=0.3) as dog:
        results = [main_task("alice"), main_task("bob")]
        consumer = start(huey, 2)
        consumer.start()
        try:
            assert reports.first.wait(10), "the watchdog never fired"
            # Let it look again a few times while still stuck: no second report.
            ticks = dog.ticks
            assert until(lambda: dog.ticks >= ticks + 4)
            assert dog.fired == 1 and len(reports.messages) == 1
        finally:
            assert rescue(huey, consumer, results, timeout=10)
    msg = reports.messages[0]
    assert "no progress for" in msg and "Deadlock:" in msg
    assert "no worker is free: 2 of 2 are blocked" in msg
    assert msg.count("demo.py:") >= 3       # the culprit and both waits, with call sites
    assert dog.finding.verdict == "deadlock"
    assert not dog.running


def test_silent_on_a_healthy_run(reports):
    huey = build_huey("watchdog-ok")
    main_task = huey.demo_tasks["main_task"]
    with hueyviz.watchdog(huey, after=0.5) as dog:
        consumer = start(huey, 3)
        consumer.start()
        results = [main_task("alice"), main_task("bob")]
        try:
            assert until(lambda: all(r.is_ready() for r in results))
            ticks = dog.ticks     # idle afterwards: nothing in flight, nothing to report
            assert until(lambda: dog.ticks >= ticks + 6)
        finally:
            rescue(huey, consumer, results, timeout=10)
    assert dog.fired == 0 and reports.messages == []


def test_fires_for_a_task_enqueued_by_another_process(reports):
    # The task is enqueued before the watchdog follows the instance, as a
    # web process enqueues what a consumer runs: started here, it is in flight.
    huey = build_huey("watchdog-elsewhere")
    gate = threading.Event()

    @huey.task()
    def slow():
        return gate.wait(30)
    result = slow()
    with hueyviz.watchdog(huey, after=0.3) as dog:
        consumer = start(huey, 1)
        consumer.start()
        try:
            assert reports.first.wait(10), "the watchdog never fired"
        finally:
            gate.set()
            assert rescue(huey, consumer, [result], timeout=10)
    assert "with 1 task in flight (1 running" in reports.messages[0]
    assert dog.fired == 1 and result.get() is True


def test_rejects_nonpositive_after():
    with pytest.raises(ValueError):
        hueyviz.watchdog(build_huey("watchdog-bad"), after=0)


def test_a_wait_on_a_task_not_seen_yet_is_reported_only_after_three_delays(reports):
    """A task waits for a result id nobody has enqueued (as if another
    process's enqueue were still on its way): no verdict rests on it, so the
    watchdog waits three delays before it reports what it has."""
    from huey import MemoryHuey
    huey = MemoryHuey("watchdog-unseen")
    gone = threading.Event()

    @huey.task()
    def waiter():
        try:
            return huey.result("not-enqueued-yet", blocking=True, timeout=10)
        except Exception:
            gone.set()

    with hueyviz.watchdog(huey, after=0.3) as dog:
        consumer = start(huey, 1)
        consumer.start()
        try:
            waiter()
            assert reports.first.wait(10), "the watchdog never fired"
            idle = float(reports.messages[0].split("no progress for ", 1)[1].split(" s")[0])
            assert idle >= 0.9, reports.messages[0]
            assert "No deadlock in the tasks seen" in reports.messages[0]
            assert dog.fired == 1
        finally:
            consumer.stop(graceful=False)
            huey.storage.put_data("not-enqueued-yet", huey.serializer.serialize(1))
