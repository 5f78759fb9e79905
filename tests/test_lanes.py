"""Worker lanes SVG: structure, verdict marks, scale, aggregation, determinism."""
from __future__ import annotations

import re

import pytest
from drawkit import (
    T0,
    by_class,
    deadlock_trace,
    many_workers_trace,
    parse,
    small_trace,
    tags,
    worker,
)
from synth import synthetic_trace

from hueyviz.analysis.detector import diagnose
from hueyviz.core.event import Event
from hueyviz.core.trace import Trace
from hueyviz.demo import run_demo
from hueyviz.render.lanes import render_lanes


@pytest.fixture(scope="module")
def demo():
    return run_demo(out=None, render=False)


def executions(trace) -> int:
    return sum(1 for e in trace if e.kind == "executing")


def test_demo_deadlock_shows_blocked_culprit_and_verdict(demo):
    assert demo.diagnosis.verdict == "deadlock"
    svg = render_lanes(demo.trace)
    root = parse(svg)
    assert len(by_class(root, "bar")) == executions(demo.trace)
    blocks = by_class(root, "block")
    assert blocks and re.search(r'fill="url\(#hv-hatch-[0-9a-f]{10}\)"', svg)
    culprit = by_class(root, "culprit")
    assert len(culprit) == 1
    c = demo.diagnosis.culprit
    title = culprit[0].find("{http://www.w3.org/2000/svg}title").text
    assert c.waits_on[:4] in title and "closed the deadlock" in title
    assert c.site in title                     # the call site is in the tooltip
    assert by_class(root, "verdict") and by_class(root, "v-deadlock")
    assert "deadlock at +" in svg


def test_small_trace_bars_outcomes_and_labels():
    tr = small_trace()
    root = parse(render_lanes(tr))
    bars = by_class(root, "bar")
    assert len(bars) == executions(tr) == 6
    outcomes = sorted(b.get("class").split()[1] for b in bars)
    assert outcomes == ["o-complete", "o-complete", "o-complete", "o-interrupted",
                        "o-retrying", "o-running"]
    assert len(by_class(root, "block")) == 1
    assert not by_class(root, "culprit") and not by_class(root, "verdict")
    assert by_class(root, "waitlink")           # arrow to the awaited child's bar
    assert len({b.get("id") for b in bars}) == len(bars)


def test_ids_are_content_derived():
    a = parse(render_lanes(small_trace()))
    b = parse(render_lanes(small_trace(), width=1400))
    ids = lambda r: sorted(el.get("id") for el in by_class(r, "block"))  # noqa: E731
    assert ids(a) == ids(b)


def test_empty_trace_renders():
    svg = render_lanes(Trace([]))
    parse(svg)
    assert "no events" in svg


def test_one_worker():
    w = worker(1)
    tr = Trace([Event(T0, "executing", "a", "only", w, None),
                Event(T0 + 1, "complete", "a", "only", w, None)])
    root = parse(render_lanes(tr))
    assert len(by_class(root, "bar")) == 1


def test_sixty_four_workers_each_get_a_lane():
    tr = many_workers_trace(64)
    svg = render_lanes(tr)
    root = parse(svg)
    assert len(by_class(root, "bar")) == 64
    assert svg.count("pid 10") == 8           # one group label per consumer


def test_deadlock_of_many_workers_marks_every_knot_wait():
    tr = deadlock_trace(4)
    d = diagnose(tr)
    assert d.verdict == "deadlock"
    root = parse(render_lanes(tr, diagnosis=d))
    assert len(by_class(root, "knot")) == 4
    assert len(by_class(root, "culprit")) == 1


def test_at_shows_the_past_with_a_cursor():
    tr = small_trace()
    svg = render_lanes(tr, at=T0 + 0.1)
    root = parse(svg)
    assert by_class(root, "cursor")
    assert len(by_class(root, "bar")) == 2     # only what had started by then


def test_spawn_and_queue_options():
    tr = small_trace()
    assert 'class="spawn"' in render_lanes(tr, show_spawn=True)
    assert 'class="spawn"' not in render_lanes(tr)
    assert 'class="qwait"' in render_lanes(tr)
    assert 'class="qwait"' not in render_lanes(tr, show_queue=False)


def test_big_trace_aggregates_and_stays_small():
    # The README's claim, as stated: 100k tasks stay under 0.5 MB.
    tr = synthetic_trace(100_000, 32, seed=2)
    svg = render_lanes(tr)
    root = parse(svg)
    assert by_class(root, "density")
    assert len(by_class(root, "bar")) < executions(tr) // 10
    assert len(svg.encode()) < 500_000
    assert "send_email" in svg                # the dominant task is still named


def test_deterministic_bytes():
    tr = synthetic_trace(2000, 8, seed=5)
    assert render_lanes(tr) == render_lanes(tr)
    assert render_lanes(small_trace()) == render_lanes(small_trace())


def test_hostile_names_are_text(tmp_path):
    tr = small_trace(name='<script>alert(1)</script>"&', wname="<b>W</b>",
                     message="]]></svg><script>x</script>")
    svg = render_lanes(tr)
    root = parse(svg)
    assert "script" not in tags(root)
    assert "<script>" not in svg


def test_colour_by_task_name_keeps_the_hatch_and_the_legend_of_states():
    from hueyviz.core.event import Event, Worker
    from hueyviz.core.trace import Trace
    from hueyviz.render import palette
    from hueyviz.render.lanes import render_lanes
    w = Worker("h", 1, "Worker-1")
    tr = Trace([Event(0.0, "executing", "a", "alpha", w, None),
                Event(1.0, "block", "a", "alpha", w, {"waits_on": "b"}),
                Event(2.0, "unblock", "a", "alpha", w, {"waits_on": "b"}),
                Event(3.0, "complete", "a", "alpha", w, None),
                Event(3.0, "executing", "b2", "beta", w, None),
                Event(4.0, "complete", "b2", "beta", w, None)])
    svg = render_lanes(tr, color_by="name")
    a, b = palette.NAME_COLOURS[:2]
    assert f'fill="{a}"' in svg and f'fill="{b}"' in svg
    assert "blocked on a result" in svg and ">alpha</text>" in svg
    assert svg != render_lanes(tr)
    with pytest.raises(ValueError):
        render_lanes(tr, color_by="rainbow")
