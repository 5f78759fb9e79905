"""Rendering time and size of lanes.svg, animated.svg and report.html.

    .venv/bin/python bench/bench_render.py              # 1k, 10k, 100k tasks
    .venv/bin/python bench/bench_render.py 1000 5000    # chosen sizes

Synthetic traces from ``bench/synth.py`` (64 workers in 8 consumers at 100k,
fewer for smaller runs).  The diagnosis is computed once per trace and
passed to every renderer, as ``hueyviz render`` does.  Target: every output
of a 100k-task trace in <= 10 s, each SVG <= 5 MB.
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from synth import synthetic_trace

from hueyviz.analysis.detector import diagnose
from hueyviz.render.animated import render_animated
from hueyviz.render.lanes import render_lanes
from hueyviz.render.report import render_report

WORKERS = {1_000: 8, 10_000: 16, 100_000: 64}


def timed(fn, *a, **kw):
    """(result, wall seconds, CPU seconds of this process)."""
    t, c = time.perf_counter(), time.process_time()
    out = fn(*a, **kw)
    return out, time.perf_counter() - t, time.process_time() - c


def main(sizes) -> int:
    rows = []
    for n in sizes:
        workers = WORKERS.get(n, 16)
        tr, t_syn, _ = timed(synthetic_trace, n, workers, 1)
        diag, t_diag, _ = timed(diagnose, tr)
        row = [n, workers, len(tr), t_syn, t_diag]
        wall = cpu = 0.0
        for fn in (render_lanes, render_animated, render_report):
            out, secs, cpus = timed(fn, tr, diagnosis=diag)
            wall, cpu = wall + secs, cpu + cpus
            row += [secs, len(out.encode("utf-8"))]
        rows.append(row + [wall, cpu])
        print(f"... {n} tasks done", file=sys.stderr)
    head = ("tasks", "workers", "events", "synth s", "diagnose s", "lanes s", "lanes MB",
            "animated s", "animated MB", "report s", "report MB", "3 outputs s", "CPU s")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    for r in rows:
        cells = [f"{r[0]:,}", str(r[1]), f"{r[2]:,}", f"{r[3]:.2f}", f"{r[4]:.2f}"]
        for i in range(5, 11, 2):
            cells += [f"{r[i]:.2f}", f"{r[i + 1] / 1e6:.2f}"]
        cells += [f"{r[11]:.2f}", f"{r[12]:.2f}"]
        print("| " + " | ".join(cells) + " |")
    print(f"\n(load average while measuring: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs;"
          " renderers share one timeline, drawing and wait-for snapshot per trace)")
    return 0


if __name__ == "__main__":
    sizes = [int(a) for a in sys.argv[1:]] or [1_000, 10_000, 100_000]
    sys.exit(main(sizes))
