"""What-if and advise against reality: how many predictions agree.

The workloads of tests/test_prediction_real.py, each recorded once at a
worker count, then predicted (``whatif``) at 1..6 workers and run for real
at each; and ``advise``'s workers fix applied for real.  Prints a table and
the totals that BENCHMARKS.md reports.

    .venv/bin/python bench/predictions.py
"""
from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..", "tests"), os.path.join(HERE, "..")]

from test_prediction_real import run

import hueyviz

CASES = [("fan_out", 3), ("fan_out", 1), ("chain", 2), ("chain", 4), ("two_level", 3),
         ("two_level", 1), ("timed", 1), ("unstored", 2)]


def main() -> int:
    total = agree = exact_wrong = ok_stuck = fixes = fixes_failed = exact_n = 0
    print(f"{'workload':<10} {'rec':>3} {'w':>2} {'predicted':<9} {'exact':<5} {'real':<6} agree")
    for name, recorded in CASES:
        _, trace = run(name, recorded, record=True)
        w = hueyviz.whatif(trace, workers=range(1, 7))
        for r in w.runs:
            done, _ = run(name, r.workers)
            real = "ok" if done else "stuck"
            good = (r.verdict in ("ok", "stall")) == done if r.verdict != "unknown" else True
            total += 1
            agree += good
            exact_n += w.exact
            exact_wrong += w.exact and not good
            ok_stuck += r.verdict == "ok" and not done
            print(f"{name:<10} {recorded:>3} {r.workers:>2} {r.verdict:<9} {w.exact!s:<5} "
                  f"{real:<6} {'yes' if good else 'NO'}")
        fix = {f.kind: f for f in hueyviz.advise(trace).fixes}.get("workers")
        if fix is not None and fix.helps and isinstance(fix.workers, int):
            fixes += 1
            done, _ = run(name, fix.workers)
            fixes_failed += not done
            print(f"{name:<10} {recorded:>3} advised -w {fix.workers}: real "
                  f"{'ok' if done else 'stuck'}")
    print(f"\n{agree} of {total} predictions agree ('unknown' counts as agreeing: it "
          f"claims nothing); {exact_n} marked exact, {exact_wrong} of them wrong; "
          f"{ok_stuck} 'ok' predictions that got stuck; {fixes} advised workers fixes "
          f"applied, {fixes_failed} failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
