"""The verdicts on hand-built event sequences, including false-positive traps."""
import pytest
from story import Story

from hueyviz import Trace, diagnose
from hueyviz.analysis.detector import diagnose_stream, find_findings


def classic(workers=2, timeout=None):
    """Each worker runs a main task that blocks on its own queued subtask."""
    s = Story(workers)
    for i in range(workers):
        s.enqueue(f"main{i}")
    for i in range(workers):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        s.block(f"main{i}", f"sub{i}", i, timeout=timeout if i == 0 else None)
    return s


def test_ok_when_tasks_just_run():
    s = Story(1)
    s.enqueue("a")
    s.start("a", 0)
    s.finish("a")
    d = diagnose(s.events)
    assert d.verdict == "ok" and d.ok
    assert d.culprit is None and d.at is None
    assert d.workers == {"total": 1, "blocked": 0}
    assert "no deadlock" in d.message


def test_classic_deadlock_names_the_later_wait_as_culprit():
    s = classic(2)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert d.culprit.waiter == "main1" and d.culprit.waits_on == "sub1"
    assert d.culprit.worker == "Worker-2"
    assert d.at == s.events[-1].t
    assert d.workers == {"total": 2, "blocked": 2}
    waits = [k for k in d.knot if k["kind"] == "waits_for"]
    assert {(k["waiter"], k["waits_on"]) for k in waits} == {("main0", "sub0"), ("main1", "sub1")}
    needs = [k["task"] for k in d.knot if k["kind"] == "needs_worker"]
    assert sorted(needs) == ["sub0", "sub1"]
    # Every edge of the knot is named in words, PostgreSQL-style.
    for part in ("Worker-1 runs main", "Worker-2 runs main", "which waits for sub",
                 "no worker is free: 2 of 2 are blocked"):
        assert part in d.message


def test_queue_position_is_reported():
    s = classic(2)
    d = diagnose(s.events)
    assert "queued behind 1 task" in d.message  # sub1 waits behind sub0


def test_trap_busy_worker_is_not_a_deadlock():
    # Worker-1 runs a long task; Worker-2 blocks on a queued subtask.  The long
    # task will finish and free its worker: not a deadlock.
    s = Story(2)
    s.start("long", 0)
    s.start("main", 1)
    s.enqueue("sub", parent="main", by=1)
    s.block("main", "sub", 1)
    assert diagnose(s.events).verdict == "ok"


def test_trap_pool_of_three_with_one_free_holder():
    s = Story(3)
    for i in (0, 1):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        s.block(f"main{i}", f"sub{i}", i)
    s.start("long", 2)
    assert diagnose(s.events).verdict == "ok"
    # ...and once the third holder blocks too, it is a deadlock closed by that wait.
    s.enqueue("sub2", parent="long", by=2)
    s.block("long", "sub2", 2)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert (d.culprit.waiter, d.culprit.waits_on) == ("long", "sub2")
    assert d.workers == {"total": 3, "blocked": 3}


def test_trap_a_cycle_through_the_pool_is_not_enough():
    # Plain cycle search would see main0 -> sub0 -> pool -> main0, but a
    # finite task on the other worker will free a unit.
    s = Story(2)
    s.start("main0", 0)
    s.enqueue("sub0", parent="main0", by=0)
    s.block("main0", "sub0", 0)
    s.start("finite", 1)
    assert diagnose(s.events).verdict == "ok"
    s.finish("finite")
    s.start("sub0", 1)
    s.finish("sub0")
    s.unblock("main0", "sub0", 0)
    s.finish("main0")
    assert diagnose(s.events).verdict == "ok"


def test_trap_retried_task_is_not_a_deadlock():
    s = Story(2)
    s.start("main", 0)
    s.enqueue("sub", parent="main", by=0)
    s.block("main", "sub", 0)
    s.start("sub", 1)
    s.finish("sub", "error", w=1, error="ValueError")
    s.kind("retrying", "sub", w=1)
    s.enqueue("sub", by=1, via="retry")
    s.start("sub", 1)
    s.finish("sub", w=1)
    s.unblock("main", "sub", 0)
    s.finish("main", w=0)
    d = diagnose(s.events)
    assert d.verdict == "ok"
    assert Trace(s.events).graph().nodes["sub"]["attempts"] == 2


def test_trap_wait_on_already_finished_task():
    s = Story(1)
    s.start("sub", 0)
    s.finish("sub", w=0)
    s.start("main", 0)
    s.block("main", "sub", 0)   # its result is already stored: it will return
    assert diagnose(s.events).verdict == "ok"


def test_stall_when_a_wait_in_the_knot_has_a_timeout():
    s = classic(2, timeout=5.0)
    d = diagnose(s.events)
    assert d.verdict == "stall"
    first_block = next(e for e in s.events if e.kind == "block")
    assert d.findings[0].ends == first_block.t + 5.0
    assert "dissolves by itself" in d.message


def test_stall_dissolves_and_a_later_knot_is_a_new_finding():
    s = classic(2, timeout=5.0)
    s.unblock("main0", "sub0", 0, outcome="timeout")
    s.finish("main0", "error", w=0)
    s.start("sub0", 0)
    s.finish("sub0", w=0)
    s.start("late", 0)
    s.enqueue("sub9", parent="late", by=0)
    s.block("late", "sub9", 0)
    found = find_findings(s.events)
    assert [f.verdict for f in found] == ["stall", "deadlock"]
    assert found[0].ends is not None and found[0].ends < found[1].at
    d = diagnose(s.events)
    assert d.verdict == "stall" and len(d.findings) == 2
    assert "1 more finding" in d.message


def test_hang_on_a_task_that_stored_no_result():
    s = Story(2)
    s.start("none", 1)
    s.finish("none", w=1, stored=False)
    s.start("main", 0)
    s.block("main", "none", 0)
    d = diagnose(s.events)
    assert d.verdict == "hang"
    assert (d.culprit.waiter, d.culprit.waits_on) == ("main", "none")
    assert "store_none=False" in d.message


def test_hang_when_the_awaited_task_is_revoked_while_waited_on():
    s = Story(2)
    s.enqueue("sub")
    s.start("main", 0)
    s.block("main", "sub", 0)
    s.finish("sub", "revoked", w=1)
    d = diagnose(s.events)
    assert d.verdict == "hang" and d.at == s.events[-1].t
    assert "revoked" in d.message


def test_a_wait_on_a_task_never_seen_is_a_note_not_a_hang():
    # The task may have been enqueued before the tracer attached and still
    # sit in the queue: without the storage's word, no verdict on it.
    s = Story(2)
    s.start("main", 0)
    s.block("main", "ghost", 0)
    d = diagnose(s.events)
    assert d.verdict == "ok"
    assert "1 wait is still open on tasks the recording never saw" in d.message
    assert any("predate the recording" in n and "[ghost]" in n for n in d.notes)
    assert diagnose_stream(iter(s.events)).verdict == "ok"


def test_waits_by_non_task_code_hold_no_worker():
    s = Story(1)
    s.enqueue("job")
    s.block(None, "job", None)          # the notebook waits on a queued job
    assert diagnose(s.events).verdict == "ok"   # the worker is free
    s.start("main", 0)
    s.enqueue("sub", parent="main", by=0)
    s.block("main", "sub", 0)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert d.workers == {"total": 1, "blocked": 1}
    # The app's wait is on an unrelated job, so it is not part of the knot.
    assert "MainThread" not in d.message


def test_non_task_waiter_on_the_knot_is_listed_but_not_counted():
    s = Story(1)
    s.start("main0", 0)
    s.enqueue("sub0", parent="main0", by=0)
    s.block(None, "main0", None)        # the app waits for the main task
    s.block("main0", "sub0", 0)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert d.workers == {"total": 1, "blocked": 1}
    assert "Also waiting: MainThread (not a task, holds no worker) waits for main" in d.message
    bystander = [k for k in d.knot if k["kind"] == "waits_for" and k["waiter"] is None]
    assert len(bystander) == 1 and bystander[0]["worker"] is None


def test_wait_cycle_is_a_deadlock_even_with_free_workers():
    s = Story(3)
    s.start("a", 0)
    s.start("b", 1)
    s.block("a", "b", 0)
    s.block("b", "a", 1)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert d.culprit.waiter == "b"
    assert "cycle" in d.message
    assert d.workers["blocked"] == 2 and d.workers["total"] == 3


def test_chain_deeper_than_the_pool():
    s = Story(2)
    s.start("a", 0)
    s.enqueue("b", parent="a", by=0)
    s.block("a", "b", 0)
    s.start("b", 1)
    s.enqueue("c", parent="b", by=1)
    s.block("b", "c", 1)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert (d.culprit.waiter, d.culprit.waits_on) == ("b", "c")
    assert "itself blocked" in d.message


def test_inferred_pool_retracts_a_knot_when_an_unseen_worker_appears():
    # No consumer announced the pool: one worker seen so far looks like a
    # pool of one, until a second worker picks the subtask up.
    s = Story(2, announce=False)
    s.start("main", 0)
    s.enqueue("sub", parent="main", by=0)
    s.block("main", "sub", 0)
    assert diagnose(s.events).verdict == "deadlock"
    s.start("sub", 1)
    s.finish("sub", w=1)
    s.unblock("main", "sub", 0)
    assert diagnose(s.events).verdict == "ok"


def test_announced_pool_keeps_a_rescued_deadlock():
    s = classic(2)
    s.start("sub0", None)       # someone outside the pool runs it by hand
    s.finish("sub0", w=None)
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert any("rescued" in n for n in d.findings[0].notes)


def test_consumer_event_declares_the_pool_before_workers_start():
    # The first worker may block before the second is up.
    s = Story(2, announce=False)
    s.kind("consumer", workers=2)
    s.start("main0", 0)
    s.enqueue("sub0", parent="main0", by=0)
    s.block("main0", "sub0", 0)
    assert diagnose(s.events).verdict == "ok"


def test_worker_down_can_close_the_knot():
    s = Story(2)
    s.start("main", 0)
    s.enqueue("sub", parent="main", by=0)
    s.block("main", "sub", 0)
    assert diagnose(s.events).verdict == "ok"
    s.kind("worker_down", w=1)
    d = diagnose(s.events)
    assert d.verdict == "deadlock" and d.workers == {"total": 1, "blocked": 1}


def test_unknown_event_kinds_are_ignored():
    s = classic(2)
    s.kind("from-the-future", "main0")
    assert diagnose(s.events).verdict == "deadlock"


def test_empty_trace_is_ok():
    d = diagnose(Trace())
    assert d.verdict == "ok" and d.workers == {"total": 0, "blocked": 0}


def test_diagnosis_json_has_the_contract_keys():
    d = diagnose(classic(2).events)
    obj = d.to_dict()
    for key in ("verdict", "at", "culprit", "knot", "workers", "message"):
        assert key in obj
    assert set(obj["culprit"]) >= {"waiter", "waits_on", "waiter_name", "waits_on_name", "worker"}
    assert obj["culprit"]["waiter_name"] == "main"
    assert obj["workers"] == {"total": 2, "blocked": 2}


@pytest.mark.parametrize("n", [1, 4, 16])
def test_deadlock_needs_every_worker_blocked(n):
    s = classic(n)
    d = diagnose(s.events)
    assert d.verdict == "deadlock" and d.workers == {"total": n, "blocked": n}
    partial = Story(n)
    for i in range(n - 1):
        partial.start(f"main{i}", i)
        partial.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        partial.block(f"main{i}", f"sub{i}", i)
    assert diagnose(partial.events).verdict == "ok"


def test_a_stall_ends_when_its_earliest_timeout_expires():
    # main0 waits with a long timeout, main1 closes the knot with a short
    # one: the knot dissolves 2 s after it formed, not 50 s.
    s = Story(2)
    for i in range(2):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
    s.block("main0", "sub0", 0, timeout=50.0)
    s.block("main1", "sub1", 1, timeout=2.0)
    d = diagnose(s.events)
    assert d.verdict == "stall"
    assert d.findings[0].ends == d.at + 2.0
    assert "2 s after it formed" in d.message


@pytest.mark.parametrize("shrink", ["worker_down", "lost"])
def test_a_knot_closed_by_a_shrinking_pool_blames_its_latest_wait_everywhere(shrink):
    from hueyviz.analysis.detector import find_knot
    from hueyviz.analysis.replay import Replay
    s = Story(2)
    s.add_queue(None, 1, pid=2)                   # Worker-3: a consumer process of its own
    for i in range(2):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        s.block(f"main{i}", f"sub{i}", i)
    if shrink == "lost":
        s.start("long", 2)                        # its process will be killed
    assert diagnose(s.events).verdict == "ok"     # Worker-3 is free, or will be
    s.kind(shrink, w=2)                           # ...but it goes away
    d = diagnose(s.events)
    assert d.verdict == "deadlock"
    assert (d.culprit.waiter, d.culprit.waits_on) == ("main1", "sub1")
    rp = Replay()
    for e in s.events:
        rp.apply(e)
    live = find_knot(rp)                          # what the watchdog reports
    assert live.culprit == d.culprit


def test_hangs_on_an_expired_task_and_on_a_task_lost_with_its_process():
    s = Story(2)
    s.add_queue(None, 1, pid=2)                   # Worker-3: a consumer process of its own
    s.enqueue("late")
    s.start("main", 0)
    s.block("main", "late", 0)
    s.finish("late", "expired")                   # huey drops it: no result, ever
    s.start("crash", 2)
    s.start("other", 1)
    s.block("other", "crash", 1)
    s.kind("lost", w=2)                           # its process was killed
    found = find_findings(s.events)
    assert [(f.verdict, f.culprit.waiter, f.culprit.waits_on) for f in found] == [
        ("hang", "main", "late"), ("hang", "other", "crash")]
    assert "expired" in found[0].message
    d = diagnose(s.events)
    assert d.verdict == "hang" and any("lost" in n for n in d.notes)


def test_a_verdict_on_a_trace_with_losses_says_so_and_names_the_tasks():
    s = Story(1)
    s.enqueue("a")
    s.start("a", 0)
    s.finish("a")
    s.finish("b")                                 # its start was lost
    s.enqueue("c")                                # shown queued: its end may be lost
    d = diagnose(Trace(s.events, dropped=3))
    assert d.verdict == "ok" and d.dropped == 3
    assert ("3 events were lost while recording; tasks affected: b [b] (ended, never seen "
            "starting); 1 task shown unfinished may have finished unseen") in d.message
    assert "lost" not in diagnose(Trace(s.events)).message


def test_loss_words_count_every_unfinished_state_and_agree_in_number():
    # Found by mutation testing: each unfinished state counts, and one lost
    # event reads in the singular.
    s = Story(2)
    s.enqueue("q")
    s.start("r", 0)
    s.start("m", 1)
    s.enqueue("sub", parent="m", by=1)
    s.block("m", "sub", 1, timeout=60)
    d = diagnose(Trace(s.events, dropped=1))
    assert "1 event was lost while recording; tasks affected: none shows a gap; " \
           "4 tasks shown unfinished may have finished unseen." in d.message


def test_trap_a_chain_that_the_reduction_frees_in_two_passes():
    # Found by mutation testing (one reduction pass was enough for every
    # test): Worker-1's task waits on Worker-2's, which waits on a running
    # task.  The first pass frees Worker-2's, only the second Worker-1's.
    s = Story(3)
    s.start("c", 2)
    s.start("b", 1)
    s.block("b", "c", 1)
    s.start("a", 0)
    s.block("a", "b", 0)
    assert diagnose(s.events).verdict == "ok"


# -- never overclaim: what can never deliver, and what only the recording's blind spots hide --
def _pipeline(final):
    """a.then(b).then(c): a completes, b ends ``final``; the app waits for c."""
    s = Story(2)
    s.enqueue("a", then=["b", "c"], then_names=["b", "c"])
    s.start("a", 0)
    s.finish("a", w=0)
    s.enqueue("b", parent="a", by=0, via="pipeline", then=["c"], then_names=["c"])
    s.block(None, "c", None)
    s.finish("b", final, w=1)
    return s


@pytest.mark.parametrize("final", ["revoked", "expired"])
def test_a_wait_on_a_pipeline_step_after_a_revoked_step_is_a_hang(final):
    s = _pipeline(final)
    d = diagnose(s.events)
    assert d.verdict == "hang" and d.at == s.events[-1].t
    assert f"b [b] ended {final} before it" in d.message and "c [c]" in d.message
    assert diagnose_stream(iter(s.events)).verdict == "hang"


def test_a_pipeline_step_after_a_failed_step_hangs_only_once_no_retry_follows():
    s = _pipeline("error")
    s.kind("retrying", "b")                 # Huey re-enqueues b: c may still run
    assert diagnose(s.events).verdict == "ok"
    s = _pipeline("error")                  # no retry: c is never enqueued
    d = diagnose(s.events)
    assert d.verdict == "hang" and "ended error before it" in d.message


def test_a_pipeline_step_whose_step_before_completed_is_not_a_hang():
    s = _pipeline("complete")
    assert diagnose(s.events).verdict == "ok"


def _consumed(second_on, preserve=False, at_once=True):
    s = Story(2)
    s.enqueue("p")
    s.start("p", 0)
    s.finish("p", w=0)
    s.start("first", 0)
    if at_once:
        s.read("first", "p", 0, consumed=not preserve)
    else:
        s.block("first", "p", 0)
        s.unblock("first", "p", 0, consumed=not preserve)
    s.finish("first", w=0)
    s.start("second", 1)
    s.block("second", second_on, 1)
    return s


@pytest.mark.parametrize("at_once", [True, False])
def test_a_wait_on_a_result_already_read_and_removed_is_a_hang(at_once):
    s = _consumed("p", at_once=at_once)
    d = diagnose(s.events)
    assert d.verdict == "hang" and d.culprit.waiter == "second"
    assert "read and removed by first [first]" in d.message
    # The same, streamed with the settled tasks forgotten in between.
    assert diagnose_stream(iter(s.events)).verdict == "hang"


def test_a_result_read_with_preserve_stays_there():
    assert diagnose(_consumed("p", preserve=True).events).verdict == "ok"


def test_a_consumed_result_is_remembered_after_the_task_is_forgotten():
    from hueyviz.analysis.detector import LiveDiagnosis
    s = _consumed("p")
    live = LiveDiagnosis()
    live.feed(s.events[:-2])
    live._det.rp.evict()                    # p, settled, is forgotten (a tombstone stays)
    assert "p" not in live._det.rp.tasks
    new = live.feed(s.events[-2:])
    assert [(what, f.verdict) for what, f in new] == [("new", "hang")]


@pytest.mark.parametrize("worker_type,verdict", [
    ("thread", "deadlock"), ("greenlet", "stall"), ("process", "stall"), (None, "deadlock")])
def test_hueys_task_timeout_makes_a_stall_where_the_workers_enforce_it(worker_type, verdict):
    s = Story(1, announce=False)
    s.kind("consumer", workers=1, **({"worker_type": worker_type} if worker_type else {}))
    s.start("main", 0)
    started = s.t
    s.enqueue("sub", parent="main", by=0)
    s.block("main", "sub", 0, task_timeout=30.0)
    d = diagnose(s.events)
    assert d.verdict == verdict
    if verdict == "stall":
        assert d.findings[0].ends == started + 30.0
        assert "at its task timeout" in d.message
    assert any("task timeout" in n for n in d.notes) is (worker_type is None)


def test_an_awaited_task_seen_running_without_its_enqueue_predates_the_recording():
    s = Story(2)
    s.start("sub", 1)                       # enqueued before the tracer attached
    s.start("main", 0)
    s.block("main", "sub", 0)
    s.finish("sub", w=1)
    s.unblock("main", "sub", 0)
    s.finish("main", w=0)
    d = diagnose(s.events)
    assert d.verdict == "ok"
    assert any("1 awaited task ran without the recording seeing its enqueue" in n
               for n in d.notes), d.notes


def test_immediate_mode_says_it_has_no_workers():
    s = Story(0, announce=False)
    s.kind("consumer", workers=0, worker_type="immediate")
    for i in range(3):
        s.enqueue(f"job{i}", by=None)
        s.start(f"job{i}", None)
        s.finish(f"job{i}", w=None)
    d = diagnose(s.events)
    assert d.verdict == "ok"
    assert d.message.startswith("OK: 3 tasks in immediate mode: no workers")
