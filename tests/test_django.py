"""The Django app, ``hueyviz.contrib.django``, in a real Django project.

``djangoproj/`` is run the way its users run it: ``manage.py shell`` enqueues
(the web side), ``manage.py run_huey`` (djhuey) and ``manage.py djangohuey
--queue NAME`` (django-huey) consume, ``manage.py hueyviz`` reads.  Django's
database and the queues are SQLite files in the test's directory, and
django-huey-monitor receives the same signals alongside.  Each deadlock test
ends by killing its stuck consumers (the fixture's finalizer).
"""
import json
import os
import sqlite3
import subprocess
import sys
from types import SimpleNamespace

import pytest
from djangokit import PY, Project, make_project, migrated_db, run  # noqa: F401
from livekit import wait_until

import hueyviz
from hueyviz.cli import main
from hueyviz.contrib.django.management.commands.hueyviz import strip_django_options
from hueyviz.contrib.django.project import read_options
from hueyviz.read.source import resolve_source
from hueyviz.record.sinkurl import sink_for, source_url

HEAVY = ("networkx", "graphviz", "ipywidgets", "anywidget", "traitlets", "wasmtime",
         "hueyviz.analysis", "hueyviz.protect", "hueyviz.render", "hueyviz.read")


def diagnosis(project):
    return hueyviz.diagnose(hueyviz.Trace.read(project.queue_urls()))


def wait_verdict(project, verdict, consumers, timeout=90.0):
    seen = []

    def check():
        try:
            d = diagnosis(project)
        except hueyviz.SourceError:      # nothing recorded yet
            return False
        seen[:] = [d]
        return d.verdict == verdict
    ok = wait_until(check, timeout, step=0.2)
    assert ok, (f"no {verdict} within {timeout} s: "
                f"{seen[0].message if seen else 'nothing recorded'}\n"
                + "\n".join(c.output() for c in consumers))
    return seen[0]


def test_manage_py_hueyviz_is_the_cli_with_the_project_queues(make_project):
    # No consumer yet: the shell only enqueues (a producer, as a web process is).
    p = make_project("djangohuey")
    p.shell("from mqtasks.tasks import ask_beta, leaf_b\nask_beta(1); leaf_b(2)")
    out = p.manage("hueyviz", "diagnose", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["verdict"] == "ok" and "2 tasks" in d["message"]
    # Options pass through untouched, before or after the command's words.
    out = p.manage("hueyviz", "whatif", "--workers", "alpha=1..2,beta=1", "--json")
    assert out.returncode == 0, out.stderr
    assert [r["workers"] for r in json.loads(out.stdout)["runs"]] == [
        {"alpha": 1, "beta": 1}, {"alpha": 2, "beta": 1}]
    # Given a source, it reads that one only (here one queue).
    out = p.manage("hueyviz", "diagnose", p.queue_urls()[1], "--json")
    assert json.loads(out.stdout)["message"].startswith("OK: 1 task"), out.stdout
    # Django's own --settings is taken by manage.py, not passed on.
    out = p.manage("hueyviz", "--settings=proj.settings", "diagnose")
    assert out.returncode == 0 and out.stdout.startswith("OK: 2 tasks"), out.stderr
    # Errors are the CLI's one line and exit status.
    out = p.manage("hueyviz", "diagnose", "no/such.jsonl")
    assert out.returncode == 2 and out.stderr.count("\n") == 1, out.stderr
    assert out.stderr.startswith("hueyviz: error: ")
    out = p.manage("hueyviz", "diagnose", "--help")
    assert out.returncode == 0 and "usage: manage.py hueyviz diagnose" in out.stdout
    assert "[SOURCE ...]" in out.stdout
    out = p.manage("help", "hueyviz")
    assert out.returncode == 0 and "usage: manage.py hueyviz" in out.stdout
    # From code: call_command, the exit status in CommandError.returncode.
    out = p.shell("from django.core.management import call_command, CommandError\n"
                  "call_command('hueyviz', 'diagnose', '--json')\n"
                  "try:\n"
                  "    call_command('hueyviz', 'diagnose', 'no/such.jsonl')\n"
                  "except CommandError as exc:\n"
                  "    print(exc.returncode)\n")
    assert '"verdict": "ok"' in out.stdout and out.result == 2


def test_the_app_keeps_web_processes_on_the_recording_path(make_project):
    # Guard and watchdog on: they start only where a consumer is created.
    p = make_project("djhuey", hueyviz={"guard": True, "watchdog": 30})
    code = ("import sys, json\n"
            "from djtasks.tasks import main\n"
            "from huey.contrib.djhuey import HUEY\n"
            "from hueyviz.contrib.django.project import protection\n"
            "main(1)\n"
            "prot = protection(HUEY)\n"
            f"heavy = sorted(m for m in sys.modules if m.startswith({HEAVY!r}))\n"
            "print(json.dumps({'heavy': heavy, 'tracer': repr(HUEY._hueyviz_tracer),\n"
            "                  'guard': repr(prot.guard), 'watchdog': repr(prot.watchdog)}))\n")
    res = p.shell(code).result
    assert res["heavy"] == [], res
    assert res["tracer"].startswith("<Tracer attached huey='jobs'")
    assert res["guard"] == res["watchdog"] == "None"


def test_djhuey_nested_task_deadlock_names_the_culprit(make_project, tmp_path):
    p = make_project("djhuey")
    consumer = p.consumer("run_huey", "-w", "2", "-k", "thread")
    p.shell("from djtasks.tasks import main\nmain(3, together=2); main(3, together=2)")
    wait_verdict(p, "deadlock", [consumer])
    out = p.manage("hueyviz", "diagnose", "--json")
    assert out.returncode == 1, out.stderr
    d = json.loads(out.stdout)
    assert d["verdict"] == "deadlock"
    assert d["culprit"]["waiter_name"] == "main"
    assert d["culprit"]["waits_on_name"] == "sub"
    assert d["workers"] == {"total": 2, "blocked": 2} and list(d["queues"]) == ["jobs"]
    text = p.manage("hueyviz", "diagnose")
    assert text.returncode == 1 and text.stdout.startswith("Deadlock: ")
    assert "main" in text.stdout
    # Other commands and their options go through as well.
    out_dir = tmp_path / "drawings"
    out = p.manage("hueyviz", "render", "-o", str(out_dir), "--format", "lanes,perfetto")
    assert out.returncode == 0, out.stderr
    assert sorted(os.listdir(out_dir)) == ["lanes.svg", "manifest.json", "trace.json"]
    out = p.manage("hueyviz", "whatif", "--workers", "1..4", "--json")
    assert [r["workers"] for r in json.loads(out.stdout)["runs"]] == [1, 2, 3, 4], out.stderr
    assert consumer.alive()                 # stuck, as it would be: the finalizer kills it


def test_django_huey_knot_across_two_queues(make_project):
    p = make_project("djangohuey")
    consumers = [p.consumer("djangohuey", "--queue", q, "-w", "1", "-k", "thread")
                 for q in ("alpha", "beta")]
    p.shell("from mqtasks.tasks import top\ntop(7)")
    wait_verdict(p, "deadlock", consumers)
    out = p.manage("hueyviz", "diagnose", "--json")
    assert out.returncode == 1, out.stderr
    d = json.loads(out.stdout)
    c = d["culprit"]
    # beta's mid closed the knot: it waits for alpha's leaf, whose only
    # worker holds top, which waits for mid.
    assert (c["waiter_name"], c["waits_on_name"]) == ("mid", "leaf_a")
    assert (c["queue"], c["waits_on_queue"]) == ("beta", "alpha")
    assert "queue `alpha`: 1 of 1 workers blocked" in d["message"]
    assert "queue `beta`: 1 of 1 workers blocked" in d["message"]
    assert {q: v["total"] for q, v in d["queues"].items()} == {"alpha": 1, "beta": 1}


def test_django_huey_cross_queue_wait_completes_and_reads_as_the_cli(make_project):
    p = make_project("djangohuey")
    consumers = [p.consumer("djangohuey", "--queue", q, "-w", "1", "-k", "thread")
                 for q in ("alpha", "beta")]
    res = p.shell("import json\nfrom mqtasks.tasks import ask_beta\n"
                  "rs = [ask_beta(i) for i in range(3)]\n"
                  "print(json.dumps([r.get(blocking=True, timeout=60) for r in rs]))").result
    assert res == [1, 2, 3]
    for c in consumers:
        assert c.stop(), c.output()
    out = p.manage("hueyviz", "diagnose", "--json")
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    assert d["verdict"] == "ok" and d["findings"] == [], d
    assert set(d["queues"]) == {"alpha", "beta"}, d        # one pool per queue
    # The same bytes as the plain CLI on the queues' sinks, written out by hand.
    cli = run([PY, "-m", "hueyviz", "diagnose", *p.queue_urls(), "--json"], p.env)
    assert cli.returncode == 0, cli.stderr
    assert out.stdout == cli.stdout
    tr = hueyviz.Trace.read(p.queue_urls())
    waits = [e for e in tr if e.kind == "block" and e.task is not None]
    assert len(waits) == 3 and {e.queue for e in waits} == {"alpha"}     # the waiter's queue
    assert {e.get("waits_on_queue") for e in waits} == {"beta"}
    assert tr.dropped == 0
    # django-huey-monitor saw the same tasks through the same signals.
    with sqlite3.connect(p.db) as conn:
        assert conn.execute("select count(*) from huey_monitor_taskmodel").fetchone()[0] >= 6


@pytest.mark.parametrize("mode", ["djhuey", "djangohuey"])
def test_debug_true_runs_tasks_immediately_and_is_ok(make_project, mode):
    call = "main(3).get()" if mode == "djhuey" else "ask_beta(2).get() + top(5).get()"
    module = "djtasks" if mode == "djhuey" else "mqtasks"
    code = ("import json, hueyviz\n"
            f"from {module}.tasks import *\n"
            "from hueyviz.contrib.django.project import find_queues\n"
            f"value = {call}\n"
            "tracers = [h._hueyviz_tracer for h in find_queues()]\n"
            "tr = hueyviz.Trace.merge([t.trace for t in tracers])\n"
            "d = hueyviz.diagnose(tr)\n"
            "print(json.dumps({'value': value, 'verdict': d.verdict, 'message': d.message,\n"
            "    'errors': sum(t.errors for t in tracers), 'dropped': tr.dropped,\n"
            "    'immediate': [h.immediate for h in find_queues()],\n"
            "    'kinds': sorted({e.kind for e in tr}),\n"
            "    'depths': [s.depth for lane in tr.lanes().values() for s in lane.spans]}))\n")
    p = make_project(mode, debug=True)
    out = p.shell(code)
    res = out.result
    assert res["immediate"] == [True] * len(res["immediate"]) and res["immediate"]
    assert res["value"] == (3 if mode == "djhuey" else 3 + 5)
    assert res["verdict"] == "ok", res["message"]
    assert res["errors"] == 0 and res["dropped"] == 0
    assert "block" not in res["kinds"]      # nested get() ran inline: nothing waited
    assert max(res["depths"]) >= 1          # ... as nested executions on one worker
    assert "hueyviz" not in out.stderr, out.stderr
    # The events stayed in that process (memory, as install() does in
    # immediate mode); manage.py hueyviz says so and how to change it.
    out = p.manage("hueyviz", "diagnose")
    assert out.returncode == 2 and "immediate mode (as DEBUG=True sets it)" in out.stderr
    assert "HUEYVIZ" in out.stderr and out.stderr.count("\n") == 1, out.stderr
    # With a sink URL, another process reads them.
    sink = f"sqlite:///{p.dir}/events.db"
    p = make_project(mode, debug=True, hueyviz={"sink": sink})
    assert p.shell(code).result["verdict"] == "ok"
    out = p.manage("hueyviz", "diagnose", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["verdict"] == "ok"


def test_guard_in_the_consumer_refuses_the_closing_wait(make_project):
    p = make_project("djhuey", hueyviz={"guard": True})
    consumer = p.consumer("run_huey", "-w", "2", "-k", "thread")
    res = p.shell(
        "import json, sys\n"
        "from huey.exceptions import TaskException\n"
        "from djtasks.tasks import main\n"
        "rs = [main(3, together=2), main(3, together=2)]\n"
        "out = []\n"
        "for r in rs:\n"
        "    try:\n"
        "        out.append(r.get(blocking=True, timeout=60))\n"
        "    except TaskException as exc:\n"
        "        out.append(str(exc)[:300])\n"
        "out.append(sorted(m for m in sys.modules if m.startswith('hueyviz.protect')))\n"
        "print(json.dumps(out))\n").result
    assert 3 in res[:2], (res, consumer.output())          # one main completed...
    refused = next(r for r in res[:2] if r != 3)            # ...the other was refused
    assert "DeadlockError" in refused and "hueyviz.guard refused this wait" in refused
    assert res[2] == []                      # the shell never loaded the guard
    assert "hueyviz.guard refused this wait" in consumer.log_text()
    assert consumer.stop(), consumer.output()
    assert diagnosis(p).verdict == "ok"


def test_watchdog_in_each_consumer_reports_its_stuck_wait(make_project):
    # 2 s: long enough that a loaded machine's slow enqueue (between the
    # task's start and its wait) does not look like no progress.
    p = make_project("djangohuey", hueyviz={"watchdog": 2})
    consumers = [p.consumer("djangohuey", "--queue", q, "-w", "1", "-k", "thread")
                 for q in ("alpha", "beta")]
    p.shell("from mqtasks.tasks import top\ntop(1)")
    wait_verdict(p, "deadlock", consumers)
    # Each consumer's watchdog follows every queue of the project's database:
    # it sees the knot across both queues, each wait and where.
    for c in consumers:
        assert wait_until(lambda c=c: "hueyviz watchdog: no progress" in c.log_text(), 30, 0.1), \
            c.output()
        report = c.log_text().split("hueyviz watchdog: no progress", 1)[1]
        assert "Deadlock:" in report and "queue `alpha`" in report and "queue `beta`" in report
        for task in ("top", "mid"):
            assert f": {task} [" in report and "mqtasks/tasks.py:" in report


# -- the pieces, without processes ------------------------------------------------------
def test_settings_are_checked_with_install_defaults():
    assert read_options(SimpleNamespace()) == {"sink": None, "capture_args": False,
                                               "guard": False, "watchdog": None}
    ok = read_options(SimpleNamespace(HUEYVIZ={"sink": "redis://h:6379/0", "guard": "warn",
                                               "watchdog": 30, "capture_args": True}))
    assert ok["watchdog"] == 30 and ok["guard"] == "warn"
    for bad, words in [
        ({"sinks": None}, "unknown key 'sinks'"),
        ({"sink": "/tmp/x.db"}, "must be a URL"),
        ({"sink": "sqlite:////tmp/x.db?queue=a"}, "names no queue"),
        ({"capture_args": "yes"}, "True or False"),
        ({"guard": "on"}, "'raise' or 'warn'"),
        ({"watchdog": 0}, "seconds > 0"),
        ({"watchdog": "30"}, "seconds > 0"),
    ]:
        with pytest.raises(hueyviz.UsageError, match=words):
            read_options(SimpleNamespace(HUEYVIZ=bad))
    with pytest.raises(hueyviz.UsageError, match="must be a dict"):
        read_options(SimpleNamespace(HUEYVIZ=["sink"]))


def test_guard_and_watchdog_start_with_a_thread_consumer_only(caplog):
    from huey import MemoryHuey

    from hueyviz.contrib.django import project
    opts = {**project.DEFAULTS, "guard": "warn", "watchdog": 30}
    for worker_type, started in (("process", False), ("thread", True)):
        huey = MemoryHuey(f"protect-{worker_type}")
        hueyviz.install(huey)
        try:
            project._protect_consumers(huey, opts)
            project._protect_consumers(huey, opts)           # ready() twice: once
            prot = project.protection(huey)
            assert prot.guard is None and prot.watchdog is None
            huey.create_consumer(workers=2, worker_type=worker_type)
            assert (prot.guard is not None, prot.watchdog is not None) == (started, started)
            if started:
                assert prot.guard.action == "warn" and prot.watchdog.after == 30
                # It saw the consumer announce its pool: the guard's pool is exact.
                pool = prot.guard._mirror.replay.pools[huey.name]
                assert pool.exact and pool.size == 2
                prot.watchdog.stop()
                prot.guard.remove()
        finally:
            hueyviz.uninstall(huey)
    assert "queue 'protect-process' runs process workers: not started" in caplog.text


def test_a_project_without_queues_says_so():
    from hueyviz.contrib.django.project import queue_sources
    with pytest.raises(hueyviz.SourceError, match="no Huey queue"):
        queue_sources([])


def test_django_options_are_taken_out_and_the_rest_left_as_given():
    argv = ["--settings", "a.b", "render", "-o", "out", "--pythonpath=/x", "--json",
            "--", "--settings"]
    assert strip_django_options(argv) == ["render", "-o", "out", "--json", "--", "--settings"]


def test_default_source_is_used_only_when_none_is_given(tmp_path, capsys):
    from huey import MemoryHuey
    huey = MemoryHuey("given")
    with hueyviz.trace(huey) as tracer:
        huey.task()(lambda: 1)()
    path = str(tmp_path / "t.jsonl")
    tracer.trace.save(path)
    calls = []

    def default():
        calls.append(1)
        return [path]
    assert main(["diagnose", "--json"], default_source=default) == 0
    assert calls == [1] and json.loads(capsys.readouterr().out)["verdict"] == "ok"
    assert main(["diagnose", path], default_source=default) == 0 and calls == [1]

    def failing():
        raise hueyviz.SourceError("no queue here")
    assert main(["diagnose"], default_source=failing) == 2
    assert capsys.readouterr().err == "hueyviz: error: no queue here\n"
    # Without a default the SOURCE stays required.
    with pytest.raises(SystemExit):
        main(["diagnose"])


def test_source_url_reads_back_what_the_sink_records(tmp_path):
    from huey import FileHuey, MemoryHuey, RedisHuey, SqliteHuey
    db = str(tmp_path / "a b.db")
    hueys = [SqliteHuey("q/1 x", filename=db),
             RedisHuey("app", host="127.0.0.1", port=1234, db=3, password="p@:/ss"),
             RedisHuey("app", url="unix:///tmp/r.sock?db=2"),
             FileHuey("f", path=str(tmp_path / "files"))]
    os.makedirs(str(tmp_path / "files.hueyviz"))     # a reader needs what a writer made
    for h in hueys:
        url = source_url(h)
        sink = sink_for(h)
        assert resolve_source(url).name == sink.describe(), url
        sink.close()
    redis_url = source_url(hueys[1])
    assert redis_url == "redis://:p%40%3A%2Fss@127.0.0.1:1234/3?queue=app"
    import redis
    kw = redis.ConnectionPool.from_url(redis_url).connection_kwargs
    assert (kw["password"], kw["port"], kw["db"]) == ("p@:/ss", 1234, 3)
    # A sink URL from the settings: each queue under its own name.
    assert source_url(hueys[0], "sqlite:////tmp/ev.db") == "sqlite:////tmp/ev.db?queue=q%2F1%20x"
    assert source_url(hueys[0], "redis://h/0?maxlen=5") == "redis://h/0?maxlen=5&queue=q%2F1%20x"
    assert source_url(hueys[0], "file:///tmp/d") == "file:///tmp/d"
    assert source_url(MemoryHuey("m")) is None
    assert source_url(SqliteHuey("i", filename=db, immediate=True)) is None


def test_hueyviz_itself_needs_no_django():
    code = ("import sys\n"
            "class NoDjango:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name == 'django' or name.startswith(('django.', 'django_huey')):\n"
            "            raise ImportError(name)\n"
            "sys.meta_path.insert(0, NoDjango())\n"
            "import hueyviz, hueyviz.cli, hueyviz.contrib\n"
            "from huey import MemoryHuey\n"
            "hueyviz.install(MemoryHuey('x'))\n"
            "print('ok')\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout == "ok\n", out.stderr
