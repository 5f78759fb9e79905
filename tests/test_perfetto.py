"""Chrome Trace Event / Perfetto export."""
import json
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hueyviz import Trace, diagnose
from hueyviz.core.event import Event, Worker
from hueyviz.demo import run_demo
from hueyviz.render.perfetto import render_perfetto, to_perfetto

W1, W2, MAIN = Worker("h", 7, "Worker-1"), Worker("h", 7, "Worker-2"), Worker("h", 7, "MainThread")


def _nested(name="parent", child="child") -> Trace:
    """A parent that spawns a child and waits for it; the child runs on W2."""
    return Trace([
        Event(0.0, "worker_up", None, None, W1, None),
        Event(0.0, "worker_up", None, None, W2, None),
        Event(0.1, "enqueued", "p", name, MAIN, None),
        Event(0.2, "executing", "p", name, W1, None),
        Event(0.3, "enqueued", "c", child, W1, {"parent": "p"}),
        Event(0.4, "block", "p", name, W1, {"waits_on": "c", "site": "x.py:1"}),
        Event(0.5, "executing", "c", child, W2, None),
        Event(0.6, "error", "c", child, W2, {"error": "ValueError", "message": "bad <x>"}),
        Event(0.7, "unblock", "p", name, W1, {"waits_on": "c", "outcome": "error"}),
        Event(0.8, "complete", "p", name, W1, None),
    ])


def _threads(events):
    return {(e["pid"], e["tid"]): e["args"]["name"] for e in events
            if e["ph"] == "M" and e["name"] == "thread_name"}


def test_valid_json_with_named_processes_and_threads():
    obj = json.loads(render_perfetto(_nested()))
    ev = obj["traceEvents"]
    procs = [e for e in ev if e["ph"] == "M" and e["name"] == "process_name"]
    assert [p["args"]["name"] for p in procs] == ["h/7", "queue"]
    assert sorted(_threads(ev).values()) == ["MainThread", "Worker-1", "Worker-2"]
    assert obj["displayTimeUnit"] == "ms"


def test_one_complete_event_per_execution_on_its_worker_track():
    tr = _nested()
    ev = to_perfetto(tr)["traceEvents"]
    threads = _threads(ev)
    tasks = [e for e in ev if e["ph"] == "X" and e["cat"] == "task"]
    executions = [e for e in tr if e.kind == "executing"]
    assert len(tasks) == len(executions)
    by_task = {e["args"]["task"]: e for e in tasks}
    assert threads[(by_task["p"]["pid"], by_task["p"]["tid"])] == "Worker-1"
    assert threads[(by_task["c"]["pid"], by_task["c"]["tid"])] == "Worker-2"
    # microseconds from the start of the trace
    assert by_task["p"]["ts"] == pytest.approx(0.2e6) and by_task["p"]["dur"] == pytest.approx(0.6e6)
    assert by_task["c"]["args"]["outcome"] == "error"
    assert by_task["c"]["args"]["message"] == "bad <x>"


def test_blocked_interval_is_a_nested_slice():
    ev = to_perfetto(_nested())["traceEvents"]
    parent = next(e for e in ev if e["ph"] == "X" and e["cat"] == "task" and e["args"].get("task") == "p")
    wait = next(e for e in ev if e["ph"] == "X" and e["cat"] == "wait")
    assert wait["name"] == "wait child [c]"
    assert (wait["pid"], wait["tid"]) == (parent["pid"], parent["tid"])
    assert parent["ts"] <= wait["ts"] and wait["ts"] + wait["dur"] <= parent["ts"] + parent["dur"]


def test_flow_pairs_match_for_spawn_and_wait():
    ev = to_perfetto(_nested())["traceEvents"]
    starts = {e["id"]: e for e in ev if e["ph"] == "s"}
    finishes = {e["id"]: e for e in ev if e["ph"] == "f"}
    assert starts.keys() == finishes.keys()
    cats = Counter(e["cat"] for e in starts.values())
    assert cats["spawn"] == 1 and cats["wait"] == 1 and set(cats) <= {"spawn", "wait", "enqueue"}
    threads = _threads(ev)
    for fid, s in starts.items():
        if s["cat"] == "enqueue":
            continue
        f = finishes[fid]
        assert f["bp"] == "e" and f["cat"] == s["cat"] and f["ts"] >= s["ts"]
        assert threads[(s["pid"], s["tid"])] == "Worker-1"
        assert threads[(f["pid"], f["tid"])] == "Worker-2"


def test_culprit_instant_at_the_finding():
    res = run_demo(out=None, render=False)
    d = res.diagnosis
    ev = to_perfetto(res.trace, d)["traceEvents"]
    instants = [e for e in ev if e["ph"] == "i"]
    assert len(instants) == len(d.findings) >= 1
    first = instants[0]
    assert first["s"] == "g" and first["name"].startswith("deadlock:")
    assert first["ts"] == pytest.approx((d.at - res.trace.start) * 1e6, abs=0.01)
    assert first["args"]["culprit"]["waiter"] == d.culprit.waiter
    assert _threads(ev)[(first["pid"], first["tid"])] == d.culprit.worker
    # Still-running tasks of a stuck trace end at the end of the trace.
    running = [e for e in ev if e["ph"] == "X" and e["cat"] == "task"]
    assert {e["args"]["outcome"] for e in running} == {"running at end of trace"}


def test_deterministic_and_empty():
    assert render_perfetto(_nested()) == render_perfetto(_nested())
    assert json.loads(render_perfetto(Trace([])))["traceEvents"] == []
    assert diagnose(Trace([])).verdict == "ok"


@settings(max_examples=40, deadline=None)
@given(name=st.text(max_size=30), child=st.text(max_size=30))
def test_any_name_gives_valid_json(name, child):
    text = render_perfetto(_nested(name, child))
    obj = json.loads(text)
    assert text.isascii()
    names = {e["name"] for e in obj["traceEvents"] if e["ph"] == "X"}
    shown = "".join("\ufffd" if 0xD800 <= ord(c) < 0xE000 else c for c in name) or "?"
    assert shown in names


def test_a_deadlock_shows_its_queue_and_the_tasks_that_never_ran():
    """The demo's deadlock: the queued subtasks have tracks, the waits and
    spawns point at them, the queue has a depth counter, and the notebook
    thread that enqueued the main tasks is not an empty track."""
    res = run_demo(out=None, render=False)
    ev = to_perfetto(res.trace, res.diagnosis)["traceEvents"]
    threads = _threads(ev)
    never = {k: v for k, v in threads.items() if v.startswith("never ran: ")}
    assert len(never) == len({e.task for e in res.trace if e.kind == "enqueued"}
                             - {e.task for e in res.trace if e.kind == "executing"})
    assert any(e["ph"] == "C" and e["name"] == "queued tasks" for e in ev)
    starts = {e["id"]: e for e in ev if e["ph"] == "s"}
    ends = [e for e in ev if e["ph"] == "f"]
    waits_to_never = [f for f in ends if (f["pid"], f["tid"]) in never and starts[f["id"]]["cat"] == "wait"]
    assert len(waits_to_never) == 2                  # both main tasks wait on a queued subtask
    # every thread track holds at least one slice
    busy = {(e["pid"], e["tid"]) for e in ev if e["ph"] == "X"}
    assert set(threads) <= busy, set(threads) - busy
