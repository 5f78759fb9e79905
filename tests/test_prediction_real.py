"""What-if against reality: record a workload once, predict its verdict at
1..4 workers, run it for real at each, and require that every prediction
marked exact matches and that no prediction says ``ok`` where the real run
gets stuck.  The real outcome is judged without hueyviz: every top-level
result returned within the bound, or not.

The figures (how many agree) are bench/predictions.py's, in BENCHMARKS.md.
"""
import threading

import pytest
from huey import MemoryHuey

import hueyviz
from conftest import Running
from hueyviz import whatif

WORK = 0.01          # seconds of work per leaf task
BOUND = 2.0          # a run whose results are not all back by then is stuck (200x its work)


def fan_out(huey, k=3):
    @huey.task()
    def leaf(i):
        threading.Event().wait(WORK)        # work, not synchronisation
        return i

    @huey.task()
    def main(n):
        return sum(r.get(blocking=True) for r in [leaf(i) for i in range(n)])
    return lambda: [main(k), main(k)]


def chain(huey, depth=3):
    @huey.task()
    def rec(n):
        return 0 if n == 0 else rec(n - 1).get(blocking=True) + 1
    return lambda: [rec(depth)]


def two_level(huey):
    @huey.task()
    def leaf(i):
        threading.Event().wait(WORK)
        return i

    @huey.task()
    def mid(i):
        return sum(r.get(blocking=True) for r in [leaf(j) for j in range(2)])

    @huey.task()
    def top():
        return sum(r.get(blocking=True) for r in [mid(i) for i in range(2)])
    return lambda: [top()]


def timed(huey):
    @huey.task()
    def leaf(i):
        threading.Event().wait(WORK)
        return i

    @huey.task()
    def main():
        try:
            return leaf(1).get(blocking=True, timeout=0.5)
        except Exception:
            return -1
    return lambda: [main(), main()]


def unstored(huey):
    @huey.task()
    def nothing():
        return None

    @huey.task()
    def main():
        return nothing().get(blocking=True)
    return lambda: [main()]


WORKLOADS = {"fan_out": fan_out, "chain": chain, "two_level": two_level, "timed": timed,
             "unstored": unstored}


def run(name, workers, record=False):
    """(returned in time?, trace if record) of one real run."""
    huey = MemoryHuey(f"pred-{name}-{workers}-{record}", utc=False,
                      store_none=False)
    start = WORKLOADS[name](huey)
    tracer = hueyviz.trace(huey)          # before the consumer: it announces its polling
    consumer = Running(huey, workers)
    consumer.start()
    results = start()
    consumer.results.extend(results)
    done = consumer.wait_results(results, timeout=BOUND)
    trace = tracer.trace
    tracer.detach()
    consumer.stop()
    return done, trace


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name,recorded", [
    ("fan_out", 3), ("fan_out", 1), ("chain", 2), ("chain", 4), ("two_level", 3),
    ("timed", 1), ("unstored", 2),
    # Known and said (README, "Which fix?"; the notes of the prediction): a task
    # that never ran and has no namesake that did is assumed to neither spawn
    # nor wait.  Recorded on one worker, the two-level fan-out's middle tasks
    # never ran: at 2 and 3 workers the prediction says ok, and they deadlock.
    pytest.param("two_level", 1, marks=pytest.mark.xfail(
        strict=True, reason="never-ran tasks without a namesake are assumed leaves"))])
def test_predictions_agree_with_real_runs(name, recorded):
    _, trace = run(name, recorded, record=True)
    w = whatif(trace, workers=range(1, 5))
    for r in w.runs:
        real, _ = run(name, r.workers)
        if w.exact:
            assert (r.verdict in ("ok", "stall")) is real, (name, r.workers, r.verdict, w.notes)
        if r.verdict == "ok":
            assert real, (name, recorded, r.workers, "predicted ok, the real run got stuck",
                          w.notes)
