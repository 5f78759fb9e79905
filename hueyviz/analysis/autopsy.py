"""The verdict on one instant of a consumer (:mod:`hueyviz.read.autopsy`).

The snapshot's events go through the same detector as a recording's, with
one fact a recording never has: the awaited tasks that left the queue
unseen (``Replay.inflight``).  The Diagnosis is the one ``diagnose`` gives
(same fields, same JSON, same renderers), its message led by what it is,
and its notes say what one instant cannot show.
"""
from __future__ import annotations

from dataclasses import replace
from typing import List, Optional, Sequence, Union

from ..core.text import printable
from ..read.autopsy import Snapshot, events, inflight
from .detector import _Detector, _verdict
from .finding import Diagnosis

__all__ = ["autopsy", "diagnose_snapshot"]


def diagnose_snapshot(snap: Union[Snapshot, Sequence[Snapshot]]) -> Diagnosis:
    """Diagnose consumers read from the outside at one instant (one queue's
    snapshot, or several queues read together)."""
    snaps = [snap] if isinstance(snap, Snapshot) else list(snap)
    evs = events(snaps)
    gone = inflight(snaps)
    det = _Detector()
    det.rp.inflight = gone
    det.feed_all(evs)
    findings = det.finish()
    d = _verdict(findings, det.rp, det.unseen, 0, evs[0].t if evs else None,
                 bool(evs), tuple(det.notes))
    seen = [w for s in snaps for w in s.workers]
    consumers = [c for s in snaps for c in s.consumers]
    workers = len(seen)
    procs = len({w.pid for w in seen}) if seen else len(consumers)
    busy = sum(1 for w in seen if w.task is not None)
    waiting = sum(1 for w in seen if w.waits_on is not None)
    queued = sum(len(s.storage.pending) for s in snaps)
    scheduled = sum(len(s.storage.scheduled) for s in snaps)
    names = ", ".join(repr(s.queue) for s in snaps)
    first = snaps[0]
    head = (f"Autopsy of queue{'s' if len(snaps) != 1 else ''} {names} at one instant "
            f"({workers} worker{'s' if workers != 1 else ''} in {procs} "
            f"process{'es' if procs != 1 else ''}: {busy} running, {waiting} waiting on a "
            f"result; {queued} queued, {scheduled} scheduled; read by {first.reader} in "
            f"{max(s.took for s in snaps):.2f} s). ")
    notes: List[str] = []
    pids = ", ".join(str(c.pid) for c in consumers)
    counted = (f"the pool is the {workers} worker{'s' if workers != 1 else ''} of the "
               f"consumer process{'es' if len(consumers) != 1 else ''} read ({pids} on "
               f"{first.host})")
    if len(snaps) > 1:
        counted = counted.replace("the pool is", "the pools are", 1)
    discovered = all(s.discovered for s in snaps)
    if discovered:
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
    if gone:
        listed = sorted(gone)
        shown = ", ".join(f"[{t[:8]}]" for t in listed[:5]) + (
            f" and {len(listed) - 5} more" if len(listed) > 5 else "")
        notes.append(f"awaited {shown} {'are' if len(gone) != 1 else 'is'} in no queue, "
                     "schedule or result store and not revoked: left the queue, so running "
                     "(its id unseen) or gone without a result; counted as one of the running "
                     "tasks, so it ends only if one of them can")
    skipped = sum(s.storage.skipped for s in snaps)
    if skipped:
        notes.append(f"{skipped} message{'s' if skipped != 1 else ''} in the storage could "
                     "not be decoded and are not counted")
    if any(w.remaining is not None for w in seen if w.waits_on):
        notes.append("a wait's timeout is what was left of it at that instant")
    for s in snaps:
        notes.extend(s.notes)
    # One instant does not show which wait closed the knot (see the notes).
    message = d.message.replace(" The wait that closed it: ",
                                " The wait taken as closing it (the queue's order): ", 1)
    return replace(d, message=printable(head + message),
                   exact=d.exact and (discovered or d.ok),
                   notes=tuple(printable(n) for n in (*notes, *d.notes)))


def autopsy(app, pids: Optional[Sequence[int]] = None) -> Diagnosis:
    """Diagnose a running consumer from the outside (``hueyviz autopsy``).

    Parameters
    ----------
    app : huey.Huey or str
        The Huey instance, or its import path as ``huey_consumer`` takes it
        (``"app.huey"``).
    pids : list of int, optional
        The consumer processes to read.  Default: every process on this
        host running ``huey_consumer APP`` (an import path is needed then).

    Raises :class:`~hueyviz.core.errors.HueyvizError` (one line) when the
    consumer or its storage cannot be read.
    """
    from ..core.errors import UsageError
    from ..read.autopsy import consumer_pids, take_all
    from ..read.source import load_import_path
    huey = load_import_path(app) if isinstance(app, str) else app
    if pids is None:
        if not isinstance(app, str):
            raise UsageError("pids=[...] names the consumer processes of a Huey instance "
                             "(or pass its import path, 'app.huey', to find them)")
        import sys
        module = sys.modules.get(app.rpartition(".")[0])
        pids = consumer_pids(app, module_file=getattr(module, "__file__", None))
        if not pids:
            raise UsageError(f"no running consumer of {app} found")
        return diagnose_snapshot(take_all([(huey, pids)], discovered=True))
    return diagnose_snapshot(take_all([(huey, list(pids))]))
