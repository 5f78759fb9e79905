"""Prescribe the fix, proven by replay: :func:`advise`.

For a recorded workload, each of the usual fixes for tasks that block on
other tasks is applied to the recorded task scripts and replayed with the
same simulation as :func:`~hueyviz.analysis.simulation.whatif`, so each
fix's verdict is :func:`~hueyviz.analysis.detector.diagnose` of its replay:

``workers``
    The smallest pool, per queue, that completes the workload.
``store_none``
    A hang on a task that returned ``None`` with ``store_none=False``: the
    same run with its result stored.
``priority``
    Subtasks that a parent waits for enqueued at a higher priority than
    their parents (``subtask(..., priority=10)``; the storage must honour
    priorities: Memory, Sqlite, ``PriorityRedisHuey``).
``timeout``
    A timeout on each blocking wait: a knot becomes a stall; the replay
    says how long is lost.  (The waiting task gets ``ResultTimeout``; the
    replay lets it carry on, as code that handles it would.)
``sync``
    Subtasks that a parent waits for are called in the parent
    (``subtask.call_local(...)``): no worker is held waiting, but the
    subtasks no longer run in parallel.
``pipeline``
    The blocking parent is split at each wait: it enqueues its subtasks and
    returns; a continuation (a finalize task, a chord callback or
    ``.then()``) runs the rest once they are done, so no worker is held
    while waiting.

Fixes are sorted by what changes least among those that work (``ok``),
then those that only turn a deadlock into a stall, then those that do not
help, each with the reason.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .detector import Analysis, analyse, diagnose
from .finding import Diagnosis
from .simulation import (
    UNBOUNDED,
    Counts,
    Run,
    Script,
    build_scripts,
    inline_set,
    polling_of,
    recorded_sizes,
    reproduces,
    simulate,
    up_times,
)

__all__ = ["KINDS", "Advice", "Fix", "advise"]

# In the order of how much each changes: a deployment setting, a flag, a
# call-site argument, a call-site argument and error handling, a call-site
# rewrite, a restructuring.
KINDS = ("workers", "store_none", "priority", "timeout", "sync", "pipeline")
_CAP_WORKERS = 64
_HELPS = {"ok": 0, "stall": 1}


@dataclass(frozen=True)
class Fix:
    """One fix, replayed: does it help, what it costs, where to change what."""

    kind: str
    verdict: str
    makespan: Optional[float]
    helps: bool
    hint: str
    where: Tuple[str, ...] = ()
    workers: Optional[Counts] = None
    exact: bool = True
    notes: Tuple[str, ...] = ()
    reason: Optional[str] = None          # why it does not help
    timeout: Optional[float] = None       # the timeout the ``timeout`` fix replayed
    run: Optional[Run] = field(default=None, compare=False, repr=False)

    def to_dict(self) -> dict:
        workers = self.workers if not isinstance(self.workers, dict) else {
            ("" if q is None else q): n for q, n in self.workers.items()}
        return {"kind": self.kind, "helps": self.helps, "verdict": self.verdict,
                "makespan": None if self.makespan is None else round(self.makespan, 6),
                "workers": workers, "exact": self.exact, "notes": list(self.notes),
                "where": list(self.where), "hint": self.hint, "reason": self.reason,
                "timeout": self.timeout}


@dataclass(frozen=True)
class Advice:
    """The original's verdict and makespan, and every applicable fix, best first."""

    verdict: str
    makespan: Optional[float]
    workers: Optional[Counts]
    fixes: Tuple[Fix, ...]
    exact: bool
    notes: Tuple[str, ...] = ()
    diagnosis: Optional[Diagnosis] = field(default=None, compare=False, repr=False)

    @property
    def best(self) -> Optional[Fix]:
        return next((f for f in self.fixes if f.helps), None)

    def to_dict(self) -> dict:
        workers = self.workers if not isinstance(self.workers, dict) else {
            ("" if q is None else q): n for q, n in self.workers.items()}
        return {"verdict": self.verdict,
                "makespan": None if self.makespan is None else round(self.makespan, 6),
                "workers": workers, "exact": self.exact, "notes": list(self.notes),
                "fixes": [f.to_dict() for f in self.fixes]}

    def summary(self) -> str:
        """The best fix in one line (what ``hueyviz diagnose`` ends with)."""
        b = self.best
        if b is None:
            return "No fix tried completes the workload in the replay (hueyviz advise: why)."
        return (f"Best fix ({b.kind}, replayed: {b.verdict}, makespan {_secs(b.makespan)}): "
                f"{b.hint}  (hueyviz advise: every fix)")

    def __str__(self) -> str:
        head = (f"Advice: recorded {self.verdict}, replayed makespan {_secs(self.makespan)}"
                + (f" on {_counts(self.workers)} workers" if self.workers else "") + ".")
        lines = [head, ""]
        lines.append(f"{'fix':<11} {'verdict':<9} {'makespan':>10}  helps")
        for f in self.fixes:
            helps = "yes" if f.verdict == "ok" else ("partly" if f.helps else "no")
            lines.append(f"{f.kind:<11} {f.verdict:<9} {_secs(f.makespan):>10}  {helps}")
        lines.append("")
        for f in self.fixes:
            lines.append(f"{f.kind}: {f.hint}")
            if f.where:
                lines.append("    at " + "; ".join(f.where))
            if f.reason:
                lines.append(f"    does not help: {f.reason}")
            for n in f.notes:
                lines.append(f"    note: {n}")
        if self.notes:
            lines += [""] + [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def _repr_mimebundle_(self, include=None, exclude=None):
        # The table is drawn above the analysis: the sanctioned upward reach.
        from ..views import mimebundle
        return mimebundle(self)


def _secs(x: Optional[float]) -> str:
    return "-" if x is None else f"{x:.3f} s"


def _counts(c: Optional[Counts]) -> str:
    if c is None:
        return "?"
    if isinstance(c, int):
        return str(c)
    return ",".join(f"{'default' if q is None else q}={n}"
                    for q, n in sorted(c.items(), key=lambda kv: str(kv[0])))


# -- what the recording says ---------------------------------------------------------
def _waited_children(scripts: Dict[str, Script]) -> Dict[str, List[str]]:
    """Parent id -> the tasks it waits for (that the recording knows)."""
    out: Dict[str, List[str]] = {}
    for s in scripts.values():
        waited = [a for _, k, a, _ in s.steps if k == "wait" and a in scripts]
        if waited:
            out[s.id] = waited
    return out


def _sites(a: Analysis, d: Diagnosis) -> Tuple[str, ...]:
    """The call sites of the waits to change: those of the first finding's
    knot, else every blocking wait by a task."""
    sites: List[str] = []
    items = [k for k in d.knot if k.kind == "waits_for"]
    if items:
        for k in items:
            site = k.get("site")
            if site and site not in sites:
                sites.append(site)
    else:
        for w in a.replay.waits:
            if w.waiter is not None and w.site and w.site not in sites:
                sites.append(w.site)
    return tuple(sites[:8])


def _names(scripts: Dict[str, Script], ids) -> str:
    names = sorted({scripts[i].name or "?" for i in ids if i in scripts})
    return ", ".join(names[:3]) + (", ..." if len(names) > 3 else "") if names else "the subtask"


# -- the fixes, as script transformations -------------------------------------------
def _with_priority(scripts: Dict[str, Script]) -> Dict[str, Script]:
    out = {k: copy.copy(s) for k, s in scripts.items()}
    for parent, kids in _waited_children(scripts).items():
        for k in kids:
            out[k].priority = max(out[k].priority, out[parent].priority + 10)
    return out


def _with_timeouts(scripts: Dict[str, Script], timeout: float) -> Dict[str, Script]:
    out = {}
    for k, s in scripts.items():
        c = copy.copy(s)
        c.steps = [(o, kind, arg, timeout if kind == "wait" and t is None else t)
                   for o, kind, arg, t in s.steps]
        out[k] = c
    return out


def _with_stored_results(scripts: Dict[str, Script]) -> Dict[str, Script]:
    out = {k: copy.copy(s) for k, s in scripts.items()}
    for s in out.values():
        if s.outcome == "complete":
            s.stored = True
    return out


def _as_pipeline(scripts: Dict[str, Script]) -> Dict[str, Script]:
    """Each blocking parent split at its waits into continuations that are
    enqueued when what they waited for is done."""
    out: Dict[str, Script] = {}
    for s in scripts.values():
        waits = [i for i, st in enumerate(s.steps) if st[1] == "wait" and st[2] in scripts]
        if not waits:
            out[s.id] = s
            continue
        head = copy.copy(s)
        first = s.steps[waits[0]][0]
        head.steps = [st for st in s.steps[:waits[0]]]
        head.own = first
        out[s.id] = head
        # Group the waits that follow each other with nothing in between.
        groups: List[Tuple[float, List[str], int]] = []
        i = waits[0]
        while i < len(s.steps):
            offset = s.steps[i][0]
            deps = []
            while i < len(s.steps) and s.steps[i][1] == "wait":
                if s.steps[i][2] in scripts:
                    deps.append(s.steps[i][2])
                i += 1
            groups.append((offset, deps, i))
            while i < len(s.steps) and s.steps[i][1] != "wait":
                i += 1
        for n, (offset, deps, start) in enumerate(groups):
            end = groups[n + 1][2] - len(groups[n + 1][1]) if n + 1 < len(groups) else len(s.steps)
            stop = groups[n + 1][0] if n + 1 < len(groups) else s.own
            cont = Script(f"{s.id}~{n + 1}", f"{s.name or '?'} (continued)", s.queue, None,
                          parent=s.id, priority=s.priority,
                          steps=[(o - offset, k, a, t) for o, k, a, t in s.steps[start:end]],
                          own=max(0.0, stop - offset), ran=s.ran, finished=s.finished,
                          outcome=s.outcome, stored=s.stored, after=tuple(deps))
            out[cont.id] = cont
    return out


def _nice(x: float) -> float:
    """Round up to one significant digit: 0.034 -> 0.04, 17 -> 20."""
    if x <= 0:
        return 0.1
    p = 10 ** math.floor(math.log10(x))
    return math.ceil(x / p) * p


# -- advise --------------------------------------------------------------------------
def advise(trace, max_workers: int = _CAP_WORKERS) -> Advice:
    """Replay the recorded workload under each applicable fix.

    Parameters
    ----------
    trace : Trace or iterable of Event
    max_workers : int
        The largest pool (per queue) the ``workers`` fix may ask for.

    Returns
    -------
    Advice
        ``verdict`` and ``makespan`` of the original (its replay on the
        recorded pools), and ``fixes``: each with ``kind``, ``helps``,
        ``verdict``, ``makespan``, ``where``, ``hint``, ``exact``, ``notes``
        and, when it does not help, ``reason``.  Best first.

    Examples
    --------
    One worker, a task that waits for its child:

    >>> from hueyviz.core.event import Event, Worker
    >>> w1, w2 = Worker("h", 1, "W1"), Worker("h", 1, "W2")
    >>> ev = [Event(0.0, "pool", None, None, None, {"size": 1}),
    ...       Event(0.0, "enqueued", "p", "parent", None, None),
    ...       Event(0.0, "executing", "p", "parent", w1, None),
    ...       Event(1.0, "enqueued", "c", "child", w1, {"parent": "p"}),
    ...       Event(1.0, "block", "p", "parent", w1, {"waits_on": "c", "site": "app.py:9"})]
    >>> a = advise(ev)
    >>> a.verdict
    'deadlock'
    >>> [(f.kind, f.verdict) for f in a.fixes]      # doctest: +NORMALIZE_WHITESPACE
    [('workers', 'ok'), ('sync', 'ok'), ('pipeline', 'ok'), ('timeout', 'stall'),
     ('priority', 'deadlock')]
    """
    if not hasattr(trace, "events"):
        trace = tuple(trace)
    a = analyse(trace)
    d = diagnose(trace)
    rp = a.replay
    scripts, notes = build_scripts(a)
    ups = up_times(a)
    queues = sorted({s.queue for s in scripts.values()} | set(rp.pools), key=str) or [None]
    sizes = recorded_sizes(a)
    recorded = {q: sizes.get(q) or 1 for q in queues}
    prioritised = {q: p.prioritised for q, p in rp.pools.items()}
    polling = polling_of(a)
    if scripts and not notes:
        notes += reproduces(a, scripts, sizes, ups, prioritised)
    exact = not notes
    unbounded = next((n for n in notes if n.startswith(UNBOUNDED)), None)
    # A task that waits for its own result: no fix but removing that wait.
    selfish = sorted(tid for tid, sc in scripts.items()
                     if any(k == "wait" and a_ == tid for _, k, a_, _ in sc.steps))
    for tid in selfish:
        notes.append(f"{_names(scripts, [tid])} [{tid[:8]}] waits for its own result, which "
                     "can never arrive while it runs: remove that wait (no pool or "
                     "restructuring helps)")

    def run(s: Dict[str, Script], workers=None, prio=None, inline=frozenset()) -> Run:
        return simulate(s, workers or recorded, ups, prio or prioritised, inline, polling)

    base = run(scripts)
    sites = _sites(a, d)
    waited = {p: [k for k in ks if k != p] for p, ks in _waited_children(scripts).items()}
    waited = {p: ks for p, ks in waited.items() if ks}
    kids = {k for ks in waited.values() for k in ks}
    fixes: List[Fix] = []

    # workers: the smallest pool per queue that completes it
    fixes.append(_workers_fix(scripts, recorded, ups, prioritised, max_workers, exact,
                              unbounded, d.verdict, polling))

    # store_none: only where a task returned None unstored and someone waits for it
    unstored = [s for s in scripts.values() if s.outcome == "complete" and not s.stored
                and s.id in kids]
    if unstored:
        r = run(_with_stored_results(scripts))
        fixes.append(_fix("store_none", r, base, exact, [],
                          f"return a value from {_names(scripts, [s.id for s in unstored])}, "
                          "or create the Huey with store_none=True", sites))
    if waited:
        r = run(_with_priority(scripts), prio={q: True for q in queues})
        fix = _fix("priority", r, base, exact, [],
                   f"enqueue {_names(scripts, kids)} with a higher priority than their "
                   f"parents ({_names(scripts, waited)}): e.g. "
                   f"{_names(scripts, list(kids)[:1])}(..., priority=10); needs a storage "
                   "that honours priorities (MemoryHuey, SqliteHuey, PriorityRedisHuey)",
                   sites)
        if not fix.helps:
            fix = _replace(fix, reason=_priority_reason(r) or fix.reason)
        fixes.append(fix)
        owns = [s.own for s in scripts.values() if s.finished and s.id in kids] or \
               [s.own for s in scripts.values() if s.finished] or [1.0]
        t = _nice(2 * max(owns))
        r = run(_with_timeouts(scripts, t))
        fixes.append(_fix("timeout", r, base, exact, timeout=t, notes=
                          ["the waiting task gets ResultTimeout; the replay lets it "
                           "carry on, as code that handles it would"],
                          hint=f"pass timeout={t:g} to each blocking get() (result.get(blocking=True, "
                          f"timeout={t:g})) and handle ResultTimeout", where=sites))
        r = run(scripts, inline=inline_set(scripts))
        fixes.append(_fix("sync", r, base, exact, [],
                          f"call {_names(scripts, kids)} in the parent: "
                          f"{_names(scripts, list(kids)[:1])}.call_local(...) instead of "
                          f"{_names(scripts, list(kids)[:1])}(...).get(blocking=True)", sites))
        r = run(_as_pipeline(scripts))
        fixes.append(_fix("pipeline", r, base, exact, [],
                          f"split {_names(scripts, waited)} where it waits: enqueue the "
                          "subtasks and return; finish in a task that runs when they are done "
                          "(a chord or finalize task, or .then())", sites))
    if not exact:
        # What rests on assumptions says so where it is read first.
        fixes = [_replace(f, hint=f.hint + " (replayed on assumptions, see the notes)")
                 if f.helps else f for f in fixes]
    fixes.sort(key=lambda f: (_HELPS.get(f.verdict, 2), KINDS.index(f.kind)))
    rec: Counts = next(iter(recorded.values())) if len(recorded) == 1 else recorded
    return Advice(d.verdict, base.makespan, rec, tuple(fixes), exact, tuple(notes), d)


def _replace(f: Fix, **kw) -> Fix:
    from dataclasses import replace
    return replace(f, **kw)


def _fix(kind: str, r: Run, base: Run, exact: bool, notes: List[str], hint: str,
         where: Tuple[str, ...], timeout: Optional[float] = None) -> Fix:
    helps = r.verdict in _HELPS
    reason = None
    if not helps and r.diagnosis is not None and r.diagnosis.verdict == "ok":
        reason = ("the replay never completes: a step that runs only after a task "
                  "that ends without a result (revoked, expired, no result stored) never runs")
    elif not helps:
        first = (r.diagnosis.message.split(". ")[0] + ".") if r.diagnosis else ""
        reason = f"the replay still ends in a {r.verdict}: {first}"
    elif r.verdict == "stall":
        reason = None
    n = list(notes)
    if helps and base.makespan is not None and r.makespan is not None:
        change = r.makespan - base.makespan
        if abs(change) > 1e-9:
            n.append(f"makespan {'+' if change > 0 else ''}{change:.3f} s against the original")
    return Fix(kind, r.verdict, r.makespan, helps, hint, where, None, exact, tuple(n),
               reason, timeout, r)


def _workers_fix(scripts, recorded, ups, prioritised, cap, exact,
                 unbounded: Optional[str] = None, seen: str = "ok", polling=None) -> Fix:
    """Grow each queue's pool (smallest total first) until the replay completes."""
    queues = list(recorded)
    best: Optional[Run] = None
    last: Optional[Run] = None
    sizes = dict.fromkeys(queues, 1)
    # One queue: 1..cap.  Several: raise the queue whose workers are all
    # blocked in the last failing run, one at a time (cheap and monotone).
    for _ in range(cap * max(1, len(queues))):
        r = last = simulate(scripts, dict(sizes), ups, prioritised, polling=polling)
        if r.verdict in _HELPS:
            best = r
            break
        stuck = r.diagnosis.queues if r.diagnosis is not None else {}
        grow = [q for q in queues if q in stuck and stuck[q].blocked >= stuck[q].total] or queues
        q = min(grow, key=lambda x: sizes[x])
        if sizes[q] >= cap:
            break
        sizes[q] += 1
    shown: Counts = sizes[queues[0]] if len(queues) == 1 else dict(sizes)
    if best is None:
        verdict = last.verdict if last is not None else "deadlock"
        return Fix("workers", verdict, None, False,
                   f"no pool of up to {cap} workers completes it", (), None, exact,
                   (), f"even {cap} workers per queue end in a {verdict} in the replay")
    if len(queues) == 1:
        hint = f"run the consumer with -w {sizes[queues[0]]} (huey_consumer app.huey -w " \
               f"{sizes[queues[0]]})"
    else:
        hint = "workers per queue: " + ", ".join(
            f"{'default' if q is None else q}: -w {n}" for q, n in sorted(
                sizes.items(), key=lambda kv: str(kv[0])))
    n: List[str] = []
    more = {q: sizes[q] - recorded[q] for q in queues if sizes[q] > recorded[q]}
    if unbounded:
        # More workers only move the limit of a recursion nobody measured.
        return Fix("workers", "unknown", None, False,
                   f"at least {_counts(shown)} workers, and no count is known to be enough",
                   (), shown, False, (), unbounded, None, best)
    if not more and seen != "ok":
        # The replay at the recorded size does not reproduce the recording:
        # "run with what you have" is no fix.
        return Fix("workers", best.verdict, best.makespan, False,
                   f"the recorded pool ({_counts(shown)}) is what deadlocked", (), shown,
                   False, (), f"the replay on {_counts(shown)} workers does not reproduce the "
                   f"recorded {seen}: it depends on timing the replay does not model", None, best)
    if not more:
        n.append("the recorded pool is already enough")
    return Fix("workers", best.verdict, best.makespan, True, hint, (), shown, exact,
               tuple(n), None, None, best)


def _priority_reason(r: Run) -> Optional[str]:
    """Why children-first does not help: every blocked parent took its worker
    before any subtask it waits for existed."""
    if r.diagnosis is None or not r.diagnosis.knot:
        return None
    a = analyse(r.events)
    tasks = a.replay.tasks
    waits = [k for k in r.diagnosis.knot if k.kind == "waits_for" and k.get("waiter")]
    if not waits:
        return None
    started = [tasks[k["waiter"]].started for k in waits if k["waiter"] in tasks]
    spawned = [tasks[k["waits_on"]].enqueued for k in waits if k["waits_on"] in tasks]
    if started and spawned and all(s is not None for s in started) and \
            all(e is not None for e in spawned) and \
            max(s for s in started if s is not None) <= min(e for e in spawned if e is not None):
        return ("every blocked task held its worker before any of the subtasks it waits "
                "for was enqueued, so no ordering of the queue can help")
    return None

