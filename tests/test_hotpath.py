"""The tracer's hot path in C (hueyviz/record/_hotpath.c) against its Python
version: the same events from the same work, the application's own signal
receivers still called, failures counted and never passed on to tasks."""
import logging
import threading

import pytest
from huey import MemoryHuey
from huey import signals as S
from workload import run_all

import hueyviz
from hueyviz.record import hotpath
from hueyviz.record.sink import MemorySink


def test_the_test_command_builds_the_extension():
    # dev.py installs a compiler and the Python headers first; an install
    # without them runs the Python version (hotpath.compiled is None).
    assert hotpath.compiled is not None
    assert {"Receiver", "Recorder"} <= set(dir(hotpath.compiled))


def make_huey(name="hot"):
    huey = MemoryHuey(name, utc=False)

    @huey.task()
    def add(a, b):
        return a + b

    @huey.task()
    def nothing():
        return None

    @huey.task()
    def boom():
        raise ValueError("no")

    @huey.task(retries=1)
    def flaky():
        raise KeyError("again")

    @huey.task()
    def spawn(n):
        return [add(i, i).id for i in range(n)]

    @huey.task(priority=5)
    def urgent():
        return 1

    huey.t = dict(add=add, nothing=nothing, boom=boom, flaky=flaky, spawn=spawn, urgent=urgent)
    return huey


def workload(huey):
    """Every path of the receiver: plain tasks, a task without a result, an
    error, a retry, nested enqueues, a pipeline, a priority, a revoke."""
    t = huey.t
    t["add"](1, 2)
    t["nothing"]()
    t["boom"]()
    t["flaky"]()
    t["spawn"](3)
    huey.enqueue(t["add"].s(1, 2).then(t["add"], 3))
    t["urgent"]()
    t["add"](5, 5).revoke()
    run_all(huey)


def normalised(events):
    """The events with task ids numbered in order of appearance (they are
    uuids) and times left out (clocks differ between runs)."""
    ids: dict = {}

    def n(x):
        return ids.setdefault(x, len(ids)) if isinstance(x, str) else x

    out = []
    for e in events:
        data = e.data
        if data:
            data = {k: ([n(x) for x in v] if k == "then" else n(v) if k == "parent" else v)
                    for k, v in data.items()}
        out.append((e.kind, n(e.task), e.name, e.worker.name if e.worker else None,
                    data, e.queue))
    return out


def traced(c: bool, monkeypatch, **kw):
    monkeypatch.setattr(hotpath, "enabled", c)
    huey = make_huey()
    with hueyviz.trace(huey, **kw) as tracer:
        workload(huey)
    return normalised(tracer.trace), tracer


@pytest.mark.parametrize("capture_args", [False, True])
def test_both_builds_record_the_same_events(monkeypatch, capture_args):
    c_events, c_tracer = traced(True, monkeypatch, capture_args=capture_args)
    py_events, py_tracer = traced(False, monkeypatch, capture_args=capture_args)
    assert c_events == py_events
    kinds = {k for k, *_ in c_events}
    assert {"enqueued", "executing", "complete", "error", "retrying", "revoked"} <= kinds
    assert any(d and "parent" in d for _, _, _, _, d, _ in c_events)
    assert any(d == {"stored": False} for _, _, _, _, d, _ in c_events)
    assert c_tracer.errors == py_tracer.errors == 0


def test_a_full_ring_counts_the_same_drops(monkeypatch):
    c_events, c_tracer = traced(True, monkeypatch, max_events=7)
    py_events, py_tracer = traced(False, monkeypatch, max_events=7)
    assert c_events == py_events and len(c_events) == 7
    assert c_tracer.dropped == py_tracer.dropped > 0


@pytest.mark.parametrize("c", [True, False], ids=["C", "Python"])
def test_the_applications_receivers_are_still_called(monkeypatch, c):
    """The application's receivers see exactly what they see untraced (on
    every Huey: those whose Signal.send stops at a receiver that raises too)."""
    monkeypatch.setattr(hotpath, "enabled", c)

    def run(traced):
        huey = make_huey()
        seen, failing = [], []

        @huey.signal()
        def everything(signal, task, *args):
            seen.append((signal, task.name))

        @huey.signal(S.SIGNAL_COMPLETE)
        def raises(signal, task):
            failing.append(task.name)
            raise RuntimeError("the app's bug")

        tracer = hueyviz.trace(huey) if traced else None
        r = huey.t["add"](2, 3)
        huey.t["boom"]()
        run_all(huey)
        if tracer is not None:
            tracer.detach()
        return r.get(), seen, failing, tracer

    untraced = run(False)
    value, seen, failing, tracer = run(True)
    assert (value, seen, failing) == untraced[:3]
    assert value == 5 and failing == ["add"]              # its receiver's error stays Huey's
    assert ("enqueued", "add") in seen and ("error", "boom") in seen
    assert [e.kind for e in tracer.trace].count("complete") == 1
    assert tracer.errors == 0


def test_a_huey_with_its_own_emit_keeps_it(monkeypatch):
    monkeypatch.setattr(hotpath, "enabled", True)
    calls = []

    class Counting(MemoryHuey):
        def _emit(self, signal, task, *args, **kwargs):
            calls.append(signal)
            return super()._emit(signal, task, *args, **kwargs)

    huey = Counting("own", utc=False)

    @huey.task()
    def one():
        return 1

    with hueyviz.trace(huey) as tracer:
        one()
        run_all(huey)
    assert calls == ["enqueued", "executing", "complete"]
    assert [e.kind for e in tracer.trace] == calls
    assert "_emit" not in vars(huey)                     # detached: Huey's own again


def test_a_failing_recorder_is_counted_and_the_task_runs(monkeypatch, caplog):
    monkeypatch.setattr(hotpath, "enabled", True)

    class Broken(MemorySink):
        def append(self, event):
            raise OSError("full")

    huey = make_huey()
    with caplog.at_level(logging.WARNING, logger="hueyviz"):
        with hueyviz.trace(huey, sink=Broken()) as tracer:
            r = huey.t["add"](1, 1)
            run_all(huey)
    assert r.get() == 2 and tracer.errors == 3


def test_a_task_id_that_is_no_string_is_refused_like_the_python_version(monkeypatch):
    # sys.intern refuses anything but a str; the C recorder must too, and
    # count it, rather than keep an id the readers cannot sort.
    counts = {}
    for c in (True, False):
        monkeypatch.setattr(hotpath, "enabled", c)
        sink = MemorySink()
        failures = []
        record = sink.recorder(lambda: 1.0, failures.append)
        record("executing", 42, "x", None, None)
        record("executing", "ok", "x", None, None, "q")
        counts[c] = (failures, [(e.task, e.queue) for e in sink.events()])
    assert counts[True] == counts[False] == (["sink"], [("ok", "q")])


def test_threads_record_their_own_worker(monkeypatch):
    monkeypatch.setattr(hotpath, "enabled", True)
    huey = make_huey()
    with hueyviz.trace(huey) as tracer:
        r = huey.t["add"](1, 1)
        th = threading.Thread(target=run_all, args=(huey,), name="Worker-7")
        th.start()
        th.join(30)
        assert not th.is_alive()
    assert r.get() == 2
    assert [(e.kind, e.worker.name) for e in tracer.trace] == [
        ("enqueued", "MainThread"), ("executing", "Worker-7"), ("complete", "Worker-7")]


def test_pure_python_imports_no_c_at_all_and_the_version_says_which_path_runs():
    import os
    import subprocess
    import sys
    probe = ("import sys, hueyviz, hueyviz.analysis.replay, hueyviz.analysis.detector\n"
             "print(sorted(m for m in sys.modules if m.endswith(('._hotpath', '._replay'))))")
    env = dict(os.environ, HUEYVIZ_PURE_PYTHON="1")
    pure = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                          text=True, timeout=60)
    assert pure.stdout.strip() == "[]", pure.stderr
    env.pop("HUEYVIZ_PURE_PYTHON")
    built = subprocess.run([sys.executable, "-c", probe], env=env, capture_output=True,
                           text=True, timeout=60)
    assert built.stdout.strip() == "['hueyviz.analysis._replay', 'hueyviz.record._hotpath']"
    for extra, words in (({"HUEYVIZ_PURE_PYTHON": "1"}, "pure Python (HUEYVIZ_PURE_PYTHON is set)"),
                         ({}, "C hot path and replay (built)")):
        v = subprocess.run([sys.executable, "-m", "hueyviz", "--version"], capture_output=True,
                           text=True, timeout=60, env={**env, **extra})
        assert v.returncode == 0 and words in v.stdout and "huey 3." in v.stdout, v.stdout
