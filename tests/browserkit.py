"""Helpers for the real-browser tests: Chromium discovery and a synthetic
10,000-task trace for timing the widget's frame update."""
from __future__ import annotations

import os
import shutil
import subprocess

from hueyviz.core.event import Event, Worker

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic", "--disable-dev-shm-usage"]


def find_chromium():
    """Path of Debian's chromium, installing it with apt when missing and
    running as root.  None when it cannot be had."""
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        try:
            subprocess.run(["apt-get", "update"], env=env, timeout=300, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            subprocess.run(["apt-get", "install", "-y", "chromium"], env=env, timeout=600,
                           check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        except (OSError, subprocess.TimeoutExpired):
            return None
    return shutil.which("chromium")


def big_trace_events(n_tasks: int = 10_000, workers: int = 8, mains: int = 100):
    """``mains`` main tasks, each spawning subtasks and blocking on them, on
    ``workers`` threads: half the pool runs mains, half runs subtasks, so it
    ends ``ok`` with ~``n_tasks`` tasks, ~``n_tasks`` waits and 5 events per
    subtask.  Deterministic (no clock, no randomness)."""
    ws = [Worker("bench", 1, f"Worker-{i + 1}") for i in range(workers)]
    half = max(1, workers // 2)
    subs_per = max(1, (n_tasks - mains) // mains)
    ev = [Event(0.0, "consumer", None, None, None, {"workers": workers})]
    ev += [Event(0.0, "worker_up", None, None, w, None) for w in ws]
    t = 0.001
    free_at = [0.0] * workers
    for m in range(mains):
        wm = ws[m % half]
        mid = f"m{m:05d}"
        start = max(t, free_at[m % half])
        ev.append(Event(start, "enqueued", mid, "main_task", None, {"args": f"({m},)"}))
        ev.append(Event(start + 1e-4, "executing", mid, "main_task", wm, None))
        now = start + 2e-4
        for s in range(subs_per):
            sid = f"s{m:05d}-{s:04d}"
            ws_i = half + (m * subs_per + s) % (workers - half)
            ev.append(Event(now, "enqueued", sid, "subtask", wm, {"parent": mid, "args": f"({m}, {s})"}))
            ev.append(Event(now + 1e-5, "block", mid, "main_task", wm,
                            {"waits_on": sid, "site": "app.py:12 in main_task"}))
            st = max(now + 2e-5, free_at[ws_i])
            ev.append(Event(st, "executing", sid, "subtask", ws[ws_i], None))
            ev.append(Event(st + 1e-3, "complete", sid, "subtask", ws[ws_i], None))
            free_at[ws_i] = st + 1e-3
            ev.append(Event(st + 1.01e-3, "unblock", mid, "main_task", wm,
                            {"waits_on": sid, "outcome": "result"}))
            now = st + 1.02e-3
        ev.append(Event(now, "complete", mid, "main_task", wm, None))
        free_at[m % half] = now
        t = start + 1e-3
    ev.sort(key=lambda e: e.t)
    return ev


FAKE_MODEL_JS = """
async ([src, css, state]) => {
  const style = document.createElement('style'); style.textContent = css; document.head.appendChild(style);
  const url = URL.createObjectURL(new Blob([src], {type: 'text/javascript'}));
  const mod = await import(url);
  const listeners = {};
  const model = {
    get: (k) => state[k], set: (k, v) => { state[k] = v; }, save_changes: () => {},
    on: (ev, cb) => { (listeners[ev] = listeners[ev] || []).push(cb); },
    off: (ev, cb) => { listeners[ev] = (listeners[ev] || []).filter((f) => f !== cb); },
  };
  const host = document.createElement('div'); host.id = 'host'; document.body.appendChild(host);
  window.__fakeModel = model;
  window.__fakeListeners = listeners;
  const r0 = performance.now(); mod.default.render({model, el: host}); window.__renderMs = performance.now() - r0;
  return true;
}
"""

# Scrub the time slider across the trace; each sample: dispatch 'input' (the
# view updates lanes, wait-for graph and text synchronously), then force
# style+layout so the measured time includes the browser's own work.
SCRUB_TIMING_JS = """
(n) => {
  const root = document.querySelector('.hv-root');
  const scrub = root.querySelector('.hv-scrub');
  const T = parseFloat(scrub.max);
  const times = [];
  for (let k = 0; k < n; k++) {
    const v = T * ((k * 7919) % n) / n;
    const t0 = performance.now();
    scrub.value = String(v);
    scrub.dispatchEvent(new Event('input', {bubbles: true}));
    root.getBoundingClientRect();
    root.querySelector('.hv-waitfor svg').getBBox();
    document.body.offsetHeight;
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  const r = (x) => Math.round(x * 10) / 10;
  return {n, median: r(times[Math.floor(n / 2)]), p95: r(times[Math.floor(n * 0.95)]), max: r(times[n - 1])};
}
"""


def flat_trace_events(n_tasks: int = 1_000_000, workers: int = 64, parent_every: int = 50):
    """A cheap, deterministic trace of ``n_tasks`` tasks in rounds of
    ``workers``: each round (1 ms) every worker runs one task (enqueued,
    executing, complete); every ``parent_every``-th task also blocks on
    the task of the next worker in its round until that one completes.
    About 3 events a task, generated in time order (no sort)."""
    ws = [Worker("flat", 1, f"Worker-{i + 1}") for i in range(workers)]
    ev = [Event(0.0, "consumer", None, None, None, {"workers": workers})]
    ev += [Event(0.0, "worker_up", None, None, w, None) for w in ws]
    rounds = -(-n_tasks // workers)
    for r in range(rounds):
        base = (r + 1) * 1e-3
        n = min(workers, n_tasks - r * workers)
        ids = [f"t{r * workers + k:07d}" for k in range(n)]
        parent = [(r * workers + k) % parent_every == 0 and n > 1 for k in range(n)]
        off = [k * 2e-7 for k in range(n)]    # within a phase; phases 30 us apart
        ev += [Event(base + off[k], "enqueued", ids[k], "job", None, None) for k in range(n)]
        ev += [Event(base + 1e-4 + off[k], "executing", ids[k], "job", ws[k], None) for k in range(n)]
        ev += [Event(base + 2e-4 + off[k], "block", ids[k], "job", ws[k],
                     {"waits_on": ids[(k + 1) % n], "site": "flat.py:7 in job"})
               for k in range(n) if parent[k]]
        ev += [Event(base + 9e-4 + off[k], "complete", ids[k], "job", ws[k], None)
               for k in range(n) if not parent[k]]
        ev += [Event(base + 9.3e-4 + off[k], "unblock", ids[k], "job", ws[k],
                     {"waits_on": ids[(k + 1) % n], "outcome": "result"}) for k in range(n) if parent[k]]
        ev += [Event(base + 9.6e-4 + off[k], "complete", ids[k], "job", ws[k], None)
               for k in range(n) if parent[k]]
    return ev
