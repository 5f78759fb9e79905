"""Live tracing benchmarks (numbers for BENCHMARKS.md).

1. Sink throughput: events/s sustained into the Redis and SQLite sinks
   (append cost on the recording thread, and end-to-end until written).
2. Tracer CPU per task with process workers on Redis: traced vs untraced
   consumers in one run, interleaved rounds, CPU of the consumer process
   tree (getrusage of reaped children) divided by tasks.
3. Latency from a culprit ``block`` in a consumer to the deadlock finding
   appearing through ``follow`` (target <= 1 s).

Needs ``redis-server`` on PATH (it starts its own on a free port).

    .venv/bin/python bench/bench_live.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))

from livekit import RedisServer, wait_until

import hueyviz
from hueyviz.core.event import Event, Worker

APP = """\
import os
import hueyviz
from huey import RedisHuey

huey = RedisHuey(os.environ.get("BENCH_NAME", "bench"), url=os.environ["BENCH_URL"])
if os.environ.get("BENCH_TRACE") == "1":
    hueyviz.install(huey)

@huey.task()
def noop(i):
    return i

@huey.task()
def sub(i):
    return i

@huey.task()
def main(n):
    return sum(r.get(blocking=True) for r in [sub(i) for i in range(n)])
"""


# -- 1. sink throughput ------------------------------------------------------------
def bench_sink(sink, n: int) -> dict:
    w = Worker("bench", os.getpid(), "Worker-1")
    evs = [Event(1.0 + i, "executing", f"task-{i:08d}", "noop", w, None) for i in range(n)]
    t0 = time.perf_counter()
    for e in evs:
        sink.append(e)
    t_append = time.perf_counter() - t0
    ok = sink.flush(120)
    total = time.perf_counter() - t0
    out = {"events": n, "append_ns": 1e9 * t_append / n, "events_per_s": n / total,
           "flushed": ok, "dropped": sink.dropped}
    sink.close()
    return out


# -- 2. CPU overhead per task ---------------------------------------------------------
def consumer(app_dir, env, workers=2, kind="process"):
    return subprocess.Popen(
        [sys.executable, "-m", "huey.bin.huey_consumer", "app.huey", "-w", str(workers),
         "-k", kind, "-n", "-q"], cwd=app_dir, env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def tree_cpu(pid: int) -> float:
    """CPU seconds (user + system) so far of the process ``pid`` and every
    live process under it (a consumer and its worker processes)."""
    tick = os.sysconf("SC_CLK_TCK")
    kids: dict = {}
    stats: dict = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                rest = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        kids.setdefault(int(rest[1]), []).append(int(d))
        stats[int(d)] = (int(rest[11]) + int(rest[12])) / tick
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        total += stats.get(p, 0.0)
        todo.extend(kids.get(p, ()))
    return total


def import_app(app_dir, env):
    os.environ.update(env)
    sys.path.insert(0, app_dir)
    sys.modules.pop("app", None)
    import app  # noqa: F401
    sys.path.remove(app_dir)
    mod = sys.modules.pop("app")
    return mod


def cpu_round(app_dir, env, producer, n) -> float:
    """CPU per task of the consumer's processes in the steady state: a
    first batch starts every process (imports, connections, the writer
    thread), then the CPU the next ``n`` tasks take is read off /proc."""
    p = consumer(app_dir, env)
    try:
        warm = [producer.noop(i) for i in range(200)]
        assert warm[-1].get(blocking=True, timeout=120) == 199
        assert wait_until(lambda: all(r.is_ready() for r in warm), 60)
        time.sleep(0.3)           # let the writers flush the warm-up's events
        before = tree_cpu(p.pid)
        results = [producer.noop(i) for i in range(n)]
        assert results[-1].get(blocking=True, timeout=300) == n - 1
        assert wait_until(lambda: all(r.is_ready() for r in results[-50:]), 60)
        time.sleep(0.3)           # and the batch's: their writing is part of the cost
        return (tree_cpu(p.pid) - before) / n
    finally:
        p.send_signal(signal.SIGINT)
        p.wait(60)


def bench_cpu(srv, app_dir, rounds: int, n: int) -> dict:
    base = dict(os.environ, BENCH_URL=srv.url, BENCH_NAME="cpu",
                PYTHONPATH=os.pathsep.join([app_dir] + sys.path))
    producer = import_app(app_dir, dict(base, BENCH_TRACE="0"))
    os.environ["BENCH_TRACE"] = "0"
    traced, untraced = [], []
    for _ in range(rounds):
        untraced.append(cpu_round(app_dir, dict(base, BENCH_TRACE="0"), producer, n))
        traced.append(cpu_round(app_dir, dict(base, BENCH_TRACE="1"), producer, n))
        srv.client().delete("huey.results.cpu")
    tu, tt = statistics.median(untraced), statistics.median(traced)
    return {"tasks_per_round": n, "rounds": rounds, "untraced_us": 1e6 * tu,
            "traced_us": 1e6 * tt, "overhead_us": 1e6 * (tt - tu),
            "overhead_pct": 100 * (tt - tu) / tu,
            "all_untraced_us": [round(1e6 * x) for x in untraced],
            "all_traced_us": [round(1e6 * x) for x in traced]}


def bench_writer_cpu(srv, n: int) -> dict:
    """Where the traced CPU goes, in one process: the worker thread running
    ``huey.execute`` (hook + append) and the writer thread (encode + write)."""
    from huey import RedisHuey
    h = RedisHuey("writercpu", url=srv.url)

    @h.task()
    def noop(i):
        return i
    tracer = hueyviz.install(h)
    sink = tracer.sink
    spent = {"writer": 0.0}
    orig = sink._flush_once

    def timed(now):
        c = time.thread_time()
        try:
            return orig(now)
        finally:
            spent["writer"] += time.thread_time() - c
    sink._flush_once = timed
    for i in range(n):
        noop(i)
    tasks = [h.dequeue() for _ in range(n)]
    sink.flush(30)
    spent["writer"] = 0.0
    t0 = time.thread_time()
    for t in tasks:
        h.execute(t)
    worker = time.thread_time() - t0
    sink.flush(60)
    hueyviz.uninstall(h)
    sink.close()
    return {"worker_us": 1e6 * worker / n, "writer_us": 1e6 * spent["writer"] / n}


# -- 3. block -> finding latency -----------------------------------------------------------
def bench_latency(srv, app_dir, trials: int, reorder: float) -> dict:
    lat = []
    for k in range(trials):
        name = f"lat{k}-{reorder}"
        env = dict(os.environ, BENCH_URL=srv.url, BENCH_NAME=name, BENCH_TRACE="1",
                   PYTHONPATH=os.pathsep.join([app_dir] + sys.path))
        producer = import_app(app_dir, dict(env, BENCH_TRACE="0"))
        p = consumer(app_dir, env, workers=1, kind="thread")
        try:
            with hueyviz.follow(f"{srv.url}?queue={name}", reorder=reorder) as f:
                assert f.wait_for(lambda tr: any(e.kind == "worker_up" for e in tr), 30)
                producer.main(1)
                found = None
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    if f.poll(0.05) and hueyviz.diagnose(f.trace).verdict == "deadlock":
                        found = time.time()
                        break
                assert found is not None, "no deadlock finding"
                block = next(e for e in f.trace if e.kind == "block" and e.task)
                lat.append(found - block.t)
        finally:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait(10)
    return {"reorder": reorder, "trials": trials, "median_s": statistics.median(lat),
            "max_s": max(lat), "all_s": [round(x, 3) for x in lat]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller sizes (smoke run)")
    args = ap.parse_args(argv)
    n_sink = 20_000 if args.quick else 200_000
    n_cpu, rounds = (500, 1) if args.quick else (3000, 5)
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-")
    srv = RedisServer(os.path.join(tmp, "redis")).start()
    try:
        from hueyviz.record.redissink import RedisSink
        from hueyviz.record.sqlitesink import SqliteSink
        big = {"max_buffer": n_sink + 10}
        r = bench_sink(RedisSink(srv.url, stream="hueyviz:sinkbench", **big), n_sink)
        print(f"redis sink : {r['events_per_s']:,.0f} events/s end-to-end, append "
              f"{r['append_ns']:.0f} ns/event, dropped {r['dropped']}")
        s = bench_sink(SqliteSink(os.path.join(tmp, "bench.db"), queue="bench", **big), n_sink)
        print(f"sqlite sink: {s['events_per_s']:,.0f} events/s end-to-end, append "
              f"{s['append_ns']:.0f} ns/event, dropped {s['dropped']}")
        app_dir = os.path.join(tmp, "app")
        os.makedirs(app_dir)
        with open(os.path.join(app_dir, "app.py"), "w") as fh:
            fh.write(APP)
        c = bench_cpu(srv, app_dir, rounds, n_cpu)
        print(f"CPU per task, 2 process workers on Redis ({c['rounds']} interleaved rounds "
              f"of {c['tasks_per_round']} tasks, medians): untraced {c['untraced_us']:.0f} us, "
              f"traced {c['traced_us']:.0f} us, overhead {c['overhead_us']:.0f} us "
              f"({c['overhead_pct']:.1f} %); rounds {c['all_untraced_us']} vs {c['all_traced_us']}")
        wc = bench_writer_cpu(srv, 2000 if args.quick else 10000)
        print(f"in one process: worker thread {wc['worker_us']:.0f} us/task (execute incl. "
              f"hook), writer thread {wc['writer_us']:.1f} us/task (2 events: encode + "
              "Lua XADD batch)")
        latency = {}
        for reorder in (0.2, 0.0):
            lt = latency[str(reorder)] = bench_latency(srv, app_dir, 3 if args.quick else 5,
                                                       reorder)
            print(f"block -> deadlock finding via follow (reorder {reorder} s): median "
                  f"{lt['median_s']:.3f} s, max {lt['max_s']:.3f} s, all {lt['all_s']}")
        # bench/run.py folds this file into BENCHMARKS.md.
        with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "live.json"),
                  "w") as fh:
            json.dump({"redis_sink": r, "sqlite_sink": s, "process_workers_cpu": c,
                       "writer_cpu": wc, "follow_latency": latency}, fh, indent=1,
                      sort_keys=True, default=str)
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
