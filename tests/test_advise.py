"""hueyviz.advise: each fix the replay predicts, applied for real, does what it said.

The recorded original runs on a real threaded consumer; so does each fix,
written as the variant of the task code (or the pool size) the advice
names.  The verdict of the real run must be the verdict of the replay.
"""
import json
import threading
import time

from huey import MemoryHuey
from huey.exceptions import ResultTimeout

import hueyviz
from hueyviz import advise, diagnose
from hueyviz.cli import main

USERS = ("alice", "bob")
SUBTASKS = 2
WORK = 0.01          # each subtask's own work (not synchronisation)


def classic(name, variant="block", timeout=None, priority=None):
    """Two main tasks, each with SUBTASKS subtasks.  Both mains hold their
    worker before spawning (a barrier), so the knot is the same every run.

    variant: block (the original), sync (call_local), fanout (nobody
    blocks: a counted finalize), timeout (get with a timeout, handled).
    """
    huey = MemoryHuey(name, utc=False)
    barrier = threading.Barrier(len(USERS), timeout=10)
    done, lock = {}, threading.Lock()

    @huey.task()
    def subtask(user, i):
        time.sleep(WORK)
        if variant == "fanout":
            with lock:
                done[user] = done.get(user, 0) + 1
                last = done[user] == SUBTASKS
            if last:
                finalize(user)
        return f"{user}-{i}"

    @huey.task()
    def finalize(user):
        return user

    @huey.task()
    def main_task(user):
        try:
            barrier.wait()
        except threading.BrokenBarrierError:   # fewer workers than mains: go on
            pass
        if variant == "sync":
            return [subtask.call_local(user, i) for i in range(SUBTASKS)]
        kw = {} if priority is None else {"priority": priority}
        results = [subtask(user, i, **kw) for i in range(SUBTASKS)]
        if variant == "fanout":
            return None
        out = []
        for r in results:
            try:
                out.append(r.get(blocking=True, timeout=timeout))
            except ResultTimeout:
                out.append(None)
        return out

    final = "finalize" if variant == "fanout" else "main_task"
    return huey, main_task, final


def run(consumer, app, workers, *, timeout=20.0):
    """Record one real run; ends when the final tasks completed or the pool
    is stuck (the fixture rescues the consumer afterwards)."""
    huey, main_task, final = app
    with hueyviz.trace(huey) as tracer:
        results = [main_task(u) for u in USERS]
        run_ = consumer(huey, workers=workers)
        run_.results.extend(results)

        def settled(tr):
            finals = sum(1 for e in tr if e.kind == "complete" and e.name == final)
            return finals >= len(USERS) or diagnose(tr).verdict in ("deadlock", "hang")
        assert tracer.wait_for(settled, timeout=timeout)
        return tracer.trace


def fixes_of(trace):
    a = advise(trace)
    return a, {f.kind: f for f in a.fixes}


def test_each_advised_fix_gives_the_replayed_verdict_for_real(consumer):
    original = run(consumer, classic("adv-original"), workers=2)
    assert diagnose(original).verdict == "deadlock"
    a, fixes = fixes_of(original)
    assert a.verdict == "deadlock"
    assert set(fixes) == {"workers", "priority", "timeout", "sync", "pipeline"}

    # workers: the advised pool size, for real
    n = fixes["workers"].workers
    assert fixes["workers"].verdict == "ok" and n == 3
    assert diagnose(run(consumer, classic("adv-workers"), workers=n)).verdict == "ok"

    # sync: subtask.call_local in the parent
    assert fixes["sync"].verdict == "ok"
    assert "call_local" in fixes["sync"].hint
    real = run(consumer, classic("adv-sync", "sync"), workers=2)
    assert diagnose(real).verdict == "ok" and not [e for e in real if e.kind == "block"]

    # pipeline: nobody blocks; a counted finalize runs when the subtasks are done
    assert fixes["pipeline"].verdict == "ok"
    assert diagnose(run(consumer, classic("adv-fanout", "fanout"), workers=2)).verdict == "ok"

    # priority: both mains hold their worker before any subtask exists
    assert fixes["priority"].verdict == "deadlock" and not fixes["priority"].helps
    assert "before any of the subtasks" in fixes["priority"].reason
    real = run(consumer, classic("adv-priority", priority=10), workers=2)
    assert diagnose(real).verdict == "deadlock"

    # timeout: the knot dissolves when the first wait times out
    t = fixes["timeout"].timeout
    assert fixes["timeout"].verdict == "stall" and t is not None and t > 0
    real = run(consumer, classic("adv-timeout", timeout=t), workers=2)
    assert diagnose(real).verdict == "stall"

    # ordered by what changes least among those that work
    kinds = [f.kind for f in a.fixes]
    assert kinds.index("workers") < kinds.index("sync") < kinds.index("pipeline")
    assert kinds[-1] == "priority"
    # where: the call site of the blocking get() in main_task
    for f in a.fixes:
        if f.kind != "workers":
            assert f.where and all("test_advise.py:" in w and "main_task" in w
                                   for w in f.where), f.where


def test_a_chain_deeper_than_the_pool(consumer):
    def chain(name, variant="block"):
        huey = MemoryHuey(name, utc=False)

        @huey.task()
        def leaf():
            time.sleep(WORK)
            return "leaf"

        @huey.task()
        def middle():
            if variant == "sync":
                return leaf.call_local()
            if variant == "pipeline":
                leaf()                  # enqueue and return: nobody waits
                return None
            return leaf().get(blocking=True)

        @huey.task()
        def top():
            if variant == "sync":
                return middle.call_local()
            if variant == "pipeline":
                middle()
                return None
            return middle().get(blocking=True)
        return huey, top

    def record(app, workers):
        huey, top = app
        with hueyviz.trace(huey) as tracer:
            r = top()
            run_ = consumer(huey, workers=workers)
            run_.results.append(r)

            def settled(tr):
                enqueued = {e.task for e in tr if e.kind == "enqueued"}
                done = {e.task for e in tr if e.kind == "complete"}
                return (enqueued and enqueued <= done) or diagnose(tr).verdict == "deadlock"
            assert tracer.wait_for(settled, timeout=20)
            return tracer.trace

    original = record(chain("adv-chain"), workers=2)
    assert diagnose(original).verdict == "deadlock"
    _, fixes = fixes_of(original)
    assert fixes["workers"].workers == 3 and fixes["workers"].verdict == "ok"
    assert diagnose(record(chain("adv-chain-3"), workers=3)).verdict == "ok"
    assert fixes["sync"].verdict == "ok"
    assert diagnose(record(chain("adv-chain-sync", "sync"), workers=2)).verdict == "ok"
    assert fixes["pipeline"].verdict == "ok"
    assert diagnose(record(chain("adv-chain-pipe", "pipeline"), workers=2)).verdict == "ok"


def test_store_none_fixes_a_hang_for_real(consumer):
    def app(name, store_none):
        huey = MemoryHuey(name, utc=False, store_none=store_none)

        @huey.task()
        def notify():
            return None                 # nothing to return...

        @huey.task()
        def main_task():
            return notify().get(blocking=True, timeout=30)   # ...but someone waits
        return huey, main_task

    def record(huey, main_task):
        with hueyviz.trace(huey) as tracer:
            r = main_task()
            run_ = consumer(huey, workers=2)
            run_.results.append(r)
            assert tracer.wait_for(
                lambda tr: any(e.kind == "complete" and e.name == "main_task" for e in tr)
                or diagnose(tr).verdict == "hang", timeout=20)
            return tracer.trace

    original = record(*app("adv-none", store_none=False))
    assert diagnose(original).verdict == "hang"
    a, fixes = fixes_of(original)
    assert a.best.kind == "store_none" or fixes["store_none"].verdict == "ok"
    assert "store_none=True" in fixes["store_none"].hint
    assert diagnose(record(*app("adv-none-fixed", store_none=True))).verdict == "ok"


def test_cli_advise_json_and_diagnose_names_the_best_fix(consumer, tmp_path, capsys):
    path = tmp_path / "t.jsonl"
    run(consumer, classic("adv-cli"), workers=2).save(str(path))
    assert main(["advise", str(path), "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["verdict"] == "deadlock"
    assert [f["kind"] for f in out["fixes"]][0] == "workers"
    for f in out["fixes"]:
        assert {"kind", "verdict", "makespan", "workers", "exact", "notes", "where",
                "hint", "helps"} <= set(f)
    assert main(["diagnose", str(path)]) == 1
    text = capsys.readouterr().out.strip().splitlines()
    assert text[-1].startswith("Best fix (workers; replayed: ok): run the consumer with -w 3")
    assert "hueyviz advise" in text[-1]


def test_an_ok_trace_is_advised_too():
    from story import Story
    s = Story(3)
    for i in range(2):
        s.enqueue(f"main{i}")
    for i in range(2):
        s.start(f"main{i}", i)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=i)
        s.block(f"main{i}", f"sub{i}", i)
    s.start("sub0", 2)
    s.finish("sub0", w=2)
    s.unblock("main0", "sub0", 0)
    s.finish("main0", w=0)
    s.start("sub1", 2)
    s.finish("sub1", w=2)
    s.unblock("main1", "sub1", 1)
    s.finish("main1", w=1)
    a = advise(s.events)
    # The story's clock ticks a second per event: no replay of Huey
    # reproduces its 15 s, so nothing it predicts is exact.
    assert a.verdict == "ok" and not a.exact
    assert any("the recording took 15.000 s" in n for n in a.notes), a.notes
    fixes = {f.kind: f for f in a.fixes}
    assert fixes["workers"].workers == 3
    assert "the recorded pool is already enough" in fixes["workers"].notes


def test_a_task_that_waits_for_itself_is_told_to_remove_the_wait():
    from story import Story
    s = Story(2)
    s.enqueue("main")
    s.start("main", 0)
    s.block("main", "main", 0)
    assert diagnose(s.events).verdict == "deadlock"
    a = advise(s.events)
    assert any("waits for its own result" in n and "remove that wait" in n for n in a.notes)
    # Nothing to split or call synchronously: main enqueues no subtask.
    assert not {"sync", "pipeline", "priority"} & {f.kind for f in a.fixes}


def test_the_workers_fix_is_more_than_the_recording_had():
    """Two mains on two workers, each waiting for its queued subtask: the
    fix is three workers, never the two that deadlocked."""
    from story import Story
    s = Story(2)
    s.enqueue("m1")
    s.enqueue("m2")
    s.start("m1", 0)
    s.start("m2", 1)
    s.enqueue("s1", parent="m1", by=0)
    s.block("m1", "s1", 0)
    s.enqueue("s2", parent="m2", by=1)
    s.block("m2", "s2", 1)
    a = advise(s.events)
    assert a.verdict == "deadlock" and a.workers == 2
    fix = {f.kind: f for f in a.fixes}["workers"]
    assert fix.helps and fix.workers == 3 and "-w 3 " in fix.hint


def test_a_deliberate_revoke_is_not_advised_away():
    """main waits for a subtask that was revoked: a hang, and no fix that
    keeps the revoke completes the workload (none pretends to)."""
    from story import Story
    s = Story(2)
    s.enqueue("main")
    s.start("main", 0)
    s.enqueue("sub", parent="main", by=0)
    s.block("main", "sub", 0)
    s.finish("sub", "revoked", w=1)
    a = advise(s.events)
    assert a.verdict == "hang" and a.best is None
    fixes = {f.kind: f for f in a.fixes}
    assert fixes["workers"].verdict == "hang"
    assert fixes["workers"].reason == "even 64 workers per queue end in a hang in the replay"
    assert fixes["sync"].verdict == "hang" and "never completes" in fixes["sync"].reason
    # The revoked task never started: that is replayed as it was, not assumed.
    assert not any("never ran" in n for n in a.notes)
