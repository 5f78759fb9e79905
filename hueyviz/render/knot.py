"""The wait-for graph of a :class:`~hueyviz.analysis.Diagnosis` alone.

``Diagnosis._repr_mimebundle_`` has no trace to replay, but the first
finding's knot names every wait in it (waiter, awaited task and its state,
worker, since) and every task that needs a worker.  That is enough to
rebuild the part of the state the knot consists of and draw it exactly as
:func:`hueyviz.render.waitfor.waitfor` draws it.
"""
from __future__ import annotations

from typing import Dict, List, Optional

import graphviz

from ..analysis.detector import Diagnosis
from ..analysis.replay import PoolState, State, TaskRecord, Wait
from ..core.event import Worker
from .waitfor import _Builder, svg_of

__all__ = ["knot_graph", "render_diagnosis"]


def _worker(key: Optional[str]) -> Optional[Worker]:
    if not key:
        return None
    host, pid, name = (["", "0"] + key.rsplit("/", 2))[-3:]
    return Worker(host, int(pid) if pid.isdecimal() else 0, name)


def knot_graph(diagnosis: Diagnosis) -> graphviz.Digraph:
    """The wait-for graph of a diagnosis's first finding, from the diagnosis
    alone (its knot and culprit), for when the trace is not at hand.

    >>> from hueyviz.analysis.detector import diagnose
    >>> 'no tasks' in knot_graph(diagnose([])).source
    True
    """
    f = diagnosis.finding
    tasks: Dict[str, TaskRecord] = {}
    holders: Dict[Optional[str], Dict[Worker, Optional[str]]] = {}
    threads: List[Wait] = []
    queue_pos: Dict[str, int] = {}
    for item in (f.knot if f is not None else ()):
        if item.get("kind") == "needs_worker":
            rec = tasks.setdefault(item["task"], TaskRecord(item["task"], item.get("name"),
                                                            queue=item.get("queue")))
            rec.state = "queued"
            if item.get("queue_position") is not None:
                queue_pos[rec.id] = item["queue_position"]
            continue
        target = tasks.setdefault(item["waits_on"],
                                  TaskRecord(item["waits_on"], item.get("waits_on_name"),
                                             queue=item.get("waits_on_queue")))
        if target.state == "unknown":
            target.state = item.get("waits_on_state") or "unknown"
            if target.state == "finished":
                target.outcome, target.stored = "complete", False
        w = Wait(item["waits_on"], item.get("since") or 0.0, _worker(item.get("worker_key")),
                 item.get("waiter"), item.get("timeout"), item.get("site"),
                 queue=item.get("queue"), target_queue=item.get("waits_on_queue"))
        if w.waiter is None:
            threads.append(w)
            continue
        rec = tasks.setdefault(w.waiter, TaskRecord(w.waiter, item.get("waiter_name"),
                                                    queue=w.queue))
        rec.state, rec.worker, rec.wait = "blocked", w.worker, w
        if w.worker is not None and item.get("worker"):
            holders.setdefault(w.queue, {})[w.worker] = w.waiter
    at = f.at if f is not None else (diagnosis.start or 0.0)
    counts = f.queues if f is not None else {}
    for q in counts:
        holders.setdefault(q, {})
    pools = {q: PoolState(q, counts[q].total if q in counts else len(h),
                          counts[q].exact if q in counts else True, h, ())
             for q, h in holders.items()}
    state = State(at, tasks, pools, tuple(threads), queue_pos)
    return _Builder(diagnosis.start, state, f, diagnosis, queue_pos=queue_pos,
                    others="other workers").build()


def render_diagnosis(diagnosis: Diagnosis) -> str:
    """:func:`knot_graph` drawn as SVG text (``Diagnosis._repr_mimebundle_``)."""
    return svg_of(knot_graph(diagnosis))
