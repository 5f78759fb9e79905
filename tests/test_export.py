"""``hueyviz render`` and :func:`hueyviz.export.export_all`."""
import json
import os
import xml.etree.ElementTree as ET

import pytest

from hueyviz.cli import main
from hueyviz.demo import run_demo
from hueyviz.render.export import FILES, MANIFEST, export_all, parse_formats


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    res = run_demo(out=str(out), render=False)
    return str(out / "trace.jsonl"), res


def _render(capsys, *argv):
    rc = main(["render", *argv])
    return rc, capsys.readouterr()


def test_render_writes_every_file(demo_file, tmp_path, capsys):
    path, _ = demo_file
    rc, cap = _render(capsys, path, "-o", str(tmp_path / "out"))
    assert rc == 0, cap.err
    assert sorted(os.listdir(tmp_path / "out")) == sorted((*FILES, MANIFEST))
    for name in FILES:
        full = tmp_path / "out" / name
        assert f"wrote {full}" in cap.out
        text = full.read_text(encoding="utf-8")
        if name.endswith(".svg"):
            ET.fromstring(text)
        elif name.endswith(".json"):
            assert json.loads(text)["traceEvents"]
        else:
            assert text.lstrip().lower().startswith("<!doctype html")


def test_format_subset(demo_file, tmp_path, capsys):
    path, _ = demo_file
    rc, _ = _render(capsys, path, "-o", str(tmp_path), "--format", "svg,perfetto")
    assert rc == 0
    assert sorted(os.listdir(tmp_path)) == ["lanes.svg", MANIFEST, "trace.json", "waitfor.svg"]


def test_unknown_format_is_bad_input(demo_file, tmp_path, capsys):
    path, _ = demo_file
    rc, cap = _render(capsys, path, "-o", str(tmp_path), "--format", "svg,gif")
    assert rc == 2 and "unknown format 'gif'" in cap.err
    assert os.listdir(tmp_path) == []


def test_at_selects_the_moment(demo_file, tmp_path, capsys):
    path, res = demo_file
    _render(capsys, path, "-o", str(tmp_path / "end"), "--format", "waitfor")
    _render(capsys, path, "-o", str(tmp_path / "start"), "--format", "waitfor", "--at", "0")
    at_finding = (tmp_path / "end" / "waitfor.svg").read_text()
    at_start = (tmp_path / "start" / "waitfor.svg").read_text()
    assert 'class="edge wait knot culprit"' in at_finding
    assert "culprit" not in at_start


def test_window_from_to(demo_file, tmp_path, capsys):
    path, _ = demo_file
    rc, _ = _render(capsys, path, "-o", str(tmp_path), "--format", "waitfor,json",
                    "--from", "0", "--to", "0")
    assert rc == 0
    assert "culprit" not in (tmp_path / "waitfor.svg").read_text()
    events = json.loads((tmp_path / "trace.json").read_text())["traceEvents"]
    assert not [e for e in events if e["ph"] == "i"]


def test_window_zooms_lanes_and_report_into_the_whole_run(demo_file, tmp_path, capsys):
    """--from/--to draw a stretch of the whole replay: a task already running
    when the window opens is drawn, and the report's slider spans the window."""
    path, res = demo_file
    tr = res.trace
    blocks = [e.t - tr.start for e in tr if e.kind == "block"]
    lo = blocks[0] + (blocks[-1] - blocks[0]) / 2          # after the first main task blocked
    rc, _ = _render(capsys, path, "-o", str(tmp_path), "--format", "lanes,html",
                    "--from", repr(lo), "--to", repr(tr.end - tr.start))
    assert rc == 0
    lanes = (tmp_path / "lanes.svg").read_text()
    assert "waits for subtask" in lanes and lanes.count('class="bar ') >= 2
    report = (tmp_path / "report.html").read_text()
    assert f'min="{lo:.9f}'.rstrip("0") in report or 'step="any"' in report


def test_byte_identical_twice(demo_file, tmp_path, capsys):
    path, _ = demo_file
    _render(capsys, path, "-o", str(tmp_path / "a"))
    _render(capsys, path, "-o", str(tmp_path / "b"))
    for name in (*FILES, MANIFEST):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_export_all_api(demo_file, tmp_path):
    _, res = demo_file
    files = export_all(res.trace, tmp_path, formats=["waitfor", "json"])
    assert [os.path.basename(f) for f in files] == ["waitfor.svg", "trace.json"]
    assert parse_formats("all") == list(FILES)
    with pytest.raises(ValueError, match="choose from"):
        parse_formats("")


def test_demo_writes_the_drawings(tmp_path):
    res = run_demo(out=str(tmp_path))
    names = sorted(os.path.basename(f) for f in res.files)
    assert names == sorted(("trace.jsonl",) + FILES)
    assert (tmp_path / MANIFEST).is_file()


def test_forked_drawings_are_the_files_drawn_here(demo_file, tmp_path, monkeypatch):
    """Large traces have their drawings made by a forked copy of the process
    while it writes trace.json: the same files, the same manifest."""
    import hueyviz.render.export as export
    from hueyviz import Trace
    tr = Trace.load(demo_file[0])
    here = export_all(tr, tmp_path / "here")
    forks = []
    real = export._forked
    monkeypatch.setattr(export, "FORK_EVENTS", 0)
    # Threads other tests left (daemons) would make it write here instead.
    monkeypatch.setattr(export.threading, "active_count", lambda: 1)

    def forked(*a):
        wait = real(*a)
        forks.append((list(a[2]), wait is not None))
        return wait
    monkeypatch.setattr(export, "_forked", forked)
    there = export_all(tr, tmp_path / "there")
    assert forks == [(["lanes.svg", "waitfor.svg", "animated.svg", "report.html"], True)]
    for a, b in zip(here, there):
        assert open(a, "rb").read() == open(b, "rb").read()
    assert json.loads((tmp_path / "here" / MANIFEST).read_text()) == \
        json.loads((tmp_path / "there" / MANIFEST).read_text())


def test_a_forked_writer_that_fails_says_so_and_leaves_the_folder_alone(demo_file, tmp_path,
                                                                        monkeypatch):
    import hueyviz.render.animated as animated
    import hueyviz.render.export as export
    from hueyviz import Trace
    tr = Trace.load(demo_file[0])
    monkeypatch.setattr(export, "FORK_EVENTS", 0)
    monkeypatch.setattr(export.threading, "active_count", lambda: 1)

    def broken(*a, **kw):
        raise ZeroDivisionError("boom")
    monkeypatch.setattr(animated, "render_animated", broken)
    with pytest.raises(RuntimeError, match="drawing lanes.svg, waitfor.svg, animated.svg, "
                                           "report.html in a forked process failed: "
                                           "ZeroDivisionError: boom"):
        export_all(tr, tmp_path / "out")
    assert os.listdir(tmp_path / "out") == []      # no file, no staging folder left


@pytest.mark.parametrize("theirs", ['{"name": "my-docs", "version": 3}\n', "not json at all"])
def test_a_manifest_of_the_users_own_is_never_replaced(demo_file, tmp_path, capsys, theirs):
    path, _ = demo_file
    (tmp_path / MANIFEST).write_text(theirs)
    (tmp_path / "notes.txt").write_text("mine")
    rc, cap = _render(capsys, path, "-o", str(tmp_path), "--format", "svg")
    assert rc == 2 and cap.out == ""
    lines = cap.err.strip().splitlines()
    assert len(lines) == 1 and "is not a hueyviz render manifest" in lines[0], cap.err
    # Nothing written, nothing touched.
    assert sorted(os.listdir(tmp_path)) == [MANIFEST, "notes.txt"]
    assert (tmp_path / MANIFEST).read_text() == theirs


def test_a_folder_rendered_before_is_rendered_again(demo_file, tmp_path, capsys):
    path, _ = demo_file
    (tmp_path / "notes.txt").write_text("mine")
    assert _render(capsys, path, "-o", str(tmp_path), "--format", "svg")[0] == 0
    assert _render(capsys, path, "-o", str(tmp_path), "--format", "waitfor")[0] == 0
    assert json.loads((tmp_path / MANIFEST).read_text())["files"].keys() == {"waitfor.svg"}
    assert (tmp_path / "notes.txt").read_text() == "mine"      # not asked for: untouched
