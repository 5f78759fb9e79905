"""The command line every figure script shares: ``--quick`` and ``--json``."""
import argparse
import json
import sys


def figure_main(doc, measure, describe):
    """Run ``measure(quick)``; print JSON (for bench/run.py) or ``describe(result)``."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches, fewer rounds")
    ap.add_argument("--json", action="store_true", help="print the raw numbers as JSON")
    args = ap.parse_args()
    result = measure(args.quick)
    if args.json:
        json.dump(result, sys.stdout)
    else:
        for line in describe(result):
            print(line)
