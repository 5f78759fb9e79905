"""Figure g: what a guarded wait costs, and what recording imports.

Guard: a real threaded consumer runs parent tasks that each enqueue a child
and block on it (a wait that really blocks, that the guard checks).  The
time spent in the guard's check is summed around each call, on the worker
thread: once with a MemoryHuey (this process only), once with a RedisHuey
whose guard follows the shared stream (each check first reads what other
processes wrote: one round trip).  Medians over rounds, per wait.

Import: ``python -X importtime -c "import hueyviz; hueyviz.install"`` in a
fresh interpreter, summed: the recording path a production worker loads,
against the whole package.

    .venv/bin/python bench/guard.py [--quick] [--json]
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "tests"))

import hueyviz


def _app(huey, children: int):
    @huey.task()
    def child(i):
        return i

    @huey.task()
    def parent(i):
        return sum(child(j).get(blocking=True) for j in range(children))
    return parent


def _run(huey, parents: int, children: int, follow) -> dict:
    hueyviz.install(huey)
    g = hueyviz.guard(huey, follow=follow)
    spent: list = []
    lock = threading.Lock()
    check = g._check

    def timed(task, block, worker, queue=None):
        t = time.perf_counter()
        try:
            check(task, block, worker, queue)
        finally:
            with lock:
                spent.append(time.perf_counter() - t)
    hook = g._hook
    assert hook is not None
    hook.before_block = tuple(timed if c == check else c for c in hook.before_block)
    parent = _app(huey, children)
    consumer = huey.create_consumer(workers=4, worker_type="thread", periodic=False,
                                    initial_delay=0.001, max_delay=0.01,
                                    check_worker_health=False)
    consumer.start()
    try:
        # One parent at a time: its waits really block (the children queue
        # behind nothing and run on the other workers), and never deadlock.
        for i in range(parents):
            parent(i).get(blocking=True, timeout=60)
    finally:
        consumer.stop(graceful=True)
        g.remove()
        tracer = getattr(huey, "_hueyviz_tracer", None)
        hueyviz.uninstall(huey)
        if tracer is not None and hasattr(tracer.sink, "close"):
            tracer.sink.close()
    us = [s * 1e6 for s in spent]
    return {"waits": len(us), "median_us": statistics.median(us) if us else None,
            "p95_us": sorted(us)[int(len(us) * 0.95)] if us else None,
            "checked": g.checked}


def guard_cost(quick: bool) -> dict:
    from huey import MemoryHuey, RedisHuey
    parents, children, rounds = (20, 3, 3) if quick else (60, 3, 5)
    out: dict = {"parents": parents, "children": children, "rounds": rounds}
    mem = [_run(MemoryHuey(f"bench-guard-{i}", utc=False), parents, children, False)
           for i in range(rounds)]
    out["memory"] = {"median_us": statistics.median(r["median_us"] for r in mem),
                     "p95_us": statistics.median(r["p95_us"] for r in mem),
                     "waits": mem[0]["waits"]}
    exe = shutil.which("redis-server")
    if exe is None:
        out["redis"] = {"status": "skipped: no redis-server"}
        return out
    from livekit import RedisServer
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-guard-")
    srv = RedisServer(os.path.join(tmp, "redis")).start()
    try:
        red = [_run(RedisHuey(f"bench-guard-{i}", url=srv.url), parents, children, "auto")
               for i in range(rounds)]
    finally:
        srv.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    out["redis"] = {"median_us": statistics.median(r["median_us"] for r in red),
                    "p95_us": statistics.median(r["p95_us"] for r in red),
                    "waits": red[0]["waits"]}
    return out


def import_time() -> dict:
    """Self time summed over every module imported, and the heavy ones."""
    def measure(code: str) -> dict:
        proc = subprocess.run([sys.executable, "-X", "importtime", "-c", code],
                              capture_output=True, text=True, check=True)
        total, own, mods = 0, 0, []
        for line in proc.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            self_us, _, name = [p.strip() for p in line[len("import time:"):].split("|")]
            total += int(self_us)
            if name.strip().startswith("hueyviz"):
                own += int(self_us)
            mods.append(name.strip())
        heavy = sorted({m.split(".")[0] for m in mods}
                       & {"networkx", "graphviz", "ipywidgets", "anywidget", "wasmtime"})
        return {"ms": total / 1000, "hueyviz_ms": own / 1000, "modules": len(mods),
                "hueyviz_modules": sum(m.startswith("hueyviz") for m in mods), "heavy": heavy}
    rec = [measure("import hueyviz; hueyviz.install; hueyviz.trace") for _ in range(5)]
    full = [measure("import hueyviz.analysis.detector, hueyviz.render.lanes, "
                    "hueyviz.render.waitfor, hueyviz.widget.traceview") for _ in range(5)]
    def summary(runs):
        return {"ms": statistics.median(r["ms"] for r in runs),
                "hueyviz_ms": statistics.median(r["hueyviz_ms"] for r in runs),
                "modules": runs[0]["modules"], "hueyviz_modules": runs[0]["hueyviz_modules"],
                "heavy": runs[0]["heavy"]}
    return {"recording": summary(rec), "everything": summary(full)}


def main(quick: bool = False) -> dict:
    return {"guard": guard_cost(quick), "import": import_time()}


if __name__ == "__main__":
    res = main("--quick" in sys.argv)
    print(json.dumps(res, indent=1) if "--json" in sys.argv else res)
