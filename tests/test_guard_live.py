"""The guard across processes: two huey_consumer processes on one Redis.

Each consumer has one worker; each runs a main task of the classic workload
under ``hueyviz.guard``.  A guard that saw only its own process would take
its own worker for the whole pool and refuse the FIRST wait (a false
DeadlockError) while the other process's worker could still free up; the
guard that follows the shared stream lets the first wait block and refuses
the second, which really closes the knot.  The first main then completes.
"""
import os

import pytest
from livekit import make_app, redis_server, wait_until  # noqa: F401

import hueyviz

pytest.importorskip("redis", reason="the test extra installs redis-py")

def _two_consumers(make_app, srv, guard="hueyviz.guard(huey)"):
    """The app with ``guard``, two one-worker consumers, and a follower
    (entered by the caller) that has seen both workers up."""
    app = make_app("RedisHuey", f"'app', url={srv.url!r}", extra=f"guard = {guard}")
    a = app.consumer(1, "thread")
    b = app.consumer(1, "thread")
    return app, hueyviz.follow(app.module.huey, reorder=0), (a, b)


def _both_up(f, consumers):
    assert f.wait_for(lambda tr: sum(e.kind == "worker_up" for e in tr) >= 2, 20), \
        "".join(c.output() for c in consumers)


def test_the_second_wait_across_processes_is_refused_the_first_completes(make_app,
                                                                         redis_server):
    app, follower, (a, b) = _two_consumers(make_app, redis_server)
    m = app.module
    with follower as f:
        _both_up(f, (a, b))
        # Both mains take a worker (gate=2); `first` blocks at once, `second`
        # waits for the file "go", which appears once `first`'s wait is in
        # the stream: the order of the two waits is then certain.
        first = m.main(2, gate=2)
        second = m.main(2, gate=2, go="go")

        def first_blocked(tr):
            return any(e.kind == "block" and e.task == first.id for e in tr)
        assert f.wait_for(first_blocked, 20), (a.output(), b.output())
        with open(os.path.join(app.dir, "go"), "w"):
            pass
        with pytest.raises(hueyviz.DeadlockError.__mro__[2]) as refused:   # TaskException
            second.get(blocking=True, timeout=20)
        assert "DeadlockError" in refused.value.metadata["error"]
        assert "2 of 2 are blocked" in refused.value.metadata["error"]
        assert first.get(blocking=True, timeout=20) == 1          # 0 + 1: it completed
        assert f.wait_for(lambda tr: sum(e.kind == "complete" and e.name == "main"
                                         for e in tr) >= 1, 10)
        tr = f.trace
    # The first main's wait was let through: its block event has its unblock.
    waits = {e.task: e.kind for e in tr if e.kind in ("block", "unblock")
             and e.task in (first.id, second.id)}
    assert waits.get(first.id) == "unblock"
    assert not any(e.kind == "block" and e.task == second.id for e in tr)   # refused
    assert hueyviz.diagnose(tr).verdict == "ok"


def test_a_guard_without_the_shared_stream_would_refuse_the_first_wait(make_app,
                                                                       redis_server):
    """The same workload with follow=False: each guard sees only its own
    process.  It refuses the first wait on its own single worker: the false
    DeadlockError the shared stream prevents (and why it is the default)."""
    app, follower, consumers = _two_consumers(make_app, redis_server,
                                              "hueyviz.guard(huey, follow=False)")
    m = app.module
    with follower as f:
        _both_up(f, consumers)
        first = m.main(2, gate=2)
        m.main(2, gate=2, go="go")
        with pytest.raises(hueyviz.DeadlockError.__mro__[2]):
            first.get(blocking=True, timeout=20)
        with open(os.path.join(app.dir, "go"), "w"):
            pass


def test_a_sink_that_stops_answering_never_holds_a_guarded_wait(redis_server, caplog):
    """The shared sink's Redis freezes (SIGSTOP: a hung server, a dropped
    network) while the guard follows it: its follower is stuck in a read for
    the socket's timeout, and a guarded wait must not queue behind it.  The
    guard decides on what it has, lets the wait through, and says so once."""
    import signal

    from huey import MemoryHuey

    from conftest import Running

    huey = MemoryHuey("frozen-sink", utc=False)

    @huey.task()
    def sub(i):
        return i

    @huey.task()
    def main():
        return sub(1).get(blocking=True, timeout=30)

    tracer = hueyviz.install(huey, redis_server.url)
    guard = hueyviz.guard(huey)
    run = Running(huey, 2)
    pid = redis_server.proc.pid
    try:
        os.kill(pid, signal.SIGSTOP)
        run.start()
        # The mirror's follower is now inside a read that cannot return.
        assert wait_until(guard._mirror.follow_lock.locked, 20)
        for _ in range(3):                      # one at a time: two workers suffice
            r = main()
            run.results.append(r)
            assert r.get(blocking=True, timeout=30) == 1
        # Each decision went ahead on what it had; said once.
        assert guard.checked == 3 and guard.stale >= 1
        said = [r for r in caplog.records if "shared sink does not answer" in r.getMessage()]
        assert len(said) == 1
    finally:
        os.kill(pid, signal.SIGCONT)
        run.stop()
        guard.remove()
        hueyviz.uninstall(huey)
        tracer.detach()
