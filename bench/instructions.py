"""Figure l: the tracer's cost in machine instructions, which do not vary.

Figure a times real consumers; on these shared 2-core machines its
untraced median moves by 10-30% from one run to the next, several times the
effect being measured.  This figure counts instructions instead
(valgrind's callgrind, ``PYTHONHASHSEED=0``), which repeat to within a
fraction of a percent, so a change of the tracer's hot path of a few
percent can be seen and kept or dropped.

One thread runs each task's whole Huey path, as a worker does: enqueue N
no-op tasks on a MemoryHuey, then dequeue and ``execute`` each.  Variants:
untraced; ``hueyviz.trace(huey)``; and the same tracer with its ring
replaced by a function that does nothing (what Huey's signal dispatch and
the hook's bookkeeping cost, without storing an event).  The count per task
is the difference between runs of N and 3N tasks, divided by 2N, so start-up
and imports cancel out.  The consumer's polling, the same traced or not, is
left out: the ratio is over the task's own path, which makes it a little
higher than figure a's.

    .venv/bin/python bench/instructions.py [--quick] [--json]
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
VARIANTS = ("untraced", "hueyviz", "hueyviz, Python hot path",
            "untraced, app receiver", "hueyviz, app receiver")
_COLLECTED = re.compile(r"Collected : (\d+)")


def _child(variant: str, n: int) -> None:
    sys.path.insert(0, ROOT)
    from huey import MemoryHuey

    huey = MemoryHuey("bench", utc=False)

    @huey.task()
    def job():
        pass

    if variant.endswith("app receiver"):
        @huey.signal()
        def app_receiver(signal, task, *args):
            pass

    if variant.startswith("hueyviz"):
        import hueyviz
        from hueyviz.record import hotpath
        hotpath.enabled = variant != "hueyviz, Python hot path"
        assert variant.endswith("Python hot path") or hotpath.compiled is not None
        tracer = hueyviz.trace(huey)
    for _ in range(n):
        job()
    for _ in range(n):
        huey.execute(huey.dequeue())
    if variant.startswith("hueyviz"):
        assert len(tracer.sink) == 3 * n, len(tracer.sink)


def _count(variant: str, n: int) -> int:
    env = dict(os.environ, PYTHONHASHSEED="0")
    proc = subprocess.run(
        ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null",
         sys.executable, os.path.abspath(__file__), "--child", variant, str(n)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    m = _COLLECTED.search(proc.stderr)
    if proc.returncode != 0 or m is None:
        raise RuntimeError(f"{variant}, {n} tasks: valgrind exit {proc.returncode}: "
                           f"{proc.stderr.strip().splitlines()[-1:]}")
    return int(m.group(1))


def main(quick: bool = False) -> dict:
    if shutil.which("valgrind") is None:
        return {"status": "skipped", "reason": "no valgrind (apt-get install valgrind)"}
    n = 300 if quick else 1000
    jobs = [(v, k) for v in VARIANTS for k in (n, 3 * n)]
    with ThreadPoolExecutor(max(1, min(len(jobs), os.cpu_count() or 1))) as pool:
        counts = dict(zip(jobs, pool.map(lambda j: _count(*j), jobs)))
    per_task = {v: (counts[v, 3 * n] - counts[v, n]) / (2 * n) for v in VARIANTS}
    base = per_task["untraced"]
    return {"n_tasks": [n, 3 * n], "per_task": per_task,
            "ratio": {v: per_task[v] / base for v in VARIANTS},
            "added_per_task": per_task["hueyviz"] - base,
            "added_python": per_task["hueyviz, Python hot path"] - base,
            "ratio_app_receiver": (per_task["hueyviz, app receiver"]
                                   / per_task["untraced, app receiver"])}


def describe(r):
    if "per_task" not in r:
        yield f"skipped: {r.get('reason')}"
        return
    for v, k in r["per_task"].items():
        yield f"{v:26} {k:10,.0f} instructions/task  x{r['ratio'][v]:.3f}"
    yield f"beside an app receiver: x{r['ratio_app_receiver']:.3f}"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        _child(sys.argv[2], int(sys.argv[3]))
    else:
        sys.path.insert(0, HERE)
        from figure import figure_main
        figure_main(__doc__, main, describe)
