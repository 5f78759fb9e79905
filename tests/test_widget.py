"""TraceView (Python side): the model sent to the browser, the static
fallback, and following a live tracer.  The browser side is in
test_browser.py."""
from __future__ import annotations

import json

import pytest
from huey import MemoryHuey

import hueyviz
from hueyviz.core.event import Event, Worker
from hueyviz.core.trace import Trace
from hueyviz.render.viewdata import build_layout, build_view_data, decode_view_data
from hueyviz.widget.traceview import TraceView

W1, W2 = Worker("h", 1, "Worker-1"), Worker("h", 1, "Worker-2")


def deadlock_events(name="main"):
    return [Event(0.0, "worker_up", None, None, W1, None),
            Event(0.0, "worker_up", None, None, W2, None),
            Event(1.0, "executing", "m1", name, W1, None),
            Event(1.5, "executing", "m2", name, W2, None),
            Event(2.0, "enqueued", "s1", "sub", W1, {"parent": "m1", "args": "(1,)"}),
            Event(2.0, "block", "m1", name, W1, {"waits_on": "s1", "site": "app.py:3 in main"}),
            Event(3.0, "enqueued", "s2", "sub", W2, {"parent": "m2"}),
            Event(3.0, "block", "m2", name, W2, {"waits_on": "s2", "site": "app.py:3 in main"})]


def test_view_data_is_columnar_relative_and_json():
    packed = build_view_data(deadlock_events())
    meta = {k: v for k, v in packed.items() if k != "buffer"}
    json.dumps(meta)                                    # JSON and one buffer
    assert isinstance(packed["buffer"], bytes) and packed["version"] == 3
    data = decode_view_data(packed)
    assert data["t0"] == 0.0 and data["t1"] == 3.0
    assert data["workers"] == ["Worker-1", "Worker-2"]
    tasks = data["tasks"]
    assert tasks["id"] == ["m1", "m2", "s1", "s2"]
    assert [data["strings"][i] for i in tasks["name"]] == ["main", "main", "sub", "sub"]
    assert tasks["args"][2] == "(1,)" and tasks["parent"][2] == 0
    assert data["spans"]["start"] == [1.0, 1.5] and data["spans"]["end"] == [None, None]
    assert data["waits"]["waiter"] == [0, 1] and data["waits"]["target"] == [2, 3]
    assert data["times"] == [0.0, 1.0, 1.5, 2.0, 3.0]
    d = data["diagnosis"]
    assert d["verdict"] == "deadlock" and d["at"] == 3.0
    assert d["culprit"]["waiter"] == 1 and d["culprit"]["target"] == 3
    assert set(d["knot"]) == {0, 1, 2, 3}
    assert data["palette"]["culprit"] == hueyviz.render.palette.CULPRIT


def test_view_data_is_deterministic():
    a = build_view_data(deadlock_events())
    b = build_view_data(deadlock_events())
    assert a["buffer"] == b["buffer"]
    assert json.dumps(a, sort_keys=True, default=bytes.hex) == json.dumps(b, sort_keys=True, default=bytes.hex)


def test_layout_covers_workers_and_wait_endpoints():
    data = build_view_data(deadlock_events())
    pos = data["layout"]["pos"]
    assert {"w0", "w1", "t0", "t1", "t2", "t3"} == set(pos)
    # workers left of what they hold, waiters left of what they wait for
    assert pos["w0"][0] < pos["t0"][0] < pos["t2"][0]


def test_big_layout_is_bounded_by_workers_and_depth():
    ev = [Event(0.0, "worker_up", None, None, W1, None)]
    for i in range(400):
        ev += [Event(i + 0.1, "executing", f"m{i}", "main", W1, None),
               Event(i + 0.2, "block", f"m{i}", "main", W1, {"waits_on": f"s{i}"}),
               Event(i + 0.3, "complete", f"s{i}", "sub", W2, None),
               Event(i + 0.4, "unblock", f"m{i}", "main", W1, {"waits_on": f"s{i}"}),
               Event(i + 0.5, "complete", f"m{i}", "main", W1, None)]
    data = decode_view_data(build_view_data(ev, layout=False))
    lay = build_layout(data)
    assert lay["engine"] == "layered"
    assert lay["height"] < 200 and lay["width"] < 800      # 2 worker rows, 3 columns


def test_empty_trace_renders():
    view = TraceView(Trace())
    assert view.data["t1"] == 0.0 and view.data["diagnosis"]["verdict"] == "ok"
    assert view._repr_mimebundle_()["text/plain"].startswith("No events")


def test_mimebundle_falls_back_to_svg_and_text():
    view = TraceView(Trace(deadlock_events("<script>alert(1)</script>")))
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"] == hueyviz.diagnose(view.trace).message
    svg = bundle["image/svg+xml"]
    assert svg.startswith("<svg") and svg.count("<svg") >= 3   # outer + lanes + wait-for
    assert "<script>" not in svg                                # names are escaped
    assert view.t == 3.0                                       # opens at the finding


@pytest.fixture
def traced():
    """A traced MemoryHuey and ``run_one()``, which enqueues a task and
    executes it here (3 events)."""
    huey = MemoryHuey("widget-live", utc=False)

    @huey.task()
    def job(i):
        return i

    def run_one():
        job(1)
        huey.execute(huey.dequeue())

    tracer = hueyviz.trace(huey)
    yield tracer, run_one
    tracer.detach()


def test_live_view_follows_a_tracer_and_stops(traced):
    tracer, run_one = traced
    view = TraceView(tracer, interval=0.05)
    try:
        assert view.live and view.data["n_events"] == 0
        run_one()
        assert view.wait_for(lambda tr: any(e.kind == "complete" for e in tr), timeout=10)
        assert view.data["n_events"] == 3
        assert len(view.decoded()["spans"]["task"]) == 1
    finally:
        view.close()
    assert view._stop.is_set()
    view.stop()
    assert not view.live and view._thread is None


def test_a_trace_too_big_for_the_browser_is_refused_with_what_to_do():
    events = deadlock_events()
    with pytest.raises(ValueError, match=r"8 events and the view takes at most 7 .*hueyviz render"):
        TraceView(events, max_events=7)
    assert TraceView(events, max_events=8).data["n_events"] == 8


def test_a_live_view_stops_following_when_it_outgrows_the_browser(traced):
    tracer, run_one = traced
    view = TraceView(tracer, interval=60, max_events=2)     # refreshed by hand here
    try:
        assert view.live and view.data["n_events"] == 0
        run_one()                                           # 3 events
        with pytest.warns(RuntimeWarning, match="stopped following: the trace has 3 events"):
            assert view.refresh() is False
        assert not view.live and view._stop.is_set() and view._thread is None
        assert view.data["n_events"] == 0 and len(view.trace) == 0    # what it showed stays
    finally:
        view.close()


def test_static_view_does_not_start_a_thread():
    view = TraceView(deadlock_events())
    assert not view.live and view._thread is None
    assert view.wait_for(lambda tr: False, timeout=0.01) is False


@pytest.mark.parametrize("source", [Trace(deadlock_events()), deadlock_events()])
def test_accepts_trace_or_events(source):
    assert TraceView(source).data["diagnosis"]["verdict"] == "deadlock"


def test_view_data_has_lanes_pools_status_findings_windows():
    ev = deadlock_events()
    data = decode_view_data(build_view_data(ev))
    assert data["lanes"]["label"] == ["Worker-1", "Worker-2"]
    assert data["pools"][0]["workers"] == [0, 1]
    st = data["status"]
    assert (st["size"][-1], st["busy"][-1], st["blocked"][-1]) == (2, 2, 2)
    f = data["findings"][0]
    assert f["verdict"] == "deadlock" and f["until"] is None and f["stuck"]
    w = data["windows"]
    assert w["all"] == [0.0, 3.0] and w["activity"][0] > 0.5 and w["finding"][0] <= 1.0
    assert set(data["name_colours"].values()) <= set(hueyviz.render.palette.NAME_COLOURS)


def test_restarted_consumer_lanes_say_which_process_and_n_counts_the_live_pool():
    a, b = Worker("h", 1, "Worker-1"), Worker("h", 2, "Worker-1")
    ev = [Event(0.0, "consumer", None, None, None, {"workers": 1}),
          Event(0.0, "worker_up", None, None, a, None),
          Event(1.0, "executing", "m1", "main", a, None),
          Event(1.1, "block", "m1", "main", a, {"waits_on": "s1"}),
          Event(1.1, "enqueued", "s1", "sub", a, {"parent": "m1"}),
          Event(2.0, "lost", None, None, a, None),
          Event(3.0, "consumer", None, None, None, {"workers": 1}),
          Event(3.0, "worker_up", None, None, b, None),
          Event(4.0, "executing", "m2", "main", b, None)]
    view = TraceView(ev)
    assert view.status()["lanes"] == ["Worker-1 · pid 1", "Worker-1 · pid 2"]
    assert view.status(1.5)["workers"] == 1 and view.status(1.5)["verdict"] == "deadlock"
    assert view.status(4.5 - view.data["t0"])["workers"] == 1      # not 2: the first was lost
    assert view.status(4.0)["verdict"] == "ok"                     # that knot is over
    assert view.data["findings"][0]["until"] == 2.0


def test_long_idle_start_opens_on_the_activity():
    ev = [Event(0.0, "consumer", None, None, None, {"workers": 1}),
          Event(10.0, "enqueued", "a", "job", None, None),
          Event(10.1, "executing", "a", "job", W1, None),
          Event(10.2, "complete", "a", "job", W1, None)]
    view = TraceView(ev)
    assert view.window and 9.0 < view.window[0] < 10.0 and view.window[1] == pytest.approx(10.2)
    assert TraceView(ev, window=(0, 1)).window == [0.0, 1.0]
    with pytest.raises(ValueError):
        TraceView(ev, color_by="rainbow")


def test_a_huey_is_followed_from_now_on():
    huey = MemoryHuey("widget-since", utc=False)

    @huey.task()
    def job(i):
        return i

    hueyviz.install(huey)
    try:
        job(1)
        huey.execute(huey.dequeue())                  # an earlier run, in the sink
        view = TraceView(huey, interval=0.05)          # since="now"
        try:
            assert view.live and view.data["n_events"] == 0
            job(2)
            huey.execute(huey.dequeue())
            assert view.wait_for(lambda tr: any(e.kind == "complete" for e in tr), timeout=10)
            assert view.data["n_tasks"] == 1              # only the task run since
        finally:
            view.stop()
        everything = TraceView(huey, since="begin")
        everything.stop()
        assert everything.data["n_tasks"] == 2
    finally:
        hueyviz.uninstall(huey)
