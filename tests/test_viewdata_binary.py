"""The widget's wire format (render/viewdata.py, render/viewcodec.py): the
packed columns decode to what the replay recorded, the same trace packs to
the same bytes, a big trace stays small, task details are answered on
demand, and a live view's deltas add up to a fresh build."""
from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

import pytest
from huey import MemoryHuey

import hueyviz
from hueyviz.analysis.detector import analyse
from hueyviz.analysis.lane import lane_key
from hueyviz.core.event import Event, Worker
from hueyviz.core.trace import Trace
from hueyviz.demo import run_demo
from hueyviz.render import viewdata
from hueyviz.render.viewcodec import apply_delta, unpack
from hueyviz.render.viewdata import build_view_data, decode_view_data, state_name, view_size
from hueyviz.widget.traceview import TraceView

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "bench"))
from synth import synthetic_trace

W1, W2 = Worker("h", 1, "Worker-1"), Worker("h", 1, "Worker-2")


@pytest.fixture(scope="module")
def traces():
    """A real deadlock (the demo) and a synthetic run with errors, retries
    and waits on 6 workers over two consumers."""
    return [run_demo(out=None, render=False).trace, synthetic_trace(1500, 12, seed=4)]


def _rel(x, t0):
    return None if x is None else round(x - t0, 6)     # what the JSON of version 2 sent


def test_columns_decode_to_what_the_replay_recorded(traces):
    for tr in traces:
        d = decode_view_data(build_view_data(tr, layout=False))
        a = analyse(tr)
        rp, h = a.replay, a.history
        t0, S = d["t0"], d["strings"]
        ids = list(rp.tasks)
        assert d["tasks"]["id"] == ids and d["n_tasks"] == len(ids)
        keys = d["worker_keys"]
        for i, tid in enumerate(ids):
            r = rp.tasks[tid]
            tk = d["tasks"]
            assert S[tk["name"][i]] == (r.name or "?")
            assert (tk["enq"][i], tk["end"][i]) == (_rel(r.enqueued, t0), _rel(r.finished, t0))
            assert S[tk["outcome"][i]] == (r.outcome or r.state)
            assert (ids[tk["parent"][i]] if tk["parent"][i] >= 0 else None) == (r.parent or None)
        # every execution, with its worker, times and outcome
        want = Counter((sp.task, lane_key(sp.queue, sp.worker, len(rp.pools)), _rel(sp.start, t0),
                        _rel(sp.end, t0), sp.outcome or "running", sp.depth) for sp in h.spans if sp.worker)
        sp = d["spans"]
        got = Counter((ids[sp["task"][k]], keys[sp["worker"][k]], sp["start"][k], sp["end"][k],
                       S[sp["outcome"][k]], sp["depth"][k]) for k in range(len(sp["task"])))
        assert got == want
        # every wait, in order of its start, and the blocked stretches it makes
        ws = sorted(rp.waits, key=lambda w: w.since)
        wd = d["waits"]
        assert [(ids[wd["target"][k]], wd["since"][k], wd["until"][k]) for k in range(len(ws))] == \
            [(w.waits_on, _rel(w.since, t0), _rel(w.until, t0)) for w in ws]
        assert [S[x] if x >= 0 else None for x in wd["site"]] == [w.site for w in ws]
        assert len(d["blocks"]["span"]) == sum(len(s.blocked) for s in h.spans if s.worker)
        # each task's state changes, in time order
        ch = d["changes"]
        per = {tid: [] for tid in ids}
        for t, tid, st in zip(h.change_t, h.change_task, h.change_state):
            per[tid].append((_rel(t, t0), state_name(st)))
        for i, tid in enumerate(ids):
            a_, b_ = ch["start"][i], ch["start"][i + 1]
            assert list(zip(ch["t"][a_:b_], (S[x] for x in ch["state"][a_:b_]))) == per[tid]
        # each pool's series, and the queue's
        for p, q in zip(d["pools"], sorted(rp.pools, key=str)):
            rows = h.pools.get(q, [])
            assert list(zip(p["t"], p["size"], p["busy"], p["blocked"])) == \
                [(_rel(t, t0), *rest) for t, *rest in rows]


def test_the_same_trace_packs_to_the_same_bytes(traces):
    for tr in traces:
        a, b = build_view_data(tr), build_view_data(Trace(list(tr.events), header=tr.header))
        assert a["buffer"] == b["buffer"]
        assert json.dumps(a, sort_keys=True, default=bytes.hex) == json.dumps(b, sort_keys=True, default=bytes.hex)


def test_an_empty_trace_packs_decodes_and_renders():
    data = build_view_data(Trace())
    d = decode_view_data(data)
    assert d["t1"] == 0.0 and d["spans"]["task"] == [] and d["times"] == []
    view = TraceView(Trace())
    assert view.status()["verdict"] == "ok" and view.decoded()["tasks"]["id"] == []
    assert view._repr_mimebundle_()["text/plain"].startswith("No events")


def test_hostile_names_stay_text_in_the_string_table():
    bad, dot = "<script>alert(1)</script>", '"]; x -> y ['
    ev = [Event(0.0, "worker_up", None, None, W1, None),
          Event(1.0, "executing", "m1", bad, W1, None),
          Event(2.0, "enqueued", "s1", dot, W1, {"parent": "m1"}),
          Event(2.0, "block", "m1", bad, W1, {"waits_on": "s1", "site": bad})]
    data = build_view_data(ev)
    assert bad in data["strings"] and dot in data["strings"]      # as they are: the browser escapes
    text = json.dumps({k: v for k, v in data.items() if k != "buffer"})
    assert json.loads(text)["strings"] == data["strings"]
    assert b"<script>" not in data["buffer"]                     # names are never packed
    view = TraceView(ev)
    svg = view._repr_mimebundle_()["image/svg+xml"]
    assert "<script>" not in svg and "&lt;script&gt;" in svg


def _recording(view):
    """Every message the widget sends: (method, content, buffers)."""
    sent = []
    real = view._send

    def record(msg, buffers=None):
        sent.append((msg.get("method"), msg.get("content", msg.get("state")), buffers or []))
        real(msg, buffers=buffers)

    view._send = record
    return sent


def test_task_details_are_answered_on_demand(monkeypatch):
    monkeypatch.setattr(viewdata, "DETAILS_INLINE", 2)
    ev = [Event(0.0, "worker_up", None, None, W1, None)]
    for i in range(5):
        ev += [Event(i + 0.1, "enqueued", f"task-{i}", "job", None, {"args": f"({i},)"}),
               Event(i + 0.2, "executing", f"task-{i}", "job", W1, None),
               Event(i + 0.3, "error", f"task-{i}", "job", W1, {"error": f"boom {i}"})]
    view = TraceView(ev, fixes=False)
    assert view.data["details"] == "on demand" and "task.id" not in view.data["text"]
    assert "task-3" not in json.dumps({k: v for k, v in view.data.items() if k != "buffer"})
    sent = _recording(view)
    view._on_msg(view, {"type": "details", "src": "", "tasks": [3, 0, 99], "req": 7}, [])
    (_, reply, _), = sent
    assert reply["type"] == "details" and reply["req"] == 7
    assert [(t["i"], t["id"], t["args"], t["error"]) for t in reply["tasks"]] == \
        [(3, "task-3", "(3,)", "boom 3"), (0, "task-0", "(0,)", "boom 0")]
    view._on_msg(view, {"type": "find", "id": "task-4", "req": 8}, [])
    assert [t["i"] for t in sent[-1][1]["tasks"]] == [4] and sent[-1][1]["found"] == "task-4"


def test_a_100k_task_trace_sends_at_most_5_mb():
    tr = synthetic_trace(100_000, 64, seed=1)
    data = build_view_data(tr, layout=False)
    assert data["details"] == "on demand"
    assert view_size(data) <= 5_000_000, view_size(data)


# -- live -------------------------------------------------------------------------------
def _state(data) -> tuple:
    cols = unpack(data, data["buffer"])
    cols.update({k: list(v) for k, v in data["text"].items()})
    return {k: v for k, v in data.items() if k not in ("buffer", "columns", "text", "seq",
                                                        "compression", "nbytes")}, cols


def _replay(base, sent):
    """The browser's model after ``sent``: ``base`` then each delta, or a
    whole model sent again."""
    meta, cols = _state(base)
    seq = base["seq"]
    for method, content, buffers in sent:
        if method == "update" and "data" in content:
            full = dict(content["data"], buffer=buffers[0] if buffers else b"")
            meta, cols = _state(full)
            seq = full["seq"]
        elif method == "custom" and content.get("type") == "delta":
            assert content["seq"] == seq + 1
            apply_delta(cols, content, buffers[0] if buffers else b"")
            meta.update(content["meta"])
            for k in content["drop"]:
                meta.pop(k, None)
            seq = content["seq"]
    return meta, cols


def test_live_deltas_add_up_to_a_fresh_build():
    """Batches of a traced MemoryHuey (executed here, one by one), each
    refresh sending a delta: base + deltas is the model of the trace."""
    huey = MemoryHuey("deltas", utc=False)

    @huey.task()
    def job(i):
        return i

    @huey.task()
    def parent(i):
        return i

    tracer = hueyviz.trace(huey, capture_args=True)
    try:
        view = TraceView(tracer, interval=60, fixes=False)     # refreshed by hand
        base = dict(view.data)
        sent = _recording(view)
        for batch in range(6):
            for i in range(batch + 2):
                (parent if i % 3 == 0 else job)(batch * 10 + i)
            huey.execute(huey.dequeue())                    # one runs, the others wait
            assert view.refresh()
            meta, cols = _replay(base, sent)
            fresh_meta, fresh = _state(view.data)
            assert cols == fresh and meta == fresh_meta, batch
        # the whole model only at the first batch (its pool appeared: a new table)
        fulls = [k for k, (m, c, _) in enumerate(sent) if m == "update" and "data" in c]
        assert fulls in ([], [0]), fulls
    finally:
        view.stop()
        tracer.detach()


def test_a_page_opened_later_gets_the_whole_current_model(monkeypatch):
    """The views on screen get deltas; the ``data`` trait is the whole
    current model all the same (what a reloaded page is sent), and a view
    that missed a batch asks for it again ("sync")."""
    huey = MemoryHuey("later", utc=False)

    @huey.task()
    def job(i):
        return i

    tracer = hueyviz.trace(huey)
    try:
        view = TraceView(tracer, interval=60, fixes=False)
        for i in range(3):
            job(i)
            huey.execute(huey.dequeue())
            view.refresh()
        state = view.get_state()["data"]               # what the kernel sends a new page
        assert state is view.data and state["seq"] == 3 and state["n_events"] == len(view.trace)
        assert _meaning(*_state(state)) == _meaning(*_state(build_view_data(view.trace, layout=False)))
        sent = _recording(view)
        view._on_msg(view, {"type": "sync"}, [])
        (method, content, buffers), = sent
        assert method == "update" and content["data"]["seq"] == 3 and buffers[0] == view.data["buffer"]
    finally:
        view.stop()
        tracer.detach()


def test_live_view_of_a_threaded_consumer_sends_only_new_rows():
    """A TraceView following a Tracer while a real threaded consumer runs:
    after the first batch each message carries the rows appended since the
    last (and the few values that changed), and what the messages add up to
    is a fresh build of the trace."""
    huey = MemoryHuey("live-rows", utc=False)

    @huey.task()
    def job(i):
        return i

    tracer = hueyviz.trace(huey)
    view = TraceView(tracer, interval=0.05, fixes=False)
    base = dict(view.data)
    sent = _recording(view)
    consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=False,
                                    initial_delay=0.001, max_delay=0.01, check_worker_health=False)
    consumer.start()
    try:
        for wave in range(4):
            results = [job(wave * 100 + i) for i in range(25)]
            for r in results:
                assert r.get(blocking=True, timeout=20) is not None
            n = 25 * (wave + 1)
            assert view.wait_for(lambda tr, n=n: sum(e.kind == "complete" for e in tr) >= n, timeout=20)
    finally:
        consumer.stop(graceful=True)
        for _, worker in consumer.worker_threads:
            worker.join(10)
        view.stop()
        tracer.detach()
    deltas = [(c, b) for m, c, b in sent if m == "custom" and c.get("type") == "delta"]
    assert len(deltas) >= 3
    full = view.data["nbytes"]
    for content, buffers in deltas[1:]:            # after the first batch
        rows = content["tables"]
        for col in content["columns"]:
            name = col["name"]
            if name.endswith("+"):                  # appended: as many as the table grew
                old, new = rows[name[:-1].split(".", 1)[0]]
                assert col["length"] == new - old
            elif name.endswith("@i"):                # changed: rows that were there
                old, _ = rows[name[:-2].split(".", 1)[0]]
                got = unpack(content, buffers[0])[name]
                assert max(got) < old
        assert content["nbytes"] < full / 2
    meta, cols = _replay(base, sent)
    assert (meta, cols) == _state(view.data)
    # and the same, by what it means, as a build of the trace from scratch
    assert _meaning(meta, cols) == _meaning(*_state(build_view_data(view.trace, layout=False)))


_STRING_COLUMNS = ("task.name", "task.queue", "task.outcome", "span.outcome", "change.state",
                   "wait.worker", "wait.site", "wait.outcome")


def _meaning(meta, cols) -> dict:
    """The columns with string indices replaced by their strings (two builds
    may number the strings differently: a live one keeps its first numbers)."""
    S = meta["strings"]
    out = {k: ([S[i] if i >= 0 else None for i in v] if k in _STRING_COLUMNS else v)
           for k, v in cols.items() if not k.startswith("node.")}
    out.update({k: meta[k] for k in ("t1", "n_events", "workers", "lanes", "findings", "diagnosis")})
    return out
