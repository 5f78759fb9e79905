"""A task-aware ``faulthandler.dump_traceback_later`` for Huey consumers.

``hueyviz.watchdog(huey, after=30)`` follows the instance live (see
:class:`~hueyviz.mirror.Mirror`).  When tasks are in flight or queued
and nothing has progressed for ``after`` seconds (no task started, finished
or returned from a wait), it logs the current diagnosis once on the
``hueyviz`` logger: the knot in words, if there is one, and every wait in
progress with its call site.  It fires again only after progress resumed
and stopped again.  It sees what the guard sees (this process's consumers).
"""
from __future__ import annotations

import logging
import threading
from typing import Any, Callable, Optional

from ..analysis.detector import Finding, find_knot
from ..core.text import printable
from .mirror import Mirror

__all__ = ["Watchdog", "watchdog"]

logger = logging.getLogger("hueyviz")


class Watchdog:
    """See :func:`watchdog`.  ``fired`` counts reports, ``message`` is the last."""

    def __init__(self, huey, after: float = 30.0, tracer=None,
                 workers: Optional[int] = None,
                 callback: Optional[Callable[[str], None]] = None,
                 follow: Any = "auto") -> None:
        if after <= 0:
            raise ValueError("after must be positive")
        self.after = float(after)
        self.callback = callback
        self.fired = 0
        self.ticks = 0
        self.message: Optional[str] = None
        self.finding: Optional[Finding] = None
        self._mirror = Mirror(huey, tracer=tracer, workers=workers, follow=follow)
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._fired_at: Optional[float] = None     # last_progress when it last fired

    def start(self) -> Watchdog:
        if self._thread is None:
            self._mirror.start()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="hueyviz-watchdog",
                                            daemon=True)
            self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop the thread (waits at most ``timeout`` s) and stop following."""
        self._stop.set()
        th, self._thread = self._thread, None
        if th is not None and th is not threading.current_thread():
            th.join(timeout)
        self._mirror.stop()

    def __enter__(self) -> Watchdog:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self) -> None:
        interval = min(max(self.after / 4, 0.01), 1.0)
        fol = self._mirror
        while not self._stop.wait(interval):
            self.ticks += 1
            try:
                idle = fol.idle_for()
                if idle < self.after or self._fired_at == fol.last_progress:
                    continue
                # A wait on a task not seen yet is no verdict: the other
                # processes' events may still be on their way.  Give them
                # until three times the delay before reporting without them.
                if self._unseen_waits() and idle < 3 * self.after:
                    continue
                self._fired_at = fol.last_progress
                self._fire(idle)
            except Exception:               # never let the thread die silently
                fol._failed("watchdog")

    def _unseen_waits(self) -> bool:
        """Whether an open wait is on a task the mirror has not seen."""
        fol = self._mirror
        with fol.lock:
            tasks = fol.replay.tasks
            return any(tid not in tasks or tasks[tid].state == "unknown"
                       for tid in fol.replay.waiting)

    def _fire(self, idle: float) -> None:
        fol = self._mirror
        with fol.lock:
            rp = fol.replay
            finding = find_knot(rp)
            n = len(fol.in_flight)
            waits = []
            for rec in rp.tasks.values():
                if rec.state == "blocked" and rec.wait is not None:
                    waits.append((rec.worker.name if rec.worker else "?", rec.label(),
                                  rec.wait))
            for w in rp.thread_waits.values():
                waits.append((w.worker.name if w.worker else "?", "(not a task)", w))
            running = sum(1 for r in rp.tasks.values() if r.state == "running")
            queued = sum(len(p.backlog) for p in rp.pools.values())
            lines = [f"hueyviz watchdog: no progress for {idle:.3g} s with {n} "
                     f"task{'s' if n != 1 else ''} in flight ({running} running, "
                     f"{len(waits)} waiting, {queued} queued)."]
            if finding is not None:
                lines.append(finding.message)
            else:
                lines.append("No deadlock in the tasks seen: something is slow, or waits "
                             "on what this process cannot see.")
            for worker, label, w in sorted(waits, key=lambda x: x[2].since):
                target = rp.tasks.get(w.waits_on)
                tgt = target.label() if target is not None else w.waits_on[:8]
                lines.append(f"  {worker}: {label} waits for {tgt}"
                             f"{' at ' + w.site if w.site else ''}")
        self.finding = finding
        # Task names and call sites are the traced program's: one log line each.
        self.message = msg = "\n".join(map(printable, lines))
        self.fired += 1
        logger.warning("%s", msg)
        if self.callback is not None:
            self.callback(msg)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<Watchdog after={self.after:g}s {state} fired={self.fired}>"


def watchdog(huey, after: float = 30.0, tracer=None, *, workers: Optional[int] = None,
             callback: Optional[Callable[[str], None]] = None,
             follow: Any = "auto") -> Watchdog:
    """Log the diagnosis once when ``huey``'s consumer stops progressing.

    Parameters
    ----------
    huey : huey.Huey
    after : float
        Seconds without progress (while tasks are in flight or queued)
        before it reports.
    tracer : Tracer, optional
        Start from what this tracer recorded (a consumer already running).
    workers : int, optional
        The pool size, if no consumer announces it in this process.
    callback : callable, optional
        Also called with the report (a string), on the watchdog's thread.

    Returns
    -------
    Watchdog
        Running (a daemon thread); ``stop()`` it or use it as a context manager.
    """
    return Watchdog(huey, after, tracer=tracer, workers=workers, callback=callback,
                    follow=follow).start()
