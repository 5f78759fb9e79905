"""Deadlock, stall and hang verdicts for a pool of N identical workers.

The model (see ``shared/DESIGN.md``): a running task holds one worker, a
queued task needs one, a blocked task holds one and waits for another
task's result.  The state is *deadlocked* when it cannot be fully reduced
(Holt): no held worker will ever be released and what the blocked tasks wait
for can never run.  A wait with a timeout makes the same knot a *stall*.  A
wait for a result that can never arrive is a *hang*.

Everything here is a pure function of the event log, linear in its length:
one :class:`~hueyviz.model.Replay` pass, with a knot check only when a wait
begins or the pool shrinks.
"""
from __future__ import annotations
import copy
from collections import ChainMap
from typing import Dict, Iterable, List, Optional, Tuple

from ..core.collector import collector_paused
from ..core.event import Event
from .finding import VERDICTS, Diagnosis, Edge, Finding
from .replay import Replay, TaskRecord, Wait
from .wording import edge_of, site_words, task_label, wait_record, wait_words

__all__ = ["Edge", "Finding", "Diagnosis", "VERDICTS", "diagnose", "find_findings",
           "find_knot", "would_deadlock"]


# -- detection -----------------------------------------------------------------
def _chain(rp: Replay, start: TaskRecord) -> Tuple[List[Wait], str]:
    """Follow waits from a blocked task.  Returns the waits walked and how the
    chain ends: ``proceeds``, ``needs_worker``, ``cycle`` or ``no_result``."""
    walked: List[Wait] = []
    seen = {start.id}
    cur = start
    while True:
        w = cur.wait
        walked.append(w)
        tgt = rp.tasks.get(w.waits_on)
        if tgt is None or tgt.state == "unknown":
            return walked, "needs_worker"
        if tgt.has_result:
            return walked, "proceeds"
        if tgt.never_result:
            return walked, "no_result"
        if tgt.state == "blocked" and tgt.wait is not None:
            if tgt.id in seen:
                return walked, "cycle"
            seen.add(tgt.id)
            cur = tgt
            continue
        if tgt.state == "running":
            return walked, "proceeds"
        return walked, "needs_worker"   # queued, scheduled, or between retries


def _pool_knot(rp: Replay) -> Optional[Tuple[List[Wait], List[TaskRecord]]]:
    """All pool workers held by blocked tasks, none of which can proceed?"""
    size = rp.pool_size()
    if size == 0:
        return None
    holders = rp.blocked_holders()
    if len(holders) < size:
        return None
    waits: List[Wait] = []
    needs: Dict[str, TaskRecord] = {}
    for h in holders:
        walked, end = _chain(rp, h)
        if end == "proceeds":
            return None
        for w in walked:
            if w not in waits:
                waits.append(w)
        last = rp.tasks.get(walked[-1].waits_on)
        if end == "needs_worker" and last is not None:
            needs[last.id] = last
    return waits, list(needs.values())


def _cycle(rp: Replay, rec: TaskRecord) -> Optional[List[Wait]]:
    walked, end = _chain(rp, rec)
    if end != "cycle":
        return None
    # Keep only the cycle itself, starting from the wait that closed it.
    ids = [w.waiter for w in walked]
    closing = walked[-1].waits_on
    return walked[ids.index(closing):] if closing in ids else walked


class _Detector:
    """Incremental knot detection over one replay."""

    def __init__(self, rp: Optional[Replay] = None) -> None:
        self.rp = rp if rp is not None else Replay()
        self.findings: List[dict] = []
        self.active: Optional[dict] = None    # open deadlock/stall knot

    def feed(self, e: Event) -> None:
        rp = self.rp
        rp.apply(e)
        kind = e.kind
        if self.active is not None:
            self._maybe_dissolve(e)
        if kind == "block":
            self._on_block(e)
        elif kind in ("complete", "revoked", "expired", "lost"):
            self._on_no_result(e)
        elif kind in ("worker_down", "pool", "lost") and self.active is None:
            self._check_pool(None)

    def _on_block(self, e: Event) -> None:
        rp = self.rp
        target = rp.tasks.get(e.get("waits_on"))
        w = rp.thread_waits.get(e.worker) if e.task is None else rp.tasks[e.task].wait
        if w is None:
            return
        if target is not None and target.never_result:
            self._hang(w, e.t)
            return
        if e.task is None or self.active is not None:
            return
        rec = rp.tasks[e.task]
        cyc = _cycle(rp, rec)
        if cyc is not None:
            self._knot(cyc, [], e.t, culprit=w, cycle=True)
            return
        self._check_pool(w)

    def _on_no_result(self, e: Event) -> None:
        rec = self.rp.tasks.get(e.task) if e.task else None
        if rec is None or not rec.never_result:
            if e.kind == "lost":
                for tid in self.rp.lost:
                    for w in list(self.rp.waiting.get(tid, ())):
                        self._hang(w, e.t)
            return
        for w in list(self.rp.waiting.get(rec.id, ())):
            self._hang(w, e.t)

    def _check_pool(self, closing: Optional[Wait]) -> None:
        found = _pool_knot(self.rp)
        if found is None:
            return
        waits, needs = found
        if closing is None or closing not in waits:
            closing = max(waits, key=lambda w: w.since)
        self._knot(waits, needs, self.rp.t, culprit=closing, cycle=False)

    # -- findings ------------------------------------------------------------
    def _workers(self) -> Dict[str, int]:
        return {"total": self.rp.pool_size(), "blocked": len(self.rp.blocked_holders())}

    def _knot(self, waits: List[Wait], needs: List[TaskRecord], t: float,
              culprit: Wait, cycle: bool) -> None:
        rp = self.rp
        timed = [w for w in waits if w.timeout is not None]
        verdict = "stall" if timed else "deadlock"
        ends = min(w.deadline for w in timed) if timed else None
        workers = self._workers()
        knot = [wait_record(rp, w) for w in waits]
        for rec in needs:
            knot.append({"kind": "needs_worker", "task": rec.id, "name": rec.name,
                         "queue_position": rp.queue_position(rec.id)})
        members = {w.waiter for w in waits} | {w.waits_on for w in waits}
        bystanders = [w for w in rp.thread_waits.values() if w.waits_on in members]
        for w in bystanders:
            knot.append(wait_record(rp, w))
        edge = edge_of(rp, culprit)
        parts = [wait_words(rp, w) for w in waits]
        head = "Deadlock" if verdict == "deadlock" else "Stall"
        if cycle:
            tail = "the waits form a cycle, so none of them can ever return"
        else:
            tail = f"no worker is free: {workers['blocked']} of {workers['total']} are blocked"
        msg = f"{head}: " + "; ".join(parts) + f"; {tail}."
        msg += (f" The wait that closed it: {task_label(rp.tasks.get(edge.waiter), edge.waiter)}"
                f" on {edge.worker or '?'} waiting for "
                f"{task_label(rp.tasks.get(edge.waits_on), edge.waits_on)}{site_words(edge)}.")
        if bystanders:
            msg += " Also waiting: " + "; ".join(wait_words(rp, w) for w in bystanders) + "."
        if verdict == "stall":
            msg += (f" It dissolves by itself when the first timeout expires, "
                    f"{ends - t:.3g} s after it formed.")
        finding = {"verdict": verdict, "at": t, "culprit": edge, "knot": tuple(knot),
                   "workers": workers, "message": msg, "ends": ends, "notes": [],
                   "_waiters": {w.waiter for w in waits}, "_targets": {r.id for r in needs} |
                   {w.waits_on for w in waits}, "_members": set(rp.members),
                   "_exact": rp.exact}
        self.findings.append(finding)
        self.active = finding

    def _hang(self, w: Wait, t: float) -> None:
        rp = self.rp
        key = (w.waiter, w.waits_on, w.since)
        for f in self.findings:
            if f.get("_key") == key:
                return
        edge = edge_of(rp, w)
        msg = f"Hang: {wait_words(rp, w)}{site_words(edge)}; that wait can never be satisfied."
        if w.timeout is not None:
            msg += f" Its {w.timeout:g} s timeout will end it with ResultTimeout."
        self.findings.append({"verdict": "hang", "at": max(t, w.since), "culprit": edge,
                              "knot": (wait_record(rp, w),), "workers": self._workers(),
                              "message": msg, "ends": w.deadline, "notes": [], "_key": key})

    def _maybe_dissolve(self, e: Event) -> None:
        f = self.active
        progressed = ((e.kind == "unblock" and e.task in f["_waiters"])
                      or (e.kind == "executing" and e.task in f["_targets"]))
        if not progressed:
            return
        self.active = None
        if f["verdict"] == "stall":
            f["ends"] = e.t
            f["message"] += f" It dissolved {e.t - f['at']:.3g} s later."
            return
        if e.kind == "executing" and e.worker not in f["_members"] and not f["_exact"]:
            # No consumer announced its size, so the pool was inferred from the
            # workers seen so far; a new one just appeared: it was larger.
            f["retracted"] = True
            return
        who = e.worker.name if e.worker else "someone"
        f["notes"].append(f"rescued at +{e.t - f['at']:.3g} s by {who}")

    def finish(self) -> List[Finding]:
        rp = self.rp
        # Waits still open on tasks never seen at all: nothing will answer them.
        for tid, waits in list(rp.waiting.items()):
            rec = rp.tasks.get(tid)
            if rec is not None and rec.state == "unknown" and self.active is None:
                for w in list(waits):
                    self._hang(w, w.since)
        out = [_to_finding(f) for f in self.findings if not f.get("retracted")]
        out.sort(key=lambda f: f.at)
        return out


def _run(events: Iterable[Event]) -> Tuple[_Detector, List[Finding]]:
    """One pass of the detector over ``events``: linear in their number."""
    det = _Detector()
    with collector_paused():
        for e in events:
            det.feed(e)
        return det, det.finish()


def find_findings(events: Iterable[Event]) -> List[Finding]:
    """Every deadlock, stall and hang in ``events``, in order of time."""
    return _run(events)[1]


def diagnose(trace) -> Diagnosis:
    """Diagnose a trace: ``ok``, ``deadlock``, ``stall`` or ``hang``.

    Parameters
    ----------
    trace : Trace or iterable of Event

    Returns
    -------
    Diagnosis
        The first finding's verdict, time, culprit edge, knot, pool counts
        and message; ``findings`` lists them all.

    Examples
    --------
    Two workers, each running a task that waits for a still-queued subtask:

    >>> from hueyviz.core.event import Event, Worker
    >>> w1, w2 = Worker("h", 1, "Worker-1"), Worker("h", 1, "Worker-2")
    >>> ev = [Event(0.0, "worker_up", None, None, w1, None),
    ...       Event(0.0, "worker_up", None, None, w2, None),
    ...       Event(1.0, "executing", "m1", "main", w1, None),
    ...       Event(1.0, "executing", "m2", "main", w2, None),
    ...       Event(2.0, "enqueued", "s1", "sub", w1, {"parent": "m1"}),
    ...       Event(2.0, "block", "m1", "main", w1, {"waits_on": "s1"}),
    ...       Event(3.0, "enqueued", "s2", "sub", w2, {"parent": "m2"}),
    ...       Event(3.0, "block", "m2", "main", w2, {"waits_on": "s2"})]
    >>> d = diagnose(ev)
    >>> d.verdict, d.at, d.culprit.waiter, d.workers
    ('deadlock', 3.0, 'm2', {'total': 2, 'blocked': 2})
    """
    events = getattr(trace, "events", None)
    if events is None:
        events = tuple(trace)
    det, findings = _run(events)
    dropped = getattr(trace, "dropped", 0)
    start = min((e.t for e in events), default=None)
    notes = []
    if dropped:
        notes.append(f"{dropped} events were dropped while recording; "
                     "the verdict may miss what they showed")
    lost = det.rp.lost
    if lost:
        notes.append(f"{len(lost)} task{'s were' if len(lost) != 1 else ' was'} lost: "
                     "the worker running it vanished (process killed?) before it "
                     "finished; lost workers are not counted in the pool")
    if findings:
        first = findings[0]
        message = first.message
        if len(findings) > 1:
            message += f" ({len(findings) - 1} more finding{'s' if len(findings) > 2 else ''}: " + \
                ", ".join(f"{f.verdict} at +{f.at - (start or 0):.3f} s" for f in findings[1:]) + ")"
        return Diagnosis(first.verdict, first.at, first.culprit, first.knot,
                         first.workers, message, tuple(findings), dropped, start, tuple(notes))
    rp = det.rp
    n_tasks = sum(1 for r in rp.tasks.values() if r.state != "unknown")
    total = rp.pool_size()
    message = (f"OK: {n_tasks} task{'s' if n_tasks != 1 else ''} on "
               f"{total} worker{'s' if total != 1 else ''}; no deadlock, stall or hang.")
    return Diagnosis("ok", None, None, (), {"total": total,
                     "blocked": len(rp.blocked_holders())}, message, (), dropped,
                     start, tuple(notes))


def _to_finding(f: dict) -> Finding:
    return Finding(f["verdict"], f["at"], f["culprit"], f["knot"], f["workers"],
                   f["message"], f["ends"], tuple(f["notes"]))


def find_knot(replay: Replay) -> Optional[Finding]:
    """The deadlock or stall that the replayed state is in right now, if any.

    Reads ``replay`` without changing it (a watchdog asks this of a live
    replay; :func:`diagnose` asks it of a whole trace, event by event).

    Parameters
    ----------
    replay : Replay

    Returns
    -------
    Finding or None
        ``deadlock`` or ``stall`` with the knot in words, or None.

    Examples
    --------
    >>> from hueyviz.core.event import Event, Worker
    >>> w1 = Worker("h", 1, "Worker-1")
    >>> rp = Replay()
    >>> for e in [Event(0.0, "pool", None, None, None, {"size": 1}),
    ...           Event(1.0, "executing", "m1", "main", w1, None),
    ...           Event(2.0, "enqueued", "s1", "sub", w1, {"parent": "m1"}),
    ...           Event(2.0, "block", "m1", "main", w1, {"waits_on": "s1"})]:
    ...     rp.apply(e)
    >>> find_knot(rp).verdict
    'deadlock'
    """
    det = _Detector(replay)
    for rec in replay.blocked_holders():
        cyc = _cycle(replay, rec)
        if cyc is not None:
            det._knot(cyc, [], replay.t, culprit=max(cyc, key=lambda w: w.since),
                      cycle=True)
            return _to_finding(det.findings[0])
    det._check_pool(None)
    return _to_finding(det.findings[0]) if det.findings else None


def would_deadlock(replay: Replay, waiter: Optional[str], waits_on: str,
                   timeout: Optional[float] = None, *, worker=None,
                   site: Optional[str] = None, t: Optional[float] = None,
                   name: Optional[str] = None) -> Optional[Finding]:
    """Would the pool be stuck if ``waiter`` now blocked on ``waits_on``?

    Applies the wait hypothetically to the state held by ``replay`` (which
    is left unchanged: the check works on a thin overlay, O(pool) to build)
    and runs the same knot detection as :func:`diagnose`.

    Parameters
    ----------
    replay : Replay
        The current state (a replay fed with the events so far).
    waiter : str or None
        Id of the task about to block; None (non-task code holds no worker)
        never deadlocks the pool.
    waits_on : str
        Id of the task whose result it waits for.
    timeout : float, optional
        The wait's timeout; a knot with a timed wait is a ``stall``.
    worker : Worker, optional
        The worker running ``waiter`` (default: where the replay saw it run).
    site : str, optional
        Call site of the wait, quoted in the message.
    t : float, optional
        When the wait begins (default: the replay's clock).
    name : str, optional
        The waiter's task name, if the replay does not know it.

    Returns
    -------
    Finding or None
        A ``deadlock`` (or, with a timeout in the knot, ``stall``) finding
        whose culprit is this wait, or None when the wait is safe.

    Examples
    --------
    Two workers: m1 already waits for its queued subtask; m2 is about to.

    >>> from hueyviz.core.event import Event, Worker
    >>> w1, w2 = Worker("h", 1, "Worker-1"), Worker("h", 1, "Worker-2")
    >>> rp = Replay()
    >>> for e in [Event(0.0, "pool", None, None, None, {"size": 2}),
    ...           Event(1.0, "executing", "m1", "main", w1, None),
    ...           Event(1.0, "executing", "m2", "main", w2, None),
    ...           Event(2.0, "enqueued", "s1", "sub", w1, {"parent": "m1"}),
    ...           Event(2.0, "block", "m1", "main", w1, {"waits_on": "s1"}),
    ...           Event(3.0, "enqueued", "s2", "sub", w2, {"parent": "m2"})]:
    ...     rp.apply(e)
    >>> f = would_deadlock(rp, "m2", "s2", worker=w2)
    >>> f.verdict, f.culprit.waiter, f.workers
    ('deadlock', 'm2', {'total': 2, 'blocked': 2})
    >>> would_deadlock(rp, "m2", "s2", timeout=5.0, worker=w2).verdict
    'stall'
    >>> rp.tasks["m2"].state             # the replay itself is unchanged
    'running'
    """
    if waiter is None:
        return None
    rec = replay.tasks.get(waiter)
    if worker is None:
        worker = rec.worker if rec is not None else None
    if worker is None:
        return None
    t = replay.t if t is None else t
    w = Wait(waits_on, t, worker, waiter, timeout, site)
    me = copy.copy(rec) if rec is not None else TaskRecord(waiter, name, worker=worker)
    me.state, me.wait = "blocked", w
    extra: Dict[str, TaskRecord] = {waiter: me}
    if waits_on not in replay.tasks:
        extra[waits_on] = TaskRecord(waits_on)
    over = copy.copy(replay)
    over.tasks = ChainMap(extra, replay.tasks)
    over.t = max(replay.t, t)
    stack = replay.stacks.get(worker) or []
    if waiter not in stack:
        over.stacks = dict(replay.stacks)
        over.stacks[worker] = stack + [waiter]
    if worker not in replay.members:
        over.members = dict(replay.members)
        over.members[worker] = None
    target = over.tasks[waits_on]
    if target.has_result or target.never_result:
        return None     # returns at once, or a hang: not a knot
    det = _Detector(over)
    cyc = _cycle(over, me)
    if cyc is not None:
        det._knot(cyc, [], t, culprit=w, cycle=True)
    else:
        det._check_pool(w)
    return _to_finding(det.findings[0]) if det.findings else None
