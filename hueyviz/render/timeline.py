"""The drawing-neutral model behind the lane views (static, animated, report).

:func:`build_timeline` turns a trace into groups (per queue and consumer
process) of worker rows of execution bars, each with its blocked intervals,
plus the queue depth over time and the findings.  Everything is read off
the one replay pass (:func:`hueyviz.analysis.detector.analyse`): the
executions, waits and task records of its history.  Everything is sorted,
so renderers that walk it are deterministic.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from operator import attrgetter
from typing import Dict, List, Optional, Tuple

from ..analysis.detector import analyse, diagnose
from ..analysis.replay import TaskRecord, Wait
from ..core.collector import collector_paused
from ..core.text import natural_key
from ..core.trace import Trace
from .memo import remember_last

__all__ = [
    "Bar",
    "Block",
    "Group",
    "Row",
    "Timeline",
    "build_timeline",
    "outcome_key",
]


@dataclass(slots=True)
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


@dataclass(slots=True)
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
    queue: Optional[str] = None


@dataclass
class Group:
    host: str
    pid: int
    rows: List[Row]
    queue: Optional[str] = None
    named: bool = False          # the trace has several queues: say which

    @property
    def label(self) -> str:
        where = f"{self.host} pid {self.pid}"
        if self.named:
            return f"queue {self.queue if self.queue is not None else 'default'} · {where}"
        return where


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


_BAR_ORDER = attrgetter("start", "depth", "task")


def outcome_key(outcome: Optional[str], open_: bool) -> str:
    if open_ or outcome is None:
        return "running"
    return outcome


def _task_words(rec: Optional[TaskRecord], task_id: str) -> str:
    name = rec.name if rec is not None and rec.name else "?"
    return f"{name} [{task_id[:4]}]"


@remember_last(2)
def build_timeline(trace, diagnosis=None, at: Optional[float] = None) -> Timeline:
    """The lane model of ``trace`` (as of time ``at`` when given).

    The last result is remembered (by identity of the immutable trace and
    the diagnosis), so rendering lanes, animation and report of one trace
    builds the model once.  Callers must not mutate the result.
    """
    with collector_paused():     # a bar per run: 10^6 objects, in no cycle
        return _build(trace, diagnosis, at)


def _build(trace, diagnosis, at: Optional[float]) -> Timeline:
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
    analysis = analyse(trace)
    rp, history = analysis.replay, analysis.history
    tasks = rp.tasks

    culprits = set()
    knot = set()
    for f in findings:
        c = f.culprit
        if c is not None and c.waiter is not None:
            culprits.add((c.waiter, c.waits_on, c.since))
        if f is findings[0]:
            for k in f.knot:
                if k.kind == "waits_for":
                    knot.add((k.get("waiter"), k.get("waits_on"), k.get("since")))

    def block(w: Wait, bar_task: str) -> Block:
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

    # Waits by code the tracer could not tie to a task still hold the thread:
    # attach them to the bar that was running on that thread then.
    thread_waits: Dict[str, List[Wait]] = {}
    for tw in rp.waits:
        if tw.waiter is None and tw.worker is not None:
            thread_waits.setdefault(tw.worker.key, []).append(tw)

    queues = {sp.queue for sp in history.spans}
    named = len(rp.pools) > 1
    groups: Dict[Tuple, List[Row]] = {}
    rows: Dict[Tuple, Row] = {}
    n_exec = 0
    keys: Dict = {}                     # Worker -> its key, made once
    for sp in history.spans:
        w = sp.worker
        if w is None:
            continue
        rec = tasks.get(sp.task)
        open_ = sp.end is None
        end: float = t1 if sp.end is None else sp.end
        wkey = keys.get(w)
        if wkey is None:
            wkey = keys[w] = w.key
        outcome = "running" if open_ or sp.outcome is None else sp.outcome   # outcome_key()
        if rec is not None:
            bar = Bar(sp.task, sp.name or rec.name or "?", rec.args, sp.start, end, open_,
                      outcome, sp.depth, wkey, rec.enqueued, rec.parent,
                      [block(x, sp.task) for x in sp.blocked] if sp.blocked else [],
                      rec.error if sp.outcome == "error" else None)
        else:
            bar = Bar(sp.task, sp.name or "?", None, sp.start, end, open_, outcome, sp.depth,
                      wkey, None, None,
                      [block(x, sp.task) for x in sp.blocked] if sp.blocked else [])
        slot = (sp.queue, w)
        row = rows.get(slot)
        if row is None:
            key = w.key if len(queues) <= 1 else f"{sp.queue}:{w.key}"
            row = rows[slot] = Row(key, w.host, w.pid, w.name, [], sp.queue)
            groups.setdefault((str(sp.queue), w.host, w.pid), []).append(row)
        row.bars.append(bar)
        n_exec += 1
    for row in rows.values():
        for x in thread_waits.get(row.key.split(":", 1)[-1], ()):
            for bar in reversed(row.bars):
                if bar.start <= x.since <= bar.end:
                    bar.blocks.append(block(x, bar.task))
                    bar.blocks.sort(key=lambda b: b.since)
                    break
        row.bars.sort(key=_BAR_ORDER)
    out = []
    for (q, host, pid) in sorted(groups, key=lambda k: (k[0], natural_key(k[1]), k[2])):
        grow = sorted(groups[(q, host, pid)], key=lambda r: (natural_key(r.name), r.key))
        out.append(Group(host, pid, grow, grow[0].queue, named))
    queue = _total_depth(history.depth)
    n_tasks = sum(1 for r in tasks.values() if r.state != "unknown")
    # Unix seconds from 1973 to 5138; anything else is shown as a number.
    unix = trace.header.get("clock") == "unix" and 1e8 < t0 < 1e11
    return Timeline(t0, t1, out, queue, findings, diagnosis, n_tasks, n_exec, unix, at)


def _total_depth(depth: Dict[Optional[str], List[Tuple[float, int]]]) -> List[Tuple[float, int]]:
    """The queued tasks of every queue together, at each change."""
    if len(depth) == 1:
        return list(next(iter(depth.values())))
    # Queue names may be None (not recorded): never compared with a name.
    changes = sorted(((t, q, n) for q, pts in depth.items() for t, n in pts),
                     key=lambda c: (c[0], c[1] is not None, str(c[1])))
    now: Dict[Optional[str], int] = {}
    out: List[Tuple[float, int]] = []
    for t, q, n in changes:
        now[q] = n
        total = sum(now.values())
        if out and out[-1][0] == t:
            out[-1] = (t, total)
        else:
            out.append((t, total))
    return out
