"""Real threaded consumers, real waits: each scenario gets its verdict."""
import json
import subprocess
import sys

from huey import MemoryHuey
from workload import chain_huey

import hueyviz
from hueyviz import diagnose
from hueyviz.demo import build_huey, run_demo


def settled(verdict):
    return lambda tr: diagnose(tr).verdict == verdict


def test_demo_scenario_is_a_deadlock_closed_by_the_later_wait():
    res = run_demo(out=None, render=False, workers=2)
    d = res.diagnosis
    assert res.rescued
    assert d.verdict == "deadlock"
    blocks = [e for e in res.trace if e.kind == "block"]
    assert len(blocks) == 2
    later = max(blocks, key=lambda e: e.t)
    assert d.culprit.waiter == later.task
    assert d.culprit.waits_on == later.get("waits_on")
    assert d.culprit.worker == later.worker.name
    assert d.workers == {"total": 2, "blocked": 2}
    assert d.culprit.site.startswith("hueyviz/demo.py:")  # portable: no machine paths


def test_same_workload_with_three_workers_is_ok():
    res = run_demo(out=None, render=False, workers=3)
    assert res.diagnosis.verdict == "ok", res.diagnosis.message
    completes = [e for e in res.trace if e.kind == "complete"]
    assert len(completes) == 2 + 2 * 3


def test_chain_of_nested_waits_deeper_than_the_pool(consumer):
    huey, top = chain_huey("chain")
    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=2)
        run.results.append(top())
        assert tracer.wait_for(settled("deadlock"), timeout=15)
    d = diagnose(tracer.trace)
    assert (d.culprit.waiter_name, d.culprit.waits_on_name) == ("middle", "leaf")
    assert "itself blocked" in d.message


def test_chain_fits_with_three_workers(consumer):
    huey, top = chain_huey("chain3")
    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=3)
        r = top()
        assert run.wait_results([r])
    assert r.get() == "leaf"
    assert diagnose(tracer.trace).verdict == "ok"


def test_wait_with_timeout_is_a_stall_that_ends(consumer):
    huey = build_huey("stall", subtasks=1, work=0.0)
    sub = huey.demo_tasks["subtask"]

    @huey.task()
    def impatient(user):
        try:
            return sub(user, 0).get(blocking=True, timeout=0.3)
        except Exception:
            return "gave up"

    with hueyviz.trace(huey) as tracer:
        r = impatient("x")
        run = consumer(huey, workers=1)
        assert run.wait_results([r])
        assert tracer.wait_for(lambda tr: any(e.kind == "complete" and e.name == "subtask"
                                              for e in tr), timeout=10)
    assert r.get() == "gave up"
    d = diagnose(tracer.trace)
    assert d.verdict == "stall"
    f = d.findings[0]
    unblock = next(e for e in tracer.trace if e.kind == "unblock")
    assert unblock.get("outcome") == "timeout"
    assert f.ends == unblock.t


def test_wait_on_a_task_that_returns_none_is_a_hang(consumer):
    huey = MemoryHuey("hang", utc=False)   # store_none=False: None is not stored

    @huey.task()
    def quiet():
        return None

    @huey.task()
    def waiter():
        return quiet().get(blocking=True)

    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=2)
        w = waiter()
        run.results.append(w)
        assert tracer.wait_for(settled("hang"), timeout=15)
        d = diagnose(tracer.trace)
        # Rescue: store the result the waiter is waiting for, by hand.
        huey.put_result(d.culprit.waits_on, "rescued")
        assert run.wait_results([w])
    assert d.culprit.waiter_name == "waiter" and d.culprit.waits_on_name == "quiet"
    assert "store_none=False" in d.message


def test_pipeline_is_ok_and_linked(consumer):
    huey = MemoryHuey("pipe", utc=False)

    @huey.task()
    def add(a, b):
        return a + b

    with hueyviz.trace(huey) as tracer:
        run = consumer(huey, workers=2)
        results = huey.enqueue(add.s(1, 2).then(add, 3).then(add, 4))
        assert run.wait_results(list(results))
    assert [r.get() for r in results] == [3, 6, 10]
    tr = tracer.trace
    assert diagnose(tr).verdict == "ok"
    g = tr.graph()
    pipeline = [(u, v) for u, v, d in g.edges(data=True) if d["kind"] == "pipeline"]
    assert len(set(pipeline)) == 2


def test_immediate_mode_is_ok():
    huey = build_huey("immediate", subtasks=2, work=0.0)
    huey.immediate = True
    with hueyviz.trace(huey) as tracer:
        assert huey.demo_tasks["main_task"]("x").get() == ["x-0", "x-1"]
    assert diagnose(tracer.trace).verdict == "ok"
    assert not any(e.kind == "block" for e in tracer.trace)


def test_cli_demo_then_diagnose(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "hueyviz", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Deadlock:" in proc.stdout
    trace_path = out / "trace.jsonl"
    assert trace_path.exists()
    diag = subprocess.run([sys.executable, "-m", "hueyviz", "diagnose", str(trace_path),
                           "--json"], capture_output=True, text=True, timeout=60)
    assert diag.returncode == 1
    obj = json.loads(diag.stdout)
    assert obj["verdict"] == "deadlock"
    assert obj["workers"] == {"total": 2, "blocked": 2}
    assert obj["culprit"]["waiter_name"] == "main_task"
    assert obj["culprit"]["waits_on_name"] == "subtask"
    assert len([k for k in obj["knot"] if k["kind"] == "waits_for"]) == 2


def test_more_main_tasks_than_workers_deadlocks_and_the_rescue_still_ends():
    # The rescuer must not run a blocking main task inline (it would wait on
    # itself); every rescued result must arrive.
    res = run_demo(out=None, render=False, workers=3, users=["a", "b", "c", "d"])
    assert res.diagnosis.verdict == "deadlock"
    assert res.diagnosis.workers == {"total": 3, "blocked": 3}
    assert res.rescued
