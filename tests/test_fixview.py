"""The fixes of ``advise``, shown: the widget's fixes panel (Python side),
``lanes-fix-<kind>.svg`` and the report's fixes table.  The browser side is
in test_browser.py; that each replayed verdict holds for real, in
test_advise.py and notebook 02."""
from __future__ import annotations

import hashlib
import json
import os
import re
from html.parser import HTMLParser

import pytest
import traitlets
from drawkit import parse

import hueyviz
from hueyviz import advise
from hueyviz.cli import main
from hueyviz.core.trace import Trace
from hueyviz.demo import run_demo
from hueyviz.render.export import FILES, MANIFEST, export_all
from hueyviz.render.fix import build_fixes_data, fix_file, fix_trace, render_fixes_table
from hueyviz.render.viewdata import build_view_data, decode_view_data
from hueyviz.widget import traceview
from hueyviz.widget.traceview import TraceView


class _Recorded:
    def __init__(self, trace):
        self.trace = trace


@pytest.fixture(scope="module")
def demo():
    """A real deadlock: two main tasks on two threaded workers, each blocked
    on a subtask that waits in the queue.  Its consumer is moved to start
    half a second before the first task arrives, as one that was running
    before the tasks came: the replays (which start at the first arrival)
    then have to be moved to line up."""
    tr = run_demo(out=None, render=False).trace
    early = tr.events[0].t - 0.5
    moved = [e._replace(t=early) if e.kind in ("consumer", "worker_up") else e
             for e in tr.events]
    return _Recorded(Trace(sorted(moved, key=lambda e: e.t), header=tr.header))


@pytest.fixture(scope="module")
def advice(demo):
    return advise(demo.trace)


def _first_enqueue(trace) -> float:
    return min(e.t for e in trace if e.kind == "enqueued")


# -- the replay on the recording's clock ----------------------------------------------
def test_each_replay_starts_where_the_recording_does(demo, advice):
    tr = demo.trace
    assert {f.kind for f in advice.fixes} >= {"workers", "sync", "pipeline", "timeout"}
    for f in advice.fixes:
        ft = fix_trace(f, tr)
        # the replay's first arrival is the recording's first (root) enqueue
        assert _first_enqueue(ft) == pytest.approx(_first_enqueue(tr), abs=1e-6), f.kind
        assert ft.header["clock"] == tr.header["clock"]
        # and its makespan counts from there
        if f.makespan is not None:
            last = max(e.t for e in ft if e.task is not None and e.kind != "enqueued")
            assert last - _first_enqueue(tr) == pytest.approx(f.makespan, abs=1e-6)


def test_fix_data_is_on_the_original_axis_and_sendable(demo, advice):
    base = build_view_data(demo.trace)
    panel = build_fixes_data(advice, demo.trace, base)
    json.dumps(panel, default=bytes.hex)                # JSON, and each replay's buffer
    assert panel["state"] == "ready" and panel["verdict"] == "deadlock"
    assert panel["origin"] == pytest.approx(_first_enqueue(demo.trace) - base["t0"], abs=1e-6)
    assert panel["origin"] == pytest.approx(0.5, abs=1e-6)
    assert [f["kind"] for f in panel["fixes"]] == [f.kind for f in advice.fixes]
    for f in panel["fixes"]:
        d = decode_view_data(f["data"])
        assert d["t0"] == base["t0"]                       # one axis
        assert "layout" not in d                          # lanes only: no graph layout
        enq = [x for x in d["tasks"]["enq"] if x is not None]
        assert min(enq) == pytest.approx(panel["origin"], abs=1e-6)
        # one task name, one colour, in the original and in every replay
        names = {base["strings"][int(i)]: c for i, c in base["name_colours"].items()}
        for i, c in d["name_colours"].items():
            name = d["strings"][int(i)]
            if name in names:
                assert c == names[name], (f["kind"], name)
    again = build_fixes_data(advice, demo.trace, build_view_data(demo.trace))
    assert json.dumps(again, sort_keys=True, default=bytes.hex) == \
        json.dumps(panel, sort_keys=True, default=bytes.hex)


# -- the widget -------------------------------------------------------------------------
def test_small_trace_opens_with_its_fixes_replayed(demo):
    view = TraceView(demo.trace, fix="pipeline")
    assert view.fixes["state"] == "ready" and view.advice is not None
    assert view.fix == "pipeline" and view.shown_fix()["kind"] == "pipeline"
    # at the end, the original is still stuck and the pipeline's replay is done
    st = view.status(view.data["t1"])
    assert st["verdict"] == "deadlock" and st["blocked"] == 2
    assert st["fix"]["kind"] == "pipeline" and st["fix"]["verdict"] == "ok"
    assert st["fix"]["busy"] == 0 and st["fix"]["blocked"] == 0
    assert "fix" not in TraceView(demo.trace).status()
    with pytest.raises(traitlets.TraitError, match="its fixes: workers"):
        view.fix = "magic"
    with pytest.raises(traitlets.TraitError, match="no fix 'magic'"):
        TraceView(demo.trace, fix="magic")


def test_fixes_false_means_no_panel_and_an_advice_is_shown_as_given(demo, advice):
    assert TraceView(demo.trace, fixes=False).fixes == {}
    view = TraceView(demo.trace, fixes=advice)
    assert view.advice is advice
    assert [f["kind"] for f in view.fixes["fixes"]] == [f.kind for f in advice.fixes]
    with pytest.raises(ValueError):
        TraceView(demo.trace, fixes="yes")


def test_big_trace_waits_for_the_button_then_replays_in_the_background(demo, monkeypatch):
    monkeypatch.setattr(traceview, "FIXES_AUTO_TASKS", 3)
    view = TraceView(demo.trace)
    assert view.fixes["state"] == "idle" and view.advice is None
    assert str(view.data["n_tasks"]) in view.fixes["why"]
    seen = []
    view.observe(lambda ch: seen.append(ch["new"].get("state")), names="fixes")
    view._on_msg(view, {"type": "advise"}, [])          # what the button sends
    view._advising.join(60)
    assert seen == ["computing", "ready"]
    assert view.advice is not None and view.fixes["events"] == len(demo.trace)
    # fixes=True replays whatever the size
    assert TraceView(demo.trace, fixes=True).fixes["state"] == "ready"


def test_a_failing_replay_says_why_in_the_panel(demo, monkeypatch):
    monkeypatch.setattr(traceview, "FIXES_AUTO_TASKS", 3)
    view = TraceView(demo.trace)

    def broken(trace):
        raise RuntimeError("<boom>")

    monkeypatch.setattr(traceview, "advise", broken)
    assert view.advise() is None
    assert view.fixes == {"state": "error", "tasks": view.data["n_tasks"],
                          "why": "<boom>"}


def test_live_view_offers_the_button(monkeypatch):
    from huey import MemoryHuey
    huey = MemoryHuey("fixview-live", utc=False)
    tracer = hueyviz.trace(huey)
    view = TraceView(tracer, interval=5)
    try:
        assert view.live and view.fixes["state"] == "idle" and "live" in view.fixes["why"]
    finally:
        view.stop()
        tracer.detach()


# -- hueyviz render --format fixes, report.html ------------------------------------------
def _ticks(svg: str) -> list:
    """(x, label) of each tick of the time axis."""
    return [(float(x), label) for x, label in
            re.findall(r'<text class="tick"[^>]* x="([^"]+)"[^>]*>([^<]+)</text>', svg)
            if not label.startswith("max ")]


def _caption(svg: str) -> str:
    return re.search(r"time axis relative to ([^<]+)<", svg).group(1)


def test_render_fixes_writes_each_fix_on_the_recording_axis(demo, advice, tmp_path, capsys):
    path = tmp_path / "trace.jsonl"
    demo.trace.save(str(path))
    out = tmp_path / "out"
    assert main(["render", str(path), "-o", str(out), "--format", "lanes,html,fixes"]) == 0
    printed = capsys.readouterr().out
    kinds = [f.kind for f in advice.fixes]
    names = [fix_file(k) for k in kinds]
    assert sorted(os.listdir(out)) == sorted(["lanes.svg", "report.html", MANIFEST, *names])
    manifest = json.loads((out / MANIFEST).read_text())
    lanes = (out / "lanes.svg").read_text()
    for kind, name in zip(kinds, names):
        data = (out / name).read_bytes()
        assert manifest["files"][name]["sha256"] == hashlib.sha256(data).hexdigest()
        assert f"wrote {out / name}" in printed
        svg = data.decode("utf-8")
        parse(svg)
        assert f"Fix {kind}, replayed (approximate simulation)" in svg
        # the same origin as lanes.svg: its ticks count from the recording's start
        assert _caption(svg) == _caption(lanes)
        # and, where the replay does not outlast the recording, the same ticks
        # at the same x: one instant is one x in both
        if kind != "timeout":
            mine, theirs = dict((b, a) for a, b in _ticks(svg)), dict((b, a) for a, b in _ticks(lanes))
            common = set(mine) & set(theirs)
            assert len(common) >= 3 and all(mine[k] == theirs[k] for k in common), kind
        else:
            assert _ticks(svg)[-1][0] > _ticks(lanes)[-1][0]     # a 2 s replay: longer axis
    report = (out / "report.html").read_text()
    assert '<h2 id="fixes">Fixes, replayed</h2>' in report
    assert all(f'data-kind="{k}"' in report for k in kinds)


def test_all_leaves_the_fixes_out_and_the_report_points_at_them(demo, tmp_path):
    export_all(demo.trace, tmp_path)
    assert sorted(os.listdir(tmp_path)) == sorted((*FILES, MANIFEST))
    report = (tmp_path / "report.html").read_text()
    assert "hueyviz render --format all,fixes" in report and "<table" not in report


def test_fix_files_are_deterministic(demo, advice, tmp_path):
    export_all(demo.trace, tmp_path / "a", formats="fixes", advice=advice)
    export_all(demo.trace, tmp_path / "b", formats="fixes")      # advised again
    for name in sorted(os.listdir(tmp_path / "a")):
        if name != MANIFEST:
            assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = set()

    def handle_starttag(self, tag, attrs):
        self.tags.add(tag)


def test_the_fixes_table_and_the_advice_display_escape_what_user_code_named():
    from hueyviz.core.event import Event, Worker
    w = Worker("h", 1, "W1")
    bad = '<script>alert(1)</script>"]; x -> y ['
    child = "</td><img src=x onerror=alert(1)>"
    events = [Event(0.0, "pool", None, None, None, {"size": 1}),
              Event(0.0, "enqueued", "p", bad, None, None),
              Event(0.0, "executing", "p", bad, w, None),
              Event(1.0, "enqueued", "c", child, w, {"parent": "p"}),
              Event(1.0, "block", "p", bad, w, {"waits_on": "c", "site": bad})]
    a = advise(events)
    html = render_fixes_table(a, style=True)
    p = _Tags()
    p.feed(html)
    assert p.tags <= {"style", "table", "caption", "thead", "tbody", "tr", "th", "td", "span",
                      "b", "br", "code"}, p.tags
    assert "&lt;script&gt;" in html and "onerror" not in html.replace("&lt;img src=x onerror", "")
    bundle = a._repr_mimebundle_()
    assert bundle["text/html"] == html and bundle["text/plain"] == str(a)
