"""No loss under load: 50,000 tasks through 2 consumers x 4 process workers
on Redis while a reader follows the stream.  Every task's enqueue, start
and finish must arrive exactly once; any loss the pipeline counted
(dropped events, sequence gaps) is reported and fails the test."""
import os
import threading
import time
from collections import Counter

import pytest
from livekit import make_app, redis_server  # noqa: F401

import hueyviz

TASKS = int(os.environ.get("HUEYVIZ_LOAD_TASKS", "50000"))
LIFECYCLE = ("enqueued", "executing", "complete")


@pytest.mark.timeout(900)     # ~45-60 s on a 2-core machine; generous for slower ones
def test_no_loss_under_load(make_app, redis_server):
    app = make_app("RedisHuey", f"'app', url={redis_server.url!r}")
    m = app.module
    consumers = [app.consumer(4, "process") for _ in range(2)]
    seen: Counter = Counter()
    by_kind: Counter = Counter()
    dropped = 0
    with hueyviz.follow(m.huey, reorder=0, lost_after=None, keep=0) as f:
        ups = 0
        deadline = time.monotonic() + 30
        while ups < 8 and time.monotonic() < deadline:
            ups += sum(1 for e in f.poll(0.2) if e.kind == "worker_up")
        assert ups == 8, [c.output() for c in consumers]

        ids = []
        producer = threading.Thread(target=lambda: ids.extend(
            m.sleepy(i).id for i in range(TASKS)), name="producer")
        t0 = time.monotonic()
        producer.start()
        deadline = time.monotonic() + 600
        while by_kind["complete"] < TASKS or by_kind["enqueued"] < TASKS:
            assert time.monotonic() < deadline, (by_kind, f)
            assert all(c.alive() for c in consumers), [c.output() for c in consumers]
            for e in f.poll(0.2):
                if e.kind in LIFECYCLE:
                    seen[(e.task, e.kind)] += 1
                    by_kind[e.kind] += 1
                elif e.kind == "dropped":
                    dropped += e.get("count")
            if dropped or f.missing or f.skipped:
                break
        elapsed = time.monotonic() - t0
        producer.join(60)
        for e in f.catch_up():
            if e.kind in LIFECYCLE:
                seen[(e.task, e.kind)] += 1
                by_kind[e.kind] += 1
        losses = {"dropped": dropped, "missing": f.missing, "skipped": f.skipped}
    assert len(ids) == TASKS
    duplicates = {k: v for k, v in seen.items() if v != 1}
    missing = [(i, k) for i in ids for k in LIFECYCLE if (i, k) not in seen]
    print(f"\n{TASKS} tasks through 2 x 4 process workers: {elapsed:.1f} s "
          f"({TASKS / elapsed:.0f} tasks/s, {3 * TASKS / elapsed:.0f} lifecycle events/s); "
          f"losses {losses}")
    assert losses == {"dropped": 0, "missing": 0, "skipped": 0}
    assert not duplicates and not missing, (len(duplicates), len(missing))
    assert set(by_kind.values()) == {TASKS}
