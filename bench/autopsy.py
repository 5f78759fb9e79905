"""How long ``hueyviz autopsy`` takes on a big stuck consumer.

A real ``huey_consumer`` (SqliteHuey) with N workers, every one of them
running a task that waits for a subtask queued behind the others: the
classic deadlock at full width.  The autopsy (py-spy on every process, the
storage read, the diagnosis) is timed five times; the median is reported,
and the verdict checked (deadlock, N of N blocked).

    .venv/bin/python bench/autopsy.py            # 64 thread workers, 16 process workers
"""
from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "..")]

from hueyviz.analysis.autopsy import diagnose_snapshot
from hueyviz.read.autopsy import take

APP = """\
import os, time
from huey import SqliteHuey
HERE = os.path.dirname(os.path.abspath(__file__))
huey = SqliteHuey("bench", filename=os.path.join(HERE, "q.db"))

@huey.task()
def sub(i):
    return i

@huey.task()
def main(n, k):
    path = os.path.join(HERE, "gate")
    with open(path, "a") as f:
        f.write("x\\n")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with open(path) as f:
            if len(f.read().split()) >= k:
                break
        time.sleep(0.05)
    return sum(r.get(blocking=True) for r in [sub(i) for i in range(n)])
"""


def one(workers: int, kind: str) -> dict:
    with tempfile.TemporaryDirectory() as d:
        with open(os.path.join(d, "app.py"), "w") as f:
            f.write(APP)
        proc = subprocess.Popen([sys.executable, "-m", "huey.bin.huey_consumer", "app.huey",
                                 "-w", str(workers), "-k", kind, "-d", "0.05", "-m", "0.5"],
                                cwd=d, env=dict(os.environ, PYTHONPATH=d),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            sys.path.insert(0, d)
            import app
            for _ in range(workers):
                app.main(2, workers)
            deadline = time.monotonic() + 120
            snap = None
            while time.monotonic() < deadline:
                try:
                    snap = take(app.huey, [proc.pid], discovered=True)
                except Exception:
                    snap = None
                if snap is not None and sum(1 for w in snap.workers if w.waits_on) == workers:
                    break
                time.sleep(0.5)
            times, verdict = [], None
            for _ in range(5):
                t0 = time.perf_counter()
                snap = take(app.huey, [proc.pid], discovered=True)
                d_ = diagnose_snapshot(snap)
                times.append(time.perf_counter() - t0)
                verdict = (d_.verdict, d_.workers)
            return {"workers": workers, "kind": kind, "median_s": statistics.median(times),
                    "max_s": max(times), "verdict": verdict}
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(10)
            sys.path.remove(d)
            sys.modules.pop("app", None)


def main() -> int:
    for workers, kind in ((64, "thread"), (16, "process")):
        r = one(workers, kind)
        print(f"{r['workers']:>3} {r['kind']:<8} median {r['median_s']:.2f} s, "
              f"max {r['max_s']:.2f} s, verdict {r['verdict']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
