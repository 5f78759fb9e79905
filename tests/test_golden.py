"""Golden files: every renderer's output for small fixed traces, byte for byte.

When a drawing changes on purpose, look at the new picture, then regenerate:

    UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_golden.py

and commit the changed ``tests/golden/*`` with the change that caused it.
Regenerating reports each file it wrote as skipped (it compared nothing);
a golden file that is missing is a failure, never silently written.

Graphviz output is pinned to the in-process engine (``HUEYVIZ_GRAPHVIZ=wasm``):
the system ``dot`` measures text differently from machine to machine.

Determinism across processes: the same cases are rendered in two fresh
interpreters with different ``PYTHONHASHSEED`` values, which must agree
with each other and with the golden files (set and dict order must never
leak into an output).
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from drawkit import T0, deadlock_trace, small_trace

from hueyviz.render.animated import render_animated
from hueyviz.render.lanes import render_lanes
from hueyviz.render.perfetto import render_perfetto
from hueyviz.render.report import render_report
from hueyviz.render.waitfor import render_waitfor

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "lanes_small.svg": lambda: render_lanes(small_trace()),
    "lanes_small_spawn.svg": lambda: render_lanes(small_trace(), show_spawn=True, width=720),
    "lanes_deadlock.svg": lambda: render_lanes(deadlock_trace(3)),
    "waitfor_deadlock.svg": lambda: render_waitfor(deadlock_trace(3)),
    "waitfor_small.svg": lambda: render_waitfor(small_trace(), at=T0 + 0.1),
    "animated_deadlock.svg": lambda: render_animated(deadlock_trace(2)),
    "report_deadlock.html": lambda: render_report(deadlock_trace(2)),
    "perfetto_small.json": lambda: render_perfetto(small_trace()),
    "perfetto_deadlock.json": lambda: render_perfetto(deadlock_trace(2)),
}


@pytest.fixture(autouse=True)
def wasm_engine(monkeypatch):
    monkeypatch.setenv("HUEYVIZ_GRAPHVIZ", "wasm")


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name):
    got = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        GOLDEN.mkdir(exist_ok=True)
        path.write_text(got, encoding="utf-8")
        pytest.skip(f"regenerated {path.name}: look at it, then commit it")
    assert path.exists(), (f"golden file {path} is missing; write it with "
                           "UPDATE_GOLDEN=1 pytest tests/test_golden.py, look at it, commit it")
    assert got == path.read_text(encoding="utf-8"), (
        f"{name} changed; if intended, regenerate with UPDATE_GOLDEN=1 pytest tests/test_golden.py")


def test_every_golden_file_is_a_case():
    assert sorted(p.name for p in GOLDEN.iterdir()) == sorted(CASES)


_RENDER_ALL = """
import hashlib, json, sys
sys.path.insert(0, {tests!r})
import test_golden
print(json.dumps({{name: hashlib.sha256(make().encode()).hexdigest()
                  for name, make in sorted(test_golden.CASES.items())}}))
"""


def _digests(seed: str) -> dict:
    env = dict(os.environ, PYTHONHASHSEED=seed, HUEYVIZ_GRAPHVIZ="wasm")
    proc = subprocess.run([sys.executable, "-c", _RENDER_ALL.format(tests=str(GOLDEN.parent))],
                          env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_same_bytes_across_hash_seeds():
    a, b = _digests("1"), _digests("4242")
    assert a == b, sorted(k for k in a if a[k] != b.get(k))
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in GOLDEN.iterdir()}
    assert a == files, sorted(k for k in a if a[k] != files.get(k))
