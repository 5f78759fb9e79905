"""Figure i: a million tasks — diagnose and render a 1M-task trace.

The trace is synthesised deterministically (``bench/synth.py``, in chunks of
100k tasks on one pool of 64 workers, so memory stays bounded while it is
written) and saved as JSON Lines and as ``.jsonl.gz``.  Each command runs in
a fresh process, as a user runs it; its wall time and peak RSS are measured
(the child's ``VmHWM``: ``ru_maxrss`` would also count the pages the
child inherited from this process before its ``exec``).  Also: the same for a 100k-task trace
recorded from a real threaded consumer.

    .venv/bin/python bench/million.py [--quick] [--json]
"""
from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from typing import Dict, List, Optional

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from synth import synthetic_trace

from hueyviz.core.event import to_json_dict
from hueyviz.core.jsonl import open_trace
from hueyviz.core.trace import make_header

CHUNK = 100_000
_RUN = ("import json, sys, time\n"
        "from hueyviz.cli import main\n"
        "t = time.perf_counter()\n"
        "rc = main(sys.argv[1:])\n"
        "wall = time.perf_counter() - t\n"
        "rss = next(int(x.split()[1]) * 1024 for x in open('/proc/self/status') "
        "if x.startswith('VmHWM:'))\n"
        "sys.stderr.write('\\nBENCH ' + json.dumps({'rc': rc, 'wall': wall, 'rss': rss}) + '\\n')\n")


def write_synthetic(path: str, n_tasks: int, workers: int = 64, seed: int = 1) -> int:
    """A deterministic trace of ``n_tasks`` tasks, written chunk by chunk."""
    events = 0
    t0 = 1_795_000_000.0
    with open_trace(path, "wt") as f:
        f.write(json.dumps(make_header(clock="unix", source="synthetic", seed=seed)) + "\n")
        for k in range(max(1, n_tasks // CHUNK)):
            tr = synthetic_trace(min(CHUNK, n_tasks), workers, seed=seed + k, t0=t0)
            for e in tr:
                if k and e.kind in ("consumer", "worker_up"):
                    continue            # one pool for the whole run
                f.write(json.dumps(to_json_dict(e)) + "\n")
                events += 1
            t0 = tr.end + 0.01
    return events


def warm(path: str) -> None:
    """Read ``path`` once, so the command reads it from the page cache (as
    a file just written is read; the render before it may have pushed it
    out, and reading 577 MB from this disk costs more than parsing it)."""
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def run(*argv: str, env: Optional[dict] = None) -> dict:
    if len(argv) > 1 and os.path.isfile(argv[1]):
        warm(argv[1])
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _RUN, *argv], cwd=ROOT, capture_output=True,
                          env=None if env is None else dict(os.environ, **env),
                          text=True)
    line = [x for x in proc.stderr.splitlines() if x.startswith("BENCH ")]
    if not line:
        return {"error": proc.stderr[-500:], "wall_outer": time.perf_counter() - t}
    res = json.loads(line[-1][6:])
    res["rss_mb"] = round(res.pop("rss") / 1e6, 1)
    res["wall"] = round(res["wall"], 2)
    return res


def interleaved(runs: Dict[str, tuple], rounds: int) -> Dict[str, dict]:
    """Each command of ``runs`` (name -> (argv, env)) ``rounds`` times, one
    of each per round: the median wall time (``walls`` lists them all) and
    the largest peak RSS."""
    got: Dict[str, List[dict]] = {k: [] for k in runs}
    for _ in range(rounds):
        for name, (argv, env) in runs.items():
            got[name].append(run(*argv, env=env))
    out = {}
    for name, rs in got.items():
        ok = [r for r in rs if "wall" in r]
        if len(ok) < len(rs):
            out[name] = next(r for r in rs if "wall" not in r)
            continue
        out[name] = dict(ok[0], wall=round(statistics.median(r["wall"] for r in ok), 2),
                         rss_mb=max(r["rss_mb"] for r in ok), walls=[r["wall"] for r in ok])
    return out


def recorded(n_tasks: int, path: str) -> int:
    """``n_tasks`` real tasks through a threaded consumer (1 in 20 waits on
    a subtask enqueued at a higher priority), traced and saved."""
    import threading

    from huey import MemoryHuey

    import hueyviz
    huey = MemoryHuey("bench-recorded", utc=False)

    @huey.task()
    def child(i):
        return i

    @huey.task()
    def job(i):
        if i % 20 == 0:
            # The child jumps the queue (priority): the parent's wait is short.
            return child(i, priority=10).get(blocking=True, timeout=60)
        return i
    tracer = hueyviz.trace(huey, max_events=4 * n_tasks)
    consumer = huey.create_consumer(workers=8, worker_type="thread", periodic=False,
                                    initial_delay=0.001, max_delay=0.01,
                                    check_worker_health=False)
    consumer.start()
    done = threading.Event()
    try:
        results = [job(i) for i in range(n_tasks)]
        results[-1].get(blocking=True, timeout=600)
        tracer.wait_for(lambda tr: sum(e.kind == "complete" and e.name == "job"
                                       for e in tr) >= n_tasks, timeout=600)
    finally:
        consumer.stop(graceful=True)
        done.set()
        tracer.detach()
    tr = tracer.trace
    tr.save(path)
    return len(tr)


def main(quick: bool = False) -> dict:
    n = 200_000 if quick else 1_000_000
    tmp = tempfile.mkdtemp(prefix="hueyviz-bench-million-")
    out: dict = {"tasks": n}
    try:
        plain = os.path.join(tmp, "trace.jsonl")
        packed = plain + ".gz"
        t = time.perf_counter()
        out["events"] = write_synthetic(plain, n)
        out["synth_s"] = round(time.perf_counter() - t, 1)
        write_synthetic(packed, n)
        out["file_mb"] = round(os.path.getsize(plain) / 1e6, 1)
        out["gz_mb"] = round(os.path.getsize(packed) / 1e6, 1)
        render_dir = os.path.join(tmp, "out")
        # Interleaved rounds (this machine is shared): the same command in
        # one process (what reading in a second one buys), on a gzipped
        # file, and on the Python versions of the C parts (what
        # analysis/_replay.c buys).
        python = {"HUEYVIZ_PURE_PYTHON": "1"}
        out.update(interleaved({
            "diagnose": (("diagnose", plain), None),
            "diagnose_inline": (("diagnose", plain), {"HUEYVIZ_READER": "inline"}),
            "diagnose_gz": (("diagnose", packed), None),
            "diagnose_python": (("diagnose", plain), python),
            "render": (("render", plain, "-o", render_dir), None),
            "render_python": (("render", plain, "-o", os.path.join(tmp, "out-python")), python),
        }, 1 if quick else 3))
        out["render_files"] = {f: round(os.path.getsize(os.path.join(render_dir, f)) / 1e6, 2)
                               for f in sorted(os.listdir(render_dir))}
        rec = os.path.join(tmp, "recorded.jsonl")
        n_rec = 20_000 if quick else 100_000
        t = time.perf_counter()
        out["recorded"] = {"tasks": n_rec, "events": recorded(n_rec, rec),
                           "record_s": round(time.perf_counter() - t, 1)}
        out["recorded"]["diagnose"] = run("diagnose", rec)
        out["recorded"]["render"] = run("render", rec, "-o", os.path.join(tmp, "rec-out"))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


if __name__ == "__main__":
    res = main("--quick" in sys.argv)
    print(json.dumps(res, indent=1) if "--json" in sys.argv else res)
