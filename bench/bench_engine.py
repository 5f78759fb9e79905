"""Wait-for graph rendering: system ``dot`` (subprocess) vs in-process wasm.

    .venv/bin/python bench/bench_engine.py [--repeat 5] [--no-install]

Builds deadlocked traces with 2, 16 and 64 workers (each worker holds a main
task blocked on a subtask; 3 more subtasks per main are queued) and times
``waitfor()`` (DOT text) and ``engine.render`` with each engine, focused and
unfocused.  If the system ``dot`` is missing and this runs as root with apt,
it installs Graphviz (``apt-get install -y graphviz``) -- only this bench
script does that; ``--no-install`` skips it and times the wasm engine alone.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from hueyviz import Trace, diagnose
from hueyviz.core.event import Event, Worker
from hueyviz.render import engine
from hueyviz.render.waitfor import waitfor


def knot_trace(workers: int, queued_per_main: int = 3) -> Trace:
    ev, t = [], 0.0
    pool = [Worker("bench", 1, f"Worker-{i + 1}") for i in range(workers)]
    for w in pool:
        ev.append(Event(t, "worker_up", None, None, w, None))
    for i, w in enumerate(pool):
        t += 0.001
        ev.append(Event(t, "enqueued", f"m{i}", "main_task", None, {"args": f"({i},)"}))
        ev.append(Event(t, "executing", f"m{i}", "main_task", w, None))
        for k in range(queued_per_main + 1):
            ev.append(Event(t, "enqueued", f"s{i}.{k}", "subtask", w,
                            {"parent": f"m{i}", "args": f"({i}, {k})"}))
        ev.append(Event(t, "block", f"m{i}", "main_task", w, {"waits_on": f"s{i}.0"}))
    return Trace(ev)


def ensure_dot(allow_install: bool) -> bool:
    if shutil.which("dot"):
        return True
    if not allow_install or not shutil.which("apt-get") or os.geteuid() != 0:
        return False
    print("system dot missing: apt-get install -y graphviz (bench only)", flush=True)
    subprocess.run(["apt-get", "install", "-y", "-q", "graphviz"], check=False,
                   stdout=subprocess.DEVNULL)
    return shutil.which("dot") is not None


def timed(fn, repeat: int):
    out, times = None, []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return out, statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-install", action="store_true")
    args = ap.parse_args()
    engines = ["wasm"] + (["system"] if ensure_dot(not args.no_install) else [])

    os.environ[engine.ENV] = "wasm"
    t = time.perf_counter()
    engine.render("digraph { a }")
    print(f"wasm engine start-up (compile graphviz.wasm, first render): "
          f"{(time.perf_counter() - t) * 1e3:.0f} ms")
    print(f"{'workers':>7} {'focus':>5} {'nodes':>5} {'dot text':>9} "
          + " ".join(f"{e + ' ms':>10}" for e in engines) + f" {'svg KB':>7}")
    for n in (2, 16, 64):
        tr = knot_trace(n)
        d = diagnose(tr)
        assert d.verdict == "deadlock", d.message
        for focus in (True, False):
            g, t_dot = timed(lambda: waitfor(tr, diagnosis=d, focus=focus), args.repeat)
            src = g.source
            nodes = sum(1 for line in src.splitlines()
                        if line.lstrip().startswith(('"task-', '"worker-')) and "->" not in line)
            row, size = [], 0
            for e in engines:
                os.environ[engine.ENV] = e
                svg, t_r = timed(lambda: engine.render(src), args.repeat)
                row.append(f"{t_r * 1e3:10.1f}")
                size = max(size, len(svg))
            print(f"{n:7d} {focus!s:>5} {nodes:5d} {t_dot * 1e3:7.1f}ms "
                  + " ".join(row) + f" {size / 1024:7.1f}")
    print(f"(median of {args.repeat}; engine columns exclude the DOT text time; "
          f"{os.cpu_count()} CPUs)")


if __name__ == "__main__":
    main()
