"""How waits, tasks and knots are described: as records and in words.

The messages follow PostgreSQL's deadlock report: every edge of the knot is
named, "<worker> runs <task>, which waits for <task>, <why it cannot run>".
"""
from __future__ import annotations

from typing import Optional

from .finding import Edge
from .replay import Replay, TaskRecord, Wait

def task_label(rec: Optional[TaskRecord], task_id: str) -> str:
    if rec is None:
        return f"? [{task_id[:8]}]"
    return rec.label()


def target_words(rp: Replay, rec: TaskRecord) -> str:
    if rec.state == "queued":
        pos = rp.queue_position(rec.id)
        if pos is None:
            return "queued"
        if pos == 0:
            return "next in the queue"
        return f"queued behind {pos} task{'s' if pos != 1 else ''}"
    if rec.state == "scheduled":
        return "scheduled, not yet due"
    if rec.state == "blocked":
        return f"itself blocked on {rec.worker or '?'}"
    if rec.state == "unknown":
        return "never enqueued while the tracer was attached"
    if rec.never_result:
        if rec.outcome == "complete":
            return "finished without storing a result (it returned None and store_none=False)"
        return f"{rec.outcome}, so it will never store a result"
    return rec.state


def edge_of(rp: Replay, w: Wait) -> Edge:
    waiter = rp.tasks.get(w.waiter) if w.waiter else None
    target = rp.tasks.get(w.waits_on)
    held = rp.in_pool(w.worker) and w.waiter is not None
    return Edge(w.waiter, w.waits_on,
                waiter.name if waiter else None,
                target.name if target else None,
                w.worker.name if (w.worker and held) else None,
                w.worker.key if w.worker else None,
                w.since, w.timeout, w.site)


def wait_record(rp: Replay, w: Wait) -> dict:
    d = edge_of(rp, w).to_dict()
    d["kind"] = "waits_for"
    target = rp.tasks.get(w.waits_on)
    d["waits_on_state"] = target.state if target else "unknown"
    return d


def wait_words(rp: Replay, w: Wait) -> str:
    target = rp.tasks[w.waits_on]
    tgt = f"{task_label(target, w.waits_on)}, {target_words(rp, target)}"
    if w.waiter is None:
        who = f"{w.worker.name if w.worker else 'non-task code'} (not a task, holds no worker)"
        return f"{who} waits for {tgt}"
    waiter = rp.tasks[w.waiter]
    timeout = f" (timeout {w.timeout:g} s)" if w.timeout is not None else ""
    return f"{w.worker.name if w.worker else '?'} runs {waiter.label()}, which waits for {tgt}{timeout}"


def site_words(edge: Edge) -> str:
    return f" at {edge.site}" if edge.site else ""
