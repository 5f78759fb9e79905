"""Synthetic traces of realistic size and shape, for tests and benchmarks.

``synthetic_trace(n_tasks, workers, seed)`` simulates a pool of ``workers``
threads (split over consumers of at most 8 workers each) draining a queue of
``n_tasks`` tasks with log-normal run times.  Some tasks enqueue a child and
block on its result until it completes (on another worker); some fail, some
are retried.  The events are exactly what the tracer would record, in time
order, and the result is deterministic for a given seed.

>>> tr = synthetic_trace(200, 4, seed=1)
>>> sum(1 for e in tr if e.kind == "executing") >= 200
True
>>> synthetic_trace(50, 2, seed=3) == synthetic_trace(50, 2, seed=3)
True
"""
from __future__ import annotations

import heapq
import random
import uuid
from typing import List

from hueyviz.core.event import Event, Worker
from hueyviz.core.trace import Trace, make_header

__all__ = ["synthetic_trace"]

NAMES = (("send_email", 30, 0.004), ("resize_image", 14, 0.03), ("sync_account", 10, 0.02),
         ("fetch_feed", 10, 0.012), ("charge_card", 6, 0.008), ("build_report", 4, 0.09),
         ("cleanup", 6, 0.002), ("notify", 12, 0.003), ("index_document", 8, 0.015))
PARENT_NAME = "process_order"
CHILD_NAME = "reserve_stock"


def synthetic_trace(n_tasks: int, workers: int = 8, seed: int = 0, *,
                    t0: float = 1_795_000_000.0, error_rate: float = 0.03,
                    retry_rate: float = 0.01, wait_rate: float = 0.05,
                    load: float = 0.9) -> Trace:
    """A trace of ``n_tasks`` tasks on ``workers`` workers (see module doc)."""
    rnd = random.Random(seed)
    ids = uuid.UUID
    pool = [Worker("synth-host", 1000 + i // 8, f"Worker-{i % 8 + 1}") for i in range(workers)]
    main = Worker("synth-host", 999, "MainThread")
    ev: List[tuple] = []
    seq = 0

    def emit(t, kind, task, name, worker, data=None):
        nonlocal seq
        seq += 1
        ev.append((t, seq, Event(t, kind, task, name, worker, data)))

    for i, w in enumerate(pool):
        if i % 8 == 0:
            emit(t0, "consumer", None, None, main,
                 {"workers": min(8, workers - i), "worker_type": "thread"})
        emit(t0 + 1e-4 * (i + 1), "worker_up", None, None, w)
    weights = [n[1] for n in NAMES]
    mean = sum(n[1] * n[2] for n in NAMES) / sum(weights)
    gap = mean / max(1, workers) / load       # arrivals slightly faster than service
    free = [(t0 + 1e-3, i) for i in range(workers)]
    heapq.heapify(free)
    t_arr = t0 + 1e-3
    made = 0

    def new_id():
        return str(ids(int=rnd.getrandbits(128), version=4))

    def run(task, name, dur, t_ready, avoid=None, enq_worker=main):
        """Run one task at the earliest free worker; returns (worker, start, end)."""
        put_back = []
        while True:
            ft, wi = heapq.heappop(free)
            if wi != avoid or not free:
                break
            put_back.append((ft, wi))
        for item in put_back:
            heapq.heappush(free, item)
        w = pool[wi]
        start = max(ft, t_ready) + rnd.uniform(1e-5, 2e-4)
        emit(start, "executing", task, name, w)
        return wi, w, start, start + dur

    while made < n_tasks:
        t_arr += rnd.expovariate(1.0 / gap)
        name, _, base = rnd.choices(NAMES, weights)[0]
        waits = workers > 1 and n_tasks - made >= 2 and rnd.random() < wait_rate
        if waits:
            name = PARENT_NAME
        task = new_id()
        emit(t_arr, "enqueued", task, name, main, {"args": f"({made},)"})
        made += 1
        dur = base * rnd.lognormvariate(0.0, 0.6)
        wi, w, start, end = run(task, name, dur, t_arr)
        if waits:
            child = new_id()
            t_spawn = start + dur * 0.2
            emit(t_spawn, "enqueued", child, CHILD_NAME, w, {"parent": task, "args": f"({made},)"})
            made += 1
            emit(t_spawn + 1e-5, "block", task, name, w,
                 {"waits_on": child, "site": "orders.py:42 in process_order"})
            cdur = 0.01 * rnd.lognormvariate(0.0, 0.5)
            cwi, cw, cstart, cend = run(child, CHILD_NAME, cdur, t_spawn, avoid=wi, enq_worker=w)
            emit(cend, "complete", child, CHILD_NAME, cw)
            heapq.heappush(free, (cend, cwi))
            emit(cend + 2e-5, "unblock", task, name, w, {"waits_on": child, "outcome": "result"})
            end = max(end, cend + 2e-5) + dur * 0.8
        r = rnd.random()
        if r < error_rate:
            emit(end, "error", task, name, w, {"error": "ValueError", "message": f"bad input {made}"})
        elif r < error_rate + retry_rate:
            emit(end, "error", task, name, w, {"error": "TimeoutError", "message": "upstream slow"})
            emit(end + 1e-5, "retrying", task, name, w)
            emit(end + 2e-5, "enqueued", task, name, w, {"via": "retry"})
            heapq.heappush(free, (end + 3e-5, wi))
            wi, w, start, end = run(task, name, dur, end + 3e-5)
            emit(end, "complete", task, name, w)
        else:
            emit(end, "complete", task, name, w)
        heapq.heappush(free, (end, wi))
    ev.sort(key=lambda x: (x[0], x[1]))
    return Trace([e for _, _, e in ev], header=make_header(clock="unix", source="synthetic",
                                                          seed=seed, host="synth-host", pid=999))
