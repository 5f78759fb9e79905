"""The wait-for graph: who waits for whom at one instant, and the wait that
closed the knot.

Nodes are tasks (colour and outline by state, shared with the lanes through
:mod:`hueyviz.render.palette`), non-task waiters (threads: they hold no
worker) and the worker pools, one per queue (a cluster with one node per
worker, naming what holds it).  Edges are
*waits for* (task -> task), *needs a worker* (queued task -> pool) and
*held by* (worker -> task).  The knot of the applicable finding is ringed in
orange; its closing wait, the *culprit*, is thick, dashed and vermilion and
carries the SVG class ``culprit``; knot elements carry the class ``knot``.

Element ids are derived from task ids (``task-<sha1[:10]>``), so the same
task is the same element at every time step.  Every untrusted string (task
names, args, worker names, messages) is cleaned of control characters and
escaped for HTML-like labels; DOT quoting is left to the ``graphviz``
package.
"""
from __future__ import annotations

import re
import textwrap
from collections import Counter
from typing import Dict, List, Optional, Set, Tuple

import graphviz

from ..analysis.detector import Diagnosis, Edge, Finding, diagnose
from ..analysis.replay import PoolState, State, TaskRecord, Wait
from ..core.text import natural_key
from . import palette
from .axis import duration_label
from .dotlabel import clean_text, ink, label, stable_id, tooltip
from .markup import uid

__all__ = ["render_waitfor", "svg_of", "waitfor"]

FONTNAME = "DejaVu Sans"   # Graphviz (system and wasm) knows its metrics
NAME_LIMIT = 40            # characters of a task's name(args) shown in a node
CAPTION_WIDTH = 96
CAPTION_LINES = 9          # longer messages keep their first and last lines
MAX_NEED_EDGES = 3         # more "needs a worker" edges are gathered at a point
MAX_NODES = 300            # focus=False draws at most this many tasks
MAX_POOL_ROWS = 16         # bigger pools: draw only the workers that matter
MAX_POOLS = 12             # more queues: draw those that matter, count the others
_WAITING = ("queued", "scheduled", "pending")


# -- which finding applies at time t -------------------------------------------
def _open_wait(state: State, edge: Edge) -> Optional[Wait]:
    """The wait of ``edge`` if it is still in progress in ``state``."""
    if edge.waiter is not None:
        rec = state.tasks.get(edge.waiter)
        w = rec.wait if rec is not None and rec.state == "blocked" else None
    else:
        w = next((x for x in state.thread_waits
                  if x.worker is not None and x.worker.key == edge.worker_key), None)
    if w is None or w.waits_on != edge.waits_on:
        return None
    if edge.since is not None and w.since != edge.since:
        return None
    return w


def _finding_at(diagnosis: Diagnosis, state: State) -> Optional[Finding]:
    """The latest finding formed by ``state.t`` whose closing wait is still open."""
    best = None
    for f in diagnosis.findings:
        if f.at <= state.t and f.culprit is not None and _open_wait(state, f.culprit):
            best = f
    return best


# -- the graph -----------------------------------------------------------------
class _Builder:
    def __init__(self, t0: Optional[float], state: State, finding: Optional[Finding],
                 diagnosis: Diagnosis, focus: bool = True,
                 queue_pos: Optional[Dict[str, int]] = None, others: str = "not seen yet",
                 instant: bool = False):
        self.state = state
        # One instant read from outside (an autopsy): no wait has a known
        # start, and the culprit is the last wait in the queue's order.
        self.instant = instant
        self.finding = finding
        self.diagnosis = diagnosis
        self.t0 = t0
        self.focus = focus
        self.others = others    # words for pool workers not in state.holders
        tasks = state.tasks
        self.queue_pos = dict(state.positions) if queue_pos is None else queue_pos
        self.pools = state.pools or {None: PoolState(None, 0, False, {}, ())}
        self.named = len(self.pools) > 1
        self.task_waits: List[Wait] = sorted(
            (r.wait for r in tasks.values() if r.state == "blocked" and r.wait is not None),
            key=lambda w: (w.since, w.waiter or ""))
        self.thread_waits: List[Wait] = sorted(
            state.thread_waits, key=lambda w: (w.since, w.worker.key if w.worker else ""))
        # The knot of the applicable finding.
        self.knot_tasks: Set[str] = set()
        self.knot_waits: Set[Tuple[Optional[str], str]] = set()
        self.knot_threads: Set[str] = set()
        self.needs: Set[str] = set()
        self.knot_queues: Set[Optional[str]] = set()
        if finding is not None:
            for item in finding.knot:
                if item.get("kind") == "needs_worker":
                    self.needs.add(item["task"])
                    self.knot_tasks.add(item["task"])
                    self.knot_queues.add(item.get("queue"))
                    continue
                waiter = item.get("waiter")
                self.knot_waits.add((waiter if waiter else item.get("worker_key"),
                                     item["waits_on"]))
                self.knot_tasks.add(item["waits_on"])
                if waiter:
                    self.knot_tasks.add(waiter)
                elif item.get("worker_key"):
                    self.knot_threads.add(item["worker_key"])
        c = finding.culprit if finding is not None else None
        self.culprit = None if c is None else (c.waiter or c.worker_key, c.waits_on)
        # Which tasks to draw.
        shown: Set[str] = set()
        for w in self.task_waits:
            if w.waiter is not None:
                shown.add(w.waiter)
            shown.add(w.waits_on)
        for w in self.thread_waits:
            shown.add(w.waits_on)
        shown |= self.needs
        shown.discard(None)
        if not focus:
            rest = sorted((r for r in tasks.values() if r.id not in shown), key=self._order)
            shown |= {r.id for r in rest[:max(0, MAX_NODES - len(shown))]}
        self.shown = sorted(shown, key=lambda tid: self._order(tasks.get(tid) or TaskRecord(tid)))

    @staticmethod
    def _order(rec: TaskRecord):
        return (rec.enqueued if rec.enqueued is not None else float("inf"), rec.id)

    def _since(self, t: Optional[float]) -> str:
        return "?" if t is None else "+" + duration_label(t - (self.t0 or 0))

    # -- nodes ---------------------------------------------------------------
    def _status(self, rec: TaskRecord) -> Tuple[str, str]:
        """(fill colour, status words) for a task."""
        st = rec.state
        where = rec.worker.name if rec.worker else "?"
        if st == "blocked":
            return palette.state_colour("blocked"), f"blocked on {where}"
        if st == "running":
            return palette.state_colour("running"), f"running on {where}"
        if st == "queued":
            pos = self.queue_pos.get(rec.id)
            words = "queued" if pos is None else f"queued, {pos} ahead"
            return palette.state_colour("queued"), words
        if st in ("scheduled", "pending"):
            return palette.state_colour(st), st
        if st == "finished":
            outcome = rec.outcome or "finished"
            if rec.never_result:
                return palette.state_colour(outcome), f"{outcome}, stored no result"
            return palette.state_colour(outcome), f"finished: {outcome}"
        return palette.state_colour("unknown"), "never seen enqueued"

    def _task_node(self, g: graphviz.Digraph, tid: str) -> None:
        rec = self.state.tasks.get(tid) or TaskRecord(tid)
        fill, words = self._status(rec)
        title = clean_text(f"{rec.name or '?'}{rec.args or ''}", NAME_LIMIT)
        style = "rounded,filled"
        if rec.state in _WAITING:
            style = "filled,dashed"          # not running yet: square corners, dashed
        elif rec.state == "unknown":
            style = "filled,dotted"
        attrs = dict(label=label(title, f"{tid[:8]} \u00b7 {words}"), fillcolor=fill,
                     fontcolor=ink(fill), style=style, color=palette.TEXT,
                     id=stable_id("task", tid),
                     tooltip=tooltip(f"{rec.name or '?'}{rec.args or ''} [{tid}]: {words}"))
        classes = ["task", f"state-{rec.state}"]
        if tid in self.knot_tasks:
            classes.append("knot")
            attrs.update(color=palette.KNOT, penwidth="2.5", peripheries="2")
        attrs["class"] = " ".join(classes)
        g.node(stable_id("task", tid), **attrs)

    def _thread_node(self, g: graphviz.Digraph, w: Wait) -> str:
        key = w.worker.key if w.worker else "?"
        nid = stable_id("thread", key)
        name = clean_text(w.worker.name if w.worker else "?", 30)
        classes = "thread knot" if key in self.knot_threads else "thread"
        g.node(nid, label=label(name, "not a task: holds no worker"), shape="cds",
               style="filled,dashed", fillcolor=palette.BACKGROUND, color=palette.MUTED,
               fontcolor=palette.TEXT, id=nid, tooltip=tooltip(key), **{"class": classes})
        return nid

    def _pools(self, g: graphviz.Digraph) -> Tuple[Dict[Tuple, str], Dict[Optional[str], str]]:
        """One cluster per queue; returns ((queue, worker key) -> node name,
        queue -> a node inside its cluster for edges that point at the pool)."""
        names: Dict[Tuple, str] = {}
        anchors: Dict[Optional[str], str] = {}
        pools = self.pools
        order = sorted(pools, key=lambda q: (q is None, str(q)))
        drawn = self._drawn_pools(order)
        for i, q in enumerate(order):
            if q in drawn:
                n, a = self._pool(g, pools[q], i)
                names.update(n)
                anchors[q] = a
        hidden = [pools[q] for q in order if q not in drawn]
        if hidden:
            # Thousands of queues: one line for those with nothing to show,
            # so the drawing's size follows what matters, not the fleet.
            held = [tid for p in hidden for tid in p.holders.values() if tid is not None]
            blocked = sum(1 for tid in held if self.state.tasks[tid].state == "blocked")
            size = sum(max(p.size, len(p.holders)) for p in hidden)
            g.node("pools-more", label=label(
                f"+{len(hidden):,} other queue{'s' if len(hidden) != 1 else ''}: "
                f"{size:,} worker{'s' if size != 1 else ''}",
                f"{len(held):,} busy, {blocked:,} blocked, none in a wait shown"),
                shape="box", style="rounded,dashed", color=palette.POOL,
                fontcolor=palette.MUTED, fontsize="10", id="pools-more",
                **{"class": "pool more"})
        return names, anchors

    def _drawn_pools(self, order: List[Optional[str]]) -> Set[Optional[str]]:
        """Every queue when there are few; else those in the knot, holding or
        needed by a task shown (at most MAX_POOLS: the knot's first)."""
        if len(order) <= MAX_POOLS:
            return set(order)
        shown = set(self.shown)
        tasks = self.state.tasks
        wanted = {tasks[tid].queue for tid in shown if tid in tasks}
        matter = [q for q in order if q in self.knot_queues] + [
            q for q in order if q not in self.knot_queues and (
                q in wanted or any(tid in shown for tid in self.pools[q].holders.values()))]
        return set(matter[:MAX_POOLS])

    def _pool(self, g: graphviz.Digraph, pool: PoolState, index: int
              ) -> Tuple[Dict[Tuple, str], str]:
        st = self.state
        q = pool.queue
        holders = pool.holders
        workers = sorted(holders, key=lambda w: natural_key(w.key))
        many_hosts = len({(w.host, w.pid) for w in workers}) > 1
        held = {w: tid for w, tid in holders.items() if tid is not None}
        busy = len(held)
        blocked = sum(1 for tid in held.values() if st.tasks[tid].state == "blocked")
        size = max(pool.size, len(workers))
        shown = set(self.shown)
        if len(workers) > MAX_POOL_ROWS:
            # A big pool: draw the workers that matter, count the others.
            keep = [w for w in workers if holders[w] in shown]
            hidden = [w for w in workers if holders[w] not in shown]
        else:
            keep, hidden = workers, []
        names: Dict[Tuple, str] = {}
        in_knot = q in self.knot_queues
        what = "worker pool" if not self.named else f"queue {q if q is not None else 'default'}"
        # Two short lines: a one-line title would set the cluster's width
        title2 = f"{busy} busy, {blocked} blocked"
        if not pool.exact and size:
            title2 += " (size inferred)"
        pid = "pool" if index == 0 else f"pool-{index + 1}"
        cname = "cluster_pool" if index == 0 else f"cluster_pool_{index + 1}"
        more_id = "pool-more" if index == 0 else f"pool-more-{index + 1}"
        with g.subgraph(name=cname) as c:
            c.attr(label=label(f"{what}: {size} worker{'s' if size != 1 else ''}", title2),
                   id=pid, style="rounded,filled",
                   fillcolor="#F2F8FC", color=palette.POOL, fontcolor=palette.POOL,
                   penwidth="1.5", fontsize="11", labeljust="c", labelloc="t")
            c.attr("graph", **{"class": "pool knot" if in_knot else "pool"})
            if in_knot:
                c.attr(color=palette.KNOT, penwidth="2.5")
            for w in keep:
                wkey = w.key if not self.named else f"{q}:{w.key}"
                nid = stable_id("worker", wkey)
                names[(q, w.key)] = nid
                tid = holders[w]
                wname = clean_text(f"{w.host}/{w.pid}/{w.name}" if many_hosts else w.name, 40)
                if tid is None:
                    fill, text, cls = palette.BACKGROUND, "idle", "worker idle"
                else:
                    rec = st.tasks[tid]
                    fill = palette.state_colour(rec.state)
                    text = f"{rec.state}: {clean_text(rec.name or '?', 24)} [{tid[:8]}]"
                    cls = f"worker state-{rec.state}"
                c.node(nid, label=label(wname, text), shape="box", style="filled",
                       fillcolor=fill, fontcolor=ink(fill), color=palette.POOL, fontsize="10",
                       id=nid, tooltip=tooltip(wkey), **{"class": cls})
            extra = []
            if hidden:
                states = Counter(st.tasks[held[w]].state if w in held else "idle"
                                 for w in hidden)
                extra.append(f"+{len(hidden)} more: " + ", ".join(
                    f"{n} {k}" for k, n in sorted(states.items())))
            if size > len(workers):
                extra.append(f"+{size - len(workers)} {self.others}")
            if extra or not keep:
                words = extra or ["no workers seen"]
                c.node(more_id, label=label(*words),
                       shape="box", style="dashed", color=palette.POOL,
                       fontcolor=palette.MUTED, fontsize="10", id=more_id,
                       **{"class": "worker more"})
        anchor = names[(q, keep[0].key)] if keep else more_id
        return names, anchor

    def _summary_node(self, g: graphviz.Digraph) -> None:
        shown = set(self.shown)
        counts: Dict[str, Counter] = {}
        for rec in self.state.tasks.values():
            if rec.id not in shown:
                counts.setdefault(rec.state, Counter())[rec.name or "?"] += 1
        if not counts:
            return
        order = ["running", "blocked", "queued", "scheduled", "pending", "finished", "unknown"]
        words = {"unknown": "never seen enqueued"}
        lines = ["not drawn:"]
        for key in sorted(counts, key=lambda k: (order.index(k) if k in order else 99, k)):
            c = counts[key]
            top = sorted(c.items(), key=lambda x: (-x[1], x[0]))
            names = ", ".join(f"{clean_text(name, 24)} \u00d7{k}" for name, k in top[:2])
            more = ", \u2026" if len(top) > 2 else ""
            lines.append(f"+{sum(c.values())} {words.get(key, key)} ({names}{more})")
        g.node("summary", label=label(*lines, left=True), shape="note", style="filled",
               fillcolor="#F5F5F5", color=palette.MUTED, fontcolor=palette.MUTED,
               fontsize="10", id="summary", **{"class": "summary"})

    # -- edges ---------------------------------------------------------------
    def _wait_edge(self, g: graphviz.Digraph, src: str, w: Wait, key: Optional[str],
                   thread: bool) -> None:
        pair = (key, w.waits_on)
        since = self._since(w.since)
        timeout = f", timeout {w.timeout:g} s" if w.timeout is not None else ""
        head = "waits for (holds no worker)" if thread else "waits for"
        # The label stays short (the drawing's width is set by it); the time
        # the wait began is in the tooltip.
        attrs = dict(id=f"wait-{src.split('-', 1)[1]}-{uid('t', w.waits_on)[2:]}",
                     color=palette.WAIT_EDGE, fontcolor=palette.WAIT_EDGE, penwidth="1.5",
                     fontsize="10", label=label(head) if not timeout else label(head, timeout[2:]),
                     tooltip=tooltip(f"{head} since {since}{timeout}"))
        classes = ["wait"]
        if thread:
            attrs["style"] = "dotted"
        if pair in self.knot_waits:
            classes.append("knot")
            attrs.update(color=palette.KNOT, fontcolor=palette.TEXT, penwidth="2.5")
        if pair == self.culprit:
            classes.append("culprit")
            verdict = self.finding.verdict if self.finding else "knot"
            why = ("can never be satisfied" if verdict == "hang"
                   else f"taken as closing the {verdict}" if self.instant
                   else f"closed the {verdict}")
            when = "one instant: order unknown" if self.instant else f"since {since}"
            attrs.update(color=palette.CULPRIT, fontcolor=palette.CULPRIT, penwidth="4",
                         style="dashed", arrowsize="1.3", fontsize="11",
                         label=label(f"{head}:", why, when),
                         tooltip=tooltip(f"{head}: {why}, since {since}{timeout}"))
        attrs["class"] = " ".join(classes)
        g.edge(src, stable_id("task", w.waits_on), **attrs)

    def build(self) -> graphviz.Digraph:
        st = self.state
        g = graphviz.Digraph(name="waitfor")
        g.attr("graph", rankdir="LR", fontname=FONTNAME, fontsize="11", compound="true",
               bgcolor=palette.BACKGROUND, pad="0.25", nodesep="0.3", ranksep="0.55",
               labelloc="t", labeljust="l", id="waitfor", fontcolor=palette.TEXT,
               label=self._caption())
        g.attr("node", fontname=FONTNAME, fontsize="11", shape="box", margin="0.15,0.06")
        g.attr("edge", fontname=FONTNAME, arrowsize="0.8")
        if not st.tasks and not st.holders:
            words = "no tasks" if self.diagnosis.start is None else "no waits in progress"
            g.node("empty", label=words, shape="plaintext", fontcolor=palette.MUTED,
                   id="empty")
            return g
        workers, anchors = self._pools(g)
        for tid in self.shown:
            self._task_node(g, tid)
        thread_ids: Dict[str, str] = {}
        for w in self.thread_waits:
            key = w.worker.key if w.worker else "?"
            if key not in thread_ids:
                thread_ids[key] = self._thread_node(g, w)
        self._summary_node(g)
        shown = set(self.shown)
        # held by: worker -> the task it runs
        holders = st.holders            # built from every pool: once
        slots = sorted(holders, key=lambda s: (str(s[0]), natural_key(s[1].key)))
        for q, wk in slots:
            holder = holders[(q, wk)]
            if holder is None or holder not in shown or (q, wk.key) not in workers:
                continue
            knot = q in self.knot_queues and holder in self.knot_tasks
            hid = wk.key if not self.named else f"{q}:{wk.key}"
            attrs = dict(id=f"held-{uid('w', hid)[2:]}", label="held by", fontsize="10",
                         color=palette.KNOT if knot else palette.MUTED,
                         fontcolor=palette.MUTED, arrowhead="none", penwidth="2")
            attrs["class"] = "held knot" if knot else "held"
            g.edge(workers[(q, wk.key)], stable_id("task", holder), **attrs)
        # waits for: task -> task, thread -> task
        for w in self.task_waits:
            self._wait_edge(g, stable_id("task", w.waiter or "?"), w, w.waiter, thread=False)
        for w in self.thread_waits:
            key = w.worker.key if w.worker else "?"
            self._wait_edge(g, thread_ids[key], w, key, thread=True)
        # needs a worker: queued task -> the pool of its queue
        needy = [tid for tid in self.shown if tid in self.needs or
                 (st.tasks.get(tid) is not None and st.tasks[tid].state == "queued")]
        order = sorted(self.pools, key=lambda q: (q is None, str(q)))
        for i, q in enumerate(order):
            if q not in anchors:
                continue            # a queue not drawn: none of its tasks is shown
            mine = [tid for tid in needy if (st.tasks.get(tid) or TaskRecord(tid)).queue == q
                    or (len(order) == 1)]
            self._need_edges(g, mine, anchors[q],
                             "cluster_pool" if i == 0 else f"cluster_pool_{i + 1}",
                             "" if i == 0 else f"-{i + 1}")
        return g

    def _need_edges(self, g, needy: List[str], anchor: str, cluster: str, sfx: str) -> None:
        if len(needy) > MAX_NEED_EDGES:
            # Many back-edges to the pool tangle: gather them at one point first.
            knot = any(tid in self.needs for tid in needy)
            hub = f"need-hub{sfx}"
            g.node(hub, shape="point", width="0.12", id=hub,
                   color=palette.KNOT if knot else palette.POOL,
                   **{"class": "need knot" if knot else "need"})
            self._need_edge(g, hub, anchor, knot, f"{len(needy)} tasks need a worker",
                            f"need-all{sfx}", lhead=cluster, constraint="false",
                            fontsize="11")
            for tid in needy:
                self._need_edge(g, stable_id("task", tid), hub, tid in self.needs,
                                "", f"need-{uid('t', tid)[2:]}", arrowhead="none")
        else:
            for tid in needy:
                self._need_edge(g, stable_id("task", tid), anchor, tid in self.needs,
                                "needs a worker", f"need-{uid('t', tid)[2:]}",
                                lhead=cluster, constraint="false")

    @staticmethod
    def _need_edge(g, tail: str, head: str, knot: bool, words: str, eid: str, **kw) -> None:
        attrs = dict(id=eid, label=words, fontsize="10", style="dashed",
                     color=palette.KNOT if knot else palette.POOL,
                     fontcolor=palette.TEXT if knot else palette.POOL,
                     penwidth="2" if knot else "1")
        attrs.update(kw)
        attrs["class"] = "need knot" if knot else "need"
        g.edge(tail, head, **attrs)

    def _caption(self) -> str:
        st, d, f = self.state, self.diagnosis, self.finding
        if self.diagnosis.start is None:
            return label("Wait-for graph: empty trace, no tasks")
        head = ("Wait-for graph of one instant (autopsy)" if self.instant
                else f"Wait-for graph at {self._since(st.t)}")
        if f is not None:
            head += f": {f.verdict.upper()}"
            message = d.message if d.findings and f is d.findings[0] else f.message
        else:
            waits = len(self.task_waits) + len(self.thread_waits)
            busy = sum(1 for x in st.holders.values() if x is not None)
            message = (f"{waits} wait{'s' if waits != 1 else ''} in progress; "
                       f"{busy} of {max(st.pool_size, len(st.holders))} workers busy. ")
            if d.findings:
                message += (f"The trace's first finding: {d.verdict} at {self._since(d.at)}"
                            f" ({len(d.findings)} in all).")
            else:
                message += d.message
        lines = textwrap.wrap(clean_text(message), CAPTION_WIDTH) or [""]
        if len(lines) > CAPTION_LINES:
            # Keep the start and the end (where the closing wait is named).
            cut = len(lines) - CAPTION_LINES + 1
            lines = (lines[:CAPTION_LINES // 2] + [f"[\u2026 {cut} more lines: hueyviz diagnose "
                     "prints them all \u2026]"] + lines[len(lines) - (CAPTION_LINES - 1) // 2:])
        return label(head, *lines, left=True)


def waitfor(trace, at: Optional[float] = None, focus: bool = True,
            diagnosis: Optional[Diagnosis] = None, instant: bool = False) -> graphviz.Digraph:
    """The wait-for graph of ``trace`` at time ``at`` as a ``graphviz.Digraph``.

    Parameters
    ----------
    trace : Trace
    at : float, optional
        A time on the trace clock (like ``Diagnosis.at``).  Default: the
        moment of the first finding, else the end of the trace.
    focus : bool
        Draw only tasks that wait or are waited on, plus the pool; count the
        rest in a note.  ``False`` draws up to 300 tasks.
    diagnosis : Diagnosis, optional
        ``diagnose(trace)``, when already computed.
    instant : bool
        The trace is one instant read from outside (``hueyviz autopsy``):
        no times, and the culprit said to be taken as the closing wait.

    Examples
    --------
    >>> from hueyviz import Trace
    >>> g = waitfor(Trace([]))
    >>> 'no tasks' in g.source
    True
    """
    d = diagnosis if diagnosis is not None else diagnose(trace)
    if at is None:
        at = d.at if d.findings else trace.end
    state = trace.state_at(at)
    finding = _finding_at(d, state)
    return _Builder(trace.start, state, finding, d, focus, instant=instant).build()


def svg_of(g: graphviz.Digraph) -> str:
    """A wait-for ``Digraph`` drawn as SVG text (see :mod:`hueyviz.engine`)."""
    from .engine import render_svg
    svg = render_svg(g.source)
    # One Graphviz point drawn as one CSS pixel, as every other hueyviz
    # drawing is sized: in points (4/3 px) a knot of two workers is 1300 px
    # wide and gets cut off in a notebook or a docs page; in pixels it fits,
    # and an 11-point label reads as the lanes' 11 px text.
    svg = _PT_SIZE.sub(r'\1="\2px"', svg, count=2)
    # Graphviz measured the text in DejaVu Sans; viewers without it fall back
    # to the house sans-serif stack rather than to a serif default.
    return svg.replace(f'font-family="{FONTNAME}"', f'font-family="{palette.FONT}"')


_PT_SIZE = re.compile(r'\b(width|height)="([\d.]+)pt"')


def render_waitfor(trace, at: Optional[float] = None, **kw) -> str:
    """:func:`waitfor` drawn as SVG text (same keywords)."""
    return svg_of(waitfor(trace, at=at, **kw))
