"""Errors a person can act on: one line, the right exit status, no traceback.

Exit statuses: 0 ok, 1 a finding, 2 unusable input or output path, 3 a bug
in hueyviz, 130 interrupted.  The real executable runs where it matters
(imports of the user's module, Ctrl-C); the rest runs ``main`` in process.
"""
import json
import os
import signal
import subprocess
import sys
import textwrap

import pytest
from livekit import wait_until
from story import Story
from test_analysis import classic

from hueyviz import OutputError, Trace
from hueyviz.cli import EXIT_BUG, main
from hueyviz.core.text import printable
from hueyviz.render.export import FILES, MANIFEST, _ctrl_c_held


def run(*args, cwd=None, timeout=120):
    return subprocess.run([sys.executable, "-m", "hueyviz", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def cli(capsys, *argv):
    rc = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


@pytest.fixture
def deadlock(tmp_path):
    path = tmp_path / "dead.jsonl"
    Trace(classic(2).events).save(path)
    return path


# -- the user's module -----------------------------------------------------------------
@pytest.mark.parametrize("body, why", [
    ("raise RuntimeError('no REDIS_URL set')",
     "importing it raised RuntimeError: no REDIS_URL set; fix the module"),
    ("def broken(:\n    pass", "syntax error at "),
    ("import sys\nsys.exit(3)", "importing it raised SystemExit: 3"),
    ("import no_such_dependency_hv", "No module named 'no_such_dependency_hv'"),
    ("huey = 42", "app.huey is a int, not a Huey instance"),
    ("x = 1", "module 'app' has no attribute 'huey'"),
])
def test_a_module_that_cannot_be_imported_is_one_line(tmp_path, body, why):
    (tmp_path / "app.py").write_text(body + "\n")
    r = run("diagnose", "app.huey", cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stdout == "" and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("hueyviz: error: ")
    assert why in r.stderr
    if "syntax" in why:
        assert "app.py:1" in r.stderr


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "app.py").write_text("raise RuntimeError('boom')\n")
    r = run("diagnose", "app.huey", "--debug", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" in r.stderr
    assert r.stderr.rstrip().splitlines()[-1].startswith("hueyviz: error: ")
    r = run("--debug", "diagnose", "app.huey", cwd=tmp_path)
    assert r.returncode == 2 and "Traceback" in r.stderr


# -- paths that cannot be written ------------------------------------------------------
def test_unwritable_output_paths(tmp_path, capsys, deadlock):
    a_file = tmp_path / "plain.txt"
    a_file.write_text("x")
    under_a_file = a_file / "out"
    rc, out, err = cli(capsys, "render", deadlock, "-o", under_a_file)
    assert rc == 2 and err.startswith(f"hueyviz: error: cannot write into {under_a_file}: ")
    assert "choose a path you can write to" in err and err.count("\n") == 1
    rc, out, err = cli(capsys, "record", deadlock, "-o", under_a_file / "t.jsonl",
                       "--duration", "0")
    assert rc == 2 and f"cannot write {under_a_file / 't.jsonl'}" in err
    rc, out, err = cli(capsys, "demo", "--out", under_a_file)
    assert rc == 2 and "cannot create the folder" in err and out == ""
    with pytest.raises(OutputError) as exc:
        Trace(classic(1).events).save(under_a_file / "t.jsonl")
    assert isinstance(exc.value, OSError) and exc.value.errno is not None
    assert a_file.read_text() == "x"


def test_a_bug_in_hueyviz_is_exit_3_with_one_line(capsys, monkeypatch, deadlock):
    import hueyviz.analysis.detector as detector

    def broken(*args, **kwargs):
        raise RuntimeError("oops")
    monkeypatch.setattr(detector, "diagnose", broken)
    monkeypatch.setattr(detector, "diagnose_blocks", broken)   # a whole file streams
    rc, out, err = cli(capsys, "diagnose", deadlock)
    assert rc == EXIT_BUG == 3
    assert err.startswith("hueyviz: internal error (a bug in hueyviz ")
    assert "RuntimeError: oops; run again with --debug" in err and err.count("\n") == 1
    rc, out, err = cli(capsys, "diagnose", deadlock, "--debug")
    assert rc == 3 and "Traceback" in err and "raise RuntimeError" in err


# -- control characters never reach the terminal ------------------------------------------
HOSTILE = "\x1b]0;owned\x07\x1b[2J\rjob\u202e\x9b31m\nnext"


def renamed(events, names):
    return [e._replace(name=names.get(e.task, e.name)) for e in events]


def test_control_characters_are_shown_not_sent(tmp_path, capsys):
    s = classic(2)
    s.kind("error", task="x", error=HOSTILE, message=HOSTILE)
    path = tmp_path / "hostile.jsonl"
    Trace(renamed(s.events, {"main0": HOSTILE, "sub0": HOSTILE})).save(path)
    for argv in (["diagnose", path], ["diagnose", path, "--json"], ["whatif", path],
                 ["whatif", path, "--json"], ["advise", path], ["advise", path, "--json"]):
        rc, out, err = cli(capsys, *argv)
        assert rc in (0, 1), err
        for c in "\x1b\x07\r\u202e\x9b":
            assert c not in out + err, (argv, c)
    rc, out, err = cli(capsys, "diagnose", path)
    assert "\\x1b]0;owned\\x07\\x1b[2J\\rjob\\u202e\\x9b31m\\nnext" in out
    # The verdict, one note and the best fix: no forged line.
    assert len(out.splitlines()) == 3 and out.splitlines()[2].startswith("Best fix")
    # File names and the text of errors too.
    rc, out, err = cli(capsys, "diagnose", tmp_path / "a\x1b[31m.jsonl")
    assert rc == 2 and "\x1b" not in err and "a\\x1b[31m.jsonl" in err


def test_printable_keeps_text_and_layout():
    assert printable("Deadlock: Worker-1 runs main [ab12cd34] → é") == \
        "Deadlock: Worker-1 runs main [ab12cd34] → é"
    assert printable("a\tb\x00") == "a\\tb\\x00"
    assert printable("line 1\nline 2\x1b", lines=True) == "line 1\nline 2\\x1b"


def test_the_watchdog_and_guard_messages_are_printable():
    from hueyviz.analysis.detector import find_findings
    f = find_findings(renamed(classic(2).events, {"main1": "evil\r\x1b[1A"}))[0]
    assert "\x1b" not in f.message and "\r" not in f.message and "evil\\r\\x1b[1A" in f.message


# -- Ctrl-C ------------------------------------------------------------------------------
def _snapshot(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_an_interrupted_render_leaves_the_previous_set(tmp_path, capsys, monkeypatch, deadlock):
    out = tmp_path / "out"
    rc, _, err = cli(capsys, "render", deadlock, "-o", out)
    assert rc == 0, err
    before = _snapshot(out)
    manifest = json.loads(before[MANIFEST])
    assert manifest["trace"]["events"] == 10 and manifest["trace"]["source"] == str(deadlock)
    assert manifest["trace"]["sha256"] == Trace.load(deadlock).digest()
    assert sorted(manifest["files"]) == sorted(FILES)
    import hashlib
    for name, info in manifest["files"].items():
        assert info["sha256"] == hashlib.sha256(before[name]).hexdigest()

    other = tmp_path / "other.jsonl"
    s = Story(1)
    s.start("a", 0)
    s.finish("a")
    Trace(s.events).save(other)
    import hueyviz.render.report as report

    def interrupted(*a, **k):
        raise KeyboardInterrupt
    monkeypatch.setattr(report, "render_report", interrupted)   # after lanes, waitfor...
    rc, stdout, err = cli(capsys, "render", other, "-o", out)
    assert rc == 130 and err == "hueyviz: interrupted\n" and stdout == ""
    assert _snapshot(out) == before                   # nothing of the new trace
    assert not [n for n in os.listdir(out) if n.startswith(".")]   # no staging left


def test_ctrl_c_waits_for_the_renames():
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        with _ctrl_c_held():
            os.kill(os.getpid(), signal.SIGINT)
            done = True                     # reached: the signal waited
    assert done
    assert signal.getsignal(signal.SIGINT) is before


def test_ctrl_c_in_a_real_render_exits_130(tmp_path, deadlock):
    out = tmp_path / "out"
    assert run("render", deadlock, "-o", out).returncode == 0
    before = _snapshot(out)
    script = textwrap.dedent(f"""
        import sys, threading
        import hueyviz.render.perfetto as p
        def slow(*a, **k):
            print("rendering", flush=True)
            threading.Event().wait(60)
        p.iter_perfetto = slow
        from hueyviz.cli import main
        sys.exit(main(["render", {str(deadlock)!r}, "-o", {str(out)!r}, "--from", "1"]))
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline() == "rendering\n"
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        proc.kill()
    err = proc.stderr.read()
    assert rc == 130 and err == "hueyviz: interrupted\n"
    assert _snapshot(out) == before


def test_record_stops_cleanly_on_ctrl_c(tmp_path, deadlock):
    out = tmp_path / "r.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "hueyviz", "record", str(deadlock), "-o",
                             str(out), "--from-start"], stderr=subprocess.PIPE, text=True)
    try:
        assert wait_until(lambda: out.exists() and len(out.read_text().splitlines()) > 1, 30)
        proc.send_signal(signal.SIGINT)
        rc = proc.wait(timeout=30)
    finally:
        proc.kill()
    assert rc == 0 and "recorded 10 events" in proc.stderr.read()
    assert Trace.load(out) == Trace.load(deadlock)
