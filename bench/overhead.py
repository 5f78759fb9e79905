"""Figure a: tracer overhead on a real threaded consumer.

Each run builds a fresh MemoryHuey, attaches one recorder configuration,
enqueues the batch, starts a real consumer with 2 worker threads and
measures (process CPU time and wall time) from the first enqueue until the
last task finished (for huey.contrib.stats: until its buffered rows are
written).
Configurations are interleaved (ABCABC...) and the median per configuration
is reported, with ratios against the untraced median of the same run.

    .venv/bin/python bench/overhead.py [--quick] [--json]
"""
from __future__ import annotations

import gc
import itertools
import os
import shutil
import statistics
import tempfile
import threading
import time

from huey import MemoryHuey

CONFIGS = ("untraced", "hueyviz", "huey.contrib.stats")
WORKERS = 2


class _Recorder:
    """Attaches one configuration to a Huey instance and detaches it."""

    def __init__(self, config: str, stats_db=None):
        self.config = config
        self.stats_db = stats_db
        self.obj = None

    def attach(self, huey) -> None:
        if self.config == "hueyviz":
            import hueyviz
            self.obj = hueyviz.trace(huey)
        elif self.config == "huey.contrib.stats":
            from huey.contrib.stats import HueyStats
            self.obj = HueyStats(huey, self.stats_db)
            self.obj.connect()

    def finish(self) -> int:
        """Inside the measured window: flush what the recorder buffered."""
        if self.config == "huey.contrib.stats":
            self.obj.close()       # writes the rows still buffered
        if self.config == "hueyviz":
            return len(self.obj.sink)
        return 0

    def detach(self) -> None:
        if self.config == "hueyviz":
            self.obj.detach()


def _one_run(config: str, n_tasks: int, work: float, stats_db, workers: int = WORKERS) -> dict:
    huey = MemoryHuey(f"bench-{config}", utc=False)
    counter = itertools.count(1)
    done = threading.Event()

    if work:
        @huey.task()
        def job():
            time.sleep(work)
            if next(counter) == n_tasks:
                done.set()
    else:
        @huey.task()
        def job():
            if next(counter) == n_tasks:
                done.set()

    rec = _Recorder(config, stats_db)
    rec.attach(huey)
    gc.collect()
    # Enqueue everything, then start the consumer: its workers never find an
    # empty queue (idle polling would blur the figure) until the batch is done.
    w0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n_tasks):
        job()
    consumer = huey.create_consumer(workers=workers, worker_type="thread",
                                    periodic=False, initial_delay=0.001,
                                    backoff=1.15, max_delay=0.01,
                                    check_worker_health=False)
    consumer.start()
    if not done.wait(120):
        raise RuntimeError(f"{config}: tasks did not finish within 120 s")
    events = rec.finish()
    c1, w1 = time.process_time(), time.perf_counter()
    consumer.stop(graceful=True)
    for _, t in consumer.worker_threads:
        t.join(5)
    consumer.scheduler.join(5)
    rec.detach()
    return {"cpu_us": (c1 - c0) / n_tasks * 1e6, "wall_us": (w1 - w0) / n_tasks * 1e6,
            "events": events}


def measure(n_tasks: int, work: float, rounds: int, stats_db, workers: int = WORKERS) -> dict:
    samples = {c: {"cpu_us": [], "wall_us": []} for c in CONFIGS}
    events = 0
    # Warm-up (imports, first consumer start) outside the figures.
    for c in CONFIGS:
        _one_run(c, max(50, n_tasks // 10), work, stats_db, workers)
    for r in range(rounds):
        # Rotate the start so that no configuration always runs first.
        order = CONFIGS[r % len(CONFIGS):] + CONFIGS[:r % len(CONFIGS)]
        for c in order:
            res = _one_run(c, n_tasks, work, stats_db, workers)
            samples[c]["cpu_us"].append(res["cpu_us"])
            samples[c]["wall_us"].append(res["wall_us"])
            if c == "hueyviz":
                events = res["events"]
    base = {k: statistics.median(samples["untraced"][k]) for k in ("cpu_us", "wall_us")}
    out = {"n_tasks": n_tasks, "work_s": work, "rounds": rounds, "workers": workers,
           "hueyviz_events_per_run": events, "configs": {}}
    for c in CONFIGS:
        med = {k: statistics.median(samples[c][k]) for k in ("cpu_us", "wall_us")}
        out["configs"][c] = {
            "cpu_us_median": med["cpu_us"], "wall_us_median": med["wall_us"],
            "cpu_ratio": med["cpu_us"] / base["cpu_us"],
            "wall_ratio": med["wall_us"] / base["wall_us"],
            "cpu_us": samples[c]["cpu_us"], "wall_us": samples[c]["wall_us"]}
    return out


def main(quick: bool = False) -> dict:
    import logging
    logging.getLogger("huey").setLevel(logging.WARNING)
    from peewee import SqliteDatabase
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-")
    stats_db = SqliteDatabase(os.path.join(tmp, "stats.db"))
    rounds = 5 if quick else 11
    res = {
        "noop": measure(1000 if quick else 10_000, 0.0, rounds, stats_db),
        # One worker thread: no GIL hand-offs between workers, whose cost
        # varies ten-fold from run to run with two and drowns the tracer's.
        "noop_1worker": measure(1000 if quick else 10_000, 0.0, rounds, stats_db, workers=1),
        "sleep_1ms": measure(300 if quick else 1000, 0.001, rounds, stats_db),
    }
    stats_db.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return res


def describe(r):
    for fig, v in r.items():
        for c, s in v["configs"].items():
            yield (f"{fig:10} {c:20} cpu {s['cpu_us_median']:8.1f} us/task "
                   f"x{s['cpu_ratio']:.3f}  wall {s['wall_us_median']:8.1f} us/task "
                   f"x{s['wall_ratio']:.3f}")


if __name__ == "__main__":
    from figure import figure_main
    figure_main(__doc__, main, describe)
