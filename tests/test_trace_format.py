"""The JSON Lines trace format: round trips and every kind of bad input."""
import json
import subprocess
import sys

import pytest
from story import Story
from test_analysis import classic

from hueyviz import Trace, TraceFormatError, TraceWarning
from hueyviz.core.trace import FORMAT, VERSION

HOSTILE = ['<script>alert(1)</script>', '"]; x -> y [', "line\nbreak", "\u2028\u0000é"]


def write(path, lines, newline_at_end=True):
    text = "\n".join(lines)
    path.write_text(text + ("\n" if newline_at_end else ""), encoding="utf-8")
    return path


def header(**kw):
    return json.dumps({"format": FORMAT, "version": VERSION, **kw})


def test_round_trip_keeps_every_event(tmp_path):
    s = classic(2)
    s.names["main0"] = HOSTILE[0]
    s2 = classic(2)
    tr = Trace(s.events + s2.events[:0], header={"format": FORMAT, "version": 1, "huey": "x"})
    path = tmp_path / "t.jsonl"
    tr.save(path)
    back = Trace.load(path)
    assert back == tr
    assert back.header["huey"] == "x"
    assert back.header["events"] == len(tr)
    assert back.warnings == ()


def test_hostile_strings_survive_json(tmp_path):
    s = Story(1)
    for i, name in enumerate(HOSTILE):
        s.names[f"t{i}"] = name
        s.enqueue(f"t{i}")
    path = tmp_path / "h.jsonl"
    Trace(s.events).save(path)
    assert [e.name for e in Trace.load(path) if e.kind == "enqueued"] == HOSTILE
    # One event per line, whatever the names contain.
    assert len(path.read_text(encoding="utf-8").splitlines()) == 1 + len(s.events)


def test_corrupt_line_in_the_middle_names_the_line(tmp_path):
    path = write(tmp_path / "c.jsonl", [header(), '{"t": 1, "kind": "enqueued", "task": "a"}',
                                        "{not json", '{"t": 2, "kind": "executing", "task": "a"}'])
    with pytest.raises(TraceFormatError, match=r"c\.jsonl:3: invalid JSON"):
        Trace.load(path)
    with pytest.warns(TraceWarning, match=r":3: invalid JSON"):
        tr = Trace.load(path, strict=False)
    assert [e.kind for e in tr] == ["enqueued", "executing"]
    assert len(tr.warnings) == 1


def test_truncated_last_line_keeps_what_is_complete(tmp_path):
    path = write(tmp_path / "t.jsonl", [header(), '{"t": 1, "kind": "enqueued", "task": "a"}',
                                        '{"t": 2, "kind": "exec'], newline_at_end=False)
    with pytest.warns(TraceWarning, match=r"t\.jsonl:3: last line is truncated; loaded the 1"):
        tr = Trace.load(path)
    assert len(tr) == 1


def test_unknown_format_version(tmp_path):
    path = write(tmp_path / "v.jsonl", [json.dumps({"format": FORMAT, "version": 99})])
    with pytest.raises(TraceFormatError, match="version 99 is newer"):
        Trace.load(path)


def test_not_a_trace(tmp_path):
    path = write(tmp_path / "n.jsonl", ['{"hello": "world"}'])
    with pytest.raises(TraceFormatError, match=r"n\.jsonl:1: not a hueyviz trace"):
        Trace.load(path)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    with pytest.raises(TraceFormatError, match="empty file"):
        Trace.load(empty)
    with pytest.raises(TraceFormatError, match="cannot open"):
        Trace.load(tmp_path / "missing.jsonl")


@pytest.mark.parametrize("line, why", [
    ('{"kind": "enqueued"}', "field 't' must be a finite number"),
    ('{"t": 1}', "missing field 'kind'"),
    ('{"t": 1, "kind": "block", "task": "a"}', "block event without field 'waits_on'"),
    ('{"t": 1, "kind": "enqueued", "task": 5}', "'task' must be a string"),
    ('{"t": "NaN", "kind": "enqueued"}', "field 't' must be a finite number"),
    ('[1, 2]', "must be a JSON object"),
])
def test_missing_or_wrong_fields_name_the_line(tmp_path, line, why):
    path = write(tmp_path / "m.jsonl", [header(), '{"t": 0, "kind": "pool", "size": 1}', line])
    with pytest.raises(TraceFormatError) as exc:
        Trace.load(path)
    assert ":3:" in str(exc.value) and why in str(exc.value)
    assert exc.value.line == 3


def test_unknown_kinds_are_kept_with_a_warning(tmp_path):
    path = write(tmp_path / "u.jsonl", [header(), '{"t": 1, "kind": "teleported", "task": "a"}',
                                        '{"t": 2, "kind": "enqueued", "task": "a"}'])
    with pytest.warns(TraceWarning, match="unknown kind 'teleported'"):
        tr = Trace.load(path)
    assert [e.kind for e in tr] == ["teleported", "enqueued"]


def test_trace_is_immutable_and_derived_views_do_not_change_it():
    tr = Trace(classic(2).events)
    before = tuple(tr)
    tr.graph(), tr.lanes(), tr.state_at(3.0)
    assert tuple(tr) == before
    with pytest.raises(AttributeError):
        tr.events = ()
    with pytest.raises(TypeError):
        tr[0] = None


def test_state_at_a_time():
    s = classic(2)
    tr = Trace(s.events)
    first_block = next(e for e in tr if e.kind == "block")
    st = tr.state_at(first_block.t)
    assert st.tasks["main0"].state == "blocked"
    assert st.tasks["main1"].state == "queued"
    assert st.pool_size == 2
    end = tr.state_at()
    assert {t.id for t in end.by_state("blocked")} == {"main0", "main1"}
    assert end.tasks["sub1"].state == "queued"


def test_window_and_dropped_count():
    s = classic(2)
    s.kind("dropped", count=3)
    tr = Trace(s.events, dropped=2)
    assert tr.dropped == 5
    w = tr.window(3.0, 5.0)
    assert all(3.0 <= e.t <= 5.0 for e in w) and len(w) == 3


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "hueyviz", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_exit_codes(tmp_path):
    ok = tmp_path / "ok.jsonl"
    s = Story(1)
    s.start("a", 0)
    s.finish("a")
    Trace(s.events).save(ok)
    bad = write(tmp_path / "bad.jsonl", [header(), "{oops", "{}"])
    dead = tmp_path / "dead.jsonl"
    Trace(classic(2).events).save(dead)
    r = run_cli("diagnose", str(ok))
    assert r.returncode == 0 and r.stdout.startswith("OK:")
    r = run_cli("diagnose", str(dead))
    assert r.returncode == 1 and r.stdout.startswith("Deadlock:")
    r = run_cli("diagnose", str(bad))
    assert r.returncode == 2 and "bad.jsonl:2: invalid JSON" in r.stderr and r.stdout == ""
    r = run_cli("diagnose", str(tmp_path / "nope.jsonl"))
    assert r.returncode == 2 and "cannot open" in r.stderr
    r = run_cli("diagnose", str(dead), "--json", "--to", "4.5")
    assert r.returncode == 0 and json.loads(r.stdout)["verdict"] == "ok"


def test_cli_help_is_complete():
    top = run_cli("--help")
    assert top.returncode == 0 and "examples:" in top.stdout
    for cmd in ("demo", "diagnose"):
        assert cmd in top.stdout
        h = run_cli(cmd, "--help")
        assert h.returncode == 0 and "examples:" in h.stdout and f"hueyviz {cmd}" in h.stdout


def test_a_corrupt_last_line_that_ends_with_a_newline_is_corruption(tmp_path):
    # A killed writer leaves a line without its newline; a line that ends
    # with one was written whole and then damaged: strict loading refuses it.
    path = write(tmp_path / "z.jsonl", [header(), '{"t": 1, "kind": "enqueued", "task": "a"}',
                                        '{"t": 2, "kind": "exec'])
    with pytest.raises(TraceFormatError, match=r"z\.jsonl:3: invalid JSON"):
        Trace.load(path)
    with pytest.warns(TraceWarning, match=r"skipped .*z\.jsonl:3"):
        assert len(Trace.load(path, strict=False)) == 1


def test_losses_survive_save_and_load_and_windows_once(tmp_path):
    s = classic(2)
    s.kind("dropped", count=3)                 # logged by a sink
    tr = Trace(s.events, dropped=2)            # known outside the log (a ring, a reader)
    assert tr.dropped == 5
    for i in range(3):                         # 5 stays 5: never 10, then 15
        tr.save(tmp_path / f"r{i}.jsonl")
        tr = Trace.load(tmp_path / f"r{i}.jsonl")
        assert (tr.dropped, tr.unlogged) == (5, 2), i
    inside, outside = tr.window(3.0, 5.0), tr.window(0.0, 1.0)
    assert inside.dropped == outside.dropped == 5
    assert inside.window(3.0, 4.0).dropped == 5
    inside.save(tmp_path / "w.jsonl")
    assert Trace.load(tmp_path / "w.jsonl").dropped == 5
    assert Trace.merge([tr, Trace(s.events[:2], dropped=1)]).dropped == 5 + 1


def test_blank_lines_are_skipped_and_bad_fields_are_named_when_lenient(tmp_path):
    # Found by mutation testing: a blank line must not end the load, and the
    # lenient loader's note must say which line it skipped and why.
    path = write(tmp_path / "b.jsonl", [header(), '{"t": 1, "kind": "enqueued", "task": "a"}', "",
                                        '{"t": 2, "kind": "pool", "size": "x"}',
                                        '{"t": 3, "kind": "executing", "task": "a"}'])
    with pytest.warns(TraceWarning, match=r"skipped .*b\.jsonl:4: field 'size'"):
        tr = Trace.load(path, strict=False)
    assert [e.kind for e in tr] == ["enqueued", "executing"]
    assert tr.warnings == (f"skipped {path}:4: field 'size' must be a whole number of workers "
                           "from 0 to 1000000, got 'x'",)


def test_the_header_unlogged_count_wins_and_older_files_derive_it(tmp_path):
    # Found by mutation testing: "unlogged" is read, and a file written before
    # it existed derives it from "dropped" less the dropped events it holds.
    ev = '{"t": 1, "kind": "dropped", "count": 3}'
    new = write(tmp_path / "n.jsonl", [header(dropped=99, unlogged=2), ev])
    old = write(tmp_path / "o.jsonl", [header(dropped=5), ev])
    older = write(tmp_path / "p.jsonl", [header(), ev])
    assert (Trace.load(new).unlogged, Trace.load(new).dropped) == (2, 5)
    assert (Trace.load(old).unlogged, Trace.load(old).dropped) == (2, 5)
    assert (Trace.load(older).unlogged, Trace.load(older).dropped) == (0, 3)


def test_a_newer_format_is_refused_by_every_reader(tmp_path):
    """A header of format version 99 is never read as version 1: not as a
    file, not in a sink folder, not by ``record`` (which leaves no file)."""
    lines = [json.dumps({"format": "hueyviz-trace", "version": 99}),
             json.dumps({"t": 1.0, "kind": "executing", "task": "a", "name": "job",
                         "host": "h", "pid": 1, "worker": "W"})]
    sink = tmp_path / "sink"
    sink.mkdir()
    for p in (sink / "p1.jsonl", tmp_path / "t.jsonl"):
        p.write_text("\n".join(lines) + "\n")
    out = tmp_path / "o.jsonl"
    for args in (["diagnose", str(sink)], ["diagnose", f"file://{sink}"],
                 ["diagnose", str(tmp_path / "t.jsonl")],
                 ["record", str(tmp_path / "t.jsonl"), "-o", str(out), "--from-start",
                  "--duration", "0"]):
        r = run_cli(*args)
        assert r.returncode == 2 and r.stdout == "", (args, r.stdout, r.stderr)
        assert r.stderr.count("\n") == 1, r.stderr
        assert "trace format version 99 is newer than this hueyviz reads (1)" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("name", ["bomb.jsonl.gz", "long.jsonl"])
def test_a_line_past_the_bound_ends_the_read_gzip_or_not(tmp_path, name):
    """A small .gz that inflates to one 100 MB line (a gzip bomb), and the
    same line in a plain file: one line of error naming the line, whatever
    the mode, and nothing like the line held whole."""
    import gzip
    path = tmp_path / name
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(b'{"format": "hueyviz-trace", "version": 1}\n')
        chunk = b"x" * (1 << 20)
        for _ in range(100):
            f.write(chunk)
        f.write(b"\n")
    for extra in ((), ("--lenient",)):
        r = run_cli("diagnose", str(path), *extra)
        assert r.returncode == 2 and r.stdout == "", r.stderr
        assert r.stderr == f"hueyviz: error: {path}:2: a line longer than 64 MiB: not a trace " \
            "event (a corrupt or foreign file?)\n"
