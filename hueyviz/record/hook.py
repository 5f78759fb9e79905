"""Everything that touches Huey's objects lives here.

One :class:`HueyHook` per Huey instance installs the instrumentation once and
fans events out to every tracer attached to that instance, so two tracers on
one Huey neither double-wrap nor unwrap each other.  When the last tracer
detaches, the instance is restored exactly (no wrapper left behind).

Waits are seen through one process-wide patch of ``Result.get_raw_result``,
installed while any hook is active.  It only reports a ``block`` when the
result is not already there, and checks that without consuming the result:
``Result._get`` caches what it reads, so the original call that follows
returns the cached value.
"""
from __future__ import annotations

import logging
import math
import os
import re
import socket
import sys
import threading
import time
import weakref
from types import FrameType
from typing import Any, Callable, Optional

from huey import api as huey_api
from huey.constants import EmptyData
from huey.exceptions import ResultTimeout

from ..core.event import MAX_POOL, MAX_SECONDS, Worker
from . import hotpath

__all__ = ["HueyHook", "call_site", "find_hook", "hook_for"]

logger = logging.getLogger("hueyviz")

_hooks: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_hooks_lock = threading.Lock()
_original_get_raw_result = huey_api.Result.get_raw_result
_HOST = socket.gethostname()

# Frames from these files are Huey's result plumbing or this hook; the call
# site is the first frame outside them.
_SKIP_FILES = frozenset({huey_api.__file__, __file__})


def _has_own(obj, name: str) -> bool:
    """Whether ``obj`` has its own instance attribute ``name`` (shadowing the
    method of its class), found without ``vars(obj)``: on CPython 3.11+
    reading an instance's ``__dict__`` turns its inline attribute values into
    a real dict for good, and every attribute access Huey then makes on that
    instance takes the slow, unspecialised path (measured: ~4% of the CPU of
    a no-op task, for the rest of the Huey instance's life, even after
    detach).  A bound method of the class's own function with ``obj`` as
    ``self`` counts as not overridden (restoring it by deletion is the same).
    """
    value = getattr(obj, name)
    func = getattr(type(obj), name, None)
    return not (func is not None and getattr(value, "__func__", None) is func
                and getattr(value, "__self__", None) is obj)


def call_site(depth: int = 1) -> Optional[str]:
    """``file:line in function`` of the first caller outside huey and hueyviz."""
    try:
        f: Optional[FrameType] = sys._getframe(depth)
    except ValueError:
        return None
    while f is not None and f.f_code.co_filename in _SKIP_FILES:
        f = f.f_back
    if f is None:
        return None
    return f"{short_path(f.f_code.co_filename, f.f_globals.get('__name__'))}:" \
        f"{f.f_lineno} in {f.f_code.co_name}"


_NOTEBOOK_CELL = re.compile(r"[/\\]ipykernel_\d+[/\\]\d+\.py$")


def short_path(path: str, module: Optional[str] = None) -> str:
    """The file as its import path (``pkg/mod.py``) when it belongs to an
    importable module, so messages and drawings do not carry one machine's
    directories; other files (scripts, notebook cells) keep their path."""
    if _NOTEBOOK_CELL.search(path):
        return "<notebook cell>"   # ipykernel's temporary file name says nothing
    if module and module != "__main__" and path.endswith(".py"):
        rel = module.replace(".", os.sep)
        rel += os.sep + "__init__.py" if path.endswith("__init__.py") else ".py"
        if path.endswith(os.sep + rel) or path == rel:
            return rel
    return path


class _Local(threading.local):
    """Per worker thread (or greenlet, under gevent) state, shared by the hooks
    of every Huey instance: a task of one queue may enqueue or wait for a task
    of another, and the hook of the other queue must see who did it."""

    def __init__(self, name: Optional[str] = None) -> None:
        self.stack: list = []      # (hook, task) executing in this thread, innermost last
        self.stored = None         # id of the last result this thread stored
        if name is None:
            name = threading.current_thread().name
        self.worker = Worker(_HOST, os.getpid(), name)


_local = _Local()


class HueyHook:
    """Instrumentation of one Huey instance, shared by its tracers."""

    def __init__(self, huey) -> None:
        self.huey = huey
        self.queue: Optional[str] = getattr(huey, "name", None)
        self.tracers: tuple = ()
        self._records: tuple = ()       # each tracer's record function
        self._capture = False           # some tracer records task arguments
        self.local = _local
        self._hook_name = f"hueyviz-{id(self):x}"
        # What Huey calls for every signal: _on_signal (a receiver of its
        # Signal), or, where built, the C receiver in place of Huey._emit
        # (which hands _on_signal every signal but the common three).
        self._c_receiver: Any = None
        self._receivers: Optional[dict] = None    # Huey's, when its _emit only calls them
        self._had_emit = False
        self._orig_emit: Any = None
        self._orig_execute: Any = None
        self._orig_put_result: Any = None
        self._orig_create_consumer: Any = None
        # Called as check(task_or_None, block_data, worker, queue) just before a
        # wait really blocks; may raise to refuse the wait (hueyviz.guard).
        self.before_block: tuple = ()
        # Called as prepare(options) when this process is about to create a
        # consumer of the instance, before it announces its pool: what only
        # makes sense where tasks run (guard, watchdog) starts there and then.
        self.before_consumer: tuple = ()
        # Consumers created here: a greenlet worker finds its index in one.
        self._consumers: list = []
        self._said_immediate = False

    # -- lifecycle ------------------------------------------------------------
    def add(self, tracer) -> None:
        if tracer in self.tracers:
            return
        if not self.tracers:
            self._install()
        self.tracers = self.tracers + (tracer,)
        self.refresh()

    def remove(self, tracer) -> None:
        if tracer not in self.tracers:
            return
        self.tracers = tuple(t for t in self.tracers if t is not tracer)
        self.refresh()
        if not self.tracers:
            self._uninstall()

    def refresh(self) -> None:
        """Take in what the tracers record with now (a tracer whose sink,
        clock or ``capture_args`` changed calls this): the signal receiver
        reads these two, not each tracer, for every signal."""
        self._records = tuple(t._record for t in self.tracers)
        self._capture = any(t.capture_args for t in self.tracers)
        self._sync_receiver()

    def _sync_receiver(self) -> None:
        """The C receiver keeps its own copy of what it reads."""
        if self._c_receiver is not None:
            self._c_receiver.set(self.local, self._records, self._capture, self.queue,
                                 _NOT_STORED)

    def _install(self) -> None:
        h = self.huey
        self._had_execute = _has_own(h, "execute")
        self._had_put_result = _has_own(h, "put_result")
        self._had_create_consumer = _has_own(h, "create_consumer")
        self._orig_execute = h.execute
        self._orig_put_result = h.put_result
        self._orig_create_consumer = h.create_consumer
        h.execute = self._execute
        h.put_result = self._put_result
        h.create_consumer = self._create_consumer
        c = hotpath.active()
        self._had_emit = _has_own(h, "_emit")
        self._orig_emit = h._emit
        if c is None:
            # In place of Huey's _emit, not among its receivers: recorded
            # before any receiver of the application runs, so one that raises
            # cannot hide a signal from the trace (Huey before 3.x's latest
            # stops Signal.send at the first receiver that raises).
            self._c_receiver = None
            own = not self._had_emit and getattr(type(h), "_emit", None) is huey_api.Huey._emit
            self._receivers = getattr(h._signal, "receivers", None) if own else None
            h._emit = self._emit
        else:
            # In C, in place of Huey's _emit (a receiver Huey's dispatch
            # calls costs as much again as the recording).  Huey's own
            # _emit only calls the receivers: with none connected for a
            # signal, the C version skips it.
            own = not self._had_emit and getattr(type(h), "_emit", None) is huey_api.Huey._emit
            self._c_receiver = c.Receiver(self._on_signal, self._receiver_failed,
                                          self._orig_emit, h._signal if own else None)
            h._emit = self._c_receiver
        self._sync_receiver()
        h.on_startup(self._hook_name)(self._worker_up)
        h.on_shutdown(self._hook_name)(self._worker_down)
        _activate(h, self)

    def _uninstall(self) -> None:
        h = self.huey
        _deactivate(h)
        h.unregister_on_startup(self._hook_name)
        h.unregister_on_shutdown(self._hook_name)
        replaced = [("execute", self._had_execute, self._orig_execute),
                    ("put_result", self._had_put_result, self._orig_put_result),
                    ("create_consumer", self._had_create_consumer, self._orig_create_consumer)]
        replaced.append(("_emit", self._had_emit, self._orig_emit))
        for attr, had, orig in replaced:
            if had:
                setattr(h, attr, orig)
            else:
                try:
                    delattr(h, attr)
                except AttributeError:
                    pass

    def reset_after_fork(self, local: _Local) -> None:
        # The child must not report the parent's pid or its running tasks.
        self.local = local
        self._sync_receiver()

    # -- recording ------------------------------------------------------------
    def emit(self, kind: str, task_id, name, data, queue=None) -> None:
        worker = self.local.worker
        queue = self.queue if queue is None else queue
        for record in self._records:
            record(kind, task_id, name, worker, data, queue)

    def _execute(self, task, timestamp=None):
        if not self._said_immediate and self.huey.immediate:
            # Immediate mode: each task runs in the thread that enqueued it.
            self._said_immediate = True
            self._safe_emit("consumer", None, None, {"workers": 0, "worker_type": "immediate"})
        stack = self.local.stack
        stack.append((self, task))
        try:
            return self._orig_execute(task, timestamp)
        finally:
            stack.pop()

    def _emit(self, signal, task, *args, **kwargs):
        self._on_signal(signal, task, *args)        # never raises
        # Huey's own _emit only calls the receivers: with none connected for
        # this signal it is skipped, as the C receiver does.
        receivers = self._receivers
        if receivers is None or receivers.get(signal) or receivers.get("any"):
            return self._orig_emit(signal, task, *args, **kwargs)
        return None

    def _create_consumer(self, **options):
        for prepare in self.before_consumer:
            try:
                prepare(options)
            except Exception:       # a consumer must start even if its extras fail
                for tracer in self.tracers:
                    tracer._failed("consumer hook")
        consumer = self._orig_create_consumer(**options)
        # Announce the pool size up front: workers start one by one, and the
        # first may block before the last is up.
        data = {"workers": _worker_count(getattr(consumer, "workers", options.get("workers", 1))),
                "worker_type": str(getattr(consumer, "worker_type", "thread"))}
        # How its workers poll the queue: a replay hands out tasks as they do.
        for key, attr in (("initial_delay", "default_delay"), ("backoff", "backoff"),
                          ("max_delay", "max_delay")):
            value = _finite(getattr(consumer, attr, None))
            if value is not None and value >= 0:
                data[key] = value
        self._consumers.append(consumer)
        self._safe_emit("consumer", None, None, data)
        return consumer

    def _put_result(self, key, data):
        self.local.stored = key
        return self._orig_put_result(key, data)

    def _on_signal(self, signal, task, *args):
        # Hot path: runs for every signal of every task, on Huey's worker
        # thread.  emit() is inlined and the common kinds are tested first.
        try:
            local = self.local
            data: Optional[dict]
            if signal == "executing":
                data = None
            elif signal == "complete":
                data = None if local.stored == task.id else _NOT_STORED
                local.stored = None
            elif signal == "enqueued":
                # The common case, a top-level enqueue of a plain task, needs
                # no call and no dict.
                data = (self._enqueue_data(task, local.stack)
                        if local.stack or task.on_complete is not None
                        or task.eta is not None or task.priority else None)
                if self._capture:
                    data = {**(data or {}), "args": _args_repr(task.args, task.kwargs)}
            elif signal == "error":
                exc = args[0] if args else None
                data = {"error": type(exc).__name__, "message": _bounded(str(exc))}
            else:
                data = None
            task_id, name, worker, queue = task.id, task.name, local.worker, self.queue
            for record in self._records:
                record(signal, task_id, name, worker, data, queue)
        except Exception:
            self._receiver_failed()

    def _receiver_failed(self) -> None:
        for tracer in self.tracers:
            tracer._failed("signal receiver")

    def _enqueue_data(self, task, stack: list) -> Optional[dict]:
        data: dict = {}
        if stack:
            parent = stack[-1][1]
            if parent is task or parent.id == task.id:
                data["via"] = "retry"
            else:
                data["parent"] = parent.id
                if parent.on_complete is task:
                    data["via"] = "pipeline"
                elif parent.on_error is not None and parent.on_error.id == task.id:
                    data["via"] = "error"
        nxt = task.on_complete
        if nxt is not None:
            then: list = []
            names: list = []
            while nxt is not None and len(then) < 64:
                then.append(nxt.id)
                names.append(str(nxt.name))
                nxt = nxt.on_complete
            data["then"] = then
            data["then_names"] = names
        if task.eta is not None:
            data["eta"] = str(task.eta)
        priority = task.priority
        if priority and _finite(priority) is not None:
            data["priority"] = priority      # anything else sorts nowhere in Huey either
        return data or None

    def _worker_up(self) -> None:
        # Reset this thread's state only: replacing self.local would wipe the
        # stacks of workers already running tasks (their waits then look like
        # waits by non-task code).
        self.local.__init__(self._worker_name())  # type: ignore[misc]
        self.emit("worker_up", None, None, None)

    def _worker_name(self) -> Optional[str]:
        """The worker as Huey numbers it, for the types whose thread name says
        nothing: ``process 2`` (every worker process runs in ``MainThread``),
        ``greenlet 1`` (gevent names them ``Dummy-N``).  None: a thread's name."""
        try:
            import multiprocessing
            proc = multiprocessing.current_process().name
            if threading.current_thread().name == "MainThread" and proc.startswith("Worker-"):
                return "process " + proc[len("Worker-"):]
            gevent = sys.modules.get("gevent")
            if gevent is not None and self._consumers:
                me = gevent.getcurrent()
                for consumer in self._consumers:
                    for i, (_, g) in enumerate(getattr(consumer, "worker_threads", ())):
                        if g is me:
                            return f"greenlet {i + 1}"
        except Exception:       # a name is not worth failing a worker's start-up
            pass
        return None

    def _worker_down(self) -> None:
        self.emit("worker_down", None, None, None)

    # -- waits ----------------------------------------------------------------
    def current_task(self):
        stack = self.local.stack
        return stack[-1][1] if stack else None

    def wait(self, result, blocking, timeout, args, kwargs):
        """Run the original ``get_raw_result``, recording the read.

        ``self`` is the hook of the awaited task's Huey.  The read is the
        reader's: it is recorded by the hook of the queue whose worker it
        holds (the innermost task running in this thread, of any traced
        Huey instance), or by this hook for non-task code.

        A blocking read that must wait is a ``block`` ... ``unblock`` pair;
        one that finds the result stored is a ``read`` (a dependency all the
        same: what-if replays it).  Either says whether it *consumed* the
        result: with Huey's default ``preserve=False`` the first read removes
        it from the store, and a later wait by another ``Result`` never
        returns.  A non-blocking read is recorded only when it removed a
        result.  The check reads through ``Result._get``, which caches what
        it finds, so the original call that follows returns that value.
        """
        preserve = kwargs.get("preserve", args[3] if len(args) > 3 else False)
        cached = getattr(result, "_result", EmptyData) is not EmptyData
        if result._get(preserve) is not EmptyData:
            # Cached: an earlier read by this Result consumed it (and said so).
            if blocking or not (cached or preserve):
                self._read(result, blocking, timeout, args, kwargs,
                           consumed=not (cached or preserve))
            return _original_get_raw_result(result, blocking, timeout, *args, **kwargs)
        if not blocking:
            return _original_get_raw_result(result, blocking, timeout, *args, **kwargs)
        owner, cur = self._reader()
        waiter, name = (cur.id, cur.name) if cur is not None else (None, None)
        target = result.id
        block = self._read_data(result, owner, cur, timeout, args, kwargs)
        if preserve:
            block["preserve"] = True
        checks = owner.before_block + tuple(c for c in self.before_block
                                            if c not in owner.before_block)
        for check in checks:
            check(cur, block, self.local.worker, owner.queue)   # may raise: no wait begins
        owner._safe_emit("block", waiter, name, block)
        outcome = "result"
        try:
            value = _original_get_raw_result(result, blocking, timeout, *args, **kwargs)
            if isinstance(value, huey_api.Error):
                outcome = "error"
            return value
        except ResultTimeout:
            outcome = "timeout"
            raise
        except BaseException:
            outcome = "failed"
            raise
        finally:
            done = {"waits_on": target, "outcome": outcome}
            if outcome in ("result", "error") and not preserve:
                done["consumed"] = True
            owner._safe_emit("unblock", waiter, name, done)

    def _reader(self):
        """(hook that records the read, task reading or None)."""
        stack = self.local.stack
        owner, cur = stack[-1] if stack else (self, None)
        if not owner.tracers:       # detached meanwhile: still record the read
            owner = self
        return owner, cur

    def _read_data(self, result, owner, cur, timeout, args, kwargs) -> dict:
        data: dict = {"waits_on": result.id, "site": call_site()}
        seconds = wait_seconds(timeout)
        if seconds is not None:
            data["timeout"] = seconds
        # How Huey polls for the result (Result.get's defaults are 1.15, 1.0).
        backoff = _finite(kwargs.get("backoff", args[0] if args else 1.15))
        if backoff is not None and backoff != 1.15:
            data["backoff"] = backoff
        delay = wait_seconds(kwargs.get("max_delay", args[1] if len(args) > 1 else 1.0))
        if delay is not None and delay != 1.0:
            data["max_delay"] = delay
        if owner is not self:
            data["waits_on_queue"] = self.queue
        task_timeout = wait_seconds(getattr(cur, "timeout", None)) if cur is not None else None
        if task_timeout:
            data["task_timeout"] = task_timeout
        return data

    def _read(self, result, blocking, timeout, args, kwargs, consumed: bool) -> None:
        try:
            owner, cur = self._reader()
            data = self._read_data(result, owner, cur, timeout, args, kwargs)
            data.pop("task_timeout", None)
            if consumed:
                data["consumed"] = True
            if not blocking:
                data["blocking"] = False
            owner.emit("read", cur.id if cur is not None else None,
                       cur.name if cur is not None else None, data)
        except Exception:
            for tracer in self.tracers:
                tracer._failed("wait hook")

    def _safe_emit(self, kind, task_id, name, data) -> None:
        try:
            self.emit(kind, task_id, name, data)
        except Exception:
            for tracer in self.tracers:
                tracer._failed("wait hook")


def _finite(v) -> Optional[float]:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    try:
        f = float(v)
    except (OverflowError, ValueError):
        return None
    return f if math.isfinite(f) and abs(f) <= MAX_SECONDS else None


def wait_seconds(timeout) -> Optional[float]:
    """The timeout a ``Result.get`` will really wait, as an event field.

    Huey adds it to the clock: a negative one times out at once, NaN and
    infinity never do; a string or None raises or waits forever.  What is
    recorded is that, so user code cannot put a value in the trace that
    no reader accepts.

    >>> wait_seconds(2), wait_seconds(-1), wait_seconds(float("nan")), wait_seconds("soon")
    (2.0, 0.0, None, None)
    """
    f = _finite(timeout)
    return None if f is None else max(0.0, f)


def _worker_count(n) -> int:
    # Huey runs range(workers): an int (or a bool); anything else fails there.
    return max(0, min(MAX_POOL, int(n))) if isinstance(n, int) else 0


_NOT_STORED = {"stored": False}
_ARG_LIMIT = 200


def _bounded(text: str, limit: int = 500) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def _args_repr(args, kwargs) -> str:
    try:
        parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
        return _bounded("(" + ", ".join(parts) + ")", _ARG_LIMIT)
    except Exception:
        return "(<unrepresentable>)"


def _patched_get_raw_result(self, blocking=False, timeout=None, *args, **kwargs):
    hook = _hooks.get(self.huey)
    if hook is None:
        return _original_get_raw_result(self, blocking, timeout, *args, **kwargs)
    return hook.wait(self, blocking, timeout, args, kwargs)


def _activate(huey, hook: HueyHook) -> None:
    with _hooks_lock:
        _hooks[huey] = hook
        huey_api.Result.get_raw_result = _patched_get_raw_result


def _deactivate(huey) -> None:
    with _hooks_lock:
        _hooks.pop(huey, None)
        if not _hooks:
            huey_api.Result.get_raw_result = _original_get_raw_result


def find_hook(huey) -> Optional[HueyHook]:
    """The active hook of ``huey``, if something records it."""
    with _hooks_lock:
        return _hooks.get(huey)


def hook_for(huey) -> HueyHook:
    """The active hook of ``huey``, or a new one (activated when a recorder is added)."""
    hook = find_hook(huey)
    return hook if hook is not None else HueyHook(huey)


def _after_fork_in_child() -> None:
    global _local
    _local = _Local()
    for hook in list(_hooks.values()):
        hook.reset_after_fork(_local)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def rate_limited_logger(interval: float = 60.0) -> Callable[[str], None]:
    """A logger for failures that says the first one, then one per interval."""
    last = [float("-inf")]

    def log(msg: str) -> None:
        now = time.monotonic()
        if now - last[0] >= interval:
            last[0] = now
            logger.warning(msg, exc_info=True)
    return log
