"""Figure k: what the dependencies bought, on the reading path.

On the 100k-task synthetic trace of ``million.py`` (313k events, JSON Lines):

- *careful*: every line through ``orjson.loads`` and ``from_json_dict``
  (the reader before msgspec, and still the one for a block the fast path
  declines);
- *msgspec*: the same file through ``decode_block`` (a typed msgspec
  decoder made from the event schema, then one loop building the events);
- encoding each event for a trace file: ``json.dumps`` against orjson
  (``codec.dumps_line``).

Interleaved rounds, medians of CPU time per event (``time.process_time``).

    .venv/bin/python bench/decode.py [--quick] [--json]
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from million import write_synthetic

import hueyviz.core.jsonl as jsonl
from hueyviz.core.codec import dumps_line
from hueyviz.core.collector import collector_paused
from hueyviz.core.event import to_json_dict


def _read(path: str, careful: bool) -> tuple:
    fast = jsonl.decode_block
    if careful:
        jsonl.decode_block = lambda *a, **k: None      # every block the careful way
    try:
        with open(path, "rb") as f, collector_paused():
            t = time.process_time()
            events = [e for block in jsonl.Lines(f, path).blocks() for e in block]
            return time.process_time() - t, events
    finally:
        jsonl.decode_block = fast


def main(quick: bool = False) -> dict:
    n_tasks = 20_000 if quick else 100_000
    rounds = 3 if quick else 5
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-decode-")
    try:
        path = os.path.join(tmp, "trace.jsonl")
        n = write_synthetic(path, n_tasks)
        times: dict = {"careful": [], "msgspec": [], "json.dumps": [], "orjson": []}
        same = True
        for _ in range(rounds):
            a, ea = _read(path, True)
            b, eb = _read(path, False)
            same = same and ea == eb
            times["careful"].append(a / n)
            times["msgspec"].append(b / n)
            dicts = [to_json_dict(e) for e in eb[:100_000]]
            t = time.process_time()
            for d in dicts:
                json.dumps(d, separators=(",", ":"))
            times["json.dumps"].append((time.process_time() - t) / len(dicts))
            t = time.process_time()
            for d in dicts:
                dumps_line(d)
            times["orjson"].append((time.process_time() - t) / len(dicts))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = {k: 1e6 * statistics.median(v) for k, v in times.items()}
    return {"tasks": n_tasks, "events": n, "rounds": rounds, "same_events": same,
            "us_per_event": med,
            "decode_speedup": med["careful"] / med["msgspec"],
            "encode_speedup": med["json.dumps"] / med["orjson"]}


def describe(r):
    m = r["us_per_event"]
    yield (f"reading {r['events']:,} events: careful {m['careful']:.2f} us/event, msgspec "
           f"{m['msgspec']:.2f} us/event (x{r['decode_speedup']:.1f}; same events: "
           f"{r['same_events']}); writing: json.dumps {m['json.dumps']:.2f} us, orjson "
           f"{m['orjson']:.2f} us (x{r['encode_speedup']:.1f})")


if __name__ == "__main__":
    from figure import figure_main
    figure_main(__doc__, main, describe)
