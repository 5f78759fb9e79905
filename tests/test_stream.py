"""The compact file (.jsonl.gz) and the streaming diagnosis give the same
findings as loading the whole trace, on the same traces."""
import json
import os
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hueyviz import Trace, diagnose
from hueyviz.analysis import detector
from hueyviz.analysis.detector import diagnose_stream
from hueyviz.cli import main
from hueyviz.core.errors import TraceFormatError
from hueyviz.core.event import Event
from hueyviz.core.jsonl import time_sorted
from hueyviz.core.trace import TraceWarning
from hueyviz.demo import run_demo

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "bench"))
from story import Story, attached_late
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
def test_streaming_diagnosis_equals_the_full_one(traces, name, monkeypatch):
    # Settled tasks forgotten every 100 events (not 50000): the eviction runs.
    monkeypatch.setattr(detector, "_SETTLE_MIN", 100)
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


def test_a_cut_gzip_keeps_the_events_before_the_cut(traces, tmp_path, capsys):
    """A recorder killed while writing .jsonl.gz leaves no end-of-stream
    marker: what was complete before the cut is loaded, with a note."""
    tr = traces["synthetic"]
    path = tmp_path / "cut.jsonl.gz"
    tr.save(path)
    data = path.read_bytes()
    path.write_bytes(data[:len(data) // 2])
    with pytest.warns(TraceWarning, match="compressed file is truncated"):
        back = Trace.load(path)
    assert 0 < len(back) < len(tr)
    assert list(back) == list(tr)[:len(back)]
    assert main(["diagnose", str(path)]) in (0, 1)
    assert "compressed file is truncated" in capsys.readouterr().err


def test_a_gz_name_on_a_file_that_is_not_gzip_is_bad_input(traces, tmp_path, capsys):
    path = tmp_path / "plain.jsonl.gz"
    traces["demo"].save(tmp_path / "plain.jsonl")
    os.rename(tmp_path / "plain.jsonl", path)
    assert main(["diagnose", str(path)]) == 2
    err = capsys.readouterr().err
    assert "not a readable gzip file" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(TraceFormatError, match="not a readable gzip file"):
        Trace.load(path)


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


def test_a_stream_holds_the_work_in_flight_not_the_stream(monkeypatch):
    """Settled tasks are forgotten: the replay's size stays flat as the
    stream grows, and the verdict counts every task."""
    monkeypatch.setattr(detector, "_SETTLE_MIN", 1000)
    sizes = []
    real = detector._Detector.settle

    def watched(self, fed=1):
        real(self, fed)
        sizes.append(len(self.rp.tasks))
    monkeypatch.setattr(detector._Detector, "settle", watched)
    tr = synthetic_trace(20_000, 8, seed=2)
    d = diagnose_stream(iter(tr.events))
    assert d.to_dict() == diagnose(tr).to_dict()
    # The work in flight (queued, running, unsettled) plus what came since
    # the last eviction: a fraction of the 20k tasks the stream held.
    assert max(sizes) < 20_000 // 3


def test_time_sorted_is_stable_and_counts_what_came_too_late():
    ev = [Event(float(t), "alive", None, None, None, {"sent": i}) for i, t in
          enumerate([1, 3, 2, 2, 5, 4, 0])]
    late = [0]
    out = list(time_sorted(ev, window=2, counter=late))
    assert [e.t for e in out] == [1, 2, 2, 3, 0, 4, 5]
    assert late == [1]                     # t=0 came after t=3 was released
    assert [e.get("sent") for e in out if e.t == 2] == [2, 3]
    assert [e.t for e in time_sorted(ev, window=100)] == sorted(e.t for e in ev)


def _reference_sort(ts, window):
    """The windowed sort written the obvious way, for comparison."""
    held, out, late, released = [], [], 0, float("-inf")
    for n, t in enumerate(ts):
        held.append((t, n))
        if len(held) > window:
            held.sort()
            t0, n0 = held.pop(0)
            late += t0 < released
            released = max(released, t0)
            out.append(n0)
    for t0, n0 in sorted(held):
        late += t0 < released
        released = max(released, t0)
        out.append(n0)
    return out, late


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 12), max_size=40), st.integers(1, 6))
def test_time_sorted_matches_the_obvious_windowed_sort(ts, window):
    """In order or not, from the first event or the last, the FIFO that
    becomes a heap releases what the obvious sort releases, and counts the
    same events as too late."""
    ev = [Event(float(t), "alive", None, None, None, {"sent": i}) for i, t in enumerate(ts)]
    late = [0]
    got = [e.get("sent") for e in time_sorted(ev, window=window, counter=late)]
    assert (got, late[0]) == _reference_sort(ts, window)


def test_follow_prints_findings_as_they_form_and_withdraws_disproved_ones(tmp_path, capsys):
    """huey #618 as events: a consumer already running (no announcement);
    each main blocks before the next starts.  Followed, the first knot (on
    the one worker seen) is withdrawn when the next worker acts, and the
    fourth wait's knot stays."""
    s = attached_late(4)
    path = tmp_path / "late.jsonl"
    Trace(s.events).save(path)
    rc = main(["follow", str(path), "--from-start", "--duration", "0.5", "--json"])
    lines = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert rc == 1
    kinds = [(x["event"], x.get("finding", {}).get("culprit", {}).get("waiter")) for x in lines]
    assert kinds[-1] == ("end", None) and ("new", "main3") in kinds
    end = lines[-1]["diagnosis"]
    assert end["verdict"] == "deadlock" and end["culprit"]["waiter"] == "main3"
    assert end["workers"] == {"total": 4, "blocked": 4}


def test_live_diagnosis_says_new_then_withdrawn_as_events_arrive():
    from hueyviz.analysis.detector import LiveDiagnosis
    s = Story(2, announce=False)
    s.start("m0", 0)
    s.enqueue("s0", parent="m0", by=0)
    s.block("m0", "s0", 0)
    s.start("m1", 1)                      # a worker nobody had seen: the pool was bigger
    s.enqueue("s1", parent="m1", by=1)
    s.block("m1", "s1", 1)
    live = LiveDiagnosis()
    said = [(what, f.culprit.waiter) for e in s.events for what, f in live.feed([e])]
    assert said == [("new", "m0"), ("withdrawn", "m0"), ("new", "m1")]
    d = live.diagnosis()
    assert d.verdict == "deadlock" and d.culprit.waiter == "m1" and not d.exact
