"""Input that is not what it claims: wrong types, deep nesting, events out of
order, implausible clocks, contradictions, empty sources.

Each class of bad input through the public API and through the command line
(in process for speed; ``test_cli_errors.py`` runs the real executable).
"""
import json
import math
import os
import re
import sqlite3
import warnings

import pytest
from huey import MemoryHuey
from livekit import free_port
from story import Story
from test_analysis import classic

import hueyviz
from hueyviz import SourceError, Trace, TraceFormatError, TraceWarning, diagnose, whatif
from hueyviz.cli import main
from hueyviz.core import codec
from hueyviz.core.event import Event, to_json_dict
from hueyviz.core.trace import FORMAT, VERSION
from hueyviz.read.recorder import record
from hueyviz.read.source import Source
from hueyviz.render.axis import absolute_start
from hueyviz.render.lanes import render_lanes
from hueyviz.render.perfetto import render_perfetto


def header(**kw):
    return json.dumps({"format": FORMAT, "version": VERSION, "clock": "unix", **kw})


def write_lines(path, lines):
    path.write_text("\n".join([header(), *lines]) + "\n", encoding="utf-8")
    return path


def write_events(path, events, **head):
    return write_lines(path, [json.dumps(to_json_dict(e)) for e in events])


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


# -- fields of the wrong type or range ------------------------------------------------
GOOD = '{"t": 1, "kind": "pool", "size": 2}'
WRONG = [
    ('{"t": 2, "kind": "pool", "size": "x"}', "field 'size' must be a whole number"),
    ('{"t": 2, "kind": "pool", "size": -1}', "field 'size' must be a whole number"),
    ('{"t": 2, "kind": "pool", "size": 10000000000}', "field 'size' must be a whole number"),
    ('{"t": 2, "kind": "dropped", "count": "lots"}', "field 'count' must be a whole number"),
    ('{"t": 2, "kind": "dropped", "count": 1.5}', "field 'count' must be a whole number"),
    ('{"t": 2, "kind": "block", "task": "a", "waits_on": ["b"]}',
     "field 'waits_on' must be a string"),
    ('{"t": 2, "kind": "enqueued", "task": "a", "then": 7}', "field 'then' must be a list"),
    ('{"t": 2, "kind": "block", "task": "a", "waits_on": "b", "timeout": "soon"}',
     "field 'timeout' must be a finite number of seconds"),
    ('{"t": 2, "kind": "block", "task": "a", "waits_on": "b", "timeout": -1}',
     "field 'timeout' must be a finite number of seconds >= 0"),
    # NaN and Infinity are not JSON: orjson refuses the line, the json module
    # reads the number and the check refuses it.
    ('{"t": 2, "kind": "block", "task": "a", "waits_on": "b", "timeout": NaN}',
     "field 'timeout' must be|invalid JSON"),
    ('{"t": 2, "kind": "block", "task": "a", "waits_on": "b", "timeout": Infinity}',
     "field 'timeout' must be|invalid JSON"),
    ('{"t": Infinity, "kind": "enqueued", "task": "a"}',
     "field 't' must be a finite number|invalid JSON"),
    ('{"t": 1e300, "kind": "enqueued", "task": "a"}', "at most 1e20 either way"),
    ('{"t": true, "kind": "enqueued", "task": "a"}', "field 't' must be a finite number"),
    ('{"t": 2, "kind": "consumer", "workers": "4"}', "field 'workers' must be a whole number"),
    ('{"t": 2, "kind": "complete", "task": "a", "stored": "no"}', "field 'stored' must be"),
    ('{"t": 2, "kind": "enqueued", "task": "a", "priority": "high"}',
     "field 'priority' must be a finite number"),
    ('{"t": 2, "kind": "executing", "task": "a", "worker": "W", "pid": -3}',
     "worker identity must be"),
]


@pytest.mark.parametrize("line, why", WRONG)
def test_wrong_field_types_name_file_and_line(tmp_path, capsys, line, why):
    path = write_lines(tmp_path / "w.jsonl", [GOOD, line, GOOD])
    with pytest.raises(TraceFormatError) as exc:
        Trace.load(path)
    assert exc.value.line == 3 and re.search(why, str(exc.value))
    assert str(exc.value).startswith(f"{path}:3: ")
    with pytest.warns(TraceWarning, match=r"w\.jsonl:3: "):
        tr = Trace.load(path, strict=False)
    assert len(tr) == 2 and len(tr.warnings) == 1       # skipped and counted
    rc, out, err = cli(capsys, "diagnose", path)
    assert rc == 2 and out == "" and f"{path}:3: " in err and re.search(why, err)
    assert "Traceback" not in err and len(err.splitlines()) == 1
    rc, out, err = cli(capsys, "diagnose", path, "--lenient")
    assert rc == 0 and out.startswith("OK:") and "skipped" in err


def test_one_bad_entry_in_a_stream_is_skipped_not_fatal(tmp_path):
    """A live source (here a directory of per-process files) skips the bad
    entry with a count; every reader keeps going."""
    d = tmp_path / "live"
    d.mkdir()
    s = Story(1)
    s.enqueue("a")
    s.start("a", 0)
    s.finish("a")
    lines = [json.dumps(to_json_dict(e)) for e in s.events]
    lines.insert(2, '{"t": 2.5, "kind": "pool", "size": "x"}')
    write_lines(d / "h-1.jsonl", lines)
    with pytest.warns(TraceWarning, match="skipped 1 corrupt"):
        tr = hueyviz.Trace.read(str(d))
    assert [e for e in tr if e.kind != "lost"] == list(s.events)   # lost: it went silent
    assert diagnose(tr).verdict == "ok"


# -- deep nesting -----------------------------------------------------------------------
PARSERS = ["json"] + (["orjson"] if codec._orjson is not None else [])


@pytest.fixture(params=PARSERS)
def parser(request, monkeypatch):
    """The loader with each JSON parser this environment has."""
    if request.param == "json":
        monkeypatch.setattr(codec, "_fast_loads", None)
    else:
        monkeypatch.setattr(codec, "_fast_loads", codec._orjson.loads)
    return request.param


@pytest.mark.parametrize("deep", ["[" * 100_000, '{"a":' * 50_000 + "1" + "}" * 50_000,
                                  '{"t": 1, "kind": "pool", "size": 1, "x": '
                                  + "[" * 5000 + "]" * 5000 + "}"])
def test_deeply_nested_json_is_a_bad_line(tmp_path, capsys, parser, deep):
    path = write_lines(tmp_path / "deep.jsonl", [GOOD, deep, GOOD])
    try:
        tr = Trace.load(path)
    except TraceFormatError as exc:
        assert exc.line == 3 and "invalid JSON" in str(exc)
    else:   # a parser that takes it: the unknown field is kept and never read
        assert len(tr) == 3
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceWarning)
        tr = Trace.load(path, strict=False)
    assert len(tr) >= 2
    rc, out, err = cli(capsys, "diagnose", path, "--lenient")
    assert rc == 0 and "RecursionError" not in err and "Traceback" not in err
    rc, out, err = cli(capsys, "diagnose", path)
    assert rc in (0, 2) and "Traceback" not in err


def test_codec_turns_recursion_into_value_error(parser):
    with pytest.raises(ValueError):
        codec.loads("[" * 200_000 + "]" * 200_000)


# -- events out of time order ----------------------------------------------------------
def test_reversed_deadlock_is_the_same_finding_and_the_same_whatif(tmp_path, capsys):
    events = classic(2).events
    ordered = write_events(tmp_path / "ordered.jsonl", events)
    rev = write_events(tmp_path / "reversed.jsonl", list(reversed(events)))
    a = Trace.load(ordered)
    with pytest.warns(TraceWarning, match=r"reversed\.jsonl: 9 events were out of time order "
                                          r"\(first: line 3, t = 9\.0 after t = 10\.0\)"):
        b = Trace.load(rev)
    assert a == b and a.digest() == b.digest()
    da, db = diagnose(a), diagnose(b)
    assert db.verdict == "deadlock" and da.to_dict() == db.to_dict()
    wa, wb = whatif(a), whatif(b)
    assert wa.min_safe_workers == wb.min_safe_workers == 3
    assert [r.verdict for r in wa.runs] == [r.verdict for r in wb.runs]
    rc, out, err = cli(capsys, "diagnose", rev)
    assert rc == 1 and out.startswith("Deadlock:") and "out of time order" in err
    rc, out, err = cli(capsys, "whatif", rev, "--json")
    assert rc == 0 and json.loads(out)["min_safe_workers"] == 3


def test_sorting_is_stable_and_in_order_files_say_nothing(tmp_path):
    s = Story(1)
    s.enqueue("a")
    e = s.events
    tied = [Event(5.0, "enqueued", x, "job", None, None) for x in "abc"]
    path = write_events(tmp_path / "tied.jsonl", [*e, *tied])
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no warning at all
        tr = Trace.load(path)
    assert [x.task for x in tr if x.t == 5.0] == ["a", "b", "c"]


def test_api_trace_and_diagnose_sort_events_by_time():
    events = classic(2).events
    back = list(reversed(events))
    assert Trace(back) == Trace(events)
    assert list(Trace(back)) == sorted(events, key=lambda e: e.t)
    assert diagnose(back).to_dict() == diagnose(events).to_dict()
    assert diagnose(iter(back)).verdict == "deadlock"        # a generator, read once
    assert whatif(back).min_safe_workers == whatif(events).min_safe_workers


class _LateReader:
    """A source whose second batch holds an event older than the first's."""

    def __init__(self, batches):
        self.batches = list(batches)

    def describe(self):
        return "late source"

    def seek_end(self):
        pass

    def fetch(self, timeout=0.0, count=0):
        if not self.batches:
            return []
        return [(None, None, e, "late") for e in self.batches.pop(0)]

    def close(self):
        pass


@pytest.mark.parametrize("name", ["rec.jsonl", "rec.jsonl.gz"])
def test_record_writes_a_finished_recording_in_time_order(tmp_path, name):
    ev = classic(2).events
    late = [ev[:6], ev[8:], ev[6:8]]        # two events arrive after later ones
    src = Source("late source", lambda: _LateReader(late))
    out = tmp_path / name
    res = record(src, out, duration=0.3, start="begin", reorder=0.0, lost_after=None)
    assert res.events == len(ev) and res.reordered == 2 and res.error is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tr = Trace.load(out)
    assert list(tr) == list(Trace(ev))
    assert diagnose(tr).verdict == "deadlock"
    assert (out.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")


# -- implausible clocks ---------------------------------------------------------------------
def _shift(events, factor=1.0, offset=0.0):
    return [e._replace(t=e.t * factor + offset) for e in events]


@pytest.mark.parametrize("factor, unit", [(1e3, "milliseconds"), (1e6, "microseconds"),
                                          (1e9, "nanoseconds")])
def test_timestamps_in_finer_units_are_named(tmp_path, capsys, factor, unit):
    events = _shift(classic(2).events, 1.0, 1.7e9)
    path = write_events(tmp_path / "ms.jsonl", _shift(events, factor))
    with pytest.warns(TraceWarning, match=f"timestamps look like {unit} since 1970"):
        tr = Trace.load(path)
    assert diagnose(tr).verdict == "deadlock"
    render_lanes(tr)
    json.loads(render_perfetto(tr))
    rc, out, err = cli(capsys, "diagnose", path)
    assert rc == 1 and f"look like {unit}" in err
    rc, out, err = cli(capsys, "render", path, "-o", tmp_path / "out")
    assert rc == 0, err
    lanes = (tmp_path / "out" / "lanes.svg").read_text()
    assert "on the trace clock" in lanes and "UTC" not in lanes


def test_absurd_times_never_crash_a_renderer(tmp_path, capsys):
    events = _shift(classic(1).events, 1.0, -9e19) + _shift(classic(2).events, 1.0, 9e19)
    path = write_events(tmp_path / "absurd.jsonl", events)
    with pytest.warns(TraceWarning, match="implausible"):
        tr = Trace.load(path)
    render_lanes(tr)
    json.loads(render_perfetto(tr))
    rc, out, err = cli(capsys, "render", path, "-o", tmp_path / "out")
    assert rc == 0, err
    assert absolute_start(1.7e12, True).endswith("(not a date)")
    assert absolute_start(-1e20, True).endswith("(not a date)")


def test_a_live_source_with_a_ms_clock_is_named_by_the_cli(tmp_path, capsys):
    d = tmp_path / "live"
    d.mkdir()
    write_events(d / "h-1.jsonl", _shift(classic(2).events, 1000.0, 1.7e12))
    rc, out, err = cli(capsys, "diagnose", d)
    assert rc == 1 and "look like milliseconds" in err


# -- contradictions: duplicate ids, an end before a start --------------------------------------
def test_duplicate_ids_and_complete_before_executing_are_notes(capsys, tmp_path):
    s = Story(2)
    s.enqueue("a")
    s.start("a", 0)
    s.start("a", 1)                 # the same id on a second worker while it runs
    s.finish("a", w=1)
    s.finish("b")                   # ended, never seen starting
    d = diagnose(s.events)
    assert d.verdict == "ok"
    assert any("2 events contradicted the state" in n and "duplicate task id" in n
               for n in d.notes), d.notes
    path = write_events(tmp_path / "dup.jsonl", s.events)
    rc, out, err = cli(capsys, "diagnose", path)
    assert rc == 0
    assert "note: 2 events contradicted the state (first: task a started on Worker-2 " \
           "while it runs on Worker-1: a duplicate task id?)" in out
    rc, out, err = cli(capsys, "whatif", path)
    assert "recorded events contradicted the state" in out


# -- nothing is not OK -------------------------------------------------------------------------
def test_diagnose_of_nothing_is_not_ok_in_words():
    d = diagnose([])
    assert d.verdict == "ok" and d.message == "No events: nothing to diagnose."
    assert d.workers == {"total": 0, "blocked": 0} and not d.exact
    w = whatif([])
    assert w.tasks == 0 and w.min_safe_workers is None and not w.exact
    assert str(w) == "What if: nothing to replay (no task in the trace)."


def test_empty_sources_are_unusable_input(tmp_path, capsys):
    empty_dir = tmp_path / "empty"
    empty_dir.mkdir()
    header_only = write_lines(tmp_path / "header.jsonl", [])
    for src, why in [(empty_dir, "the folder holds no trace files (or only empty ones)"),
                     (header_only, "no events were recorded there")]:
        for cmd in ("diagnose", "whatif", "render"):
            extra = ["-o", tmp_path / "o"] if cmd == "render" else []
            rc, out, err = cli(capsys, cmd, src, *extra)
            assert rc == 2 and out == "", (cmd, out)
            assert err == f"hueyviz: error: {src}: nothing to read: {why}\n", err
    assert not (tmp_path / "o").exists()


def test_all_lines_skipped_is_unusable_input(tmp_path, capsys):
    path = write_lines(tmp_path / "bad.jsonl", ['{"t": "x", "kind": "pool"}'])
    rc, out, err = cli(capsys, "diagnose", path, "--lenient")
    assert rc == 2 and "every entry was skipped" in err


def test_only_pool_events_have_nothing_to_replay(tmp_path, capsys):
    path = write_lines(tmp_path / "pool.jsonl", [GOOD])
    rc, out, err = cli(capsys, "diagnose", path)
    assert rc == 0 and out.startswith("OK: 0 tasks on 2 workers")   # an idle pool is news
    rc, out, err = cli(capsys, "whatif", path)
    assert rc == 2 and "nothing to replay" in err and out == ""


def test_a_window_that_selects_nothing_is_unusable_input(tmp_path, capsys):
    path = write_events(tmp_path / "d.jsonl", classic(2).events)
    rc, out, err = cli(capsys, "diagnose", path, "--from", "100")
    assert rc == 2 and out == ""
    assert "the window --from 100 --to 9 selects none of its 10 events" in err
    rc, out, err = cli(capsys, "whatif", path, "--from", "-5", "--to", "-1")
    assert rc == 2 and "selects none" in err
    rc, out, err = cli(capsys, "diagnose", path, "--from", "5", "--to", "2")
    assert rc == 2 and "--from 5 is after --to 2" in err
    rc, out, err = cli(capsys, "render", path, "-o", tmp_path / "o", "--to", "-1")
    assert rc == 2 and not (tmp_path / "o").exists()


def test_reading_never_creates_a_sqlite_file(tmp_path, capsys):
    missing = tmp_path / "missing.db"
    for url in (f"sqlite:///{missing}", f"sqlite:///{missing}?queue=app"):
        rc, out, err = cli(capsys, "diagnose", url)
        assert rc == 2 and out == ""
        assert "no such database file" in err and str(missing) in err
        with pytest.raises(SourceError, match="no such database file"):
            Trace.read(url)
        rc, out, err = cli(capsys, "record", url, "-o", tmp_path / "r.jsonl", "--duration", "0")
        assert rc == 2 and "no such database file" in err
        assert not missing.exists()
    # A database without hueyviz events: said so, not "OK".
    conn = sqlite3.connect(tmp_path / "plain.db")
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    rc, out, err = cli(capsys, "diagnose", f"sqlite:///{tmp_path / 'plain.db'}")
    assert rc == 2 and "no hueyviz events" in err


def test_record_from_a_redis_that_is_not_listening_fails(tmp_path, capsys):
    pytest.importorskip("redis")  # a test extra: always there in the test environment
    url = f"redis://127.0.0.1:{free_port()}/0"
    out = tmp_path / "r.jsonl"
    rc, _, err = cli(capsys, "record", url + "?queue=app", "-o", out, "--duration", "0.3")
    assert rc == 2, err
    assert "recorded 0 events" in err and "hueyviz: error: cannot read redis stream" in err
    assert "Connection refused" in err or "Error" in err
    rc, _, err = cli(capsys, "record", url, "-o", out, "--duration", "0.3")
    assert rc == 2 and "cannot read" in err
    rc, _, err = cli(capsys, "diagnose", url + "?queue=app")
    assert rc == 2 and "cannot read" in err


# -- the tracer never writes what no reader accepts -----------------------------------------
def test_odd_timeouts_from_user_code_are_recorded_as_what_huey_does(tmp_path):
    huey = MemoryHuey("odd-timeouts")

    @huey.task()
    def sub():
        return 1

    with hueyviz.trace(huey) as tracer:
        r = sub()
        with pytest.raises(TypeError):
            r.get(blocking=True, timeout="soon")          # Huey itself refuses it
        with pytest.raises(Exception, match="timed out"):
            r.get(blocking=True, timeout=-1)              # times out at once
        with pytest.raises(OverflowError):
            r.get(blocking=True, timeout=2 ** 2000)       # no float holds it
    blocks = [e for e in tracer.trace if e.kind == "block"]
    assert [e.get("timeout") for e in blocks] == [None, 0.0, None]
    path = tmp_path / "t.jsonl"
    tracer.trace.save(path)
    assert Trace.load(path) == tracer.trace               # strict: every field valid


def test_trace_and_install_reject_what_is_not_a_huey():
    with pytest.raises(TypeError, match=r"trace\(\) wants one or more Huey instances, got "
                                        "NoneType"):
        hueyviz.trace(None)
    with pytest.raises(TypeError, match="got none"):
        hueyviz.trace()
    with pytest.raises(TypeError, match=r"install\(\) wants a Huey instance, got NoneType"):
        hueyviz.install(None)
    with pytest.raises(hueyviz.UsageError, match="workers= wants a pool size"):
        hueyviz.trace(MemoryHuey("w"), workers=-1)
    for bad in ("t.jsonl", b"x", None, 5):
        with pytest.raises(TypeError, match=r"diagnose\(\) wants a Trace or events"):
            diagnose(bad)
        with pytest.raises((TypeError, TraceFormatError)):
            whatif(bad)
    with pytest.raises(hueyviz.UsageError):
        hueyviz.export_all(Trace(classic(1).events), "/tmp/never-written", at=math.nan)
    from hueyviz.demo import run_demo
    for kw in ({"workers": 0}, {"workers": -2}, {"subtasks": -1}, {"users": []}):
        with pytest.raises(hueyviz.UsageError):
            run_demo(out=None, **kw)


def test_bad_numbers_on_the_command_line(tmp_path, capsys):
    path = write_events(tmp_path / "d.jsonl", classic(2).events)
    for argv in (["demo", "--workers", "0"], ["demo", "--workers", "-1"],
                 ["render", path, "-o", tmp_path / "o", "--at", "nan"],
                 ["render", path, "-o", tmp_path / "o", "--at", "inf"],
                 ["diagnose", path, "--from", "nan"], ["diagnose", path, "--to", "-inf"],
                 ["record", path, "-o", tmp_path / "r", "--duration", "-1"],
                 ["whatif", path, "--workers", "0..2"], ["whatif", path, "--workers", "1..99999"],
                 ["whatif", path, "--workers", "a=1..1000,b=1..1000"]):
        with pytest.raises(SystemExit) as exc:
            rc = main([str(a) for a in argv])
            raise SystemExit(rc)
        err = capsys.readouterr().err
        assert exc.value.code == 2, argv
        assert "Traceback" not in err and err.strip(), argv
    assert not (tmp_path / "o").exists() and not os.path.exists(tmp_path / "r")


class _BrokenReader(_LateReader):
    def fetch(self, timeout=0.0, count=0):
        if not self.batches:
            raise OSError("the database went away")
        return super().fetch(timeout, count)


def test_record_that_loses_its_source_keeps_the_file_and_fails(tmp_path, capsys, monkeypatch):
    ev = classic(2).events
    src = Source("broken source", lambda: _BrokenReader([ev[:4]]))
    out = tmp_path / "rec.jsonl"
    res = record(src, out, duration=5, start="begin", reorder=0.0, lost_after=None)
    assert res.failed and res.events == 4
    assert res.error == "cannot read broken source: the database went away"
    assert list(Trace.load(out)) == ev[:4]
    import hueyviz.read.source as source_mod
    monkeypatch.setattr(source_mod, "resolve_source", lambda s: Source(
        "broken source", lambda: _BrokenReader([ev[:4]])))
    rc, _, err = cli(capsys, "record", "anything", "-o", out, "--duration", "5")
    assert rc == 2 and re.search(r"recorded \d+ events", err)     # 4, and the lost workers
    assert err.rstrip().endswith("hueyviz: error: cannot read broken source: the database went away")
