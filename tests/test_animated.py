"""The self-playing SVG: script-free, self-contained, looping, bounded."""
from __future__ import annotations

import re

import pytest
from drawkit import by_class, parse, small_trace, tags
from synth import synthetic_trace

from hueyviz.core.trace import Trace
from hueyviz.demo import run_demo
from hueyviz.render.animated import MAX_FRAMES, render_animated


@pytest.fixture(scope="module")
def demo():
    return run_demo(out=None, render=False)


def self_contained(svg: str) -> None:
    root = parse(svg)
    assert "script" not in tags(root) and "foreignObject" not in tags(root)
    assert not re.search(r"\bon[a-z]+\s*=", svg)           # no event handlers
    refs = re.findall(r'href="([^"]*)"', svg)
    assert all(r.startswith(("data:", "#")) for r in refs)
    assert "url(http" not in svg and "@import" not in svg


def test_demo_replay_loops_and_lights_the_culprit(demo):
    svg = render_animated(demo.trace, demo.diagnosis)
    self_contained(svg)
    root = parse(svg)
    assert 'repeatCount="indefinite"' in svg
    assert set(re.findall(r'dur="([\d.]+)s"', svg)) == {"13"}
    assert by_class(root, "culprit") and by_class(root, "culprit-flash")
    frames = by_class(root, "frame")
    assert 2 <= len(frames) <= MAX_FRAMES
    assert sum(1 for f in frames if f.get("opacity") == "1") == 1   # static view: the end
    assert "hv-wipe" in svg


def test_duration_is_honoured():
    svg = render_animated(small_trace(), duration=8)
    assert set(re.findall(r'dur="([\d.]+)s"', svg)) == {"8"}


def test_key_times_increase():
    svg = render_animated(small_trace())
    for kt in re.findall(r'keyTimes="([^"]+)"', svg):
        ks = [float(x) for x in kt.split(";")]
        assert ks[0] == 0 and all(a < b for a, b in zip(ks, ks[1:])) and ks[-1] <= 1


def test_empty_trace():
    svg = render_animated(Trace([]))
    parse(svg)
    assert "no events" in svg


def test_big_trace_animates_a_bounded_number_of_elements():
    tr = synthetic_trace(20_000, 16, seed=4)
    svg = render_animated(tr)
    self_contained(svg)
    assert svg.count("<animate") <= 20
    assert len(svg.encode()) < 500_000       # as small as the lanes of 100k tasks


def test_deterministic(demo):
    assert render_animated(demo.trace) == render_animated(demo.trace)
