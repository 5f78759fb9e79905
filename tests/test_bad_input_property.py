"""Property tests: arbitrary JSON in every field of every event kind.

Whatever a trace file holds, loading raises only :class:`TraceFormatError`
(naming the line), a lenient load keeps the rest, the analysis and the
pure renderers never raise on what loaded, and the command line answers
0/1 with a verdict for a usable trace and 2 with one error line for an
unusable one: never a traceback, never 3 (a hueyviz bug).
"""
import contextlib
import io
import json
import math
import warnings

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from story import Story

from hueyviz import Trace, TraceFormatError, TraceWarning, diagnose, whatif
from hueyviz.analysis.finding import VERDICTS
from hueyviz.cli import main
from hueyviz.core.event import _SCHEMA, COMMON, KINDS, to_json_dict
from hueyviz.core.trace import FORMAT, VERSION
from hueyviz.render.lanes import render_lanes
from hueyviz.render.perfetto import render_perfetto

SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow],
                derandomize=True)

EDGE_NUMBERS = [0, -1, 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 2 ** 64, -(2 ** 63), 10 ** 30,
                1e-300, 1.7e9, 1.7e12, 1.7e15, 1.7e18, 9.99e19, 1e20, 1.0001e20, 1e300,
                -1e300, math.nan, math.inf, -math.inf, -0.0, 0.5]
scalars = (st.none() | st.booleans() | st.integers() | st.sampled_from(EDGE_NUMBERS)
           | st.floats(allow_nan=True, allow_infinity=True)
           | st.text(max_size=12) | st.sampled_from(sorted(KINDS)) | st.sampled_from(
               ["a", "main0", "sub0", "Worker-1", "\x1b]0;x\x07", "", "h"]))
json_values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.text(max_size=6), inner, max_size=4), max_leaves=12)

FIELDS = sorted(set(COMMON) | {k for checks, _ in _SCHEMA.values() for k in checks}
                | {"extra"})
DELETE = object()


def base_events():
    """A deadlock of 2 workers with every event kind the analysis reads."""
    s = Story(2)
    s.kind("pool", size=2)
    s.kind("consumer", workers=2, worker_type="thread")
    s.enqueue("main0", then=["next0"], priority=1)
    s.enqueue("main1", eta="2026-01-01")
    s.kind("scheduled", task="late")
    s.start("main0", 0)
    s.start("main1", 1)
    s.enqueue("sub0", parent="main0", by=0)
    s.block("main0", "sub0", 0, timeout=5.0)
    s.enqueue("sub1", parent="main1", by=1)
    s.block("main1", "sub1", 1)
    s.kind("error", task="x", error="E", message="boom")
    s.kind("complete", task="y", stored=False)
    s.kind("unblock", task="z", waits_on="q", outcome="timeout")
    s.kind("retrying", task="x")
    s.kind("dropped", count=2, proc="h/1", reason="r")
    s.kind("alive", proc="h/1", sent=3)
    s.kind("lost", w=0, silent=5.0)
    s.kind("worker_down", w=1)
    return [to_json_dict(e) for e in s.events]


BASE = base_events()


def write(path, objs):
    lines = [json.dumps({"format": FORMAT, "version": VERSION, "clock": "unix"})]
    for obj in objs:
        try:
            lines.append(json.dumps(obj))
        except (ValueError, TypeError):      # e.g. a key JSON cannot hold
            lines.append(repr(obj))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


mutation = st.tuples(st.integers(0, len(BASE) - 1), st.sampled_from(FIELDS),
                     st.one_of(json_values, st.just(DELETE)))


def mutate(changes):
    objs = [dict(o) for o in BASE]
    for i, key, value in changes:
        if value is DELETE:
            objs[i].pop(key, None)
        else:
            objs[i][key] = value
    return objs


def check_usable(tr):
    """Everything that reads a loaded trace answers without raising."""
    d = diagnose(tr)
    assert d.verdict in VERDICTS
    assert isinstance(d.message, str) and "\x1b" not in d.message
    json.loads(d.to_json())
    w = whatif(tr, workers=range(1, 3))
    assert w.tasks >= 0
    str(w)
    render_lanes(tr)
    json.loads(render_perfetto(tr))


def run_cli(*argv):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rc = main(list(argv))
    return rc, out.getvalue(), err.getvalue()


@settings(max_examples=300, **SETTINGS)
@given(st.lists(mutation, min_size=1, max_size=3))
def test_any_field_any_value_loads_or_names_the_line(tmp_path_factory, changes):
    path = tmp_path_factory.mktemp("p") / "t.jsonl"
    write(path, mutate(changes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        try:
            strict = Trace.load(path)
        except TraceFormatError as exc:
            strict = None
            assert exc.line is not None and exc.line >= 2, exc
            assert str(exc).startswith(f"{path}:{exc.line}: ")
        lenient = Trace.load(path, strict=False)
    if strict is not None:
        assert len(strict) == len(BASE) and lenient == strict
        check_usable(strict)
    else:
        assert len(lenient) < len(BASE)
        assert lenient.warnings
        check_usable(lenient)


@settings(max_examples=150, **SETTINGS)
@given(st.lists(mutation, min_size=1, max_size=3))
def test_a_live_reader_skips_what_it_cannot_use(tmp_path_factory, changes):
    """The follower (streams, per-process files) skips and counts, never raises."""
    folder = tmp_path_factory.mktemp("live")
    write(folder / "h-1.jsonl", mutate(changes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        tr = Trace.read(str(folder))
    assert len([e for e in tr if e.kind != "lost"]) <= len(BASE)
    check_usable(tr)


@settings(max_examples=120, **SETTINGS)
@given(st.lists(mutation, min_size=1, max_size=2))
def test_cli_answers_0_1_or_2_and_never_a_traceback(tmp_path_factory, changes):
    path = tmp_path_factory.mktemp("c") / "t.jsonl"
    write(path, mutate(changes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        try:
            Trace.load(path)
            usable = True
        except TraceFormatError:
            usable = False
    rc, out, err = run_cli("diagnose", str(path))
    assert "Traceback" not in err and "\x1b" not in out + err
    if usable:
        assert rc in (0, 1), err
        assert out.split(":")[0] in ("OK", "Deadlock", "Stall", "Hang"), out
    else:
        assert rc == 2 and out == "", (rc, out, err)
        errors = [ln for ln in err.splitlines() if ln.startswith("hueyviz: error:")]
        assert len(errors) == 1 and f"{path}:" in errors[0], err
    rc, out, err = run_cli("diagnose", str(path), "--lenient", "--json")
    assert "Traceback" not in err
    assert rc in (0, 1, 2), err
    if rc != 2:
        assert json.loads(out)["verdict"] in VERDICTS
    rc, out, err = run_cli("whatif", str(path), "--lenient", "--workers", "1..2")
    assert rc in (0, 1, 2) and "Traceback" not in err, err


# -- traces that are valid, but odd: any kind, any order, any task ------------------
_IDS = st.sampled_from(["a", "b", "c", "d"])
_VALID = {
    "parent": _IDS, "via": st.sampled_from(["retry", "pipeline", "error"]),
    "then": st.lists(_IDS, max_size=3), "eta": st.just("2026-01-01"),
    "priority": st.integers(-5, 5) | st.sampled_from([1e20, -1e20]), "args": st.just("()"),
    "waits_on": _IDS, "timeout": st.sampled_from([0, 0.5, 3.0, 1e20]), "site": st.just("f:1"),
    "waits_on_queue": st.sampled_from(["q1", "q2"]),
    "outcome": st.sampled_from(["result", "timeout", "error", "failed"]),
    "stored": st.booleans(), "error": st.just("E"), "message": st.just("m"),
    "size": st.integers(0, 4) | st.just(1_000_000), "workers": st.integers(0, 3),
    "count": st.integers(0, 3), "proc": st.just("h/1"),
    "reason": st.just("r"), "silent": st.sampled_from([0.0, 5.0]), "sent": st.integers(0, 3),
    "then_names": st.lists(st.sampled_from(["job", "<b>"]), max_size=3),
    "consumed": st.booleans(), "blocking": st.booleans(), "preserve": st.booleans(),
    "backoff": st.sampled_from([1, 1.15, 2.0]), "max_delay": st.sampled_from([0.05, 1.0]),
    "initial_delay": st.sampled_from([0.005, 0.1]), "task_timeout": st.sampled_from([0.5, 3.0]),
    "worker_type": st.sampled_from(["thread", "greenlet", "process", "immediate"]),
}


@st.composite
def odd_event(draw):
    kind = draw(st.sampled_from(sorted(KINDS)))
    obj = {"t": draw(st.integers(0, 20) | st.sampled_from([-1e20, 1e20, 1.7e12, 0.001])),
           "kind": kind}
    if draw(st.booleans()):
        obj["task"] = draw(_IDS)
        obj["name"] = draw(st.sampled_from(["job", "\x1b[31mred\r", "<b>"]))
    if draw(st.integers(0, 3)):
        obj.update(host="h", pid=draw(st.integers(1, 2)),
                   worker=draw(st.sampled_from(["Worker-1", "Worker-2", "Worker-3"])))
    if draw(st.booleans()):
        obj["queue"] = draw(st.sampled_from(["q1", "q2"]))
    checks, required = _SCHEMA.get(kind, ({}, ()))
    for key in checks:
        if key in required or draw(st.booleans()):
            obj[key] = draw(_VALID[key])
    return obj


@settings(max_examples=200, **SETTINGS)
@given(st.lists(odd_event(), min_size=1, max_size=25))
def test_valid_but_odd_traces_get_a_verdict(tmp_path_factory, objs):
    path = tmp_path_factory.mktemp("o") / "t.jsonl"
    write(path, objs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        tr = Trace.load(path)
    assert len(tr) == len(objs)
    assert [e.t for e in tr] == sorted(e.t for e in tr)
    check_usable(tr)
    rc, out, err = run_cli("diagnose", str(path))
    assert rc in (0, 1) and "Traceback" not in err, (rc, err)


@settings(max_examples=25, **SETTINGS)
@given(st.lists(odd_event(), min_size=1, max_size=15))
def test_every_drawing_of_an_odd_trace_is_written(tmp_path_factory, objs):
    from hueyviz.render.export import FILES, export_all
    folder = tmp_path_factory.mktemp("d")
    path = folder / "t.jsonl"
    write(path, objs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        tr = Trace.load(path)
    written = export_all(tr, folder / "out")
    assert [p.rsplit("/", 1)[-1] for p in written] == list(FILES)


@settings(max_examples=150, **SETTINGS)
@given(st.dictionaries(st.sampled_from(["format", "version", "clock", "dropped", "unlogged",
                                        "source", "huey", "events", "queues"]),
                       json_values, max_size=4))
def test_any_header_loads_or_is_unusable(tmp_path_factory, fields):
    path = tmp_path_factory.mktemp("h") / "t.jsonl"
    head = {"format": FORMAT, "version": VERSION, **fields}
    try:
        first = json.dumps(head)
    except ValueError:
        first = repr(head)
    path.write_text("\n".join([first, *map(json.dumps, BASE)]) + "\n", encoding="utf-8")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        try:
            tr = Trace.load(path)
        except TraceFormatError as exc:
            assert exc.line == 1
            tr = None
    rc, out, err = run_cli("render", str(path), "-o", str(path.parent / "out"),
                           "--format", "lanes,perfetto")
    assert "Traceback" not in err
    if tr is None:
        assert rc == 2 and err.startswith("hueyviz: error: ")
    else:
        assert tr.dropped >= 2 and rc == 0, err
        check_usable(tr)
