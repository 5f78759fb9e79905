"""The task graph of a trace as a networkx ``MultiDiGraph``, read off the replay."""
from __future__ import annotations

from typing import Iterable

import networkx as nx

from ..core.event import Event
from .replay import Replay

__all__ = ["build_graph"]


def build_graph(events: Iterable[Event]) -> nx.MultiDiGraph:
    """Task graph: nodes are task ids, edges ``spawn``/``pipeline``/``wait``.

    Node attributes are the task's final record (``state``, ``queue``,
    ``outcome``, ``worker``, times, ``attempts``...).  Waits by non-task code
    appear as nodes ``thread:<host/pid/name>`` with ``kind='thread'``.

    >>> from hueyviz.core.event import Event
    >>> g = build_graph([Event(1.0, "enqueued", "a", "job", None, None, "q")])
    >>> g.nodes["a"]["state"], g.nodes["a"]["queue"]
    ('queued', 'q')
    """
    rp = Replay(history=True)
    rp.apply_all(events)
    g = nx.MultiDiGraph()
    for rec in rp.tasks.values():
        g.add_node(rec.id, kind="task", name=rec.name, state=rec.state,
                   outcome=rec.outcome, queue=rec.queue,
                   worker=rec.worker.key if rec.worker else None,
                   enqueued=rec.enqueued, started=rec.started,
                   finished=rec.finished, attempts=rec.attempts,
                   args=rec.args, parent=rec.parent)
    for rec in rp.tasks.values():
        if rec.parent is not None and rec.parent in g:
            kind = "pipeline" if rec.via == "pipeline" else "spawn"
            g.add_edge(rec.parent, rec.id, kind=kind, via=rec.via)
        prev = rec.id
        for succ in rec.then:
            if succ in g and not g.has_edge(prev, succ):
                g.add_edge(prev, succ, kind="pipeline", via="then")
            prev = succ
    for w in rp.waits:
        src = w.waiter
        if src is None:
            src = f"thread:{w.worker.key if w.worker else '?'}"
            if src not in g:
                g.add_node(src, kind="thread", name=w.worker.name if w.worker else "?")
        g.add_edge(src, w.waits_on, kind="wait", since=w.since, until=w.until,
                   timeout=w.timeout, outcome=w.outcome, site=w.site)
    return g
