"""Figure b: memory per recorded event in the in-process sink (tracemalloc).

Runs the same batch of tasks through a MemoryHuey (enqueue, then execute in
this thread) untraced and traced, interleaved, and reports

    (memory still held after the traced batch - after the untraced batch)
    / events recorded

with tracemalloc, after a full collection.  This is everything recording
keeps alive: the Event structs, their timestamps, the ring buffer's slots and
the task-id strings the events hold.  Tasks return a value half of the time
(so results are stored and read back untraced and traced alike).

    .venv/bin/python bench/memory.py [--quick] [--json]
"""
from __future__ import annotations

import gc
import statistics
import sys
import tracemalloc

from huey import MemoryHuey


def _batch(n_tasks: int, traced: bool) -> tuple:
    huey = MemoryHuey("bench-memory", utc=False)

    @huey.task()
    def job(i):
        return i if i % 2 else None

    tracer = None
    if traced:
        import hueyviz
        tracer = hueyviz.trace(huey)
    gc.collect()
    before = tracemalloc.get_traced_memory()[0]
    results = [job(i) for i in range(n_tasks)]
    while True:
        task = huey.dequeue()
        if task is None:
            break
        huey.execute(task)
    for r in results:
        r.get()
    del results, task
    gc.collect()
    held = tracemalloc.get_traced_memory()[0] - before
    events = len(tracer.sink) if tracer is not None else 0
    if tracer is not None:
        tracer.detach()
    return held, events, tracer


def main(quick: bool = False) -> dict:
    n = 5_000 if quick else 20_000
    rounds = 3 if quick else 5
    import hueyviz  # noqa: F401  (import cost outside the figure)
    tracemalloc.start()
    per_event, untraced, traced, events = [], [], [], 0
    for _ in range(rounds):
        u, _, _ = _batch(n, False)
        t, events, tracer = _batch(n, True)
        untraced.append(u)
        traced.append(t)
        per_event.append((t - u) / events)
        del tracer
        gc.collect()
    tracemalloc.stop()
    from hueyviz.core.event import Event, Worker
    sample = Event(1.0, "executing", "x" * 36, "job", Worker("h", 1, "w"), None)
    return {"n_tasks": n, "events": events, "rounds": rounds,
            "bytes_per_event": statistics.median(per_event),
            "bytes_per_event_all": per_event,
            "untraced_held_bytes": statistics.median(untraced),
            "traced_held_bytes": statistics.median(traced),
            "event_tuple_bytes": sys.getsizeof(sample),
            "target_bytes": 150}


def describe(r):
    yield (f"{r['bytes_per_event']:.0f} bytes/event ({r['events']} events, "
           f"{r['n_tasks']} tasks; target <= {r['target_bytes']})")


if __name__ == "__main__":
    from figure import figure_main
    figure_main(__doc__, main, describe)
