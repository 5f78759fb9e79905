"""Cost of what happens when a wait really blocks: the call site
(hueyviz.hook.call_site, always, while traced) and the guard's check
(hueyviz.analysis.would_deadlock on a live replay, only with hueyviz.guard).

Both run once per ``Result.get`` whose result is not there yet, never on
waits that return at once.  Compare them with Huey's own polling wait
(MemoryStorage.wait_result sleeps 0.1 s and up between polls).

    .venv/bin/python bench/callsite.py
"""
import timeit

from hueyviz.analysis.detector import would_deadlock
from hueyviz.analysis.replay import Replay
from hueyviz.core.event import Event, Worker
from hueyviz.record.hook import call_site


def nest(depth, fn):
    if depth == 0:
        return fn()
    return nest(depth - 1, fn)


def replay_with(in_flight: int, workers: int) -> Replay:
    """``workers`` running tasks, all but one blocked, ``in_flight`` queued."""
    rp = Replay()
    ws = [Worker("h", 1, f"Worker-{i}") for i in range(workers)]
    rp.apply(Event(0.0, "pool", None, None, None, {"size": workers}))
    for i, w in enumerate(ws):
        rp.apply(Event(1.0, "enqueued", f"m{i}", "main", None, None))
        rp.apply(Event(1.0, "executing", f"m{i}", "main", w, None))
    for j in range(in_flight):
        rp.apply(Event(2.0, "enqueued", f"s{j}", "sub", ws[j % workers], {"parent": f"m{j % workers}"}))
    for i, w in enumerate(ws[:-1]):
        rp.apply(Event(3.0, "block", f"m{i}", "main", w, {"waits_on": f"s{i}"}))
    return rp, ws[-1], f"m{workers - 1}", f"s{workers - 1}"


def main():
    n = 20000
    for depth in (5, 100):
        t = timeit.timeit(lambda: nest(depth, call_site), number=n) / n
        print(f"call_site at stack depth {depth:>3}: {1e6 * t:6.2f} us per blocking wait")
    for in_flight, workers in ((10, 2), (10_000, 8), (10_000, 64)):
        rp, w, waiter, target = replay_with(in_flight, workers)
        m = 2000
        t = timeit.timeit(lambda: would_deadlock(rp, waiter, target, worker=w), number=m) / m
        verdict = would_deadlock(rp, waiter, target, worker=w).verdict
        print(f"would_deadlock, {workers:>2} workers, {in_flight:>5} queued ({verdict}): "
              f"{1e6 * t:7.1f} us")
        rp2, w2, waiter2, target2 = replay_with(in_flight, workers)
        rp2.apply(Event(4.0, "complete", "s0", "sub", w, None))   # one can proceed
        t = timeit.timeit(lambda: would_deadlock(rp2, waiter2, target2, worker=w2), number=m) / m
        print(f"would_deadlock, {workers:>2} workers, {in_flight:>5} queued (safe):     "
              f"{1e6 * t:7.1f} us")


if __name__ == "__main__":
    main()
