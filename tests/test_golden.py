"""Golden files: the lanes of a small fixed trace, byte for byte.

When a drawing changes on purpose, look at the new picture, then regenerate:

    UPDATE_GOLDEN=1 pytest tests/test_golden.py

and commit the changed ``tests/golden/*.svg`` with the change that caused it.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from drawkit import deadlock_trace, small_trace

from hueyviz.render.lanes import render_lanes

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "lanes_small.svg": lambda: render_lanes(small_trace()),
    "lanes_small_spawn.svg": lambda: render_lanes(small_trace(), show_spawn=True, width=720),
    "lanes_deadlock.svg": lambda: render_lanes(deadlock_trace(3)),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    got = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1" or not path.exists():
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
        if os.environ.get("UPDATE_GOLDEN") != "1":
            pytest.skip(f"wrote missing golden file {path.name}")
    assert got == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1 pytest tests/test_golden.py")
