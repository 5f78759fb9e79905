"""The replay, state change by state change, on hand-built events."""
import copy

from hypothesis import given, settings
from hypothesis import strategies as st
from story import Story

from hueyviz import Trace
from hueyviz.analysis.detector import analyse
from hueyviz.analysis.lane import lanes_of
from hueyviz.analysis.replay import Replay, state_at
from hueyviz.core.event import Event, Worker


def replay(events):
    rp = Replay(history=True)
    for e in events:
        rp.apply(e)
    return rp


def states(rp, task):
    h = rp.history
    return [s for t, s in zip(h.change_task, h.change_state) if t == task]


def test_enqueue_queues_and_orders():
    s = Story(1)
    s.enqueue("a")
    s.enqueue("b")
    rp = replay(s.events)
    assert rp.tasks["a"].state == rp.tasks["b"].state == "queued"
    assert list(rp.pool(None).backlog) == ["a", "b"]
    assert rp.queue_position("a") == 0 and rp.queue_position("b") == 1


def test_priority_orders_the_queue_like_huey():
    s = Story(1)
    s.enqueue("low")
    s.enqueue("high", priority=10)
    rp = replay(s.events)
    assert rp.queue_position("high") == 0 and rp.queue_position("low") == 1


def test_executing_holds_a_worker_and_outcome_releases_it():
    s = Story(2)
    s.enqueue("a")
    s.start("a", 0)
    rp = replay(s.events)
    p = rp.pool(None)
    assert rp.tasks["a"].state == "running" and p.busy == 1 and p.free == 1
    assert not p.backlog
    s.finish("a", w=0)
    rp = replay(s.events)
    assert rp.tasks["a"].state == "finished" and rp.tasks["a"].has_result
    assert rp.pool(None).busy == 0
    assert states(rp, "a") == ["queued", "running", "finished:complete"]


def test_block_and_unblock_change_state_and_count_blocked_workers():
    s = Story(2)
    s.start("m", 0)
    s.enqueue("c", parent="m", by=0)
    s.block("m", "c", 0)
    rp = replay(s.events)
    assert rp.tasks["m"].state == "blocked" and rp.pool(None).blocked == 1
    assert rp.pool(None).running == 0
    s.start("c", 1)
    s.finish("c", w=1)
    s.unblock("m", "c", 0)
    rp = replay(s.events)
    assert rp.tasks["m"].state == "running" and rp.pool(None).blocked == 0
    w = rp.waits[0]
    assert (w.waiter, w.waits_on, w.outcome) == ("m", "c", "result")
    assert states(rp, "m") == ["running", "blocked", "running"]


def test_a_finished_blocked_task_abandons_its_wait():
    s = Story(1)
    s.start("m", 0)
    s.block("m", "x", 0)
    s.finish("m", "error", w=0)
    rp = replay(s.events)
    assert rp.waits[0].outcome == "abandoned" and rp.pool(None).blocked == 0
    assert "x" not in rp.waiting


def test_retry_requeues_and_records_the_attempt():
    s = Story(1)
    s.start("a", 0)
    s.finish("a", "error", w=0, error="ValueError")
    s.kind("retrying", "a", w=0)
    s.enqueue("a", via="retry")
    rp = replay(s.events)
    assert rp.tasks["a"].state == "queued" and rp.tasks["a"].attempts == 1
    assert rp.history.spans[0].outcome == "retrying"


def test_scheduled_leaves_the_queue_and_pipeline_steps_are_pending():
    s = Story(1)
    s.enqueue("a", then=["b"])
    s.kind("scheduled", "a")
    rp = replay(s.events)
    assert rp.tasks["a"].state == "scheduled" and not rp.pool(None).backlog
    assert rp.tasks["b"].state == "pending"


def test_outcomes_without_result_never_give_one():
    for outcome in ("revoked", "expired", "interrupted"):
        s = Story(1)
        s.enqueue("a")
        s.finish("a", outcome)
        assert replay(s.events).tasks["a"].never_result, outcome
    s = Story(1)
    s.start("a", 0)
    s.finish("a", w=0, stored=False)
    assert replay(s.events).tasks["a"].never_result


def test_pool_size_announced_inferred_and_shrinking():
    s = Story(2, announce=False)
    s.start("a", 0)
    rp = replay(s.events)
    assert rp.pool(None).size == 1 and not rp.pool(None).exact      # inferred
    s.kind("consumer", workers=3)
    rp = replay(s.events)
    assert rp.pool(None).size == 3 and rp.pool(None).exact
    s.kind("worker_down", w=1)
    assert replay(s.events).pool(None).size == 2


def test_lost_worker_loses_its_tasks_and_leaves_the_pool():
    s = Story(2)
    s.start("a", 0)
    s.kind("lost", w=0)
    rp = replay(s.events)
    assert rp.tasks["a"].outcome == "lost" and rp.lost == ["a"]
    assert Worker("h", 1, "Worker-1") not in rp.pool(None).members
    assert rp.pool(None).busy == 0


def test_block_without_executing_proves_the_task_ran():
    # A ring buffer evicted the executing event: the block still holds the worker.
    s = Story(1)
    s.block("m", "x", 0)
    rp = replay(s.events)
    assert rp.tasks["m"].state == "blocked" and rp.pool(None).busy == 1


def test_duplicate_delivery_of_a_block_is_idempotent():
    s = Story(1)
    s.start("m", 0)
    s.block("m", "x", 0)
    s.events.append(s.events[-1])           # the same record delivered twice
    rp = replay(s.events)
    assert len(rp.waits) == 1 and rp.pool(None).blocked == 1


def test_contradictions_are_counted_not_merged_silently():
    s = Story(2)
    s.start("a", 0)
    s.start("a", 1)                          # the same id on two workers at once
    s.finish("b", w=1)                       # finished, never started
    rp = replay(s.events)
    assert rp.anomaly_count == 2
    assert "duplicate task id" in rp.anomalies[0]


def test_queues_are_separate_pools_and_workers_are_slots():
    # Two consumers in one process both call their threads Worker-1.
    s = Story(1, queue="a")
    b = s.add_queue("b", 1)[0]
    s.start("x", 0)
    s.start("y", b)
    rp = replay(s.events)
    assert set(rp.pools) == {"a", "b"}
    assert rp.pool("a").busy == 1 and rp.pool("b").busy == 1
    assert s.workers[0] == s.workers[b]               # same host/pid/name...
    assert rp.holder(("a", s.workers[0])).id == "x"   # ...different slots
    assert rp.holder(("b", s.workers[b])).id == "y"
    lanes = lanes_of(rp.history)
    assert sorted(lanes) == ["a:h/1/Worker-1", "b:h/1/Worker-1"]


def test_cross_queue_wait_names_both_queues():
    s = Story(1, queue="a")
    b = s.add_queue("b", 1)[0]
    s.enqueue("leaf", q="b")
    s.start("main", 0)
    s.block("main", "leaf", 0)
    rp = replay(s.events)
    w = rp.tasks["main"].wait
    assert (w.queue, w.target_queue) == ("a", "b")
    assert rp.pool("a").blocked == 1 and rp.pool("b").blocked == 0
    del b


@st.composite
def _event_soup(draw):
    """Random but well-formed sequences over 3 workers, 2 queues, 6 tasks."""
    s = Story(2, queue="a")
    s.add_queue("b", 1)
    for _ in range(draw(st.integers(0, 40))):
        task = draw(st.sampled_from(["t1", "t2", "t3", "t4", "t5", "t6"]))
        w = draw(st.integers(0, 2))
        kind = draw(st.sampled_from(["enqueue", "start", "block", "unblock", "finish",
                                     "lost", "down"]))
        if kind == "enqueue":
            s.enqueue(task, q=draw(st.sampled_from(["a", "b"])))
        elif kind == "start":
            s.start(task, w)
        elif kind == "block":
            s.block(task, draw(st.sampled_from(["t1", "t2", "t3", "t4"])), w)
        elif kind == "unblock":
            s.unblock(task, "t1", w)
        elif kind == "finish":
            s.finish(task, draw(st.sampled_from(["complete", "error", "revoked"])), w=w)
        elif kind == "lost":
            s.kind("lost", w=w)
        else:
            s.kind("worker_down", w=w)
    return s.events


@settings(max_examples=200, deadline=None)
@given(_event_soup())
def test_pool_counters_always_match_a_full_count(events):
    """The O(1) counters the analysis trusts equal a scan of the state."""
    rp = Replay()
    for e in events:
        rp.apply(e)
        for q, p in rp.pools.items():
            busy = sum(1 for s, stack in rp.stacks.items() if s[0] == q and stack)
            blocked = sum(1 for s, stack in rp.stacks.items()
                          if s[0] == q and stack and rp.tasks[stack[-1]].state == "blocked")
            assert (p.busy, p.blocked) == (busy, blocked), e


@settings(max_examples=100, deadline=None)
@given(_event_soup())
def test_history_agrees_with_state_at_every_instant(events):
    """A task's last recorded change at or before t is its state at t."""
    tr = Trace(events)
    h = analyse(tr).history
    for t in sorted({e.t for e in events})[::3]:
        st_ = state_at(events, t)
        last = {}
        for ct, task, state in zip(h.change_t, h.change_task, h.change_state):
            if ct <= t:
                last[task] = state
        for tid, rec in st_.tasks.items():
            want = rec.state if rec.state != "finished" else f"finished:{rec.outcome}"
            if tid in last:
                assert last[tid] == want, (t, tid)
            else:
                assert rec.state == "unknown", (t, tid)


def test_state_at_is_a_snapshot_that_the_replay_does_not_change():
    s = Story(1)
    s.start("a", 0)
    first = state_at(s.events)
    s.finish("a", w=0)
    assert first.tasks["a"].state == "running"
    assert state_at(s.events).tasks["a"].state == "finished"


def test_events_are_never_changed():
    s = Story(2)
    s.start("m", 0)
    s.block("m", "c", 0)
    before = copy.deepcopy(s.events)      # the data dicts too
    replay(s.events)
    analyse(Trace(s.events))
    assert s.events == before
    assert Event(1.0, "x", None, None, None, None).queue is None
