"""The drawing-neutral model behind the lane views (static, animated, report).

:func:`build_timeline` turns a trace into consumer groups of worker rows of
execution bars, each with its blocked intervals, plus the queue depth over
time and the findings.  It only reads the trace (one replay pass plus
:meth:`Trace.lanes`) and sorts everything, so renderers that walk it are
deterministic.
"""
from __future__ import annotations

import re
from types import SimpleNamespace
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from ..core.event import OUTCOMES
from .memo import remember_last

__all__ = ["Block", "Bar", "Row", "Group", "Timeline", "build_timeline",
           "outcome_key", "natural_key"]


@dataclass
class Block:
    """A blocked interval inside a bar: the task waited on ``waits_on``."""

    waits_on: str
    target: str              # words for the awaited task, e.g. "subtask [ab12]"
    target_state: str        # its state at the end of the trace
    since: float
    until: float             # the end of the view when still blocked
    open: bool
    site: Optional[str]
    timeout: Optional[float]
    outcome: Optional[str]
    culprit: bool = False
    knot: bool = False


@dataclass
class Bar:
    task: str
    name: str
    args: Optional[str]
    start: float
    end: float               # the end of the view when still running
    open: bool
    outcome: str             # colour key: complete, error, ..., running
    depth: int
    worker: str              # worker key
    enqueued: Optional[float] = None
    parent: Optional[str] = None
    blocks: List[Block] = field(default_factory=list)
    error: Optional[str] = None


@dataclass
class Row:
    key: str
    host: str
    pid: int
    name: str
    bars: List[Bar]


@dataclass
class Group:
    host: str
    pid: int
    rows: List[Row]

    @property
    def label(self) -> str:
        return f"{self.host} pid {self.pid}"


@dataclass
class Timeline:
    t0: float
    t1: float
    groups: List[Group]
    queue: List[Tuple[float, int]]      # (t, queued tasks) at each change
    findings: tuple                     # analysis Findings, in time order
    diagnosis: object
    n_tasks: int
    n_exec: int
    unix: bool
    cursor: Optional[float] = None

    @property
    def rows(self) -> List[Row]:
        return [r for g in self.groups for r in g.rows]

    @property
    def bars(self) -> List[Bar]:
        return [b for r in self.rows for b in r.bars]

    @property
    def span(self) -> float:
        return self.t1 - self.t0


class _Info:
    """What the lanes need to know about one task id."""

    __slots__ = ("name", "args", "enqueued", "parent", "error", "state", "outcome")

    def __init__(self) -> None:
        self.name = self.args = self.enqueued = self.parent = None
        self.error = self.outcome = None
        self.state = "unknown"


def natural_key(s: str):
    """Sort key so that Worker-2 comes before Worker-10."""
    return [(0, int(p), "") if p.isdigit() else (1, 0, p)
            for p in re.split(r"(\d+)", s)]


def outcome_key(outcome: Optional[str], open_: bool) -> str:
    if open_ or outcome is None:
        return "running"
    return outcome


def _task_words(rec, task_id: str) -> str:
    name = rec.name if rec is not None and rec.name else "?"
    return f"{name} [{task_id[:4]}]"


@remember_last(2)
def build_timeline(trace, diagnosis=None, at: Optional[float] = None) -> Timeline:
    """The lane model of ``trace`` (as of time ``at`` when given).

    The last result is remembered (by identity of the immutable trace and
    the diagnosis), so rendering lanes, animation and report of one trace
    builds the model once.  Callers must not mutate the result.
    """
    return _build(trace, diagnosis, at)


def _build(trace, diagnosis, at: Optional[float]) -> Timeline:
    from ..analysis.detector import diagnose
    from ..core.trace import Trace

    if at is not None:
        trace = trace.window(None, at)
    elif not isinstance(trace, Trace):
        trace = Trace(trace)
    if diagnosis is None:
        diagnosis = diagnose(trace)
    events = trace.events
    if not events:
        return Timeline(0.0, 0.0, [], [], (), diagnosis, 0, 0, False, at)
    t0 = trace.start
    t1 = trace.end if at is None else max(at, trace.end)
    findings = tuple(f for f in (getattr(diagnosis, "findings", ()) or ())
                     if at is None or f.at <= at)
    for f in findings:
        t1 = max(t1, f.at)

    # One light pass (not a full Replay: this runs on 100k-task traces) for
    # what the bars need: names, args, enqueue times, parents, errors, the
    # final state of awaited tasks, and the queue length over time.
    tasks: Dict[str, _Info] = {}
    queued: set = set()
    queue: List[Tuple[float, int]] = []
    thread_waits: Dict[str, List[list]] = {}   # worker key -> [since, until, ev]
    open_thread: Dict[str, list] = {}
    retries: Dict[str, List[float]] = {}
    last = -1
    outcomes = OUTCOMES
    new = _Info
    for e in events:
        t, k, tid, name, wk, data = e          # Event is a NamedTuple: unpack once
        if tid is not None:
            rec = tasks.get(tid)
            if rec is None:
                rec = tasks[tid] = new()
            if rec.name is None and name is not None:
                rec.name = name
            if k == "enqueued":
                if rec.enqueued is None:
                    rec.enqueued = t
                    if data:
                        rec.args, rec.parent = data.get("args"), data.get("parent")
                rec.state = "queued"
                queued.add(tid)
            elif k == "executing":
                rec.state = "running"
                rec.outcome = None
                queued.discard(tid)
            elif k in outcomes:
                rec.state = "finished"
                rec.outcome = k
                if k == "error" and data:
                    rec.error = data.get("error")
                queued.discard(tid)
            elif k == "scheduled":
                rec.state = "scheduled"
                queued.discard(tid)
            elif k == "retrying":
                retries.setdefault(tid, []).append(t)
            elif k == "block" and data:
                target = data.get("waits_on")
                if target not in tasks:
                    tasks[target] = new()
            else:
                continue
        elif wk is not None and (k == "block" or k == "unblock"):
            key = wk.key
            if k == "block":
                target = e.get("waits_on")
                if target not in tasks:
                    tasks[target] = new()
                w = [t, None, e]
                open_thread[key] = w
                thread_waits.setdefault(key, []).append(w)
            else:
                w = open_thread.pop(key, None)
                if w is not None:
                    w[1] = t
            continue
        else:
            continue
        n = len(queued)
        if n != last:
            if queue and queue[-1][0] == t:
                queue[-1] = (t, n)
            else:
                queue.append((t, n))
            last = n

    culprits = set()
    knot = set()
    for f in findings:
        c = f.culprit
        if c is not None and c.waiter is not None:
            culprits.add((c.waiter, c.waits_on, c.since))
        if f is findings[0]:
            for k in f.knot:
                if k.get("kind") == "waits_for":
                    knot.add((k.get("waiter"), k.get("waits_on"), k.get("since")))

    def block(w, bar_task: str) -> Block:
        rec = tasks.get(w.waits_on)
        until = w.until
        b = Block(w.waits_on, _task_words(rec, w.waits_on),
                  rec.outcome or rec.state if rec is not None else "unknown",
                  w.since, t1 if until is None else until, until is None,
                  w.site, w.timeout, w.outcome)
        key = (bar_task, w.waits_on, w.since)
        b.culprit = key in culprits
        b.knot = key in knot
        return b

    groups: Dict[Tuple[str, int], List[Row]] = {}
    n_exec = 0
    for key, lane in trace.lanes().items():
        w = lane.worker
        bars = []
        for sp in lane.spans:
            rec = tasks.get(sp.task)
            open_ = sp.end is None
            bar = Bar(sp.task, sp.name or (rec.name if rec else None) or "?",
                      rec.args if rec else None, sp.start,
                      t1 if open_ else sp.end, open_,
                      outcome_key(sp.outcome, open_), sp.depth, key,
                      rec.enqueued if rec else None, rec.parent if rec else None,
                      error=rec.error if rec and sp.outcome == "error" else None)
            if bar.outcome == "error" and any(t >= bar.end for t in retries.get(sp.task, ())):
                # Huey signals error, then retrying: this attempt will run again.
                bar.outcome = "retrying"
            bar.blocks = [block(w_, sp.task) for w_ in sp.blocked]
            bars.append(bar)
        # Waits by code that the tracer could not tie to a task id still hold
        # this worker: attach them to the bar that was running there.
        for since, until, ev in thread_waits.get(key, ()):
            for bar in reversed(bars):
                if bar.start <= since <= bar.end:
                    wt = SimpleNamespace(waits_on=ev.get("waits_on"), since=since,
                                         until=until, site=ev.get("site"),
                                         timeout=ev.get("timeout"), outcome=None)
                    bar.blocks.append(block(wt, bar.task))
                    bar.blocks.sort(key=lambda b: b.since)
                    break
        n_exec += len(bars)
        bars.sort(key=lambda b: (b.start, b.depth, b.task))
        groups.setdefault((w.host, w.pid), []).append(Row(key, w.host, w.pid, w.name, bars))
    out = []
    for (host, pid) in sorted(groups, key=lambda k: (natural_key(k[0]), k[1])):
        rows = sorted(groups[(host, pid)], key=lambda r: (natural_key(r.name), r.key))
        out.append(Group(host, pid, rows))
    n_tasks = sum(1 for r in tasks.values() if r.state != "unknown")
    unix = trace.header.get("clock") == "unix" and t0 > 1e8
    return Timeline(t0, t1, out, queue, findings, diagnosis, n_tasks, n_exec, unix, at)
