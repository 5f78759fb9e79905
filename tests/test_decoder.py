"""The fast paths of reading a trace give what the careful path gives.

``decode_block`` (a block of lines decoded in C) must build exactly the
events that ``from_json_dict`` builds line by line, or decline the block;
a file read by a child process (``PipedLines``) must give the events, the
notes and the counts that ``Lines`` gives here, and fail as it fails.
"""
import gzip
import json
import os
import signal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_bad_input_property import BASE, FIELDS, SETTINGS, json_values

from hueyviz import Trace, TraceFormatError
from hueyviz.core.codec import loads
from hueyviz.core.decoder import decode_block
from hueyviz.core.errors import SourceError
from hueyviz.core.event import from_json_dict
from hueyviz.core.jsonl import Lines
from hueyviz.core.pipe import PipedLines, open_lines
from hueyviz.core.trace import FORMAT, VERSION

HEADER = json.dumps({"format": FORMAT, "version": VERSION, "clock": "unix"})


def careful(lines):
    """Each line through the careful path: the events, or the first error."""
    workers, strings, out, losses = {}, {}, [], 0
    for raw in lines:
        if not raw.strip():
            continue
        e = from_json_dict(loads(raw), workers, strings)
        if e.kind == "dropped":
            losses += e.get("count", 0)
        out.append(e)
    return out, losses


def as_lines(objs):
    return [json.dumps(o).encode() + b"\n" for o in objs]


def test_every_kind_the_tracer_writes_takes_the_fast_path():
    lines = as_lines(BASE)
    got = decode_block(b"".join(lines), {}, {})
    assert got is not None
    assert (got.events, got.losses) == careful(lines)


@settings(max_examples=400, **SETTINGS)
@given(st.lists(st.tuples(st.integers(0, len(BASE) - 1), st.sampled_from(FIELDS), json_values),
                max_size=3))
def test_a_block_decoded_in_c_is_the_careful_paths_events(changes):
    objs = [dict(o) for o in BASE]
    for i, key, value in changes:
        objs[i][key] = value
    try:
        lines = as_lines(objs)
    except (TypeError, ValueError):
        return
    got = decode_block(b"".join(lines), {}, {})
    try:
        want = careful(lines)
    except (TraceFormatError, ValueError):
        assert got is None          # what the careful path rejects, it never accepts
        return
    if got is not None:
        assert got.events == want[0] and got.losses == want[1]


def test_interning_shares_one_string_per_id_across_blocks():
    strings = {}
    a = decode_block(b"".join(as_lines(BASE[:6])), {}, strings)
    b = decode_block(b"".join(as_lines(BASE[6:])), {}, strings)
    ids = {}
    for e in a.events + b.events:
        if e.task is not None:
            assert ids.setdefault(e.task, e.task) is e.task


# -- a file read by a child process ----------------------------------------------
def write(path, lines, end=b"\n"):
    data = b"\n".join(line.encode() if isinstance(line, str) else line for line in lines) + end
    if str(path).endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return str(path)


def read_both(path, strict=True):
    """(events, notes, counts) read here and by a child process."""
    out = []
    for lines in (Lines(open(path, "rb") if not path.endswith(".gz") else gzip.open(path, "rb"),
                        path, strict), PipedLines(path, strict)):
        events = [e for block in lines.blocks() for e in block]
        out.append((events, list(lines.notes), lines.count, lines.late, lines.first_late,
                    lines.losses, lines.header, lines.late_note()))
    return out


def big_lines(n=3000):
    body = []
    for o in BASE:
        body.append(json.dumps(o))
    for i in range(n):
        body.append(json.dumps({"t": 100.0 + i, "kind": "enqueued", "task": f"t{i}", "name": "job"}))
    return [HEADER] + body


@pytest.mark.parametrize("name", ["plain.jsonl", "packed.jsonl.gz"])
def test_a_child_reads_a_file_as_lines_does(tmp_path, name):
    lines = big_lines()
    lines.insert(400, json.dumps({"t": 120.5, "kind": "enqueued", "task": "late"}))   # out of order
    here, there = read_both(write(tmp_path / name, lines))
    assert here == there
    assert here[3] == 1 and here[4][0] == 401 and here[0]


def test_a_child_skips_bad_lines_when_lenient_and_names_them_when_strict(tmp_path):
    lines = big_lines()
    lines[100:100] = ["{not json", '{"t": 1, "kind": "block", "task": "a"}']
    path = write(tmp_path / "bad.jsonl", lines)
    here, there = read_both(path, strict=False)
    assert here == there and len(here[1]) == 2
    for lines_ in (Lines(open(path, "rb"), path), PipedLines(path)):
        with pytest.raises(TraceFormatError, match=r"bad\.jsonl:101: invalid JSON"):
            list(lines_.blocks())


def test_a_child_reads_up_to_a_cut(tmp_path):
    lines = big_lines()
    path = write(tmp_path / "cut.jsonl", lines[:-1] + [lines[-1][:17]], end=b"")
    here, there = read_both(path)
    assert here == there and "truncated" in here[1][0]
    packed = tmp_path / "cut.jsonl.gz"
    write(packed, lines)
    packed.write_bytes(packed.read_bytes()[:-40])
    here, there = read_both(str(packed))
    assert here == there and "compressed file is truncated" in here[1][0]


def test_a_child_that_dies_is_an_error_not_a_short_trace(tmp_path):
    path = write(tmp_path / "t.jsonl", big_lines(50_000))
    lines = PipedLines(path)
    blocks = lines.blocks()
    next(blocks)
    os.kill(lines._proc.pid, signal.SIGKILL)
    with pytest.raises(SourceError, match=r"ended before the end of the file \(exit status -9\)"):
        for _ in blocks:
            pass


def test_large_files_go_to_a_child_unless_told_not_to(tmp_path, monkeypatch):
    path = write(tmp_path / "t.jsonl", big_lines(10))
    with open_lines(path, min_bytes=0) as lines:
        assert isinstance(lines, PipedLines)
        assert sum(map(len, lines.blocks())) == lines.count == len(BASE) + 10
    with open_lines(path) as lines:
        assert not isinstance(lines, PipedLines)          # small: read here
    monkeypatch.setenv("HUEYVIZ_READER", "inline")
    with open_lines(path, min_bytes=0) as lines:
        assert not isinstance(lines, PipedLines)


def test_trace_load_of_a_large_file_equals_the_inline_load(tmp_path, monkeypatch):
    path = write(tmp_path / "t.jsonl", big_lines(2000))
    monkeypatch.setattr("hueyviz.core.pipe.MIN_BYTES", 0)
    piped = Trace.load(path)
    monkeypatch.setenv("HUEYVIZ_READER", "inline")
    assert Trace.load(path) == piped and len(piped) == len(BASE) + 2000


# -- analysed while it loads ---------------------------------------------------------
def _analysis_view(a):
    h = a.history
    return ([f.to_dict() for f in a.findings], a.replay.tasks, list(h.change_t),
            list(h.change_state), h.spans, h.pools, h.depth)


@pytest.mark.parametrize("piped", [False, True])
def test_a_file_analysed_while_it_loads_has_its_traces_analysis(tmp_path, monkeypatch, piped):
    from test_analysis import classic

    from hueyviz.analysis.detector import _analyse, analyse, load_analysed
    s = classic(3)
    for i in range(2000):                  # enough lines for several blocks
        s.enqueue(f"later{i}")
    path = tmp_path / "t.jsonl"
    Trace(s.events).save(path)
    if piped:
        monkeypatch.setattr("hueyviz.core.pipe.MIN_BYTES", 0)
    tr = load_analysed(str(path))
    assert "analysis" in tr._views                     # analysed as it was read
    assert _analysis_view(analyse(tr)) == _analysis_view(_analyse(Trace.load(path).events))
    assert analyse(tr).findings[0].verdict == "deadlock"
    # Out of time order: the file is sorted, and the analysis made anew.
    lines = path.read_text().splitlines()
    lines.insert(3, lines.pop(-1))
    path.write_text("\n".join(lines) + "\n")
    with pytest.warns(Warning, match="out of time order"):
        tr = load_analysed(str(path))
    assert "analysis" not in tr._views
    assert _analysis_view(analyse(tr)) == _analysis_view(_analyse(tr.events))
