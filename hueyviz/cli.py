"""The ``hueyviz`` command line: a thin shell over the library."""
from __future__ import annotations

import argparse
import json
import sys
import textwrap
import warnings
from typing import List, Optional

from . import __version__
from .event import TraceFormatError

EXIT_OK, EXIT_FINDING, EXIT_BAD_INPUT = 0, 1, 2


class _Formatter(argparse.RawDescriptionHelpFormatter):
    pass


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
            """))
    g.add_argument("source", metavar="TRACE", help="trace file (JSON Lines)")
    g.add_argument("--json", action="store_true",
                   help="print one JSON object: verdict, at, culprit, knot, workers, message")
    g.add_argument("--lenient", action="store_true",
                   help="skip corrupt lines (with a warning) instead of failing")
    _window_args(g)
    g.set_defaults(func=_cmd_diagnose)
    return p


def _window_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--from", dest="start", type=float, metavar="S",
                   help="only events from S seconds after the trace start")
    p.add_argument("--to", dest="end", type=float, metavar="S",
                   help="only events up to S seconds after the trace start")


def load_source(source: str, args=None):
    """Load a trace named on the command line, honouring --from/--to."""
    from .trace import Trace
    strict = not getattr(args, "lenient", False)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tr = Trace.load(source, strict=strict)
    for w in caught:
        print(f"hueyviz: warning: {w.message}", file=sys.stderr)
    start = getattr(args, "start", None)
    end = getattr(args, "end", None)
    if (start is not None or end is not None) and tr.start is not None:
        t0 = tr.start
        tr = tr.window(None if start is None else t0 + start, None if end is None else t0 + end)
    return tr


def _cmd_diagnose(args) -> int:
    from .analysis import diagnose
    tr = load_source(args.source, args)
    d = diagnose(tr)
    if args.json:
        print(d.to_json(indent=2))
    else:
        print(d.message)
        for note in d.notes:
            print(f"note: {note}")
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
    except TraceFormatError as exc:
        print(f"hueyviz: error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
