"""Every view of a real trace agrees with the one replay on the state of every
task at a sample of instants: lanes, the render timeline, the widget's data
and the what-if scripts are all read off the same history."""
import bisect

import pytest

import hueyviz
from hueyviz import diagnose
from hueyviz.analysis.detector import analyse
from hueyviz.analysis.replay import state_at
from hueyviz.analysis.simulation import build_scripts
from hueyviz.demo import build_huey
from hueyviz.render.timeline import build_timeline
from hueyviz.render.viewdata import build_view_data, decode_view_data, state_name


@pytest.fixture(scope="module")
def real_trace():
    """The classic workload on 3 workers (ok), with nested waits, then a
    deadlocked second batch on the same pool: every state occurs."""
    from conftest import Running
    huey = build_huey("agreement", subtasks=2, work=0.005)
    main = huey.demo_tasks["main_task"]
    run = Running(huey, 3)
    with hueyviz.trace(huey, capture_args=True) as tracer:
        first = [main(u) for u in ("a", "b")]
        run.start()
        assert run.wait_results(first, timeout=20)
        second = [main(u) for u in ("c", "d", "e")]
        run.results.extend(second)
        assert tracer.wait_for(lambda tr: diagnose(tr).verdict == "deadlock", timeout=20)
        tr = tracer.trace
    run.stop()
    return tr


def _instants(tr, n=40):
    times = sorted({e.t for e in tr})
    step = max(1, len(times) // n)
    picks = times[::step] + [times[-1]]
    # Also just before and between events, where nothing changes.
    mids = [(a + b) / 2 for a, b in zip(picks, picks[1:])]
    return sorted(set(picks + mids))


def test_lanes_and_timeline_agree_with_the_replay(real_trace):
    tr = real_trace
    lanes = tr.lanes()
    tl = build_timeline(tr)
    spans = [sp for ln in lanes.values() for sp in ln.spans]
    bars = tl.bars
    end = tr.end
    for t in _instants(tr):
        st = state_at(tr.events, t)
        running = {sp.task for sp in spans
                   if sp.start <= t and (sp.end is None or t < sp.end)}
        blocked = {sp.task for sp in spans
                   if any(w.since <= t and (w.until is None or t < w.until) for w in sp.blocked)}
        bar_running = {b.task for b in bars if b.start <= t and (t < b.end or
                                                                (b.open and t <= end))}
        for tid, rec in st.tasks.items():
            if rec.state == "running":
                assert tid in running and tid in bar_running and tid not in blocked, (t, tid)
            elif rec.state == "blocked":
                assert tid in running and tid in blocked and tid in bar_running, (t, tid)
            else:
                assert tid not in running or (rec.state == "finished" and rec.finished == t), \
                    (t, tid, rec.state)


def test_the_widget_data_gives_the_replays_state(real_trace):
    """What the browser looks up (the last change at or before t, in the
    packed columns, decoded) is the replay's state at t; the browser never
    interprets events."""
    tr = real_trace
    data = decode_view_data(build_view_data(tr, layout=False))
    t0 = data["t0"]
    ids = data["tasks"]["id"]
    ch = data["changes"]
    strings = data["strings"]
    for t in _instants(tr):
        st = state_at(tr.events, t)
        rel = round(t - t0, 6)
        for i, tid in enumerate(ids):
            a, b = ch["start"][i], ch["start"][i + 1]
            k = bisect.bisect_right(ch["t"][a:b], rel + 1e-9) - 1
            shown = strings[ch["state"][a + k]] if k >= 0 else "not yet enqueued"
            rec = st.tasks.get(tid)
            want = "not yet enqueued" if rec is None or rec.state == "unknown" else (
                state_name(f"finished:{rec.outcome}") if rec.state == "finished" else rec.state)
            assert shown == want, (t, tid, shown, want)


def test_whatif_scripts_are_the_lanes_minus_the_waits(real_trace):
    tr = real_trace
    a = analyse(tr)
    scripts, _ = build_scripts(a)
    by_task = {}
    for sp in a.history.spans:
        by_task.setdefault(sp.task, []).append(sp)
    for tid, s in scripts.items():
        if not s.ran:
            assert tid not in by_task
            continue
        own = 0.0
        for sp in by_task[tid]:
            stop = sp.end if sp.end is not None else a.replay.t
            waited = sum(min(w.until if w.until is not None else stop, stop) - w.since
                         for w in sp.blocked)
            own += stop - sp.start - waited
        assert s.own == pytest.approx(own, abs=1e-9), tid
        # Its waits, and its reads that found the result at once, in order.
        waits = [arg for _, k, arg, _ in s.steps if k == "wait"]
        reads = [w for w in a.history.reads if w.waiter == tid]
        got = sorted([w for sp in by_task[tid] for w in sp.blocked] + reads,
                      key=lambda w: w.since)
        assert waits == [w.waits_on for w in got]


def test_the_state_at_the_end_is_the_analysis_replay(real_trace):
    """``Trace.state_at`` at (or after) the end reads the analysis' replay
    instead of replaying again: it must be the state a fresh replay reaches."""
    from hueyviz import Trace
    tr = Trace(list(real_trace.events), header=real_trace.header)   # nothing cached
    fresh = state_at(tr.events, None)
    for t in (None, tr.end, tr.end + 1.0):
        got = tr.state_at(t)
        assert got.tasks == fresh.tasks and got.pools == fresh.pools
        assert got.thread_waits == fresh.thread_waits and got.positions == fresh.positions
        assert got.t == (fresh.t if t is None else t)
    # The analysis' replay is fed no more: its records are shared, not
    # copied (a million of them took seconds), read-only like every view.
    rec = next(iter(tr.state_at(None).tasks.values()))
    assert rec is analyse(tr).replay.tasks[rec.id]
    # A state before the end is a replay of its own.
    early = tr.state_at(tr.start)
    assert all(r is not analyse(tr).replay.tasks[r.id] for r in early.tasks.values())
