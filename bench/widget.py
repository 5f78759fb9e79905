"""TraceView's model on the Python side: what building and packing it costs,
and how many bytes the browser gets.

For each size, a deterministic synthetic trace (``synth.py``; a million
tasks as ten 100k chunks on one pool of 64 workers, as ``million.py``
writes it) is analysed once (``analyse``: not counted here, it is the
replay's cost), then ``build_view_model`` and its packing
(``ViewModel.data``) are timed, best of ``--repeat``.  The result goes to
``test-artifacts/widget-bench.json``.

    .venv/bin/python bench/widget.py [--quick] [--json]
"""
from __future__ import annotations

import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from synth import synthetic_trace

from hueyviz.analysis.detector import analyse, diagnose
from hueyviz.core.trace import Trace, make_header
from hueyviz.render.viewdata import build_view_model, view_size

CHUNK = 100_000


def trace_of(n_tasks: int, workers: int = 64, seed: int = 1) -> Trace:
    """``n_tasks`` tasks; past 100k, 100k-task chunks one after the other."""
    if n_tasks <= CHUNK:
        return synthetic_trace(n_tasks, workers, seed=seed)
    events: list = []
    t0 = 1_795_000_000.0
    for k in range(n_tasks // CHUNK):
        tr = synthetic_trace(CHUNK, workers, seed=seed + k, t0=t0)
        events.extend(e for e in tr if not (k and e.kind in ("consumer", "worker_up")))
        t0 = tr.events[-1].t + 0.01
    return Trace(events, header=make_header(clock="unix", source="synthetic", seed=seed))


def measure(n_tasks: int, repeat: int) -> dict:
    t = time.perf_counter()
    tr = trace_of(n_tasks)
    made = time.perf_counter() - t
    t = time.perf_counter()
    analyse(tr)
    diagnosis = diagnose(tr)
    analysed = time.perf_counter() - t
    build = pack = float("inf")
    data: dict = {}
    for _ in range(repeat):
        t = time.perf_counter()
        model = build_view_model(tr, diagnosis, layout=False)
        t1 = time.perf_counter()
        data = model.data()
        t2 = time.perf_counter()
        build, pack = min(build, t1 - t), min(pack, t2 - t1)
    return {"tasks": n_tasks, "events": len(tr), "synthesise_s": round(made, 2),
            "analyse_s": round(analysed, 2), "build_s": round(build, 3), "pack_s": round(pack, 3),
            "build_view_data_s": round(build + pack, 3),
            "bytes": view_size(data), "buffer_bytes": len(data["buffer"]),
            "unpacked_bytes": data["nbytes"], "details": data["details"]}


def main(quick: bool = False) -> dict:
    sizes = (10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
    out = []
    for n in sizes:
        out.append(measure(n, 3 if n <= CHUNK else 1))
        print(json.dumps(out[-1]), file=sys.stderr, flush=True)
    res = {"what": "build_view_model + ViewModel.data (pack) seconds, best of a few; "
                   "bytes: buffer + JSON sent; 2 shared cores",
           "results": out}
    os.makedirs(os.path.join(ROOT, "test-artifacts"), exist_ok=True)
    with open(os.path.join(ROOT, "test-artifacts", "widget-bench.json"), "w") as f:
        json.dump(res, f, indent=1)
    return res


def describe(r):
    for x in r["results"]:
        yield (f"{x['tasks']:>9,} tasks: {x['bytes'] / 1e6:.2f} MB to the browser, built and "
               f"packed in {x['build_view_data_s']:.2f} s (analysis {x['analyse_s']:.2f} s)")


if __name__ == "__main__":
    from figure import figure_main
    figure_main(__doc__, main, describe)
