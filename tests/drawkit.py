"""Shared helpers for the drawing tests: small hand-built traces and XML checks."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET
from pathlib import Path

from hueyviz.core.event import Event, Worker
from hueyviz.core.trace import Trace, make_header

BENCH = Path(__file__).resolve().parents[1] / "bench"
if str(BENCH) not in sys.path:
    sys.path.insert(0, str(BENCH))

HEADER = make_header(clock="unix", host="testhost", pid=1)
HEADER.update(hueyviz="test")          # keep files independent of the version
T0 = 1_795_000_000.0


def worker(i: int, host: str = "h", pid: int = 1, name: str = None) -> Worker:
    return Worker(host, pid, name or f"Worker-{i}")


def small_trace(name: str = "job", wname: str = None, args: str = "(1,)",
                message: str = "boom", site: str = "app.py:7 in job", host: str = "h") -> Trace:
    """Two workers: a parent blocks on a child that runs on the other worker;
    one task fails, one is retried, one is still running at the end."""
    w1, w2 = worker(1, host, name=wname), worker(2, host)
    e = Event
    ev = [
        e(T0 + 0.000, "consumer", None, None, w1, {"workers": 2, "worker_type": "thread"}),
        e(T0 + 0.001, "worker_up", None, None, w1, None),
        e(T0 + 0.001, "worker_up", None, None, w2, None),
        e(T0 + 0.002, "enqueued", "p0000001", name, None, {"args": args}),
        e(T0 + 0.010, "executing", "p0000001", name, w1, None),
        e(T0 + 0.020, "enqueued", "c0000002", "child", w1, {"parent": "p0000001", "args": args}),
        e(T0 + 0.021, "block", "p0000001", name, w1, {"waits_on": "c0000002", "site": site}),
        e(T0 + 0.030, "executing", "c0000002", "child", w2, None),
        e(T0 + 0.200, "complete", "c0000002", "child", w2, None),
        e(T0 + 0.201, "unblock", "p0000001", name, w1, {"waits_on": "c0000002", "outcome": "result"}),
        e(T0 + 0.260, "complete", "p0000001", name, w1, None),
        e(T0 + 0.205, "enqueued", "e0000003", "flaky", None, {"args": args}),
        e(T0 + 0.210, "executing", "e0000003", "flaky", w2, None),
        e(T0 + 0.300, "error", "e0000003", "flaky", w2, {"error": "ValueError", "message": message}),
        e(T0 + 0.301, "retrying", "e0000003", "flaky", w2, None),
        e(T0 + 0.302, "enqueued", "e0000003", "flaky", w2, {"via": "retry"}),
        e(T0 + 0.310, "executing", "e0000003", "flaky", w1, None),
        e(T0 + 0.400, "complete", "e0000003", "flaky", w1, None),
        e(T0 + 0.305, "enqueued", "r0000004", name, None, {"args": args}),
        e(T0 + 0.320, "executing", "r0000004", name, w2, None),
        e(T0 + 0.500, "interrupted", "r0000004", name, w2, None),
        e(T0 + 0.450, "enqueued", "s0000005", "slow", None, None),
        e(T0 + 0.460, "executing", "s0000005", "slow", w1, None),
    ]
    ev.sort(key=lambda x: x.t)
    return Trace(ev, header=HEADER)


def deadlock_trace(workers: int = 2) -> Trace:
    """``workers`` main tasks each block on a subtask that stays queued."""
    ev = []
    for i in range(1, workers + 1):
        w = worker(i)
        ev.append(Event(T0 + 0.001 * i, "worker_up", None, None, w, None))
    t = T0 + 0.01
    for i in range(1, workers + 1):
        w = worker(i)
        m, s = f"{i:x}a{i:06d}", f"{i:x}b{i:06d}"
        ev.append(Event(t, "executing", m, "main", w, None))
        ev.append(Event(t + 0.001, "enqueued", s, "sub", w, {"parent": m}))
        ev.append(Event(t + 0.002, "block", m, "main", w, {"waits_on": s, "site": "app.py:3"}))
        t += 0.01
    return Trace(ev, header=HEADER)


def many_workers_trace(n: int = 64) -> Trace:
    ev = []
    for i in range(n):
        w = worker(i % 8 + 1, pid=100 + i // 8)
        tid = f"t{i:07d}"
        ev.append(Event(T0 + i * 0.01, "executing", tid, f"task{i % 5}", w, None))
        ev.append(Event(T0 + i * 0.01 + 0.5, "complete", tid, f"task{i % 5}", w, None))
    return Trace(ev, header=HEADER)


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def tags(root: ET.Element) -> list:
    return [el.tag.rsplit("}", 1)[-1] for el in root.iter()]


def by_class(root: ET.Element, cls: str) -> list:
    return [el for el in root.iter() if cls in (el.get("class") or "").split()]
