"""How waits, tasks and knots are described: as records and in words.

The messages follow PostgreSQL's deadlock report: every edge of the knot is
named, "<worker> runs <task>, which waits for <task>, <why it cannot run>".
Queue names appear only when the trace has more than one queue.
"""
from __future__ import annotations

from typing import Dict, Optional

from ..core.event import Worker
from .finding import Edge, KnotWait, QueueCount
from .replay import Replay, TaskRecord, Wait

__all__ = [
    "edge_of",
    "knot_wait",
    "pool_words",
    "queue_words",
    "site_words",
    "target_words",
    "task_label",
    "wait_words",
]


def task_label(rec: Optional[TaskRecord], task_id: str) -> str:
    if rec is None:
        return f"? [{task_id[:8]}]"
    return rec.label()


def queue_words(queue: Optional[str]) -> str:
    return f"queue `{queue if queue is not None else 'default'}`"


def _named(rp: Replay) -> bool:
    return len(rp.pools) > 1


def worker_words(rp: Replay, w: Optional[Worker]) -> str:
    """The worker's thread name, with its process when another process has a
    worker of the same name (every consumer calls its threads Worker-1...)."""
    if w is None:
        return "?"
    others = [x for p in rp.pools.values() for x in p.members
              if x.name == w.name and (x.host, x.pid) != (w.host, w.pid)]
    if not others:
        return w.name
    if any(x.host != w.host for x in others):
        return f"{w.name} ({w.host} pid {w.pid})"
    return f"{w.name} (pid {w.pid})"


def target_words(rp: Replay, rec: TaskRecord) -> str:
    where = f" in {queue_words(rec.queue)}" if _named(rp) else ""
    if rec.state == "queued":
        pos = rp.queue_position(rec.id)
        if pos is None:
            return "queued" + where
        if pos == 0:
            return "next in the queue" + (f" ({queue_words(rec.queue)})" if where else "")
        return f"queued behind {pos} task{'s' if pos != 1 else ''}{where}"
    if rec.state == "scheduled":
        return "scheduled, not yet due"
    if rec.state == "pending":
        chain = rp.undelivered(rec)
        if chain:
            cause = chain[0]
            steps = " -> ".join(task_label(r, r.id) for r in chain[1:])
            return (f"a pipeline step that will never be enqueued: {task_label(cause, cause.id)}"
                    f" ended {cause.outcome} before it, and Huey enqueues each step only when "
                    f"the one before completes ({task_label(cause, cause.id)} -> {steps})")
        before = rp.tasks.get(rec.after) if rec.after is not None else None
        if before is None:
            return "pending (the next step of a pipeline)"
        return (f"a pipeline step Huey enqueues only when {task_label(before, before.id)} "
                "completes")
    if rec.state == "blocked":
        return f"itself blocked on {worker_words(rp, rec.worker)}{where}"
    if rec.state == "unknown":
        return "not seen enqueued while the tracer was attached (it may predate the recording)"
    if rec.consumed is not None:
        who = rp.tasks.get(rec.consumed_by) if rec.consumed_by else None
        reader = task_label(who, rec.consumed_by) if rec.consumed_by else "non-task code"
        return (f"finished, but its result was already read and removed by {reader} "
                "(Result.get defaults to preserve=False)")
    if rec.never_result:
        if rec.outcome == "complete":
            return "finished without storing a result (it returned None and store_none=False)"
        return f"{rec.outcome}, so it will never store a result"
    return rec.state


def edge_of(rp: Replay, w: Wait) -> Edge:
    waiter = rp.tasks.get(w.waiter) if w.waiter else None
    target = rp.tasks.get(w.waits_on)
    held = w.waiter is not None and rp.is_member(w.queue, w.worker)
    return Edge(w.waiter, w.waits_on,
                waiter.name if waiter else None,
                target.name if target else None,
                w.worker.name if (w.worker and held) else None,
                w.worker.key if w.worker else None,
                w.since, w.timeout, w.site, w.queue,
                target.queue if target is not None else w.target_queue)


def knot_wait(rp: Replay, w: Wait) -> KnotWait:
    target = rp.tasks.get(w.waits_on)
    return KnotWait(edge_of(rp, w), target.state if target else "unknown")


def wait_words(rp: Replay, w: Wait) -> str:
    target = rp.tasks[w.waits_on]
    tgt = f"{task_label(target, w.waits_on)}, {target_words(rp, target)}"
    if w.waiter is None:
        who = f"{w.worker.name if w.worker else 'non-task code'} (not a task, holds no worker)"
        return f"{who} waits for {tgt}"
    waiter = rp.tasks[w.waiter]
    timeout = f" (timeout {w.timeout:g} s)" if w.timeout is not None else ""
    worker = worker_words(rp, w.worker)
    if _named(rp):
        worker = f"{worker} of {queue_words(w.queue)}"
    return f"{worker} runs {waiter.label()}, which waits for {tgt}{timeout}"


def site_words(edge: Edge) -> str:
    return f" at {edge.site}" if edge.site else ""


def pool_words(queues: Dict[Optional[str], QueueCount]) -> str:
    """``2 of 2 are blocked``, or per queue when there are several."""
    if len(queues) == 1:
        c = next(iter(queues.values()))
        return f"{c.blocked} of {c.total} are blocked"
    return "; ".join(f"{queue_words(q)}: {c.blocked} of {c.total} workers blocked"
                     for q, c in sorted(queues.items(), key=lambda kv: str(kv[0])))
