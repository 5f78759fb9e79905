"""Figure j: an endless stream in bounded memory.

Events of a synthetic workload (``bench/synth.py``, 100k tasks at a time on
one pool of 64 workers, each chunk continuing where the last ended) are fed
to :func:`hueyviz.analysis.detector.diagnose_stream`, the detector behind
``hueyviz diagnose FILE`` and ``hueyviz follow``, one at a time and never
kept.  The process's resident memory (``VmRSS``) is sampled every 500k
events: it should stay flat while the stream grows ten-fold.

    .venv/bin/python bench/stream.py [--quick] [--json]
"""
from __future__ import annotations

import json
import sys
import time
from os.path import abspath, dirname
from typing import Iterator, List

sys.path.insert(0, dirname(abspath(__file__)))

from synth import synthetic_trace

from hueyviz.analysis.detector import diagnose_stream
from hueyviz.core.event import Event

CHUNK = 100_000
EVERY = 500_000


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def stream(n_events: int, samples: List[tuple]) -> Iterator[Event]:
    """``n_events`` events of an ever longer workload, sampling memory."""
    t0 = 1_795_000_000.0
    sent = 0
    k = 0
    start = time.perf_counter()
    while True:
        tr = synthetic_trace(CHUNK, 64, seed=100 + k, t0=t0)
        for e in tr:
            if k and e.kind in ("consumer", "worker_up"):
                continue            # one pool for the whole stream
            yield e
            sent += 1
            if sent % EVERY == 0:
                samples.append((sent, round(rss_mb(), 1), round(time.perf_counter() - start, 1)))
            if sent >= n_events:
                return
        t0 = tr.end + 0.01
        k += 1
        del tr


def main(quick: bool = False) -> dict:
    n = 2_000_000 if quick else 10_000_000
    samples: List[tuple] = []
    t = time.perf_counter()
    d = diagnose_stream(stream(n, samples))
    wall = time.perf_counter() - t
    first = samples[1][1] if len(samples) > 2 else samples[0][1]   # after the first chunk
    return {"events": n, "verdict": d.verdict, "seconds": round(wall, 1),
            "samples": [{"events": s, "rss_mb": r, "s": w} for s, r, w in samples],
            "rss_first_mb": first, "rss_last_mb": samples[-1][1],
            "growth": round(samples[-1][1] / first, 3)}


if __name__ == "__main__":
    res = main("--quick" in sys.argv)
    print(json.dumps(res, indent=1) if "--json" in sys.argv else res)
