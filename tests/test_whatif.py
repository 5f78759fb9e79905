"""hueyviz.whatif on traces recorded from real threaded consumers."""
import json

import pytest
from workload import chain_huey

import hueyviz
from hueyviz import diagnose, whatif
from hueyviz.cli import main
from hueyviz.demo import run_demo


def chain_trace(consumer, workers=3):
    """top waits on middle, which waits on leaf: needs 3 workers."""
    huey, top = chain_huey("whatif-chain", leaf_work=0.01)

    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=workers)
        r = top()
        run.results.append(r)
        assert r.get(blocking=True, timeout=15) == "leaf"
        assert tracer.wait_for(lambda tr: sum(e.kind == "complete" for e in tr) == 3, 15)
    tr = tracer.trace
    assert diagnose(tr).verdict == "ok"
    return tr


def test_chain_of_two_nested_waits_needs_three_workers(consumer):
    tr = chain_trace(consumer)
    w = whatif(tr, workers=range(1, 6), sync=True)
    assert w.min_safe_workers == 3 and w.exact and w.notes == ()
    assert [r.verdict for r in w.runs] == ["deadlock", "deadlock", "ok", "ok", "ok"]
    assert w.runs[0].makespan is None and w.runs[2].makespan > 0
    assert w.runs[2].makespan == w.runs[4].makespan      # more workers don't help a chain
    # Called synchronously, the chain needs one worker.
    assert [r.verdict for r in w.sync] == ["ok"] * 5
    assert w.sync[0].makespan > 0
    d = w.to_dict()
    assert set(d) == {"min_safe_workers", "exact", "runs", "sync"}
    assert set(d["runs"][0]) == {"workers", "verdict", "makespan"}
    assert "min_safe_workers: 3 (the smallest pool that completes it)" in str(w)
    assert set(whatif(tr, workers=[2, 3]).to_dict()) == {"min_safe_workers", "exact", "runs"}


def test_demo_deadlock_gives_a_lower_bound():
    res = run_demo(out=None, render=False, workers=2)
    assert res.rescued and res.diagnosis.verdict == "deadlock"
    w = whatif(res.trace, sync=True)
    assert w.min_safe_workers == 3 and w.exact is False
    assert [r.verdict for r in w.runs[:3]] == ["deadlock", "deadlock", "ok"]
    text = str(w)
    assert "lower bound" in text and "never ran" in text
    assert all(r.verdict == "ok" and r.makespan is not None for r in w.sync)


def test_replay_is_deterministic_and_pure(consumer):
    tr = chain_trace(consumer)
    before = tuple(tr)
    assert whatif(tr, sync=True).to_dict() == whatif(tr, sync=True).to_dict()
    assert tuple(tr) == before


def test_cli_json_and_bad_input(consumer, tmp_path, capsys):
    path = tmp_path / "trace.jsonl"
    chain_trace(consumer).save(str(path))
    assert main(["whatif", str(path), "--workers", "1..4", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["min_safe_workers"] == 3 and out["exact"] is True
    assert [r["workers"] for r in out["runs"]] == [1, 2, 3, 4]
    assert main(["whatif", str(path), "--workers", "1..2"]) == 1
    assert "No worker count in 1..2 completes" in capsys.readouterr().out
    assert main(["whatif", str(path), "--workers", "3..1"]) == 2
    assert main(["whatif", str(path), "--sync"]) == 0
    assert "sync makespan" in capsys.readouterr().out


def test_rejects_bad_counts():
    with pytest.raises(ValueError):
        whatif([], workers=[0])


def test_timed_wait_makes_a_stall_not_a_deadlock():
    from story import Story
    s = Story(workers=2)
    s.enqueue("p1")
    s.start("p1", 0)
    s.enqueue("c1", parent="p1", by=0)
    s.block("p1", "c1", 0, timeout=5.0)
    s.start("c1", 1)
    s.finish("c1", w=1)
    s.unblock("p1", "c1", 0)
    s.finish("p1", w=0)
    # p1 runs 1 s, waits (timeout 5 s) for c1 (1 s), then runs 1 s more.
    w = whatif(s.events, workers=[1, 2])
    assert [(r.verdict, r.makespan) for r in w.runs] == [("stall", 9.0), ("ok", 3.0)]
    # One second per story event is not Huey's timing: not exact, and it says why.
    assert w.min_safe_workers == 1 and not w.exact
    assert w.notes == ("replayed at the recorded 2 workers the workload takes 3.000 s, "
                       "but the recording took 7.000 s",)


def test_reads_that_found_the_result_are_dependencies(consumer):
    """main reads results that were already stored (no wait recorded): at one
    worker they are waits on subtasks that cannot run, and what-if says so."""
    import threading

    from huey import MemoryHuey
    huey = MemoryHuey("whatif-reads", utc=False)
    gate = threading.Event()

    @huey.task()
    def sub(i):
        return i

    @huey.task()
    def main():
        subs = [sub(i) for i in range(2)]
        assert gate.wait(15)                # the test opens it once both are stored
        return sum(r.get(blocking=True) for r in subs)

    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=3)
        r = main()
        run.results.append(r)
        assert tracer.wait_for(lambda tr: sum(e.kind == "complete" for e in tr) == 2, 15)
        gate.set()
        assert r.get(blocking=True, timeout=15) == 1
        assert tracer.wait_for(lambda tr: sum(e.kind == "complete" for e in tr) == 3, 15)
    tr = tracer.trace
    reads = [e for e in tr if e.kind == "read" and e.name == "main"]
    assert len(reads) == 2 and all(e.get("consumed") for e in reads)
    assert not [e for e in tr if e.kind == "block" and e.name == "main"]
    w = whatif(tr, workers=[1, 3])
    assert [r.verdict for r in w.runs] == ["deadlock", "ok"]


def test_a_recursion_of_unknown_depth_is_never_called_safe(consumer):
    """rec(n) waits for rec(n-1): recorded on 2 workers, the third level never
    ran, so how deep it goes is unknown: no pool size is called safe."""
    from huey import MemoryHuey
    huey = MemoryHuey("whatif-recursion", utc=False)

    @huey.task()
    def rec(n):
        return 0 if n == 0 else rec(n - 1).get(blocking=True) + 1

    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=2)
        run.results.append(rec(3))
        assert tracer.wait_for(lambda tr: diagnose(tr).verdict == "deadlock", 15)
        tr = tracer.trace
    w = whatif(tr, workers=range(1, 7))
    assert [r.verdict for r in w.runs] == ["deadlock"] * 3 + ["unknown"] * 3
    assert w.min_safe_workers == 4 and not w.exact
    assert "at least" in w.summary() and "recursion of unknown depth" in w.summary()
    fix = {f.kind: f for f in hueyviz.advise(tr).fixes}["workers"]
    assert not fix.helps and fix.verdict == "unknown"
    assert fix.hint == "at least 4 workers, and no count is known to be enough"
