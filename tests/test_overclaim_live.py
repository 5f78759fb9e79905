"""Each verdict rule of "never overclaim" on real consumers (README, Verdicts):
revoked pipeline steps, results already read, Huey's task timeout by worker
type, and tasks that predate the recording.

Every consumer is stopped (rescued, or its process group killed) whatever
the test did; every wait is bounded.
"""
import datetime
import threading

import pytest
from huey import MemoryHuey
from huey.exceptions import ResultTimeout
from livekit import make_app  # noqa: F401

import hueyviz
from conftest import Running
from hueyviz import diagnose


def _in_thread(fn):
    """Run ``fn`` (a blocking get) beside the test; its outcome in a list."""
    out: list = []

    def run():
        try:
            out.append(fn())
        except ResultTimeout as exc:
            out.append(exc)
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th, out


@pytest.mark.parametrize("how", ["revoked", "expired"])
def test_a_wait_on_the_step_after_a_revoked_or_expired_step_is_a_hang(how):
    huey = MemoryHuey(f"pipe-{how}", utc=False)

    @huey.task()
    def a():
        return 1

    @huey.task()
    def b(x):
        return x + 1

    @huey.task()
    def c(x):
        return x + 1

    run = Running(huey, 1)
    with hueyviz.trace(huey) as tracer:
        # (a ResultGroup's [i] blocks for the result: take the Results)
        past = datetime.datetime.now() - datetime.timedelta(seconds=60)
        step = b.s(expires=past) if how == "expired" else b.s()
        results = list(huey.enqueue(a.s().then(step).then(c)))
        if how == "revoked":
            results[1].revoke()
        th, got = _in_thread(lambda: results[2].get(blocking=True, timeout=20))
        assert tracer.wait_for(lambda tr: any(e.kind == "block" for e in tr), 10)
        run.start()
        assert tracer.wait_for(lambda tr: diagnose(tr).verdict == "hang", 15), \
            [(e.kind, e.name) for e in tracer.trace]
        tr = tracer.trace
        # Huey really ended b so, and never ran c.
        assert [e.kind for e in tr if e.name == "b" and e.kind in ("revoked", "expired")] == [how]
        assert not [e for e in tr if e.name == "c" and e.kind == "executing"]
    run.stop()
    d = diagnose(tr)
    assert f"b [{results[1].id[:8]}] ended {how} before it" in d.message
    assert f"c [{results[2].id[:8]}]" in d.message
    th.join(30)
    assert isinstance(got[0], ResultTimeout)        # the wait really never returned


@pytest.mark.parametrize("preserve", [False, True])
def test_a_second_wait_on_a_result_already_read_and_removed_is_a_hang(preserve):
    huey = MemoryHuey(f"consumed-{preserve}", utc=False)

    @huey.task()
    def producer():
        return "value"

    @huey.task()
    def first(tid):
        # The result is stored already: a read that does not wait.
        return huey.result(tid, blocking=True, timeout=10, preserve=preserve)

    @huey.task()
    def second(tid):
        try:
            return huey.result(tid, blocking=True, timeout=3)
        except ResultTimeout:
            return "timed out"

    run = Running(huey, 2).start()
    with hueyviz.trace(huey) as tracer:
        p = producer()
        assert tracer.wait_for(lambda tr: any(e.kind == "complete" and e.task == p.id
                                              for e in tr), 10)
        f = first(p.id)
        assert f.get(blocking=True, timeout=10) == "value"
        s = second(p.id)
        run.results += [f, s]
        verdict = "ok" if preserve else "hang"
        assert tracer.wait_for(lambda tr: (diagnose(tr).verdict == verdict
                               and any(e.kind == "block" and e.task == s.id for e in tr))
                               or any(e.kind == "read" and e.task == s.id for e in tr), 10)
        assert s.get(blocking=True, timeout=15) == ("value" if preserve else "timed out")
        tr = tracer.trace
    run.stop()
    reads = [e for e in tr if e.kind == "read" and e.task == f.id]
    assert len(reads) == 1 and bool(reads[0].get("consumed")) is not preserve
    d = diagnose(tr)
    assert d.verdict == verdict, d.message
    if not preserve:
        assert f"read and removed by first [{f.id[:8]}]" in d.message


def test_a_wait_already_open_when_another_get_removes_the_result_is_a_hang():
    """Two gets wait for one result (Huey's default preserve=False): a task's
    and the application's.  Whichever polls first removes it; the other
    polls until its timeout.  Both orders happen on a real consumer; the
    loser's wait is the hang either way."""
    huey = MemoryHuey("consumed-open", utc=False)
    gate = threading.Event()

    @huey.task()
    def slow():
        gate.wait(20)
        return "value"

    @huey.task()
    def waiter(tid):
        try:
            return huey.result(tid, blocking=True, timeout=5)
        except ResultTimeout:
            return "timed out"

    run = Running(huey, 2).start()
    with hueyviz.trace(huey) as tracer:
        x = slow()
        w = waiter(x.id)
        th, got = _in_thread(lambda: huey.result(x.id, blocking=True, timeout=5))
        assert tracer.wait_for(lambda tr: sum(e.kind == "block" for e in tr) == 2, 10)
        assert diagnose(tracer.trace).verdict == "ok"   # both can still get it
        gate.set()
        th.join(30)
        task_got = w.get(blocking=True, timeout=15)
        run.results += [w]
        assert tracer.wait_for(lambda tr: sum(e.kind == "unblock" and e.get("waits_on") == x.id
                                              for e in tr) == 2, 10), \
            [(e.kind, e.task, e.data) for e in tracer.trace]
        tr = tracer.trace
    run.stop()
    app_got = got[0]
    # Huey really handed the value to one of them only.
    assert sorted([task_got == "value", app_got == "value"]) == [False, True], (task_got, app_got)
    loser = w.id if task_got != "value" else None
    d = diagnose(tr)
    assert d.verdict == "hang", d.message
    assert (d.culprit.waiter, d.culprit.waits_on) == (loser, x.id)
    assert "after this wait began, while it was still polling" in d.message


TIMEOUT_APP = """
@huey.task(timeout=2)
def waiter(n):
    return sum(r.get(blocking=True) for r in [sub(i) for i in range(n)])
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("kind,verdict", [("thread", "deadlock"), ("greenlet", "stall"),
                                          ("process", "stall")])
def test_hueys_task_timeout_makes_a_stall_on_greenlet_and_process_workers(
        make_app, tmp_path, kind, verdict):
    app = make_app("SqliteHuey", f"'app', filename={str(tmp_path / 'huey.db')!r}",
                   extra=TIMEOUT_APP)
    m = app.module
    c = app.consumer(1, kind)
    with hueyviz.follow(m.huey, reorder=0) as f:
        r = m.waiter(2)
        assert f.wait_for(lambda tr: diagnose(tr).verdict == verdict, 30), c.output()
        if verdict == "stall":
            # Huey really interrupted it: the knot ended by itself.
            assert f.wait_for(lambda tr: any(e.kind == "timeout" and e.task == r.id
                                             for e in tr), 30), c.output()
        tr = f.trace
    c.kill()
    d = diagnose(tr)
    assert d.verdict == verdict
    if verdict == "stall":
        assert "at its task timeout" in d.message


def test_a_task_enqueued_before_the_recording_is_no_hang():
    huey = MemoryHuey("before", utc=False)

    @huey.task()
    def sub():
        return 2

    @huey.task()
    def main(tid):
        return huey.result(tid, blocking=True, timeout=10) * 2

    early = sub()                       # before the tracer: its enqueue is not seen
    waiting = sub()                     # ... and this one never runs while recorded
    run = Running(huey, 1)
    with hueyviz.trace(huey) as tracer:
        th, got = _in_thread(lambda: huey.result(waiting.id, blocking=True, timeout=30))
        assert tracer.wait_for(lambda tr: any(e.kind == "block" for e in tr), 10)
        # The consumer has not run: the awaited task sits in the queue, unseen.
        d = diagnose(tracer.trace)
        assert d.verdict == "ok" and "1 wait is still open on tasks the recording never saw" \
            in d.message, d.message
        assert any("predate the recording" in n for n in d.notes)
        run.start()
        th.join(30)
        assert got == [2]
        m = main(early.id)
        run.results.append(m)
        assert m.get(blocking=True, timeout=15) == 4
        tr = tracer.trace
    run.stop()
    d = diagnose(tr)
    assert d.verdict == "ok", d.message
    assert any("2 awaited tasks ran without the recording seeing their enqueue" in n
               for n in d.notes), d.notes
