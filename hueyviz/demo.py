"""The classic nested-task deadlock, reproduced on a real threaded consumer.

Main tasks (one per user) enqueue subtasks and block on their results.  With
as many workers as main tasks, every worker ends up holding a main task that
waits for a subtask that no free worker will ever run.  The demo records it,
diagnoses it, and then rescues the stuck consumer so that it always ends.
"""
from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Optional, Sequence

from huey import MemoryHuey

from .analysis.detector import Diagnosis, diagnose
from .core.errors import OutputError, UsageError
from .core.trace import Trace
from .record.tracer import trace

__all__ = ["DemoResult", "build_huey", "rescue", "run_demo"]

USERS = ("alice", "bob")


def build_huey(name: str = "hueyviz-demo", subtasks: int = 3, work: float = 0.02):
    """A MemoryHuey with ``main_task`` (blocks on subtasks) and ``subtask``."""
    huey = MemoryHuey(name, utc=False)

    @huey.task()
    def subtask(user, i):
        time.sleep(work)
        return f"{user}-{i}"

    @huey.task()
    def main_task(user):
        results = [subtask(user, i) for i in range(subtasks)]
        # The anti-pattern under study: a task blocking on other tasks.
        return [r.get(blocking=True) for r in results]

    huey.demo_tasks = {"main_task": main_task, "subtask": subtask}
    return huey


def rescue(huey, consumer, results: Sequence = (), timeout: float = 10.0) -> bool:
    """Unstick a deadlocked consumer, then stop it.

    Every queued task is run on a fresh daemon thread (a task may itself block
    on subtasks that are still queued, so the rescuer must never run one
    inline) until every result in ``results`` is ready.  Returns whether
    everything finished within ``timeout`` seconds.
    """
    deadline = time.monotonic() + timeout
    idle = threading.Event()
    done = False
    while time.monotonic() < deadline:
        task = huey.dequeue()
        if task is not None:
            threading.Thread(target=_run_quietly, args=(huey, task), daemon=True,
                             name="hueyviz-rescue").start()
            continue
        if all(r.is_ready() for r in results):
            done = True
            break
        idle.wait(0.01)
    consumer.stop(graceful=False)
    for _, worker in consumer.worker_threads:
        worker.join(max(0.0, deadline - time.monotonic()))
    return done


def _run_quietly(huey, task) -> None:
    try:
        huey.execute(task)
    except Exception:  # the task's own error: Huey has logged and stored it
        pass


@dataclass
class DemoResult:
    trace: Trace
    diagnosis: Diagnosis
    out: Optional[str]
    files: tuple
    rescued: bool


def run_demo(out: Optional[str] = "hueyviz-demo", workers: int = 2,
             users: Sequence[str] = USERS, subtasks: int = 3,
             timeout: float = 20.0, render: bool = True) -> DemoResult:
    """Run the nested-task workload on ``workers`` threads and diagnose it.

    Ends by itself: it waits (at most ``timeout`` s) until every main task
    finished or the analysis finds a deadlock, then rescues the consumer.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"the demo needs at least 1 worker, not {workers!r}")
    if isinstance(subtasks, bool) or not isinstance(subtasks, int) or subtasks < 0:
        raise UsageError(f"subtasks must be a whole number >= 0, not {subtasks!r}")
    if isinstance(users, str) or not users:
        raise UsageError("the demo needs at least one user (one main task each)")
    if out is not None:
        # Before the workload runs: an unwritable --out fails at once.
        try:
            os.makedirs(out, exist_ok=True)
        except OSError as exc:
            raise OutputError(out, exc, "create the folder") from None
    huey = build_huey(subtasks=subtasks)
    main_task = huey.demo_tasks["main_task"]
    tracer = trace(huey, capture_args=True)
    # Enqueue before starting, so each worker picks up a main task first.
    results = [main_task(u) for u in users]
    consumer = huey.create_consumer(workers=workers, worker_type="thread",
                                    periodic=False, initial_delay=0.005,
                                    max_delay=0.05, check_worker_health=False)
    consumer.start()

    def settled(tr: Trace) -> bool:
        if all(r.is_ready() for r in results):
            return True
        blocks = sum(1 for e in tr if e.kind == "block")
        return blocks >= workers and diagnose(tr).verdict != "ok"

    tracer.wait_for(settled, timeout=timeout)
    tracer.detach()
    recorded = tracer.trace
    rescued = rescue(huey, consumer, results, timeout=10.0)
    diagnosis = diagnose(recorded)
    files = []
    if out is not None:
        os.makedirs(out, exist_ok=True)
        path = os.path.join(out, "trace.jsonl")
        recorded.save(path)
        files.append(path)
        if render:
            files.extend(_render(recorded, out))
    return DemoResult(recorded, diagnosis, out, tuple(files), rescued)


def _render(recorded: Trace, out: str) -> list:
    try:
        from .render.export import export_all
    except ImportError:
        return []
    return export_all(recorded, out)
