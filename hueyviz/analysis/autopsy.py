"""The verdict on one instant of a consumer (:mod:`hueyviz.read.autopsy`).

The snapshot's events go through the same detector as a recording's, with
one fact a recording never has: the awaited tasks that left the queue
unseen (``Replay.inflight``).  The Diagnosis is the one ``diagnose`` gives
(same fields, same JSON, same renderers), its message led by what it is,
and its notes say what one instant cannot show.
"""
from __future__ import annotations

from dataclasses import replace
from typing import List

from ..core.text import printable
from ..read.autopsy import Snapshot
from .detector import _Detector, _verdict
from .finding import Diagnosis

__all__ = ["diagnose_snapshot"]


def diagnose_snapshot(snap: Snapshot) -> Diagnosis:
    """Diagnose a consumer read from the outside at one instant."""
    events = snap.events()
    det = _Detector()
    det.rp.inflight = snap.inflight
    det.feed_all(events)
    findings = det.finish()
    d = _verdict(findings, det.rp, det.unseen, 0, events[0].t if events else None,
                 bool(events), tuple(det.notes))
    workers = len(snap.workers)
    procs = len({w.pid for w in snap.workers}) if snap.workers else len(snap.consumers)
    busy = sum(1 for w in snap.workers if w.task is not None)
    waiting = sum(1 for w in snap.workers if w.waits_on is not None)
    head = (f"Autopsy of queue {snap.queue!r} at one instant ({workers} worker"
            f"{'s' if workers != 1 else ''} in {procs} process{'es' if procs != 1 else ''}: "
            f"{busy} running, {waiting} waiting on a result; {len(snap.storage.pending)} "
            f"queued, {len(snap.storage.scheduled)} scheduled; read by {snap.reader} in "
            f"{snap.took:.2f} s). ")
    notes: List[str] = []
    pids = ", ".join(str(c.pid) for c in snap.consumers)
    counted = (f"the pool is the {workers} worker{'s' if workers != 1 else ''} of the "
               f"consumer process{'es' if len(snap.consumers) != 1 else ''} read ({pids} on "
               f"{snap.host})")
    if snap.discovered:
        notes.append(f"{counted}: every process on this host running the app; consumers on "
                     "other hosts are not seen")
    else:
        notes.append(f"{counted}, as named; other consumers of this queue are not seen: if "
                     "there are any, this verdict may not hold")
    if d.verdict in ("deadlock", "stall"):
        notes.append("an autopsy sees one instant: which wait closed the knot cannot be "
                     "known; the waits are taken in the order the queue suggests (a wait on "
                     "a task further back in the queue began later), and the culprit is the "
                     "last of them")
    if busy:
        notes.append("the ids of running tasks are not visible from outside the process (a "
                     "stack shows a task as an object): they are shown as ? and the object's "
                     "address")
    gone = sorted(snap.inflight)
    if gone:
        shown = ", ".join(f"[{t[:8]}]" for t in gone[:5]) + (
            f" and {len(gone) - 5} more" if len(gone) > 5 else "")
        notes.append(f"awaited {shown} {'are' if len(gone) != 1 else 'is'} in no queue, "
                     "schedule or result store and not revoked: left the queue, so running "
                     "(its id unseen) or gone without a result; counted as one of the running "
                     "tasks, so it ends only if one of them can")
    if snap.storage.skipped:
        notes.append(f"{snap.storage.skipped} message{'s' if snap.storage.skipped != 1 else ''}"
                     " in the storage could not be decoded and are not counted")
    if any(w.remaining is not None for w in snap.workers if w.waits_on):
        notes.append("a wait's timeout is what was left of it at that instant")
    notes.extend(snap.notes)
    return replace(d, message=printable(head + d.message),
                   exact=d.exact and (snap.discovered or d.ok),
                   notes=tuple(printable(n) for n in (*notes, *d.notes)))
