"""The wait-for graph layout of a :class:`~hueyviz.widget.traceview.TraceView`.

Stable positions for every node the widget's graph can show at any instant,
computed once per trace (the browser only colours and shows/hides nodes per
frame): Graphviz ``dot`` through :mod:`hueyviz.render.engine` for small
graphs, a deterministic worker-row layout for big ones.  Workers are laid
out in one cluster per queue (the pool), so the browser can draw the pool
box around them and the *needs a worker* edges into it.
"""
from __future__ import annotations

from typing import Dict, List

__all__ = ["GRAPHVIZ_MAX_NODES", "NODE_H", "NODE_W", "build_layout"]

GRAPHVIZ_MAX_NODES = 150      # above this, the worker-row layout (dot gets slow)
NODE_W, NODE_H = 150.0, 36.0
POOL_LABEL = 22.0             # room above a pool's workers for its label


def build_layout(data: dict) -> dict:
    """Stable positions (pixels, y down) for every node the wait-for graph
    can show: ``w<i>`` for worker i, ``t<i>`` for task i (waiters and the
    tasks they wait for).  Computed once; the browser only colours and
    shows/hides nodes per frame.  Workers of one queue are laid out
    together (the pool the browser draws around them); a task that is
    waited for may need a worker of its queue, so it is laid out near
    that pool too."""
    waits = data["waits"]
    pools = data.get("pools") or []
    pool_of_queue = {p["qi"]: p for p in pools}     # by the queue's string index
    clusters = [[f"w{i}" for i in p["workers"]] for p in pools if p["workers"]]
    holder_of: Dict[int, int] = {}
    for ti, wi in zip(data["spans"]["task"], data["spans"]["worker"]):
        if ti >= 0:
            holder_of.setdefault(ti, wi)
    nodes: Dict[str, None] = {f"w{i}": None for i in range(len(data["workers"]))}
    edges = []
    for a, b in zip(waits["waiter"], waits["target"]):
        if a >= 0:
            nodes.setdefault(f"t{a}", None)
            if a in holder_of:
                edges.append((f"w{holder_of[a]}", f"t{a}"))
        nodes.setdefault(f"t{b}", None)
        if a >= 0:
            edges.append((f"t{a}", f"t{b}"))
    edges = list(dict.fromkeys(edges))
    needs = []
    for b in dict.fromkeys(waits["target"]):
        pool = pool_of_queue.get(data["tasks"]["queue"][b])
        if pool is not None and pool["workers"]:
            needs.append((f"t{b}", f"w{pool['workers'][0]}"))
    pos = None
    engine = "layered"
    if len(nodes) <= GRAPHVIZ_MAX_NODES and edges:
        try:
            pos = _graphviz_layout(list(nodes), edges, clusters, needs)
            engine = "graphviz"
        except Exception:   # no engine, or it failed: the layered layout draws too
            pos = None
    if pos is None:
        pos = _layered_layout(list(nodes), edges)
    else:
        pos = _workers_top_down(pos, len(data["workers"]))
    xs = [p[0] for p in pos.values()] or [0.0]
    ys = [p[1] for p in pos.values()] or [0.0]
    minx, miny = min(xs) - NODE_W / 2 - 16, min(ys) - NODE_H / 2 - 10 - POOL_LABEL
    out = {k: [round(x - minx, 1), round(y - miny, 1)] for k, (x, y) in pos.items()}
    return {"engine": engine, "pos": out, "node_w": NODE_W, "node_h": NODE_H,
            "width": round(max(xs) - minx + NODE_W / 2 + 16, 1),
            "height": round(max(ys) - miny + NODE_H / 2 + 16, 1)}


def _graphviz_layout(nodes: List[str], edges, clusters=(), needs=()) -> Dict[str, tuple]:
    from .engine import layout_json
    lines = ["digraph G {", "rankdir=LR; nodesep=0.3; ranksep=0.8;",
             f'node [shape=box fixedsize=true label="" width={NODE_W / 72:.3f} '
             f'height={NODE_H / 72:.3f}];']
    # ids are w<int>/t<int>: safe in DOT as they are
    for j, members in enumerate(clusters):
        lines.append(f'subgraph cluster_{j} {{ label=" "; margin=12; '
                     + " ".join(f"{n};" for n in members) + " }")
    lines += [f"{n};" for n in nodes]
    lines += [f"{a} -> {b};" for a, b in edges]
    # "needs a worker": laid out near the pool, without pulling the ranks
    lines += [f"{a} -> {b} [constraint=false];" for a, b in needs if a in nodes]
    lines.append("}")
    js = layout_json("\n".join(lines))
    pos = {}
    for obj in js.get("objects", []):
        name = obj.get("name")
        if name in nodes and "pos" in obj:
            x, y = (float(v) for v in obj["pos"].split(","))
            pos[name] = (x, y)   # points used as pixels; y kept (first node on top)
    if set(pos) != set(nodes):
        raise ValueError("graphviz layout lost nodes")
    return pos


def _workers_top_down(pos: Dict[str, tuple], n_workers: int) -> Dict[str, tuple]:
    """Mirror the layout vertically when Graphviz put the workers bottom-up,
    so Worker-1 is on top in the graph as in the lanes."""
    ys = [pos[f"w{i}"][1] for i in range(n_workers) if f"w{i}" in pos]
    up = sum(1 for a, b in zip(ys, ys[1:]) if b < a)
    if up * 2 <= max(1, len(ys) - 1):
        return pos
    return {k: (x, -y) for k, (x, y) in pos.items()}


def _layered_layout(nodes: List[str], edges) -> Dict[str, tuple]:
    """Worker rows: a worker in column 0, the task it held while waiting in
    column 1, what that task waited for in column 2, and so on along the
    chain.  Many tasks share a cell, but at one instant a worker holds one
    task that waits for one other, so what is shown rarely overlaps; and the
    size is bounded by workers x chain depth however long the trace."""
    row = {n: int(n[1:]) for n in nodes if n.startswith("w")}
    depth = {n: 0 for n in row}
    extra = len(row)      # waits by non-task code get rows below the workers
    for _ in range(8):    # a few relaxation rounds; cycles stop at the bound
        changed = False
        for a, b in edges:
            if a in depth and (b not in depth or depth[b] < depth[a] + 1) and depth[a] < 8:
                depth[b] = depth[a] + 1
                row.setdefault(b, row.get(a, extra))
                changed = True
        if not changed:
            break
    pos = {}
    for n in nodes:
        if n not in depth:
            depth[n], row[n] = 1, extra
        pos[n] = (depth[n] * (NODE_W + 60), row[n] * (NODE_H + 14))
    return pos
