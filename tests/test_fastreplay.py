"""The replay's common events in C (hueyviz/analysis/_replay.c) against
replay.py: the same events give the same state, field by field, and the
same findings; C takes the plain events and leaves every other one whole."""
import random
from dataclasses import fields

import drawkit  # noqa: F401  (puts bench/ on the path)
import pytest
from synth import synthetic_trace

from hueyviz.analysis import replay as R
from hueyviz.analysis.detector import diagnose_blocks
from hueyviz.analysis.replay import History, Pool, Replay, TaskRecord
from hueyviz.core.event import Event, Worker
from hueyviz.record import hotpath


def test_the_test_command_builds_the_extension():
    # dev.py installs a compiler first; without one, Replay.fast is None.
    assert R._compiled is not None and R._RUN is not None
    assert Replay().fast is not None and Replay(history=True).fast is not None


def test_the_switch_chooses_python(monkeypatch):
    monkeypatch.setattr(hotpath, "enabled", False)
    assert Replay().fast is None


def python_replay(events, history=False):
    rp = Replay(history=history)
    rp.fast = None
    for e in events:
        rp.apply(e)
    return rp


class Counting:
    """The C runner, counting the events it applied."""

    def __init__(self):
        self.applied = 0

    def __call__(self, rp, events, start):
        stop = R._RUN(rp, events, start)
        self.applied += stop - start
        return stop


def c_replay(events, cut=1000, history=False):
    rp = Replay(history=history)
    count = rp.fast = Counting()
    evs = list(events)
    for i in range(0, len(evs), cut):
        rp.apply_all(evs[i:i + cut])
    return rp, count.applied


RECORD = [f.name for f in fields(TaskRecord)]
POOL = [f.name for f in fields(Pool)]
HISTORY = [f.name for f in fields(History)]


def state(rp):
    """Everything a replay knows, as plain values."""
    return {
        "t": rp.t, "order": rp._order,
        "tasks": {k: tuple(getattr(r, f) for f in RECORD) for k, r in rp.tasks.items()},
        "task_order": list(rp.tasks),
        "pools": {q: tuple(getattr(p, f) for f in POOL) for q, p in rp.pools.items()},
        "member_order": {q: list(p.members) for q, p in rp.pools.items()},
        "backlog_order": {q: list(p.backlog) for q, p in rp.pools.items()},
        "stacks": {k: list(v) for k, v in rp.stacks.items()},
        "waiting": {k: list(v) for k, v in rp.waiting.items()},
        "thread_waits": dict(rp.thread_waits),
        "anomalies": (rp.anomaly_count, list(rp.anomalies)),
        "lost": list(rp.lost), "dropped": rp.dropped,
        # Spans and waits compare field by field; the history's lists too.
        "history": None if rp.history is None else {
            f: getattr(rp.history, f) for f in HISTORY},
        "open": dict(rp._open), "last": dict(rp._last), "touched": list(rp._touched),
        "waits": list(rp.waits),
    }


@pytest.mark.parametrize("history", [False, True])
def test_a_synthetic_trace_gives_the_same_state(history):
    tr = synthetic_trace(3000, 16, seed=7)
    rp, applied = c_replay(tr.events, history=history)
    assert state(rp) == state(python_replay(tr.events, history))
    # The plain events went through C: all but the waits, retries and pool news.
    plain = sum(1 for e in tr if e.kind in ("enqueued", "executing", "complete", "error"))
    assert applied >= 0.9 * plain
    assert applied < len(tr)


WORKERS = [Worker("h", 1, f"Worker-{i}") for i in range(3)] + [Worker("h", 2, "Worker-1"), None]
KINDS = ["enqueued"] * 6 + ["executing"] * 6 + ["complete"] * 4 + ["error"] * 2 + [
    "block", "unblock", "retrying", "revoked", "scheduled", "lost", "worker_down", "pool",
    "consumer", "worker_up", "dropped", "expired"]


def random_events(rng, n):
    """Events in any order: plain ones, and all the cases C must leave alone
    (a task enqueued twice, started twice, ending while it waits, nested on
    a worker, a pipeline, a priority, an int time, a task without an id)."""
    ids = [f"t{i}" for i in range(8)]
    t = 0.0
    out = []
    for _ in range(n):
        kind = rng.choice(KINDS)
        t += rng.choice([0.0, 0.5, 1.0, 1.0, -0.25])
        task = rng.choice(ids + [None] if kind in ("block", "unblock") else ids)
        data = None
        roll = rng.random()
        if kind == "enqueued" and roll < 0.5:
            data = rng.choice([{}, {"args": "(1,)"}, {"parent": rng.choice(ids), "via": "get"},
                               {"then": [rng.choice(ids)]}, {"then": None},
                               {"priority": rng.choice([0, 3])}, {"args": "()", "priority": 0}])
        elif kind == "complete" and roll < 0.4:
            data = rng.choice([{}, {"stored": False}, {"stored": True}])
        elif kind == "error" and roll < 0.6:
            data = rng.choice([{}, {"error": "ValueError('x')"}])
        elif kind == "block":
            data = {"waits_on": rng.choice(ids), **({"timeout": 5.0} if roll < 0.2 else {})}
        elif kind == "unblock" and roll < 0.5:
            data = {"outcome": "timeout"}
        elif kind in ("pool", "consumer"):
            data = {"size": 2} if kind == "pool" else {"workers": 2}
        elif kind == "dropped":
            data = {"count": 3}
        queue = rng.choice([None, None, None, "other"])
        worker = rng.choice(WORKERS)
        tt = int(t) if roll > 0.97 else t
        out.append(Event(tt, kind, task, rng.choice(["job", None]), worker, data, queue))
    return out


@pytest.mark.parametrize("history", [False, True])
@pytest.mark.parametrize("seed", range(30))
def test_events_in_any_order_give_the_same_state(seed, history):
    rng = random.Random(seed)
    for _ in range(10):
        events = random_events(rng, rng.randint(1, 120))
        rp, applied = c_replay(events, cut=rng.randint(1, 40), history=history)
        assert state(rp) == state(python_replay(events, history)), events


@pytest.mark.parametrize("history", [False, True])
def test_the_fuzz_reaches_c(history):
    # The comparison above means something only if C took part of the events.
    rng = random.Random(0)
    taken = total = 0
    for _ in range(200):
        events = random_events(rng, 60)
        taken += c_replay(events, history=history)[1]
        total += len(events)
    assert 0.05 * total < taken < total


def test_an_overlay_with_a_chain_map_is_left_to_python():
    from collections import ChainMap
    rp = Replay()
    rp.tasks = ChainMap({}, rp.tasks)     # as the what-if overlay makes it
    e = Event(1.0, "enqueued", "a", "job", None, None, None)
    assert R._RUN(rp, [e], 0) == 0


def blocks_of(events, size):
    evs = list(events)
    return [evs[i:i + size] for i in range(0, len(evs), size)]


@pytest.mark.parametrize("seed,workers", [(3, 8), (11, 2)])
def test_diagnose_finds_the_same_with_and_without_c(monkeypatch, seed, workers):
    tr = synthetic_trace(2000, workers, seed=seed)
    # A knot at the end: every worker blocks on a task that never runs.
    t = tr.end
    tail = []
    pool = sorted({e.worker for e in tr if e.kind == "executing"}, key=str)
    for i, w in enumerate(pool):
        t += 0.01
        tail += [Event(t, "enqueued", f"k{i}", "outer", None, None, None),
                 Event(t + 0.001, "executing", f"k{i}", "outer", w, None, None),
                 Event(t + 0.002, "enqueued", f"c{i}", "inner", w, {"parent": f"k{i}"}, None),
                 Event(t + 0.003, "block", f"k{i}", "outer", w, {"waits_on": f"c{i}"}, None)]
    events = list(tr.events) + tail
    fast = diagnose_blocks(blocks_of(events, 500)).to_json()
    monkeypatch.setattr(hotpath, "enabled", False)
    slow = diagnose_blocks(blocks_of(events, 500)).to_json()
    assert fast == slow
    assert '"deadlock"' in fast


def test_a_build_that_does_not_know_the_fields_is_refused():
    # replay.py then runs in Python: a stale build never writes wrong slots.
    from hueyviz.analysis.replay import Span
    good = tuple(f.name for f in fields(TaskRecord))
    with pytest.raises(TypeError, match="fields"):
        R._compiled.Runner(TaskRecord, TaskRecord(""), Pool, Event, good + ("extra",),
                           History, Span)
    with pytest.raises(TypeError, match="prototype"):
        R._compiled.Runner(TaskRecord, Pool(None), Pool, Event, good, History, Span)
    plain = type("NotSlotted", (), dict.fromkeys(
        ["queue", "members", "declared", "backlog", "busy", "blocked"]))
    with pytest.raises(TypeError, match="not an object slot"):
        R._compiled.Runner(TaskRecord, TaskRecord(""), plain, Event, good, History, Span)
    with pytest.raises(AttributeError):
        R._compiled.Runner(TaskRecord, TaskRecord(""), dict, Event, good, History, Span)
