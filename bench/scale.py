"""Figure c: load + diagnose for traces of 10k and 100k tasks.

Synthetic traces from ``bench/synth.py`` (what the tracer would record for a
pool of workers draining a queue, with nested waits, errors and retries) are
saved once as JSON Lines; then ``Trace.load`` + ``diagnose`` are timed,
sizes interleaved (10k, 100k, 10k, 100k, ...), medians reported.  The
10k -> 100k ratio should be ~10 (linear).

    .venv/bin/python bench/scale.py [--quick] [--json]
"""
from __future__ import annotations

import gc
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.dirname(HERE))

from synth import synthetic_trace

from hueyviz import Trace, diagnose

SIZES = {10_000: 64, 100_000: 64}     # tasks -> workers: the same pool, so the ratio is about n


def main(quick: bool = False) -> dict:
    rounds = 3 if quick else 5
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-scale-")
    try:
        files = {}
        for n, workers in SIZES.items():
            tr = synthetic_trace(n, workers, seed=1)
            path = os.path.join(tmp, f"trace-{n}.jsonl")
            tr.save(path)
            files[n] = (path, len(tr), os.path.getsize(path), workers)
            del tr
        samples = {n: {"load_s": [], "diagnose_s": [], "total_s": []}
                   for n in SIZES}
        verdicts = {}
        for _ in range(rounds):
            for n in SIZES:
                gc.collect()
                t0 = time.perf_counter()
                tr = Trace.load(files[n][0])
                t1 = time.perf_counter()
                d = diagnose(tr)
                t2 = time.perf_counter()
                verdicts[n] = d.verdict
                samples[n]["load_s"].append(t1 - t0)
                samples[n]["diagnose_s"].append(t2 - t1)
                samples[n]["total_s"].append(t2 - t0)
                del tr, d
        out = {"rounds": rounds, "sizes": {}}
        for n in SIZES:
            path, events, size, workers = files[n]
            med = {k: statistics.median(v) for k, v in samples[n].items()}
            out["sizes"][str(n)] = dict(
                tasks=n, workers=workers, events=events, file_bytes=size,
                verdict=verdicts[n], **{f"{k}_median": v for k, v in med.items()},
                **{k: v for k, v in samples[n].items()})
        small, big = out["sizes"]["10000"], out["sizes"]["100000"]
        out["ratio_100k_over_10k"] = {k: big[f"{k}_median"] / small[f"{k}_median"]
                                      for k in ("load_s", "diagnose_s", "total_s")}
        out["target_s_100k"] = 3.0
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def describe(r):
    for n, s in r["sizes"].items():
        yield (f"{n:>7} tasks ({s['events']} events): load {s['load_s_median']:.2f} s, "
               f"diagnose {s['diagnose_s_median']:.2f} s, total {s['total_s_median']:.2f} s")
    yield f"10k -> 100k ratio: { {k: round(v, 1) for k, v in r['ratio_100k_over_10k'].items()} }"


if __name__ == "__main__":
    from figure import figure_main
    figure_main(__doc__, main, describe)
