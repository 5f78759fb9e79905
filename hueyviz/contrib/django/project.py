"""What the Django app finds in a project: its Huey queues and ``HUEYVIZ``.

One definition each of: which Huey instances the project runs
(:func:`find_queues`), what ``settings.HUEYVIZ`` says (:func:`read_options`),
how the app installs hueyviz on them (:func:`install_queues`) and where the
command line reads them back (:func:`queue_sources`).  Only the recording
path is imported here: it runs in every web process.
"""
from __future__ import annotations

import logging
import threading
import weakref
from typing import Any, Dict, List, Optional

from ...core.errors import SourceError, UsageError
from ...record.hook import find_hook
from ...record.install import install
from ...record.sinkurl import parse_url, queue_name, source_url

__all__ = ["DEFAULTS", "find_queues", "install_queues", "protection", "queue_sources",
           "read_options"]

logger = logging.getLogger("hueyviz")

# The keys of settings.HUEYVIZ and their defaults (those of hueyviz.install;
# guard and watchdog off).
DEFAULTS: Dict[str, Any] = {"sink": None, "capture_args": False, "guard": False, "watchdog": None}
_SCHEMES = ("redis", "rediss", "unix", "sqlite", "file")


def read_options(settings: Any = None) -> Dict[str, Any]:
    """``settings.HUEYVIZ`` checked and completed with :data:`DEFAULTS`.

    A wrong key or value stops the project at startup with a
    :class:`~hueyviz.UsageError` that names it: a typo must not quietly
    turn recording (or the guard) off.
    """
    if settings is None:
        from django.conf import settings as django_settings
        settings = django_settings
    raw = getattr(settings, "HUEYVIZ", None)
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise UsageError(f"settings.HUEYVIZ must be a dict, not {type(raw).__name__}")
    unknown = sorted(set(raw) - set(DEFAULTS), key=str)
    if unknown:
        raise UsageError(f"settings.HUEYVIZ: unknown key {unknown[0]!r}; "
                         f"the keys are {', '.join(DEFAULTS)}")
    opts = {**DEFAULTS, **raw}
    sink = opts["sink"]
    if sink is not None:
        parts, query, queue = parse_url(sink, None) if isinstance(sink, str) else (None, {}, None)
        if parts is None or parts.scheme not in _SCHEMES:
            raise UsageError(f"settings.HUEYVIZ['sink'] must be a URL (redis://, sqlite:///, "
                             f"file:///), not {sink!r}")
        if queue is not None or "stream" in query:
            # Every queue records under its own name: a fixed one would merge
            # the pools of all the queues into one.
            raise UsageError("settings.HUEYVIZ['sink'] names no queue or stream: each "
                             "queue records under its own name")
    if not isinstance(opts["capture_args"], bool):
        raise UsageError("settings.HUEYVIZ['capture_args'] must be True or False")
    guard = opts["guard"]
    # "is" tests: 0 == False and 1 == True, but neither is a setting here.
    if not (guard is None or guard is False or guard is True or guard in ("raise", "warn")):
        raise UsageError(f"settings.HUEYVIZ['guard'] must be False, True, 'raise' or 'warn', "
                         f"not {guard!r}")
    wd = opts["watchdog"]
    if not (wd is None or wd is False or wd is True
            or (type(wd) in (int, float) and wd > 0)):
        raise UsageError(f"settings.HUEYVIZ['watchdog'] must be a number of seconds > 0 "
                         f"(or None), not {wd!r}")
    return opts


def find_queues() -> List[Any]:
    """The project's Huey instances: djhuey's ``HUEY``, then each queue of
    ``DJANGO_HUEY`` in its order.

    Each package is imported only when the project configures it: both
    build their instances at import, and djhuey without a ``HUEY`` setting
    would build a Redis queue of its own.
    """
    from django.apps import apps
    from django.conf import settings
    found: List[Any] = []
    if hasattr(settings, "HUEY") or apps.is_installed("huey.contrib.djhuey"):
        from huey.contrib.djhuey import HUEY
        found.append(HUEY)
    if hasattr(settings, "DJANGO_HUEY"):
        from django_huey import config
        found.extend(config.hueys_setting.values())
    unique: List[Any] = []
    for huey in found:
        if all(huey is not h for h in unique):
            unique.append(huey)
    return unique


def install_queues() -> list:
    """Install hueyviz on every queue (idempotent); returns the tracers.

    A queue whose sink cannot be set up is logged and skipped: the
    project still starts (house rule 1), without a trace of that queue.
    """
    opts = read_options()
    tracers = []
    for huey in find_queues():
        try:
            tracer = install(huey, opts["sink"], capture_args=opts["capture_args"])
        except Exception:
            logger.warning("hueyviz: not recording queue %r", queue_name(huey), exc_info=True)
            continue
        tracers.append(tracer)
        if opts["guard"] or opts["watchdog"]:
            _protect_consumers(huey, opts)
    return tracers


# -- guard and watchdog: only where tasks run ----------------------------------
_protections: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_lock = threading.Lock()


class _Protection:
    """Starts the guard and the watchdog of one queue when this process
    creates its consumer (``run_huey``, ``djangohuey``).  A web process never
    creates one: it would hold every task it enqueued as in flight forever,
    and a watchdog there would report that as no progress."""

    def __init__(self, huey, guard, watchdog) -> None:
        self.huey = weakref.ref(huey)
        self.guard_action: Optional[str] = ("raise" if guard is True else guard) or None
        self.watchdog_after = watchdog or None
        self.guard: Any = None
        self.watchdog: Any = None

    def __call__(self, options: dict) -> None:
        huey = self.huey()
        if huey is None:
            return
        if str(options.get("worker_type", "thread")) == "process":
            # Tasks run in forked children; the guard and the watchdog follow
            # this process only, where they would see no task run.
            logger.warning("hueyviz: guard and watchdog need thread or greenlet workers; "
                           "queue %r runs process workers: not started", queue_name(huey))
            return
        if self.guard_action and self.guard is None:
            from ...protect.guard import guard
            self.guard = guard(huey, self.guard_action)
        if self.watchdog_after and self.watchdog is None:
            from ...protect.watchdog import watchdog
            self.watchdog = (watchdog(huey) if self.watchdog_after is True
                             else watchdog(huey, after=float(self.watchdog_after)))


def _protect_consumers(huey, opts) -> None:
    hook = find_hook(huey)
    if hook is None:
        return
    with _lock:
        prot = _protections.get(huey)
        if prot is None:
            prot = _protections[huey] = _Protection(huey, opts["guard"], opts["watchdog"])
        if prot not in hook.before_consumer:
            hook.before_consumer = hook.before_consumer + (prot,)


def protection(huey) -> Optional[_Protection]:
    """The guard/watchdog starter of ``huey`` (its ``guard`` and ``watchdog``)."""
    return _protections.get(huey)


# -- reading back --------------------------------------------------------------
def queue_sources(queues: Optional[list] = None) -> List[str]:
    """The URLs the project's queues record into, in queue order, each once:
    ``hueyviz diagnose <these>`` reads what ``manage.py hueyviz diagnose``
    reads."""
    if queues is None:
        queues = find_queues()
    if not queues:
        raise SourceError("this project has no Huey queue (no HUEY or DJANGO_HUEY setting); "
                          "name a SOURCE")
    sink = read_options()["sink"]
    out: List[str] = []
    for huey in queues:
        url = source_url(huey, sink)
        if url is None:
            why = ("runs tasks in immediate mode (as DEBUG=True sets it), in memory"
                   if getattr(huey, "immediate", False) else
                   f"is a {type(huey).__name__}, in memory")
            raise SourceError(
                f"queue {queue_name(huey)!r} {why}: its events stay in the process that "
                "ran its tasks; set HUEYVIZ = {'sink': 'sqlite:///path/events.db'} to "
                "read them from here")
        if url not in out:
            out.append(url)
    return out
