"""The wait-for graph: culprit edge, knot, stable ids, focus, escaping."""
import xml.etree.ElementTree as ET

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hueyviz import Trace, diagnose
from hueyviz.core.event import Event, Worker
from hueyviz.demo import run_demo
from hueyviz.render.dotlabel import stable_id
from hueyviz.render.engine import render_svg
from hueyviz.render.knot import knot_graph, render_diagnosis
from hueyviz.render.waitfor import render_waitfor, waitfor

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def demo():
    res = run_demo(out=None, render=False)
    assert res.diagnosis.verdict == "deadlock"
    return res


def _parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def _with_class(root: ET.Element, cls: str):
    return [el for el in root.iter() if cls in (el.get("class") or "").split()]


def _ids(root: ET.Element) -> set:
    return {el.get("id") for el in root.iter() if el.get("id")}


def _edge_ends(el: ET.Element):
    title = el.find(f"{SVG}title").text
    tail, head = title.split("->")
    return tail.split(":")[0], head.split(":")[0]


def _texts(root: ET.Element) -> str:
    return "\n".join("".join(t.itertext()) for t in root.iter(f"{SVG}text"))


def test_exactly_one_culprit_edge_joins_waiter_and_awaited(demo):
    d = demo.diagnosis
    root = _parse(render_waitfor(demo.trace, diagnosis=d))
    culprits = _with_class(root, "culprit")
    assert len(culprits) == 1
    edge = culprits[0]
    assert "edge" in edge.get("class").split()
    assert _edge_ends(edge) == (stable_id("task", d.culprit.waiter),
                                stable_id("task", d.culprit.waits_on))


def test_knot_is_highlighted(demo):
    d = demo.diagnosis
    root = _parse(render_waitfor(demo.trace, diagnosis=d))
    knot_ids = {el.get("id") for el in _with_class(root, "knot")}
    for item in d.knot:
        if item["kind"] == "waits_for":
            assert stable_id("task", item["waiter"]) in knot_ids
            assert stable_id("task", item["waits_on"]) in knot_ids
    assert "pool" in knot_ids          # a pool deadlock: every worker is held


def test_caption_is_the_diagnosis(demo):
    g = waitfor(demo.trace)
    text = _texts(_parse(render_svg(g.source)))
    assert "DEADLOCK" in text
    assert "closed it" in text


def test_same_task_same_id_at_every_time_step(demo):
    tr, d = demo.trace, demo.diagnosis
    first_block = min(e.t for e in tr if e.kind == "block")
    early = _parse(render_waitfor(tr, at=first_block, diagnosis=d))
    late = _parse(render_waitfor(tr, at=d.at, diagnosis=d))
    waiter = next(e.task for e in tr if e.kind == "block" and e.t == first_block)
    assert stable_id("task", waiter) in _ids(early) & _ids(late)
    # Before the knot closed there is no culprit yet.
    assert _with_class(early, "culprit") == []
    assert len(_with_class(late, "culprit")) == 1


def test_focus_summarises_the_rest(demo):
    tr, d = demo.trace, demo.diagnosis
    focused = _parse(render_waitfor(tr, diagnosis=d))
    tasks = _with_class(focused, "task")
    assert len(tasks) == 4                       # 2 blocked mains + 2 awaited subtasks
    assert "+4 queued (subtask" in _texts(focused)
    everything = _parse(render_waitfor(tr, diagnosis=d, focus=False))
    assert len(_with_class(everything, "task")) == 8
    assert _with_class(everything, "summary") == []


def test_pool_shows_each_worker_and_what_holds_it(demo):
    root = _parse(render_waitfor(demo.trace))
    workers = _with_class(root, "worker")
    assert len(workers) == 2
    assert all("state-blocked" in w.get("class") for w in workers)
    held = _with_class(root, "held")
    assert len(held) == 2 and all(_edge_ends(e)[0].startswith("worker-") for e in held)
    needs = _with_class(root, "need")
    assert len(needs) == 2


def test_output_is_deterministic(demo):
    assert render_waitfor(demo.trace) == render_waitfor(demo.trace)


def test_empty_trace_renders():
    svg = render_waitfor(Trace([]))
    assert "no tasks" in _texts(_parse(svg))


def test_diagnosis_alone_draws_the_same_knot(demo):
    d = demo.diagnosis
    root = _parse(render_diagnosis(d))
    culprits = _with_class(root, "culprit")
    assert len(culprits) == 1
    assert _edge_ends(culprits[0]) == (stable_id("task", d.culprit.waiter),
                                       stable_id("task", d.culprit.waits_on))
    bundle = d._repr_mimebundle_()
    assert bundle["text/plain"] == d.message
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")
    assert "no tasks" in knot_graph(diagnose([])).source


def test_thread_waits_are_drawn_as_non_tasks():
    w1, main = Worker("h", 1, "Worker-1"), Worker("h", 1, "MainThread")
    ev = [Event(0.0, "worker_up", None, None, w1, None),
          Event(0.5, "enqueued", "j1", "job", main, None),
          Event(1.0, "executing", "j1", "job", w1, None),
          Event(1.5, "block", None, None, main, {"waits_on": "j1"})]
    root = _parse(render_waitfor(Trace(ev)))
    threads = _with_class(root, "thread")
    assert len(threads) == 1 and threads[0].get("id") == stable_id("thread", main.key)
    assert "holds no worker" in _texts(root)


# -- hostile names -------------------------------------------------------------
HOSTILE = ['"]; x -> y [', '<script>alert(1)</script>', '&#x1;&amp;&foo;', 'a\\N\\G\\l\\',
           "nul\x00esc\x1bdel\x7f", "lone\ud800surrogate", "<<B>html</B>>", "}|{<port>",
           "ünïcødé 漢字 🙂", "x" * 500, "-- comment -->", "]]><!ENTITY e 'x'>"]


def _knot_trace(main_name: str, sub_name: str, args: str = "()") -> Trace:
    w1, w2 = Worker("h", 1, "Worker-1"), Worker("h", 1, main_name[:30] or "w")
    return Trace([
        Event(0.0, "worker_up", None, None, w1, None),
        Event(0.0, "worker_up", None, None, w2, None),
        Event(1.0, "executing", "m1", main_name, w1, None),
        Event(1.0, "executing", "m2", main_name, w2, None),
        Event(2.0, "enqueued", "s1", sub_name, w1, {"parent": "m1", "args": args}),
        Event(2.0, "block", "m1", main_name, w1, {"waits_on": "s1", "site": sub_name}),
        Event(3.0, "enqueued", "s2", sub_name, w2, {"parent": "m2"}),
        Event(3.0, "block", "m2", main_name, w2, {"waits_on": "s2"}),
        Event(3.5, "enqueued", "s3", sub_name, w2, {"parent": "m2"}),
    ])


def _assert_safe(svg: str) -> ET.Element:
    root = _parse(svg)                                   # well-formed XML
    tags = {el.tag.replace(SVG, "") for el in root.iter()}
    assert tags <= {"svg", "g", "title", "text", "path", "polygon", "ellipse",
                    "polyline", "a"}, tags
    for el in root.iter():
        for name in el.attrib:
            assert not name.lower().startswith("on"), name
    ids = _ids(root)
    assert not ids & {"x", "y"}                          # nothing injected into DOT
    return root


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_cannot_inject(name):
    tr = _knot_trace(name, name, args=name)
    g = waitfor(tr)
    root = _assert_safe(render_svg(g.source))
    assert len(_with_class(root, "culprit")) == 1
    assert len(_with_class(root, "task")) == 4
    _assert_safe(render_diagnosis(diagnose(tr)))


def test_hostile_name_is_shown_as_text():
    root = _parse(render_waitfor(_knot_trace("<script>", '"]; x -> y [')))
    text = _texts(root)
    assert "<script>" in text and '"]; x -> y [' in text


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(main=st.text(max_size=40), sub=st.text(max_size=40))
def test_any_name_gives_well_formed_svg(main, sub):
    tr = _knot_trace(main, sub, args=sub)
    root = _assert_safe(render_waitfor(tr))
    assert len(_with_class(root, "culprit")) == 1


def test_many_needs_are_gathered_before_the_pool():
    n = 6
    pool = [Worker("h", 1, f"Worker-{i}") for i in range(n)]
    ev = [Event(0.0, "worker_up", None, None, w, None) for w in pool]
    for i, w in enumerate(pool):
        ev += [Event(1.0 + i, "executing", f"m{i}", "main", w, None),
               Event(1.0 + i, "enqueued", f"s{i}", "sub", w, {"parent": f"m{i}"}),
               Event(1.0 + i, "block", f"m{i}", "main", w, {"waits_on": f"s{i}"})]
    root = _parse(render_waitfor(Trace(ev)))
    assert len(_with_class(root, "culprit")) == 1
    gathered = [el for el in _with_class(root, "need") if el.get("id") == "need-all"]
    assert len(gathered) == 1 and _edge_ends(gathered[0])[0] == "need-hub"
    assert f"{n} tasks need a worker" in _texts(root)
    assert len([el for el in _with_class(root, "need") if "edge" in el.get("class")]) == n + 1


def test_thousands_of_queues_draw_the_knot_and_count_the_rest():
    """200 queues of 2 workers, a deadlock on one: its pool is drawn, the 199
    others are one line; the drawing does not grow with the fleet."""
    from story import Story
    s = Story(0, announce=False)
    for q in range(200):
        s.add_queue(f"q{q:03}", 2)
    knot = [i for i, q in enumerate(s.worker_queue) if q == "q117"]
    for i, w in enumerate(knot):
        s.start(f"main{i}", w)
        s.enqueue(f"sub{i}", parent=f"main{i}", by=w, q="q117")
        s.block(f"main{i}", f"sub{i}", w)
    tr = Trace(s.events)
    d = diagnose(tr)
    assert d.verdict == "deadlock" and d.culprit.queue == "q117"
    svg = render_waitfor(tr)
    root = _parse(svg)
    pools = [g for g in root.iter(f"{SVG}g") if "cluster" in (g.get("class") or "").split()
             and "pool" in g.get("class").split()]
    assert len(pools) == 1 and "knot" in pools[0].get("class").split()
    assert _with_class(root, "more") and root.find(f".//{SVG}g[@id='pools-more']") is not None
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    assert "+199 other queues: 398 workers" in text
    assert len(svg) < 20_000
