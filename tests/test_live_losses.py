"""Losses are counted where they happen, and readers learn them exactly.

Real parts: a Redis for Huey, a second ``redis-server`` for the events
started with ``--maxmemory 1mb --maxmemory-policy noeviction``, a real
``huey_consumer`` killed with SIGKILL.  What the processes produced is
computed here from what the tasks did (each finished task produced
``executing`` and ``complete`` in the consumer and ``enqueued`` here), never
from hueyviz's own counters; the reader's loss count must equal it minus
what arrived.
"""
import json
import time
import warnings
from collections import Counter

import pytest
from livekit import RedisServer, kinds, make_app, redis_server, wait_until  # noqa: F401

import hueyviz

try:
    import redis
except ImportError:  # pragma: no cover
    pytest.fail("the redis package is needed: pip install -e '.[test]'", pytrace=False)

LIMIT = "1mb"
TRACER_KINDS = ("consumer", "worker_up", "enqueued", "executing", "complete", "pool")


def full(srv):
    """Push ``srv`` past its maxmemory with a filler key, so that every
    write is refused however its memory use wobbles."""
    cl = srv.client()
    cl.config_set("maxmemory", 0)
    cl.set("filler", "x" * 300_000)
    cl.config_set("maxmemory", LIMIT)
    with pytest.raises(redis.exceptions.OutOfMemoryError):
        cl.set("probe", "x")
    return cl


def roomy(cl):
    cl.delete("filler")
    cl.config_set("maxmemory", 0)


def ample(srv):
    """1 MB is less than a few clients' buffers take: start with room."""
    cl = srv.client()
    roomy(cl)
    return cl


def results(rs, timeout=30):
    """The values, polled without blocking and without removing them: a
    blocking ``get``, or one that removes a result, is recorded, and this
    test does not count those events."""
    assert wait_until(lambda: all(r.get(preserve=True) is not None for r in rs), timeout)
    return [r.get(preserve=True) for r in rs]


def idle_since(cl, pid, t):
    for _id, fields in cl.xrevrange("hueyviz:app", count=20):
        e = json.loads(fields[b"e"])
        if e["kind"] == "alive" and e["proc"].endswith(f"/{pid}") and e["t"] > t:
            return True
    return False


def arrived(trace):
    return Counter(e.kind for e in trace if e.kind in TRACER_KINDS)


def read(url):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return hueyviz.Trace.read(url)


@pytest.fixture
def sink_server(tmp_path):
    srv = RedisServer(tmp_path / "sink", "--maxmemory", LIMIT,
                      "--maxmemory-policy", "noeviction").start()
    yield srv
    srv.stop()


def test_a_full_redis_loses_events_and_readers_count_exactly_what_never_arrived(
        make_app, redis_server, sink_server):
    url = sink_server.url + "?queue=app"
    app = make_app("RedisHuey", f"'app', url={redis_server.url!r}",
                   f", {sink_server.url!r}, max_attempts=2, max_buffer=150")
    m = app.module
    producer = m.huey._hueyviz_tracer.sink
    ample(sink_server)
    c = app.consumer(1, "thread")
    f = hueyviz.follow(url, reorder=0, lost_after=None)
    first = [m.sleepy(i) for i in range(20)]
    assert results(first) == list(range(20))
    ids = {r.id for r in first}
    assert f.wait_for(lambda tr: sum(e.task in ids for e in kinds(tr, "complete")) == 20, 20), \
        c.output()

    cl = full(sink_server)
    during = [m.sleepy(i) for i in range(20, 320)]
    assert results(during) == list(range(20, 320))
    # The full store refuses batches (given up after two attempts) and the
    # buffers overflow; tasks are not affected.
    assert wait_until(lambda: producer.given_up > 0 and producer.refused > 0, 20)
    assert producer.use_script       # out of memory is not "scripting disabled"

    roomy(cl)
    # Once the consumer's writer has drained its buffer it writes a heartbeat;
    # only then can the last task's events be taken in.
    since = time.time()
    assert wait_until(lambda: idle_since(cl, c.pid, since), 30), c.output()
    last = m.sleepy(-1, 60)          # one worker: runs after all the others
    assert f.wait_for(lambda tr: any(e.task == last.id for e in kinds(tr, "executing")), 30), \
        (c.output(), f.warnings)
    assert producer.flush(10)
    c.kill()                          # SIGKILL, mid-task
    f.close()

    tr = read(url)
    tasks = 20 + 300 + 1
    produced = Counter({"consumer": 1, "worker_up": 1, "enqueued": tasks,
                        "executing": tasks, "complete": tasks - 1})
    got = arrived(tr)
    assert set(Counter(e.kind for e in tr)) <= set(TRACER_KINDS)
    assert got <= produced, got - produced           # nothing arrived twice or from nowhere
    lost = sum(produced.values()) - sum(got.values())
    assert lost > 0
    assert tr.dropped == lost, (tr.dropped, lost, tr.warnings)
    assert any("could not write" in w for w in tr.warnings)
    assert any("refused" in w and "maxmemory" in w for w in tr.warnings)

    # Every reader counts the same, and the diagnosis says what it rests on.
    again = hueyviz.follow(url, lost_after=None).read_all()
    assert again.dropped == lost
    d = hueyviz.diagnose(tr)
    assert f"{lost} events were lost" in d.message and "tasks affected" in d.message


def test_a_consumer_killed_while_the_store_is_full_takes_its_count_with_it(
        make_app, redis_server, sink_server):
    """The limit, stated in the README: what a killed writer never handed to
    the store is not counted, and the reader says the store refused writes."""
    url = sink_server.url + "?queue=app"
    app = make_app("RedisHuey", f"'app', url={redis_server.url!r}",
                   f", {sink_server.url!r}, max_attempts=2")
    m = app.module
    ample(sink_server)
    c = app.consumer(1, "thread")
    f = hueyviz.follow(url, reorder=0, lost_after=None)
    assert f.wait_for(lambda tr: kinds(tr, "worker_up"), 20), c.output()
    cl = full(sink_server)
    during = [m.sleepy(i) for i in range(50)]
    assert results(during) == list(range(50))
    c.kill()
    roomy(cl)
    assert m.huey._hueyviz_tracer.sink.flush(10)
    f.close()
    tr = read(url)
    got = arrived(tr)
    # The producer lived on and announced its losses: they are counted
    # exactly.  The consumer's 100 events died in its buffer: unknowable.
    assert got["executing"] == got["complete"] == 0
    assert tr.dropped == 50 - got["enqueued"]
    assert any("refused" in w and "maxmemory" in w for w in tr.warnings)


def _events(n, start=0):
    from hueyviz.core.event import Event, Worker
    w = Worker("h", 1, "Worker-1")
    return [Event(1_795_000_000.0 + i, "enqueued", f"t{i}", "job", w, None)
            for i in range(start, start + n)]


def test_maxlen_trimming_is_reported_and_a_lagging_reader_counts_what_it_missed(redis_server):
    from hueyviz.record.redissink import RedisSink
    url = redis_server.url + "?queue=trim"
    sink = RedisSink(redis_server.url, stream="hueyviz:trim", maxlen=100, flush_interval=0.01,
                     batch_size=50)
    lagging = hueyviz.follow(url, reorder=0, lost_after=None)
    for e in _events(10):
        sink.append(e)
    assert sink.flush(10)
    assert len(lagging.poll(1.0)) == 10
    for e in _events(1000, 10):
        sink.append(e)
    assert sink.flush(10)
    kept = redis_server.client().xlen("hueyviz:trim")
    assert kept < 1000                          # trimmed (approximately, ~)
    # A reader that started before the trim lost what it had not read yet.
    lagging.catch_up()
    assert lagging.missing == 1000 - kept and lagging.lost == 1000 - kept
    assert any(f"{1000 - kept} events never arrived" in w for w in lagging.warnings)
    lagging.close()
    # A reader that starts now never saw the oldest entries: said, not counted.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = hueyviz.Trace.read(url)
    assert len(tr) == kept and tr.dropped == 0
    note = f"was trimmed (MAXLEN) before it was read: {sink.written - kept} oldest entries"
    assert any(note in str(w.message) for w in caught), [str(w.message) for w in caught]
    sink.close()


def test_sqlite_trimming_is_counted_and_reported(tmp_path):
    from hueyviz.record.sqlitesink import SqliteSink
    db = str(tmp_path / "t.db")
    sink = SqliteSink(db, queue="q", maxlen=100, flush_interval=0.01, batch_size=10)
    sink.trim_every = 1
    for e in _events(500):
        sink.append(e)
    assert sink.flush(10)
    sink.close()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = hueyviz.Trace.read(f"sqlite:///{db}?queue=q")
    assert len(tr) == 100 and tr.dropped == 0
    assert any("400 oldest entries were never read" in str(w.message) for w in caught)


HOSTILE_ENTRIES = [
    {"foreign": "x"},                                          # not hueyviz's
    {"e": "{not json", "s": "h/1/x", "q": 1},
    {"e": json.dumps({"kind": "executing"}), "s": "h/1/x", "q": 2},
    {"e": '{"t": 1, "kind": "enqueued", "task": "a", "priority": 1' + "0" * 400 + "}",
     "s": "h/1/x", "q": 3},                                    # OverflowError in a check
    {"e": b"\xff\xfe", "s": b"\xff", "q": b"x"},               # not UTF-8, seq not a number
    {"e": json.dumps({"t": 1, "kind": "alive", "meta": "x", "dropped": -1}), "s": "h/1/x",
     "q": 4},                                                  # an announcement gone wrong
]


def test_corrupt_entries_are_never_fatal_to_any_reader(redis_server, tmp_path):
    from hueyviz.read.recorder import record
    cl = redis_server.client()
    for fields in HOSTILE_ENTRIES:
        cl.xadd("hueyviz:bad", fields)
    cl.xadd("hueyviz:bad", {"e": json.dumps({"t": 2.0, "kind": "enqueued", "task": "ok"}),
                            "s": "h/1/x", "q": 5})
    url = redis_server.url + "?queue=bad"
    with warnings.catch_warnings(record=True):
        warnings.simplefilter("always")
        tr = hueyviz.Trace.read(url)                           # one-shot
    assert [e.task for e in tr] == ["ok"] and tr.dropped == 4  # 4 hueyviz entries unreadable
    f = hueyviz.follow(url, reorder=0)                         # live, as the widget follows
    assert [e.task for e in f.poll(1.0)] == ["ok"] and f.skipped == 5 and f.lost == 4
    f.close()
    res = record(url, tmp_path / "r.jsonl", duration=0, start="begin")   # hueyviz record
    assert res.events == 2 and res.dropped == 4                # "ok" and the loss, as an event
    assert hueyviz.Trace.load(tmp_path / "r.jsonl").dropped == 4
