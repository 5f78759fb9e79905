"""Write a trace's drawings into a directory (``hueyviz render``, ``hueyviz demo``).

Format names (``formats=`` here, ``--format`` on the command line):

============  ==========================================================
``svg``       ``lanes.svg`` and ``waitfor.svg`` (the two static drawings)
``lanes``     ``lanes.svg`` only: worker lanes over time
``waitfor``   ``waitfor.svg`` only: who waits for whom, the culprit edge
``animated``  ``animated.svg``: self-playing replay (CSS, no JavaScript)
``html``      ``report.html``: standalone report with a time scrubber
``perfetto``  ``trace.json``: Chrome Trace Event JSON (``json`` is an alias)
``all``       everything above (the default)
``fixes``     ``lanes-fix-<kind>.svg``: each fix :func:`hueyviz.advise`
              replays, its lanes on the recording's time axis; with
              ``html`` too, ``report.html`` gets the fixes table
============  ==========================================================

``all`` leaves ``fixes`` out: advising replays the workload about ten
times, which costs more than every other file together (10,000 tasks: all
files 3.4 s, advise 6.5 s, measured on 2 shared cores); ask for both with
``all,fixes``.  Which fixes apply depends on the trace,
so the ``lanes-fix-*.svg`` names do too; the manifest lists those written.

Every renderer is pure and deterministic, so the same trace always gives
byte-identical files.

The files of one call are written as a set: each is rendered into a hidden
staging folder inside ``out_dir`` (``.hueyviz-render-*``), and only when all
are there are they renamed into place, with Ctrl-C held off for those few
renames.  ``manifest.json`` is removed first and written last: it names the
trace the files were drawn from (a SHA-256 of its events, its source, event
count and time span), the hueyviz version, ``at``, and each file with its own
SHA-256.  A folder whose manifest lists a file with that hash holds that
file of that trace; files it does not list (or no manifest at all, after a
crash in the middle of the renames) are from another run.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import shutil
import signal
import tempfile
import threading
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Tuple, Union

from .._version import __version__
from ..core.collector import collector_paused
from ..core.errors import HueyvizError, OutputError, UsageError
from ..core.text import redact

__all__ = ["FILES", "FIXES", "FORMATS", "MANIFEST", "export_all", "parse_formats"]

MANIFEST = "manifest.json"

# Every file export_all can write, in the order it writes them.
FILES = ("lanes.svg", "waitfor.svg", "animated.svg", "report.html", "trace.json")
FORMATS: Dict[str, tuple] = {
    "svg": ("lanes.svg", "waitfor.svg"),
    "lanes": ("lanes.svg",),
    "waitfor": ("waitfor.svg",),
    "animated": ("animated.svg",),
    "html": ("report.html",),
    "perfetto": ("trace.json",),
    "json": ("trace.json",),
    "all": FILES,
}
# The fixes' lanes: one file per fix that applies (render.fix.fix_file).
FIXES = "lanes-fix-<kind>.svg"
FORMATS["fixes"] = (FIXES,)


def parse_formats(formats: Union[str, Iterable[str], None]) -> List[str]:
    """The file names selected by ``formats`` (names or a comma-separated
    string), in writing order.  Raises ``ValueError`` naming the choices.

    >>> parse_formats("svg,perfetto")
    ['lanes.svg', 'waitfor.svg', 'trace.json']
    >>> parse_formats(None) == list(FILES)
    True
    >>> parse_formats("all,fixes")[-1]
    'lanes-fix-<kind>.svg'
    """
    if formats is None:
        return list(FILES)
    if isinstance(formats, str):
        formats = formats.split(",")
    wanted: set = set()
    for name in formats:
        key = name.strip().lower()
        if not key:
            continue
        if key not in FORMATS:
            raise ValueError(f"unknown format {name.strip()!r}; choose from "
                             f"{', '.join(FORMATS)}")
        wanted.update(FORMATS[key])
    if not wanted:
        raise ValueError(f"no format given; choose from {', '.join(FORMATS)}")
    return [f for f in FILES + (FIXES,) if f in wanted]


def _stage(stage: str, out: str, name: str, content: Union[str, Iterable[bytes]]) -> dict:
    """Write one file into the staging folder: text, or UTF-8 pieces (a
    large ``trace.json`` is never whole in memory)."""
    pieces = (content.encode("utf-8"),) if isinstance(content, str) else content
    digest, size = hashlib.sha256(), 0
    try:
        with open(os.path.join(stage, name), "wb") as f:
            for data in pieces:
                f.write(data)
                digest.update(data)
                size += len(data)
    except OSError as exc:
        raise OutputError(os.path.join(out, name), exc) from None
    return {"sha256": digest.hexdigest(), "bytes": size}


@contextlib.contextmanager
def _ctrl_c_held() -> Iterator[None]:
    """Ctrl-C waits until the block is done (main thread only), then raises."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    got: list = []
    try:
        old = signal.signal(signal.SIGINT, lambda *a: got.append(a))
    except (ValueError, OSError):  # pragma: no cover - embedded interpreters
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, old)
    if got:
        raise KeyboardInterrupt


def _check_manifest(out: str) -> None:
    """Refuse a folder whose ``manifest.json`` is not one of ours: it is the
    user's own file, and replacing it would lose it."""
    path = os.path.join(out, MANIFEST)
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 20)
    except OSError:
        return              # none there (or no folder yet): writing says what is wrong
    try:
        ours = json.loads(head).get("format") == "hueyviz-render"
    except (ValueError, AttributeError, UnicodeDecodeError):
        ours = False
    if not ours:
        raise UsageError(f"{path} is not a hueyviz render manifest: hueyviz writes its own "
                         f"{MANIFEST} there; choose another folder (-o), or move that file")


def _manifest(trace, files: Dict[str, dict], at: Optional[float],
              source: Optional[str]) -> str:
    header = getattr(trace, "header", {}) or {}
    if source is None:
        source = header.get("source") or header.get("huey")
    events = getattr(trace, "events", ())
    digest = trace.digest() if hasattr(trace, "digest") else None
    body = {
        "format": "hueyviz-render", "version": 1, "hueyviz": __version__,
        "trace": {"sha256": digest, "source": redact(source) if isinstance(source, str) else None,
                  "events": len(events),
                  "start": events[0].t if events else None,
                  "end": events[-1].t if events else None},
        "at": at, "files": files,
    }
    return json.dumps(body, indent=2, sort_keys=True) + "\n"


# Traces of this many events have their drawings made by a forked copy of
# the process while it writes trace.json (2 cores: a million tasks, about 12
# s of each).  The copy gets the drawings: they read fewer of the objects
# (never the events), and each object a process reads is a page the kernel
# copies for it.
FORK_EVENTS = 300_000


def _forked(stage: str, out: str, names: List[str],
            makers: Dict[str, Callable[[], Union[str, Iterable[bytes]]]]
            ) -> Optional[Callable[[], Dict[str, dict]]]:
    """Stage ``names`` in a forked child; returns what waits for it and gives
    their manifest entries, or None where forking is not safe (no fork, or
    other threads, which a child would not have)."""
    if not names or not hasattr(os, "fork") or threading.active_count() > 1:
        return None
    r, w = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(r)
        os.close(w)
        return None
    if pid == 0:                          # the child: stage them, report, leave at once
        os.close(r)
        code = 0
        try:
            body = json.dumps({name: _stage(stage, out, name, makers[name]()) for name in names})
        except BaseException as exc:      # all of it goes to the parent
            body, code = json.dumps({"error": str(exc), "kind": type(exc).__name__,
                                     "output": isinstance(exc, OutputError)}), 1
        with os.fdopen(w, "w") as f:
            f.write(body)
        os._exit(code)
    os.close(w)

    def wait() -> Dict[str, dict]:
        with os.fdopen(r) as f:
            body = f.read()
        _, status = os.waitpid(pid, 0)
        info: dict = json.loads(body) if body else {"error": f"exit status {status}", "kind": "?"}
        if "error" not in info:
            return info
        if info.get("output"):             # the disk, not hueyviz: as if written here
            raise HueyvizError(info["error"])
        raise RuntimeError(f"drawing {', '.join(names)} in a forked process failed: "
                           f"{info['kind']}: {info['error']}")
    return wait


def _given(text: str) -> Callable[[], Union[str, Iterable[bytes]]]:
    return lambda: text


def export_all(trace, out_dir: Union[str, os.PathLike], formats=None,
               at: Optional[float] = None, diagnosis=None,
               source: Optional[str] = None,
               window: Optional[Tuple[float, float]] = None,
               advice=None) -> List[str]:
    """Write the drawings of ``trace`` into ``out_dir``; return their paths.

    The files are written as one set, with ``manifest.json`` beside them
    (see the module docstring): an error or Ctrl-C while rendering leaves
    ``out_dir`` as it was.

    Parameters
    ----------
    trace : Trace
    out_dir : str or path
        Created if missing; existing files of the same names are replaced.
    formats : str or iterable of str, optional
        Format names (see the module docstring); default: all.
    at : float, optional
        Time on the trace clock for the static drawings (``lanes.svg`` shows
        a cursor there, ``waitfor.svg`` the state then).  Default: the
        moment of the first finding, else the end.
    diagnosis : Diagnosis, optional
        ``diagnose(trace)``, when already computed.
    source : str, optional
        Where the trace came from, for the manifest (default: its header's).
    window : (float, float), optional
        ``(from, to)`` on the trace clock: ``lanes.svg`` and ``report.html``
        draw only that stretch of the whole run (what was running when it
        opens is there); ``waitfor.svg`` shows the first finding inside it,
        else its end.  ``animated.svg`` stays whole; ``trace.json`` holds
        the events inside the window (Perfetto zooms by itself).
    advice : Advice, optional
        ``advise(trace)``, when already computed: ``report.html`` gets the
        fixes table; the ``fixes`` format computes it when not given.

    Raises
    ------
    UsageError
        ``at`` is not a finite number.
    OutputError
        ``out_dir`` cannot be created or written.
    """
    from ..analysis.detector import diagnose
    from .animated import render_animated
    from .fix import render_fix_lanes
    from .lanes import render_lanes
    from .perfetto import iter_perfetto
    from .report import render_report
    from .waitfor import render_waitfor

    if at is not None and (isinstance(at, bool) or not isinstance(at, (int, float))
                           or not math.isfinite(at)):
        raise UsageError(f"at must be a finite time in seconds, not {at!r}")
    files = parse_formats(formats)
    d = diagnosis if diagnosis is not None else diagnose(trace)
    fix_files: List[Tuple[str, str]] = []
    if FIXES in files:
        from ..analysis.advice import advise
        advice = advice if advice is not None else advise(trace)
        fix_files = render_fix_lanes(advice, trace, window=window)
        i = files.index(FIXES)
        files[i:i + 1] = [name for name, _ in fix_files]
    wat = at
    if window is not None and at is None:
        inside = [f.at for f in d.findings if window[0] <= f.at <= window[1]]
        wat = inside[0] if inside else min(window[1], trace.end if len(trace) else window[1])
    makers: Dict[str, Callable[[], Union[str, Iterable[bytes]]]] = {
        "lanes.svg": lambda: render_lanes(trace, at=at, diagnosis=d, window=window),
        "waitfor.svg": lambda: render_waitfor(trace, at=wat, diagnosis=d),
        "animated.svg": lambda: render_animated(trace, diagnosis=d),
        "report.html": lambda: render_report(trace, diagnosis=d, window=window, advice=advice),
        # Perfetto zooms by itself: a window there just cuts the events
        "trace.json": (lambda: iter_perfetto(trace, diagnosis=d)) if window is None
        else (lambda: iter_perfetto(trace.window(*window))),
    }
    makers.update({name: _given(svg) for name, svg in fix_files})
    out = os.fspath(out_dir)
    _check_manifest(out)
    try:
        os.makedirs(out, exist_ok=True)
        stage = tempfile.mkdtemp(prefix=".hueyviz-render-", dir=out)
    except OSError as exc:
        raise OutputError(out, exc, "write into") from None
    try:
        written: Dict[str, dict] = {}
        # What the drawings build (bars, slices, strings) is in no reference
        # cycle; without the collector pausing, each of its passes over a
        # million-task replay costs more than the drawing.
        with collector_paused():
            # A large trace: the drawings are made by a copy of this process
            # while this one writes trace.json.
            drawings = [n for n in files if n != "trace.json"]
            pending = (_forked(stage, out, drawings, makers)
                       if "trace.json" in files and len(trace) >= FORK_EVENTS else None)
            for name in (["trace.json"] if pending is not None else files):
                written[name] = _stage(stage, out, name, makers[name]())
            if pending is not None:
                written.update(pending())
            written = {name: written[name] for name in files}
        _stage(stage, out, MANIFEST, _manifest(trace, written, at, source))
        paths = [os.path.join(out, name) for name in files]
        try:
            with _ctrl_c_held():
                # No manifest while the set is being replaced: a crash between
                # two renames leaves files no manifest vouches for.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(os.path.join(out, MANIFEST))
                for name, path in zip(files, paths):
                    os.replace(os.path.join(stage, name), path)
                os.replace(os.path.join(stage, MANIFEST), os.path.join(out, MANIFEST))
        except OSError as exc:
            raise OutputError(out, exc, "write into") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return paths
