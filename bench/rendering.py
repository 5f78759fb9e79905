"""Figure d: rendering every output for 1k, 10k and 100k tasks.

Times ``hueyviz.export.export_all`` one format at a time (the diagnosis is
computed once and passed in, as ``hueyviz render`` does) on synthetic traces
from ``bench/synth.py``, and records each file's size.  Sizes are
interleaved across rounds; medians reported.  Targets at 100k tasks: every
output <= 10 s, each SVG <= 5 MB.

    .venv/bin/python bench/rendering.py [--quick] [--json]
"""
from __future__ import annotations

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

from hueyviz import diagnose

WORKERS = {1_000: 8, 10_000: 16, 100_000: 64}


def available() -> bool:
    try:
        from hueyviz.render.export import FILES, export_all  # noqa: F401
    except ImportError:
        return False
    return True


def main(quick: bool = False) -> dict:
    if not available():
        return {"status": "pending", "reason": "hueyviz.render.export.export_all not importable"}
    from hueyviz.render.export import FILES, export_all
    sizes = [1_000, 10_000] if quick else [1_000, 10_000, 100_000]
    rounds = 1 if quick else 3
    traces = {n: synthetic_trace(n, WORKERS[n], seed=1) for n in sizes}
    diags = {n: diagnose(tr) for n, tr in traces.items()}
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-render-")
    samples = {n: {f: [] for f in FILES} for n in sizes}
    nbytes = {n: {} for n in sizes}
    errors = {}
    try:
        for _ in range(rounds):
            for n in sizes:
                out = os.path.join(tmp, str(n))
                for f in FILES:
                    t0 = time.perf_counter()
                    try:
                        paths = export_all(traces[n], out, formats=_fmt(f), diagnosis=diags[n])
                    except Exception as exc:      # a renderer still in progress
                        errors[f"{n}/{f}"] = f"{type(exc).__name__}: {exc}"[:300]
                        continue
                    samples[n][f].append(time.perf_counter() - t0)
                    nbytes[n][f] = os.path.getsize(paths[0])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res = {"rounds": rounds, "files": list(FILES), "sizes": {}, "errors": errors,
           "targets": {"seconds_100k": 10.0, "svg_bytes_100k": 5_000_000}}
    for n in sizes:
        per = {f: {"seconds_median": statistics.median(v) if v else None,
                   "seconds": v, "bytes": nbytes[n].get(f)}
               for f, v in samples[n].items()}
        total = sum(p["seconds_median"] or 0 for p in per.values())
        res["sizes"][str(n)] = {"tasks": n, "events": len(traces[n]), "workers": WORKERS[n],
                                "files": per, "total_seconds": total}
    return res


def _fmt(filename: str) -> str:
    return {"lanes.svg": "lanes", "waitfor.svg": "waitfor", "animated.svg": "animated",
            "report.html": "html", "trace.json": "perfetto"}[filename]


def describe(r):
    if r.get("status") == "pending":
        yield f"pending: {r['reason']}"
        return
    for n, s in r["sizes"].items():
        for f, p in s["files"].items():
            sec = p["seconds_median"]
            yield (f"{n:>7} {f:13} {sec if sec is None else round(sec, 2)!s:>6} s "
                   f"{p['bytes'] or 0:>12,} bytes")
    for k, v in r["errors"].items():
        yield f"error {k} {v}"


if __name__ == "__main__":
    from figure import figure_main
    figure_main(__doc__, main, describe)
