"""What ``hueyviz.contrib.django`` costs a Django web process.

The test project (``tests/djangoproj``, djhuey on ``SqliteHuey``, without
django-huey-monitor) with and without the app in ``INSTALLED_APPS``, in
fresh processes, interleaved rounds, medians:

1. startup: ``django.setup()`` wall time, and the modules the app adds;
2. enqueue: per ``task()`` call in a web-like process (3000 enqueues):
   wall time and CPU of the calling thread (what a request pays), and CPU
   of the whole process until hueyviz's writer thread has written them.

Needs Django and django-huey (the ``test`` extra: run ``python3 dev.py test``
once), then::

    .venv/bin/python bench/bench_django.py [--rounds N]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
PROJECT = os.path.join(HERE, "..", "tests", "djangoproj")

PROBE = """\
import json, sys, time
t0 = time.perf_counter()
import django
django.setup()
setup = time.perf_counter() - t0
before = set(sys.modules)
from djtasks.tasks import sub
from huey.contrib.djhuey import HUEY
sub(0)                                   # first enqueue: connections, tables
tracer = getattr(HUEY, "_hueyviz_tracer", None)
if tracer is not None:
    tracer.sink.flush(30)
n = {n}
w0, c0, t0 = time.perf_counter(), time.process_time(), time.thread_time()
for i in range(n):
    sub(i)
wall, thread = time.perf_counter() - w0, time.thread_time() - t0
if tracer is not None:
    assert tracer.sink.flush(30)
cpu = time.process_time() - c0
print(json.dumps({{"setup": setup, "wall": wall / n, "thread": thread / n, "cpu": cpu / n,
                   "modules": len(sys.modules),
                   "hueyviz": sorted(m for m in sys.modules if m.startswith("hueyviz"))}}))
"""


def probe(app: bool, directory: str, n: int) -> dict:
    env = dict(os.environ, HVT_DIR=directory, HVT_MODE="djhuey", HVT_MONITOR="0",
               HVT_HUEYVIZ_APP="1" if app else "0", DJANGO_SETTINGS_MODULE="proj.settings")
    out = subprocess.run([sys.executable, "-c", PROBE.format(n=n)], cwd=PROJECT, env=env,
                         capture_output=True, text=True, timeout=300)
    if out.returncode:
        raise SystemExit(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--tasks", type=int, default=3000)
    args = ap.parse_args()
    runs: dict = {False: [], True: []}
    for r in range(args.rounds):
        for app in ((False, True) if r % 2 == 0 else (True, False)):
            d = tempfile.mkdtemp(prefix="hueyviz-bench-django-")
            try:
                runs[app].append(probe(app, d, args.tasks))
            finally:
                shutil.rmtree(d, ignore_errors=True)

    def med(app, key, scale=1.0):
        return statistics.median(x[key] for x in runs[app]) * scale
    base_s, app_s = med(False, "setup", 1e3), med(True, "setup", 1e3)
    print(f"django.setup(): {base_s:.1f} ms without the app, {app_s:.1f} ms with it "
          f"(+{app_s - base_s:.1f} ms); modules +{med(True, 'modules') - med(False, 'modules'):.0f}")
    print("  hueyviz modules loaded:", ", ".join(runs[True][0]["hueyviz"]))
    for key, what in (("wall", "wall"), ("thread", "CPU, calling thread"),
                      ("cpu", "CPU, process incl. writer")):
        b, a = med(False, key, 1e6), med(True, key, 1e6)
        print(f"enqueue {what}: {b:.1f} us without, {a:.1f} us with (+{a - b:.1f} us, "
              f"{a / b:.3f}x) per task, SqliteHuey, {args.tasks} tasks x {args.rounds} rounds")


if __name__ == "__main__":
    main()
