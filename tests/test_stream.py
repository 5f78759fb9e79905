"""The compact file (.jsonl.gz) and the streaming diagnosis give the same
findings as loading the whole trace, on the same traces."""
import json
import os
import sys

import pytest

from hueyviz import Trace, diagnose
from hueyviz.analysis.detector import diagnose_stream
from hueyviz.cli import main
from hueyviz.core.event import Event
from hueyviz.core.jsonl import time_sorted
from hueyviz.demo import run_demo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
from story import Story
from synth import synthetic_trace


def _traces():
    demo = run_demo(out=None, render=False, workers=2).trace
    s = Story(2)
    s.start("m", 0)
    s.enqueue("c", parent="m", by=0)
    s.block("m", "c", 0, timeout=3.0)
    s.kind("dropped", count=4)
    s.start("c", 1)
    s.finish("c", w=1, stored=False)
    return {"demo": demo, "synthetic": synthetic_trace(3000, 8, seed=4),
            "stall-and-losses": Trace(s.events, dropped=2)}


@pytest.fixture(scope="module")
def traces():
    return _traces()


@pytest.mark.parametrize("name", ["demo", "synthetic", "stall-and-losses"])
def test_streaming_diagnosis_equals_the_full_one(traces, name):
    tr = traces[name]
    full = diagnose(tr).to_dict()
    streamed = diagnose_stream(iter(tr.events), unlogged=lambda: tr.unlogged).to_dict()
    assert streamed == full


@pytest.mark.parametrize("name", ["demo", "synthetic", "stall-and-losses"])
def test_gzip_round_trip_and_cli_stream_give_the_same_json(traces, name, tmp_path, capsys):
    tr = traces[name]
    plain, packed = tmp_path / "t.jsonl", tmp_path / "t.jsonl.gz"
    tr.save(plain)
    tr.save(packed)
    assert packed.read_bytes()[:2] == b"\x1f\x8b"              # gzip
    assert os.path.getsize(packed) < os.path.getsize(plain)
    back = Trace.load(packed)
    assert back == Trace.load(plain) and back.dropped == tr.dropped
    outs = []
    for path in (plain, packed):
        rc = main(["diagnose", str(path), "--json"])             # the streaming path
        outs.append((rc, json.loads(capsys.readouterr().out)))
    # --from 0 takes the path that loads the whole trace
    rc = main(["diagnose", str(plain), "--json", "--from", "0"])
    outs.append((rc, json.loads(capsys.readouterr().out)))
    assert outs[0] == outs[1] == outs[2]
    assert outs[0][1] == json.loads(json.dumps(diagnose(tr).to_dict()))


def test_a_shuffled_file_is_put_in_order_with_a_warning(traces, tmp_path, capsys):
    tr = traces["demo"]
    path = tmp_path / "rev.jsonl"
    Trace(tr.events).save(path)
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0]] + lines[1:][::-1]) + "\n")
    assert main(["diagnose", str(path), "--json"]) == 1
    out, err = capsys.readouterr()
    assert json.loads(out)["verdict"] == diagnose(tr).verdict == "deadlock"
    assert json.loads(out)["culprit"] == diagnose(tr).to_dict()["culprit"]
    assert "out of time order" in err


def test_time_sorted_is_stable_and_counts_what_came_too_late():
    ev = [Event(float(t), "alive", None, None, None, {"sent": i}) for i, t in
          enumerate([1, 3, 2, 2, 5, 4, 0])]
    late = [0]
    out = list(time_sorted(ev, window=2, counter=late))
    assert [e.t for e in out] == [1, 2, 2, 3, 0, 4, 5]
    assert late == [1]                     # t=0 came after t=3 was released
    assert [e.get("sent") for e in out if e.t == 2] == [2, 3]
    assert [e.t for e in time_sorted(ev, window=100)] == sorted(e.t for e in ev)
