"""``hueyviz autopsy`` on real stuck ``huey_consumer`` processes (README, Autopsy).

Each app here has no tracer: the consumer is read from the outside (py-spy
and the storage), as a user whose queue is stuck right now would.  The
oracle is the app itself: every task writes to a log file, before it
blocks, which task id it is about to wait for, so what the autopsy says is
checked against what the consumer really did, not against hueyviz.

Every consumer runs in its own process group and is killed at teardown;
every wait is bounded.
"""
import json
import os
import subprocess
import sys

import pytest
from djangokit import make_project, migrated_db  # noqa: F401
from livekit import Consumer, killpg, redis_server, wait_until  # noqa: F401

from hueyviz.analysis.autopsy import diagnose_snapshot
from hueyviz.core.errors import SourceError
from hueyviz.read.autopsy import consumer_pids, take

PY = sys.executable

APP = """\
import os, time
from huey import {cls}

HERE = os.path.dirname(os.path.abspath(__file__))
huey = {cls}({args})


def log(*words):
    with open(os.path.join(HERE, "log"), "a") as f:
        f.write(" ".join(map(str, words)) + "\\n")


def gate(k):
    # Wait (bounded) until k tasks got here, so the deadlock does not depend
    # on who wins the race to the queue.
    path = os.path.join(HERE, "gate")
    with open(path, "a") as f:
        f.write("x\\n")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with open(path) as f:
            if len(f.read().split()) >= k:
                return
        time.sleep(0.01)


@huey.task()
def leaf(i):
    return i


@huey.task()
def mid(i):
    r = leaf(i)
    log("waits", r.id)
    return r.get(blocking=True)


@huey.task()
def main(n, k=0):
    if k:
        gate(k)
    rs = [leaf(i) for i in range(n)]
    log("waits", rs[0].id)
    return sum(r.get(blocking=True) for r in rs)


@huey.task()
def nested():
    r = mid(0)
    log("waits", r.id)
    return r.get(blocking=True)


@huey.task()
def busy(seconds):
    log("busy")
    time.sleep(seconds)
    return seconds
"""


class AutopsyApp:
    """An app with no tracer, in its own directory; its consumers are killed."""

    def __init__(self, directory, cls, args):
        self.dir = str(directory)
        os.makedirs(self.dir, exist_ok=True)
        with open(os.path.join(self.dir, "app.py"), "w") as f:
            f.write(APP.format(cls=cls, args=args))
        self.consumers = []
        saved = sys.modules.pop("app", None)
        sys.path.insert(0, self.dir)
        try:
            import app as module
        finally:
            sys.path.remove(self.dir)
            sys.modules.pop("app", None)
            if saved is not None:
                sys.modules["app"] = saved
        self.module = module

    def consumer(self, workers, kind="thread"):
        c = Consumer(self, workers, kind)
        self.consumers.append(c)
        return c.start()

    def logged(self, word):
        try:
            with open(os.path.join(self.dir, "log")) as f:
                return [line.split()[1:] for line in f if line.split()[:1] == [word]]
        except OSError:
            return []

    def waits(self):
        return {w[0] for w in self.logged("waits")}


@pytest.fixture
def make(tmp_path):
    apps = []

    def make_app(cls="SqliteHuey", args=None):
        d = tmp_path / f"app{len(apps)}"
        if args is None:
            args = {"SqliteHuey": f"'autopsy', filename={str(d / 'q.db')!r}",
                    "FileHuey": f"'autopsy', path={str(d / 'store')!r}"}[cls]
        app = AutopsyApp(d, cls, args)
        apps.append(app)
        return app
    yield make_app
    for app in apps:
        for c in app.consumers:
            c.kill()


def autopsy_when(app, pids, pred, timeout=30.0):
    """The autopsy, taken again (bounded) until ``pred(snapshot)`` holds:
    the consumer needs a moment to reach its waits."""
    box = {}

    def ready():
        try:
            box["snap"] = take(app.module.huey, pids)
        except SourceError as exc:
            if "runs no consumer loop yet" in str(exc):
                return False        # still starting
            raise
        return pred(box["snap"])
    assert wait_until(ready, timeout, step=0.2), (
        box.get("snap") and [w.to_dict() for w in box["snap"].workers], app.waits(),
        box.get("snap") and box["snap"].storage.to_dict(),
        [c.output() for c in app.consumers])
    return box["snap"]


def all_waiting(n):
    return lambda s: sum(1 for w in s.workers if w.waits_on) == n


def cli(app, *args, timeout=60):
    return subprocess.run([PY, "-m", "hueyviz", "autopsy", "app.huey", *args], cwd=app.dir,
                          capture_output=True, text=True, timeout=timeout,
                          env=dict(os.environ, PYTHONPATH=app.dir))


def _check_deadlock(app, snap, workers):
    """What the autopsy says against what the app logged and its storage holds."""
    d = diagnose_snapshot(snap)
    assert d.verdict == "deadlock", d.message
    waited = app.waits()
    # Every worker runs a task that waits, for exactly the ids the tasks logged.
    assert len(snap.workers) == workers
    assert {w.waits_on for w in snap.workers} == waited
    assert all(w.task and w.site and w.site.startswith("app.py:") for w in snap.workers)
    # The awaited tasks sit in the real queue, where the autopsy says.
    pending = [t.id for t in app.module.huey.pending()]
    assert waited <= set(pending)
    assert d.culprit is not None and d.culprit.waits_on in waited
    assert d.workers == {"total": workers, "blocked": workers}
    assert "Autopsy of queue 'autopsy'" in d.message and "which wait closed the knot" \
        in " ".join(d.notes)
    return d


@pytest.mark.timeout(120)
# FileHuey is left out: in 2 of about 40 full-suite runs its consumer stalled
# before the deadlock formed (a main task that never reached its first
# enqueue, a worker that never dequeued: both wait on FileStorage's file
# lock), which 25 runs of this test alone never showed.  Not understood yet.
@pytest.mark.parametrize("cls", ["SqliteHuey"])
def test_a_deadlocked_consumer_is_diagnosed_from_the_outside(make, cls):
    app = make(cls)
    c = app.consumer(2)
    for _ in range(2):
        app.module.main(3, k=2)
    snap = autopsy_when(app, [c.pid], all_waiting(2))
    d = _check_deadlock(app, snap, 2)
    assert snap.consumers[0].workers == 2 and snap.consumers[0].worker_type == "thread"
    # The command line: found by its command line, exit 1, the same JSON keys.
    here = os.path.join(app.dir, "app.py")
    assert c.pid in consumer_pids("app.huey", module_file=here)
    # Another project's app.huey on this host (the other tests' apps) is not it.
    elsewhere = os.path.join(os.path.dirname(app.dir), "elsewhere.py")
    open(elsewhere, "w").close()
    assert c.pid not in consumer_pids("app.huey", module_file=elsewhere)
    out = cli(app, "--pid", str(c.pid), "--json")
    assert out.returncode == 1, out.stderr
    body = json.loads(out.stdout)
    assert body["verdict"] == "deadlock" and body["culprit"]["waits_on"] in app.waits()
    assert set(d.to_dict()) <= set(body) and body["autopsy"]["consumers"][0]["pid"] == c.pid
    # -o: the wait-for graph of that instant, its events, the JSON.
    out = cli(app, "--pid", str(c.pid), "-o", "drawn")
    assert out.returncode == 1, out.stderr
    svg = open(os.path.join(app.dir, "drawn", "waitfor.svg")).read()
    assert "one instant (autopsy): DEADLOCK" in svg and "taken as closing the deadlock" in svg
    assert json.load(open(os.path.join(app.dir, "drawn", "autopsy.json")))["verdict"] == \
        "deadlock"
    assert "The wait taken as closing it (the queue's order)" in d.message
    # Nothing changed: the consumer still runs, the queue is as it was.
    assert c.alive() and app.waits() <= {t.id for t in app.module.huey.pending()}


@pytest.mark.timeout(120)
def test_process_workers_are_read_in_their_own_processes(make):
    app = make("SqliteHuey")
    c = app.consumer(2, "process")
    for _ in range(2):
        app.module.main(2, k=2)
    snap = autopsy_when(app, [c.pid], all_waiting(2))
    _check_deadlock(app, snap, 2)
    assert sorted(w.name for w in snap.workers) == ["process 1", "process 2"]
    assert len({w.pid for w in snap.workers} | {c.pid}) == 3    # each its own process
    assert snap.consumers[0].worker_type == "process"


@pytest.mark.timeout(120)
def test_redis_consumer(make, redis_server):
    app = make("RedisHuey", f"'autopsy', url={redis_server.url!r}")
    c = app.consumer(2)
    for _ in range(2):
        app.module.main(2, k=2)
    snap = autopsy_when(app, [c.pid], all_waiting(2))
    _check_deadlock(app, snap, 2)


@pytest.mark.timeout(120)
def test_two_consumers_on_one_queue_are_one_pool(make):
    app = make("SqliteHuey")
    c1, c2 = app.consumer(1), app.consumer(1)
    for _ in range(2):
        app.module.main(2, k=2)
    snap = autopsy_when(app, [c1.pid, c2.pid], all_waiting(2))
    d = _check_deadlock(app, snap, 2)
    assert {w.pid for w in snap.workers} == {c1.pid, c2.pid}
    assert "2 workers in 2 processes" in d.message
    # One consumer alone, named: the other may serve the queue, and the
    # verdict says it rests on the processes named.
    alone = diagnose_snapshot(take(app.module.huey, [c1.pid]))
    assert not alone.exact and "other consumers of this queue are not seen" in \
        " ".join(alone.notes)
    found = consumer_pids("app.huey", module_file=os.path.join(app.dir, "app.py"))
    assert set(found) == {c1.pid, c2.pid}
    both = diagnose_snapshot(take(app.module.huey, found, discovered=True))
    assert both.verdict == "deadlock" and both.exact and "2 workers in 2 processes" in \
        both.message


@pytest.mark.timeout(120)
def test_a_wait_on_a_running_task_whose_id_is_unseen_still_closes_the_knot(make):
    """nested waits for mid, which runs on the other worker (its id is not
    visible in any stack) and waits for leaf, queued: every worker is held."""
    app = make("SqliteHuey")
    c = app.consumer(2)
    app.module.nested()
    snap = autopsy_when(app, [c.pid], all_waiting(2))
    waited = app.waits()
    assert {w.waits_on for w in snap.workers} == waited
    pending = {t.id for t in app.module.huey.pending()}
    mid_id = next(w for w in waited if w not in pending)     # running: left the queue
    assert snap.inflight == {mid_id}
    d = diagnose_snapshot(snap)
    assert d.verdict == "deadlock", d.message
    assert "left the queue" in " ".join(d.notes)
    # Reality agrees: leaf never runs.
    assert waited - {mid_id} <= {t.id for t in app.module.huey.pending()}


@pytest.mark.timeout(120)
def test_a_healthy_busy_consumer_is_ok_and_nothing_is_invented(make):
    app = make("SqliteHuey")
    c = app.consumer(2)
    for _ in range(3):
        app.module.busy(60)
    snap = autopsy_when(app, [c.pid], lambda s: sum(1 for w in s.workers if w.task) == 2)
    d = diagnose_snapshot(snap)
    assert d.verdict == "ok", d.message
    assert [w.waits_on for w in snap.workers] == [None, None]
    assert {w.task for w in snap.workers} == {"busy"}
    assert len(snap.storage.pending) == 1 and d.culprit is None
    out = cli(app, "--pid", str(c.pid))
    assert out.returncode == 0 and "OK" in out.stdout, out.stdout + out.stderr


def _one_line_error(out, words):
    assert out.returncode == 2, (out.stdout, out.stderr)
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and words in lines[0], out.stderr


@pytest.mark.timeout(120)
def test_what_cannot_be_read_is_one_line_and_exit_2(make, tmp_path):
    app = make("SqliteHuey")
    sleeper = subprocess.Popen([PY, "-c", "import time; time.sleep(60)"],
                               start_new_session=True)
    try:
        _one_line_error(cli(app, "--pid", str(sleeper.pid)), "is not a Huey consumer")
    finally:
        killpg(sleeper)
    _one_line_error(cli(app, "--pid", str(sleeper.pid)), f"no process {sleeper.pid}")
    _one_line_error(cli(app), "no running consumer of app.huey found")
    # A consumer that is there, a storage that is not.
    c = app.consumer(1)
    assert wait_until(lambda: _outcome(app, c.pid) == "read", 20)
    down = make("RedisHuey", "'autopsy', url='redis://127.0.0.1:1/0'")
    _one_line_error(cli(down, "--pid", str(c.pid)), "is unreachable")


@pytest.mark.timeout(120)
def test_greenlet_workers_are_said_to_be_unreadable(make):
    app = make("SqliteHuey")
    c = app.consumer(2, "greenlet")
    assert wait_until(lambda: "greenlet workers" in _outcome(app, c.pid), 30), \
        _outcome(app, c.pid)
    out = cli(app, "--pid", str(c.pid))
    _one_line_error(out, "record the consumer with hueyviz instead")


def _outcome(app, pid):
    """``read``, or the error an autopsy of ``pid`` gives now."""
    try:
        take(app.module.huey, [pid])
    except SourceError as exc:
        return str(exc)
    return "read"


def test_the_readme_documents_the_autopsy():
    text = open(os.path.join(os.path.dirname(__file__), "..", "README.md")).read()
    section = text.split("## Autopsy", 1)[1].split("\n## ", 1)[0]
    for words in ("hueyviz autopsy", "py-spy", "ptrace", "greenlet", "one instant"):
        assert words in section, words


def _snapshot(workers, pending=(), stored=(), revoked=(), discovered=True):
    from hueyviz.read.autopsy import SeenConsumer, SeenWorker, Snapshot
    from hueyviz.read.storage import StorageSnapshot, StoredTask
    storage = StorageSnapshot("q", "SqliteStorage", [StoredTask(t, "leaf") for t in pending],
                              stored=set(stored), revoked=set(revoked))
    seen = [SeenWorker(1, f"Worker-{i + 1}", *w) for i, w in enumerate(workers)]
    return Snapshot("q", 1000.0, "h", [SeenConsumer(1, len(seen), "thread", "huey_consumer")],
                    seen, storage, "py-spy", discovered=discovered)


@pytest.mark.parametrize("second,verdict", [
    # the other worker runs something that can finish: the unseen task may be it
    (("busy", "b", "app.py:3 in busy", None), "ok"),
    # the other worker waits for a queued task: nothing can move
    (("mid", "b", "app.py:9 in mid", "leaf1"), "deadlock"),
    # the other worker waits for a stored result: it returns, then frees its worker
    (("mid", "b", "app.py:9 in mid", "done1"), "ok"),
])
def test_a_wait_on_a_task_that_left_the_queue_ends_only_if_a_running_task_can(second, verdict):
    snap = _snapshot([("main", "a", "app.py:5 in main", "gone1"), second],
                     pending=["leaf1"], stored=["done1"])
    assert snap.inflight == {"gone1"}
    d = diagnose_snapshot(snap)
    assert d.verdict == verdict, d.message
    if verdict == "deadlock":
        assert d.exact and d.culprit.waits_on in ("gone1", "leaf1")
    assert not [n for n in d.notes if "contradicted" in n], d.notes


def test_a_wait_on_a_revoked_task_is_a_hang_and_named_pids_are_not_exact():
    snap = _snapshot([("main", "a", "app.py:5 in main", "r1"), (None, None, None, None)],
                     revoked=["r1"], discovered=False)
    d = diagnose_snapshot(snap)
    assert d.verdict == "hang" and not d.exact, d.message
    assert "as named" in " ".join(d.notes)


@pytest.mark.timeout(240)
def test_a_django_knot_across_two_queues_next_to_its_recording(make_project):
    """django-huey, queues alpha and beta, one worker each: top (alpha) waits
    for mid (beta), which waits for leaf_a (alpha).  ``manage.py hueyviz
    autopsy`` reads both consumers (found by their command lines) and both
    queues; the project also records, so the same deadlock is diagnosed
    both ways."""
    p = make_project("djangohuey")
    consumers = [p.consumer("djangohuey", "--queue", q, "-w", "1", "-k", "thread")
                 for q in ("alpha", "beta")]
    p.shell("from mqtasks.tasks import top\ntop(7)")
    recorded = {}

    def both_stuck():
        out = p.manage("hueyviz", "diagnose", "--json")
        recorded.update(json.loads(out.stdout) if out.stdout.strip() else {})
        return recorded.get("verdict") == "deadlock"
    assert wait_until(both_stuck, 90, step=0.5), [c.output() for c in consumers]
    out = p.manage("hueyviz", "autopsy", "--json")
    assert out.returncode == 1, out.stdout + out.stderr
    d = json.loads(out.stdout)
    assert d["verdict"] == "deadlock" == recorded["verdict"]
    assert d["exact"] and {q: v["total"] for q, v in d["queues"].items()} == \
        {"alpha": 1, "beta": 1} == {q: v["total"] for q, v in recorded["queues"].items()}
    assert {s["queue"] for s in d["autopsy"]} == {"alpha", "beta"}
    assert {c["pid"] for s in d["autopsy"] for c in s["consumers"]} == \
        {c.proc.pid for c in consumers}
    # The same waits as the recording: top waits for mid, mid for leaf_a.
    waits = {(w["task"], w["waits_on"]) for s in d["autopsy"] for w in s["workers"]}
    rec_knot = {(k.get("waiter_name"), k.get("waits_on")) for k in recorded["knot"]
                if k.get("waits_on")}
    assert {(t, on) for t, on in waits} == rec_knot, (waits, recorded["knot"])
    assert "queue `alpha`: 1 of 1 workers blocked" in d["message"]
    assert "queue `beta`: 1 of 1 workers blocked" in d["message"]


def test_the_python_api_needs_the_processes_of_an_instance(make):
    import hueyviz
    app = make("SqliteHuey")
    with pytest.raises(hueyviz.UsageError, match="pids="):
        hueyviz.autopsy(app.module.huey)
    c = app.consumer(1)
    app.module.busy(60)
    snap = autopsy_when(app, [c.pid], lambda s: any(w.task for w in s.workers))
    assert snap.workers[0].task == "busy"
    d = hueyviz.autopsy(app.module.huey, pids=[c.pid])
    assert d.verdict == "ok" and d.exact and "Autopsy of queue" in d.message
