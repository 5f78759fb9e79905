"""Refuse the blocking wait that would deadlock the pool.

``hueyviz.guard(huey)`` checks every wait that is about to block (a
``Result.get(blocking=True)`` whose result is not there yet): if, with that
wait added, the pool could never make progress again (the same verdict as
:func:`hueyviz.diagnose`), the waiting task gets :class:`DeadlockError`
from ``Result.get`` instead of blocking forever.  Its worker is freed, the
queue moves again, and the error names the knot in words.  Safe waits are
not touched; ``action="warn"`` only logs and records.

What it can see
---------------
The guard follows the Huey instance in this process (see
:class:`~hueyviz.protect.mirror.Mirror`), and, when the instance was
``hueyviz.install()``-ed with a shared sink (its Redis stream, its SQLite
table, or files beside FileHuey: the defaults), the events every other
process wrote there: the pool is then every consumer's workers, on any
machine, and a wait here that closes a knot with workers of other
processes is refused.

- Before each decision it reads what the others wrote since its last read
  (one round trip to the sink: the cost per guarded wait is in
  BENCHMARKS.md).  A ``block`` is written by its process at once; other
  events within 50 ms (the writers' flush interval).
- The window in which it can be wrong is what happened in other processes
  and has not reached the sink yet (milliseconds for waits).  It errs
  towards letting a wait block: a wait in another process that it has not
  seen makes a knot look looser than it is, and then the knot forms (the
  watchdog and ``diagnose`` still report it).  It can refuse wrongly only if
  the pool grew in that window and it has not yet seen it: a consumer that
  started in the last moments, whose announcement has not arrived.
- Without a shared sink (MemoryHuey, or ``follow=False``) it sees this
  process only: with several consumer processes on one queue pass
  ``workers=`` the total, and it catches knots formed inside this process.
- ``worker_type="process"``: each task runs in a forked child that sees only
  itself, so the guard never fires there (it does not misfire either).
- Waits by code that is not a task (the web app, a notebook) hold no
  worker and are never refused.
- A pool size inferred from the workers seen (no consumer announced it) is
  never used to refuse a wait: the guard warns once and lets it block.
"""
from __future__ import annotations

import logging
from collections import deque
from typing import Any, Optional

from ..analysis.detector import would_deadlock
from ..core.errors import DeadlockError
from ..record.hook import HueyHook
from .mirror import Mirror

__all__ = ["DeadlockError", "Guard", "guard"]

logger = logging.getLogger("hueyviz")
ACTIONS = ("raise", "warn")


class Guard:
    """A deadlock guard on one Huey instance; see :func:`guard`.

    ``findings`` keeps the last 100 knots it refused (or, with ``warn``,
    let happen); ``checked`` counts the blocking waits it examined.
    """

    def __init__(self, huey, action: str = "raise", tracer=None,
                 workers: Optional[int] = None, follow: Any = "auto") -> None:
        if action not in ACTIONS:
            raise ValueError(f"action must be one of {ACTIONS}, not {action!r}")
        self.huey = huey
        self.action = action
        self.findings: deque = deque(maxlen=100)
        self.checked = 0
        self.stale = 0          # decisions made while the sink did not answer (let through)
        self._mirror = Mirror(huey, tracer=tracer, workers=workers, follow=follow)
        self._hook: Optional[HueyHook] = None
        self._warned_inexact = False

    def install(self) -> Guard:
        if self._hook is None:
            self._mirror.start()
            hook = self._hook = self._mirror.hook
            assert hook is not None          # start() attached the mirror
            hook.before_block = hook.before_block + (self._check,)
        return self

    def remove(self) -> None:
        """Stop guarding; the Huey instance is left as before."""
        hook, self._hook = self._hook, None
        if hook is not None:
            hook.before_block = tuple(c for c in hook.before_block if c != self._check)
            self._mirror.stop()

    def __enter__(self) -> Guard:
        return self.install()

    def __exit__(self, *exc) -> None:
        self.remove()

    @property
    def installed(self) -> bool:
        return self._hook is not None

    # -- the check (runs on the worker thread that is about to block) ---------
    def _check(self, task, block: dict, worker, queue=None) -> None:
        if task is None:
            return          # not a task: holds no worker
        try:
            refused = self._decide(task, block, worker, queue)
        except Exception:   # a bug here must not break the wait (house rule 1)
            self._mirror._failed("guard")
            return
        if refused is None:
            return
        message, finding = refused
        if self.action == "warn":
            logger.warning("%s", message)
            return
        logger.error("%s", message)
        raise DeadlockError(message, finding)

    def _decide(self, task, block: dict, worker, queue=None):
        """(message, finding) refusing the wait, or None when it may block."""
        fol = self._mirror
        # What the other processes did, up to now; but a sink that does not
        # answer must not hold this worker: past a few milliseconds the view
        # of the others is stale, and a stale view refuses nothing.
        stale = fol.refresh(wait=_FRESH_WITHIN) is None
        with fol.lock:
            self.checked += 1
            rp = fol.replay
            finding = would_deadlock(rp, task.id, block["waits_on"],
                                     block.get("timeout"), worker=worker,
                                     site=block.get("site"), t=fol.clock(),
                                     name=task.name, queue=queue,
                                     target_queue=block.get("waits_on_queue", queue),
                                     task_timeout=block.get("task_timeout"))
            if stale:
                self.stale += 1
                if self.stale == 1:
                    logger.warning("hueyviz.guard: the shared sink does not answer, so what "
                                   "the other processes did is not known: waits are let "
                                   "through until it answers")
                finding = None
            if finding is not None and not finding.exact:
                # A pool size inferred from the workers seen may be too small:
                # refusing on it could break a wait that would have returned.
                if not self._warned_inexact:
                    self._warned_inexact = True
                    logger.warning("hueyviz.guard: the pool size is unknown (no consumer "
                                   "was started while it watched); pass workers=N")
                finding = None
            if finding is None or finding.verdict != "deadlock":
                # Safe (or a stall that its timeout dissolves): let it block,
                # and apply it now so a concurrent wait sees this one.
                fol.apply_ahead("block", task.id, task.name, worker, block, queue)
                return None
            self.findings.append(finding)
            if self.action == "warn":
                fol.apply_ahead("block", task.id, task.name, worker, block, queue)
        return (f"hueyviz.guard refused this wait, it would never return. "
                f"{finding.message}", finding)

    def __repr__(self) -> str:
        state = "installed" if self.installed else "removed"
        return f"<Guard {self.action} {state} checked={self.checked} found={len(self.findings)}>"


# How long a guarded wait may wait for the follower of the shared sink.
_FRESH_WITHIN = 0.05


def guard(huey, action: str = "raise", *, tracer=None,
          workers: Optional[int] = None, follow: Any = "auto") -> Guard:
    """Refuse (or warn about) the blocking wait that would deadlock ``huey``'s pool.

    Parameters
    ----------
    huey : huey.Huey
    action : {"raise", "warn"}
        ``raise``: the waiting task gets :class:`DeadlockError` from
        ``Result.get``.  ``warn``: log on the ``hueyviz`` logger, record in
        ``findings`` and let the wait block.
    tracer : Tracer, optional
        Start from what this tracer recorded (useful when the consumer
        started before the guard).  Without it the guard follows the
        instance from now on.
    workers : int, optional
        The whole pool's size, when no consumer announces it (a consumer
        started before the guard, in a process that does not share a sink).
    follow : "auto", False, or a source
        Follow the events of the other processes: ``"auto"``, the shared sink
        ``install()`` chose; False, this process only.

    Returns
    -------
    Guard
        Installed; use it as a context manager or call ``remove()``.
    """
    return Guard(huey, action, tracer=tracer, workers=workers, follow=follow).install()
