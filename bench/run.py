"""Run every hueyviz benchmark; write bench/results.json and BENCHMARKS.md.

    python3 dev.py bench            # full run (~25 min on 2 cores, 4 GB of RAM for the million-task render)
    python3 dev.py bench --quick    # smaller batches, fewer rounds (~1 min)

(``dev.py bench`` installs the ``bench`` extra into ``.venv/`` and runs this
file there: ``.venv/bin/python bench/run.py [--quick]`` afterwards.)

Each figure runs in its own subprocess (``bench/<figure>.py --json``), so
one figure's memory and imports never colour another's.  Every figure is a
median of interleaved runs, reported against its baseline measured in the
same run.  Needs the ``bench`` extra (peewee for
huey.contrib.stats).
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import subprocess
import sys
import time

from hueyviz.core.pipe import MIN_BYTES

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIGURES = ("overhead", "memory", "scale", "rendering", "guard", "million", "stream", "widget",
           "decode", "instructions")


def machine() -> dict:
    model = platform.processor() or "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from importlib.metadata import version
    return {"nproc": os.cpu_count(), "cpu": model, "python": platform.python_version(),
            "implementation": platform.python_implementation(),
            "platform": platform.platform(), "huey": version("huey"),
            "hueyviz": version("hueyviz"),
            "loadavg_at_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
            "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")}


def run_live(quick: bool) -> None:
    """Live sinks and follow latency need a redis-server; bench_live.py starts
    its own and leaves bench/live.json for the report."""
    if shutil.which("redis-server") is None:
        print("[bench] live: skipped, no redis-server (apt-get install redis-server)")
        return
    print("[bench] live ...", flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, os.path.join(HERE, "bench_live.py")]
                          + (["--quick"] if quick else []), cwd=ROOT, capture_output=True,
                          text=True)
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
    print(f"[bench] live done in {time.perf_counter() - t0:.0f} s", flush=True)


def run_figure(name: str, quick: bool) -> dict:
    cmd = [sys.executable, os.path.join(HERE, f"{name}.py"), "--json"] + (["--quick"] if quick else [])
    t0 = time.perf_counter()
    print(f"[bench] {name} ...", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    took = time.perf_counter() - t0
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return {"status": "failed", "error": proc.stderr.strip().splitlines()[-1:] or ["?"],
                "seconds": took}
    out = json.loads(proc.stdout)
    out.setdefault("seconds", took)
    print(f"[bench] {name} done in {took:.0f} s", flush=True)
    return out


# Figures other suites measure, from the JSON files they leave behind: the
# browser test (tests/test_browser.py) and bench_live.py.
_EXTERNAL = {"widget_frame": "test-artifacts/scrub-timing.json",
             "widget_100k": "test-artifacts/widget-100k.json",
             "widget_1m": "test-artifacts/widget-1m.json",
             "live_latency": "bench/live.json"}


def external() -> dict:
    found = {}
    for key, rel in _EXTERNAL.items():
        try:
            with open(os.path.join(ROOT, rel)) as f:
                data = json.load(f)
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            found[key] = {"file": rel, "data": data}
    return found


# -- report ------------------------------------------------------------------------
def _x(v) -> str:
    return "n/a" if v is None else f"{v:.2f}x"


def _ok(flag) -> str:
    return "yes" if flag else "**no**"


def rows(res: dict) -> list:
    """(figure, measured, baseline / ratio, target, met) rows for the table."""
    out = []
    ov = res.get("overhead", {})
    if "noop" in ov:
        n = ov["noop"]["configs"]
        u, h, s = n["untraced"], n["hueyviz"], n["huey.contrib.stats"]
        out.append(("a. CPU/task, no-op tasks, 2 worker threads", f"hueyviz {h['cpu_us_median']:.1f} us",
                    f"untraced {u['cpu_us_median']:.1f} us -> **{_x(h['cpu_ratio'])}**; "
                    f"huey.contrib.stats {s['cpu_us_median']:.0f} us = {_x(s['cpu_ratio'])}",
                    "<= 1.10x (aim 1.05x)", _ok(h["cpu_ratio"] <= 1.10)))
        if "noop_1worker" in ov:
            o = ov["noop_1worker"]["configs"]
            u1, h1 = o["untraced"], o["hueyviz"]
            out.append(("a. CPU/task, no-op tasks, 1 worker thread", f"hueyviz {h1['cpu_us_median']:.1f} us",
                        f"untraced {u1['cpu_us_median']:.1f} us -> **{_x(h1['cpu_ratio'])}**",
                        "<= 1.10x (aim 1.05x)", _ok(h1["cpu_ratio"] <= 1.10)))
        m = ov["sleep_1ms"]["configs"]
        u, h, s = m["untraced"], m["hueyviz"], m["huey.contrib.stats"]
        out.append(("a. wall/task, 1 ms tasks", f"hueyviz {h['wall_us_median']:.0f} us",
                    f"untraced {u['wall_us_median']:.0f} us -> **{_x(h['wall_ratio'])}**; "
                    f"huey.contrib.stats {_x(s['wall_ratio'])}", "<= 1.02x",
                    _ok(h["wall_ratio"] <= 1.02)))
        out.append(("a. CPU/task, 1 ms tasks", f"hueyviz {h['cpu_us_median']:.1f} us",
                    f"untraced {u['cpu_us_median']:.1f} us -> {_x(h['cpu_ratio'])}; "
                    f"huey.contrib.stats {_x(s['cpu_ratio'])}",
                    "(sleep costs no CPU: same work as no-op)", "-"))
    elif ov:
        out.append(("a. tracer overhead", "failed", str(ov.get("error")), "", "**no**"))
    me = res.get("memory", {})
    if "bytes_per_event" in me:
        out.append(("b. memory per recorded event", f"{me['bytes_per_event']:.0f} B",
                    f"{me['events']} events, tracemalloc, net of an untraced run",
                    "<= 150 B", _ok(me["bytes_per_event"] <= 150)))
    sc = res.get("scale", {})
    if "sizes" in sc:
        a, b = sc["sizes"]["10000"], sc["sizes"]["100000"]
        r = sc["ratio_100k_over_10k"]
        out.append(("c. load + diagnose, 10k tasks", f"{a['total_s_median']:.2f} s",
                    f"{a['events']} events: load {a['load_s_median']:.2f} s + diagnose "
                    f"{a['diagnose_s_median']:.2f} s", "", "-"))
        out.append(("c. load + diagnose, 100k tasks", f"{b['total_s_median']:.2f} s",
                    f"{b['events']} events: load {b['load_s_median']:.2f} s + diagnose "
                    f"{b['diagnose_s_median']:.2f} s; 10k->100k ratio {r['total_s']:.1f} "
                    f"(load {r['load_s']:.1f}, diagnose {r['diagnose_s']:.1f})",
                    "<= 3 s, ratio ~10",
                    f"<= 3 s: {_ok(b['total_s_median'] <= 3.0)}; ratio <= 12: "
                    f"{_ok(r['total_s'] <= 12)}"))
    rd = res.get("rendering", {})
    if rd.get("status") == "pending":
        out.append(("d. rendering every output", "pending", rd.get("reason", ""), "", "-"))
    elif "sizes" in rd:
        for n, s in rd["sizes"].items():
            files = s["files"]
            svg_max = max((p["bytes"] or 0) for f, p in files.items() if f.endswith(".svg"))
            slowest = max(files.items(), key=lambda kv: kv[1]["seconds_median"] or 0)
            met = "-"
            if n == "100000":
                each = (all((p["seconds_median"] or 1e9) <= 10 for p in files.values())
                        and svg_max <= 5_000_000)
                met = (f"each output: {_ok(each)}; all together "
                       f"<= 10 s: {_ok(s['total_seconds'] <= 10)}")
            out.append((f"d. render all outputs, {int(n)//1000}k tasks",
                        f"{s['total_seconds']:.2f} s",
                        f"slowest {slowest[0]} {slowest[1]['seconds_median'] or 0:.2f} s; "
                        f"largest SVG {svg_max/1e6:.2f} MB",
                        "each <= 10 s, SVG <= 5 MB (100k)", met))
        if rd.get("errors"):
            out.append(("d. renderer errors", str(len(rd["errors"])),
                        "; ".join(sorted(rd["errors"]))[:200], "", "**no**"))
    gd = res.get("guard", {})
    if "guard" in gd:
        g = gd["guard"]
        out.append(("g. guard check per blocking wait, this process",
                    f"{g['memory']['median_us']:.0f} us median",
                    f"p95 {g['memory']['p95_us']:.0f} us over {g['memory']['waits']} waits "
                    "(MemoryHuey, 4 threads)", "bounded", "-"))
        rd_ = g.get("redis", {})
        if "median_us" in rd_:
            out.append(("g. guard check per blocking wait, following Redis",
                        f"{rd_['median_us']:.0f} us median",
                        f"p95 {rd_['p95_us']:.0f} us: reads what other processes wrote "
                        "(one XREAD) before deciding", "bounded", "-"))
    if "import" in gd:
        im = gd["import"]
        rec, full = im["recording"], im["everything"]
        out.append(("h. import, recording path (import hueyviz; install)",
                    f"{rec['ms']:.0f} ms ({rec['hueyviz_ms']:.0f} ms hueyviz's own)",
                    f"{rec['modules']} modules, {rec['hueyviz_modules']} of hueyviz; heavy: "
                    f"{', '.join(rec['heavy']) or 'none'}; everything (analysis, drawings, "
                    f"widget): {full['ms']:.0f} ms, {full['modules']} modules",
                    "no networkx/graphviz/widgets", _ok(not rec["heavy"])))
    out += _million_rows(res.get("million", {})) + _stream_rows(res.get("stream", {}))
    dc = res.get("decode", {})
    if "us_per_event" in dc:
        m = dc["us_per_event"]
        out.append((f"k. reading a trace file, {dc['events']:,} events",
                    f"msgspec {m['msgspec']:.2f} us/event",
                    f"careful path (orjson + checks in Python) {m['careful']:.2f} us -> "
                    f"**x{dc['decode_speedup']:.1f}**; the same events: {dc['same_events']}",
                    "-", _ok(dc["same_events"])))
        out.append(("k. writing a trace line", f"orjson {m['orjson']:.2f} us/event",
                    f"json.dumps {m['json.dumps']:.2f} us -> x{dc['encode_speedup']:.1f}",
                    "-", "-"))
    ins = res.get("instructions", {})
    if "per_task" in ins:
        k = ins["per_task"]
        out.append(("l. tracer, instructions per no-op task (one thread, valgrind)",
                    f"hueyviz {k['hueyviz']:,.0f}",
                    f"untraced {k['untraced']:,.0f} -> **{_x(ins['ratio']['hueyviz'])}** "
                    f"(hot path in C); in Python "
                    f"{_x(ins['ratio']['hueyviz, Python hot path'])}; beside an app's "
                    f"receiver {_x(ins['ratio_app_receiver'])}",
                    "<= 1.10x (as a.)", _ok(ins["ratio"]["hueyviz"] <= 1.10)))
    elif ins:
        out.append(("l. tracer, instructions per task", ins.get("status", "failed"),
                    str(ins.get("reason") or ins.get("error")), "", "-"))
    ext = res.get("external", {})
    wf = ext.get("widget_frame")
    wd = wf["data"] if wf else {}
    if isinstance(wd.get("median"), (int, float)):
        out.append((f"e. widget frame update, {wd.get('tasks', '?')} tasks",
                    f"{wd['median']:.1f} ms median",
                    f"p95 {wd.get('p95', float('nan')):.1f} ms, max {wd.get('max', float('nan')):.1f} "
                    f"ms over {wd.get('n', '?')} scrubs (from {wf['file']}, written by "
                    f"tests/test_browser.py)", "<= 50 ms", _ok(wd["median"] <= 50)))
    else:
        out.append(("e. widget frame update, 10k tasks",
                    "see " + (wf["file"] if wf else "tests/test_browser.py (browser test)"),
                    "" if not wf else json.dumps(wd)[:160], "<= 50 ms", "-"))
    out += _widget_rows(res.get("widget", {}), ext)
    ll = ext.get("live_latency")
    fl = (ll or {}).get("data", {}).get("follow_latency", {}).get("0.2")
    if fl:
        out.append(("e. live latency block -> finding (follow)", f"{fl['median_s']:.2f} s median",
                    f"max {fl['max_s']:.2f} s; real huey_consumer on Redis, default 0.2 s "
                    f"reorder window (from {ll['file']}, bench/bench_live.py)",
                    "<= 1 s", _ok(fl["max_s"] <= 1.0)))
        live = ll["data"]
        for key, label in (("redis_sink", "Redis"), ("sqlite_sink", "SQLite")):
            if key in live:
                out.append((f"f. {label} sink throughput",
                            f"{live[key]['events_per_s']:,.0f} events/s",
                            f"append {live[key]['append_ns']:.0f} ns/event on the worker thread, "
                            f"dropped {live[key]['dropped']}", "-", "-"))
        pc = live.get("process_workers_cpu")
        if pc:
            ratio = pc["traced_us"] / pc["untraced_us"]
            out.append(("f. CPU/task, process workers on Redis", f"traced {pc['traced_us']:.0f} us",
                        f"untraced {pc['untraced_us']:.0f} us -> **{ratio:.2f}x** (steady "
                        f"state, writer threads included; rounds {pc['all_untraced_us']} vs "
                        f"{pc['all_traced_us']} us)", "<= 1.10x", _ok(ratio <= 1.10)))
    else:
        out.append(("e. live latency block -> finding (follow)", "see bench/bench_live.py",
                    "", "<= 1 s", "-"))
    return out


def _widget_rows(wg: dict, ext: dict) -> list:
    out = []
    sizes = {x["tasks"]: x for x in wg.get("results", ())}
    for n, x in sorted(sizes.items()):
        big = n == 100_000
        out.append((f"e. TraceView model, {n // 1000:,}k tasks",
                    f"{x['bytes'] / 1e6:.2f} MB sent",
                    f"built and packed in {x['build_view_data_s']:.2f} s (the analysis before "
                    f"it {x['analyse_s']:.2f} s); {x['unpacked_bytes'] / 1e6:.1f} MB of columns "
                    f"deflated; task ids, args, errors {x['details']}",
                    "<= 5 MB (100k)" if big else "-", _ok(x["bytes"] <= 5e6) if big else "-"))
    for key, label in (("widget_100k", "100k"), ("widget_1m", "1M")):
        w = ext.get(key)
        if not w:
            continue
        o, sc = w["data"].get("open", {}), w["data"].get("scrub_whole_trace", {})
        big = key == "widget_100k"
        out.append((f"e. TraceView in JupyterLab, {label} tasks",
                    f"interactive {o.get('interactive_after_display_s', float('nan')):.1f} s "
                    "after display",
                    f"{o.get('interactive_after_view_call_s', float('nan')):.1f} s after "
                    f"TraceView(...) (Python {o.get('python_view_s', float('nan')):.1f} s, the "
                    f"analysis included); {o.get('bytes_sent', 0) / 1e6:.2f} MB sent; lanes "
                    f"{o.get('lod', '?')}; scrub median {sc.get('median', float('nan')):.0f} ms, "
                    f"p95 {sc.get('p95', float('nan')):.0f} ms, max {sc.get('max', float('nan')):.0f} "
                    f"ms (from {w['file']})",
                    "<= 5 s, <= 50 ms a frame" if big else "opens",
                    _ok(o.get("interactive_after_display_s", 1e9) <= 5
                        and sc.get("max", 1e9) <= 50) if big else _ok(bool(o))))
    return out


def _cmd(r: dict) -> str:
    if "wall" not in r:
        return "failed"
    return f"{r['wall']:.1f} s, peak RSS {r['rss_mb'] / 1000:.2f} GB" + (
        "" if r.get("rc") in (0, 1) else f" (exit {r.get('rc')})")


def _million_rows(mi: dict) -> list:
    if "diagnose" not in mi:
        return [("i. a million tasks", "failed", str(mi.get("error", ""))[:200], "", "**no**")] if mi else []
    n = f"{mi['tasks'] // 1000:,}k" if mi["tasks"] < 1_000_000 else f"{mi['tasks'] / 1e6:g}M"
    d, g, r = mi["diagnose"], mi["diagnose_gz"], mi["render"]
    files = mi.get("render_files", {})
    svg = max((v for f, v in files.items() if f.endswith(".svg")), default=0)
    inline = mi.get("diagnose_inline", {})
    dpy, rpy = mi.get("diagnose_python", {}), mi.get("render_python", {})
    out = [(f"i. `hueyviz diagnose FILE`, {n} tasks", _cmd(d),
            f"{mi['events']:,} events, {mi['file_mb']:.0f} MB of JSON Lines; a fresh process, "
            f"the file read by a second one" + (f" (in one process: {_cmd(inline)})"
                                                 if "wall" in inline else "")
            + (f"; Python replay {dpy['wall']:.1f} s" if "wall" in dpy else ""),
            "<= 10 s, <= 1.5 GB",
            _ok(d.get("wall", 1e9) <= 10 and d.get("rss_mb", 1e9) <= 1500)),
           (f"i. `hueyviz diagnose FILE.jsonl.gz`, {n} tasks", _cmd(g),
            f"{mi['gz_mb']:.0f} MB compressed ({mi['file_mb'] / mi['gz_mb']:.1f}x smaller)", "-", "-"),
           (f"i. `hueyviz render FILE -o DIR`, {n} tasks", _cmd(r),
            f"largest SVG {svg:.2f} MB; trace.json {files.get('trace.json', 0):.0f} MB"
            + (f"; Python replay {rpy['wall']:.1f} s" if "wall" in rpy else ""),
            "<= 25 s, SVG <= 5 MB",
            _ok(r.get("wall", 1e9) <= 25 and svg <= 5))]
    rec = mi.get("recorded", {})
    if "diagnose" in rec:
        out.append((f"i. a real consumer's {rec['tasks'] // 1000}k tasks: diagnose / render",
                    f"{rec['diagnose'].get('wall', float('nan')):.1f} s / "
                    f"{rec['render'].get('wall', float('nan')):.1f} s",
                    f"{rec['events']:,} events recorded by a threaded consumer in "
                    f"{rec['record_s']:.0f} s", "-", "-"))
    return out


def _stream_rows(st: dict) -> list:
    if "samples" not in st:
        return [("j. endless stream", "failed", str(st.get("error", ""))[:200], "", "**no**")] if st else []
    return [(f"j. streaming diagnosis, {st['events'] / 1e6:g}M events",
             f"RSS {st['rss_first_mb']:.0f} MB -> {st['rss_last_mb']:.0f} MB",
             f"x{st['growth']:.2f} while the stream grew "
             f"{st['events'] // st['samples'][1]['events'] if len(st['samples']) > 1 else 1}-fold; "
             f"{st['events'] / st['seconds'] / 1000:.0f}k events/s incl. making them",
             "flat", _ok(st["growth"] <= 1.25))]


def markdown(res: dict) -> str:
    m = res["machine"]
    lines = [
        "# Benchmarks",
        "",
        "Generated by `python3 dev.py bench" + (" --quick" if res["quick"] else "") +
        "` (raw numbers: `bench/results.json`). Every figure is the median of interleaved "
        "runs, and every ratio is against a baseline measured in the same run.",
        "",
        f"Machine: {m['nproc']} CPUs ({m['cpu']}), {m['implementation']} {m['python']}, "
        f"huey {m['huey']}, hueyviz {m['hueyviz']}, {m['platform']}; "
        f"load average at start {', '.join(f'{x:.1f}' for x in (m['loadavg_at_start'] or []))} "
        f"(a shared machine: absolute numbers move, ratios less so); {m['date']}.",
        "",
    ]
    again = [f"`bench/{k}.py` on {v['remeasured']['date']} (load average "
             f"{', '.join(f'{x:.1f}' for x in v['remeasured']['loadavg_at_start'] or [])})"
             for k, v in res.items() if isinstance(v, dict) and "remeasured" in v]
    if again:
        lines += ["Measured on their own since the full run: " + "; ".join(again) + ".", ""]
    lines += [
        "| figure | measured | baseline / detail | target | met |",
        "|---|---|---|---|---|",
    ]
    for r in rows(res):
        lines.append("| " + " | ".join(str(c).replace("|", "/") for c in r) + " |")
    lines += ["", "## How each figure is measured", ""]
    ov = res.get("overhead", {})
    if "noop" in ov:
        n, s = ov["noop"], ov["sleep_1ms"]
        lines += [
            f"**a. Tracer overhead** (`bench/overhead.py`). A fresh `MemoryHuey` per run; the "
            f"recorder under test is attached (none, `hueyviz.trace(huey)`, or "
            f"`huey.contrib.stats.HueyStats` on a temporary SQLite file); {n['n_tasks']} "
            f"no-op tasks ({s['n_tasks']} tasks of `time.sleep(0.001)`) are enqueued, then a "
            f"real consumer with {n['workers']} worker threads drains them. Process CPU time "
            f"(`time.process_time`, all threads) and wall time from the first enqueue until "
            f"the last task finished (for huey.contrib.stats, until its buffered rows are "
            f"written), per task; {n['rounds']} rounds of ABC, ABC, ... with the start "
            f"rotated. hueyviz records {n['hueyviz_events_per_run']} events per no-op run "
            f"(enqueued, executing, complete per task). For 1 ms tasks the sleep costs no "
            f"CPU, so their CPU ratio is the no-op ratio again; the 1.02x target is read on "
            f"wall time (throughput). With two worker threads the per-task CPU of the same "
            f"untraced batch varies several-fold from run to run (the threads hand the GIL "
            f"to each other), which drowns a few microseconds of tracing; the same batch on "
            f"one worker thread varies by a few percent, so that row carries the target.",
            "",
            "| tasks | config | CPU us/task | ratio | wall us/task | ratio |",
            "|---|---|---|---|---|---|",
        ]
        figs = [("no-op", n), ("no-op, 1 worker", ov.get("noop_1worker")), ("1 ms", s)]
        for label, fig in ((a, b) for a, b in figs if b):
            for c, v in fig["configs"].items():
                lines.append(f"| {label} | {c} | {v['cpu_us_median']:.1f} | {v['cpu_ratio']:.3f} "
                             f"| {v['wall_us_median']:.0f} | {v['wall_ratio']:.3f} |")
        lines.append("")
    me = res.get("memory", {})
    if "bytes_per_event" in me:
        lines += [
            f"**b. Memory per event** (`bench/memory.py`). {me['n_tasks']} tasks through a "
            f"`MemoryHuey` in-process, untraced and traced, interleaved; tracemalloc's "
            f"memory still held after the batch (after `gc.collect()`), traced minus "
            f"untraced, divided by the {me['events']} events recorded: "
            f"**{me['bytes_per_event']:.0f} bytes/event** (runs: "
            f"{', '.join(f'{x:.0f}' for x in me['bytes_per_event_all'])}). That is the "
            f"`Event` struct ({me['event_tuple_bytes']} B), its float timestamp, the ring "
            f"slot, and the task-id strings the events keep alive.",
            "",
        ]
    sc = res.get("scale", {})
    if "sizes" in sc:
        lines += [
            f"**c. Load + diagnose** (`bench/scale.py`). Synthetic traces "
            f"(`bench/synth.py`: a pool draining a queue, with nested waits, errors and "
            f"retries) saved as JSON Lines, then `Trace.load` + `diagnose` timed, sizes "
            f"interleaved, {sc['rounds']} rounds.",
            "",
            "| tasks | workers | events | file | load s | diagnose s | total s | verdict |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for k, v in sc["sizes"].items():
            lines.append(f"| {int(k):,} | {v['workers']} | {v['events']:,} | "
                         f"{v['file_bytes']/1e6:.1f} MB | {v['load_s_median']:.2f} | "
                         f"{v['diagnose_s_median']:.2f} | {v['total_s_median']:.2f} | "
                         f"{v['verdict']} |")
        r = sc["ratio_100k_over_10k"]
        small = sc["sizes"]["10000"]["file_bytes"] / 1e6
        big = sc["sizes"]["100000"]["file_bytes"] / 1e6
        lines += ["", f"10k -> 100k: load x{r['load_s']:.1f}, diagnose x{r['diagnose_s']:.1f}, "
                      f"total x{r['total_s']:.1f} (10 = linear). The 100k file ({big:.0f} MB) "
                      f"is past the {MIN_BYTES >> 20} MiB from which `Trace.load` reads in a second "
                      f"process, so its load includes that process's start-up and the pipe; "
                      f"the 10k file ({small:.0f} MB) is read in this one. The analysis runs "
                      f"with the cyclic collector paused at both sizes (`Trace.derived`); "
                      f"what is above linear in it is per-event cost rising with the size of "
                      f"the model (memory locality): in the profile every step is called "
                      f"once per event or per task.", ""]
    rd = res.get("rendering", {})
    if "sizes" in rd:
        lines += [
            f"**d. Rendering** (`bench/rendering.py`). `hueyviz.export.export_all` one "
            f"format at a time on synthetic traces, the diagnosis computed once and passed "
            f"in; {rd['rounds']} round(s), medians.",
            "",
            "| tasks | file | seconds | bytes |",
            "|---|---|---|---|",
        ]
        for n, s in rd["sizes"].items():
            for f, p in s["files"].items():
                sec = "error" if p["seconds_median"] is None else f"{p['seconds_median']:.2f}"
                lines.append(f"| {int(n):,} | {f} | {sec} | {p['bytes'] or 0:,} |")
        for k, v in sorted(rd.get("errors", {}).items()):
            lines.append(f"\nerror in {k}: `{v}`")
        lines.append("")
    elif rd.get("status") == "pending":
        lines += [f"**d. Rendering**: pending ({rd.get('reason')}).", ""]
    mi = res.get("million", {})
    if "diagnose" in mi:
        lines += [
            "**i. A million tasks** (`bench/million.py`). A deterministic synthetic trace "
            f"of {mi['tasks']:,} tasks ({mi['events']:,} events, written 100k tasks at a time "
            "on one pool of 64 workers) saved as JSON Lines and as `.jsonl.gz`; each command "
            "runs in a fresh Python process as a user runs it; wall time (the median of "
            "three interleaved rounds) and the child's own peak RSS (`VmHWM`, the largest). "
            "`diagnose` of one file streams it (bounded sort window, "
            "settled tasks forgotten); `render` loads it whole (drawings need the history). "
            "`diagnose_python` and `render_python` are the same commands with "
            "`HUEYVIZ_PURE_PYTHON=1`, in the same run: what the replay's C part "
            "(`analysis/_replay.c`) buys. "
            "Then the same for a trace recorded from a real threaded consumer (MemoryHuey, "
            "8 worker threads; one task in 20 waits on a child it enqueues at a higher priority).",
            "",
            "| step | wall s | peak RSS MB | rounds s |",
            "|---|---|---|---|",
        ]
        for key in ("diagnose", "diagnose_inline", "diagnose_gz", "diagnose_python", "render",
                    "render_python"):
            if key not in mi:
                continue
            v = mi[key]
            rounds = ", ".join(f"{w:.1f}" for w in v.get("walls", ()))
            lines.append(f"| {key} | {v.get('wall', 'failed')} | {v.get('rss_mb', '-')} | "
                         f"{rounds or '-'} |")
        rec = mi.get("recorded", {})
        for key in ("diagnose", "render"):
            if key in rec:
                lines.append(f"| recorded {rec['tasks']:,}: {key} | {rec[key].get('wall', 'failed')} "
                             f"| {rec[key].get('rss_mb', '-')} | - |")
        lines += ["", "Files written by `render`: " + ", ".join(
            f"{f} {v:.2f} MB" for f, v in mi.get("render_files", {}).items()) + ".", ""]
    st = res.get("stream", {})
    if "samples" in st:
        lines += [
            f"**j. Endless stream** (`bench/stream.py`). {st['events']:,} events of an ever "
            "longer synthetic workload fed one at a time to `diagnose_stream` (the detector "
            "behind `hueyviz diagnose FILE` and `hueyviz follow`); resident memory sampled "
            "as it goes:",
            "",
            "| events | RSS MB | seconds |",
            "|---|---|---|",
        ] + [f"| {x['events']:,} | {x['rss_mb']} | {x['s']} |" for x in st["samples"]] + [""]
    wg = res.get("widget", {})
    if wg.get("results"):
        lines += [
            "**e. TraceView** (`bench/widget.py`). The model the widget sends, for the "
            "synthetic traces of i. (1M: ten 100k chunks on one pool): the analysis, then "
            "`build_view_model` and its packing (`ViewModel.data`: typed columns, times as "
            "ticks, sorted columns as differences, deflated), best of three below a million.",
            "",
            "| tasks | events | analysis s | build s | pack s | bytes sent | columns unpacked |",
            "|---|---|---|---|---|---|---|",
        ] + [f"| {x['tasks']:,} | {x['events']:,} | {x['analyse_s']} | {x['build_s']} | "
             f"{x['pack_s']} | {x['bytes']:,} | {x['unpacked_bytes']:,} |" for x in wg["results"]] + [
            "",
            "In the browser (`tests/test_browser.py`, JupyterLab in headless Chromium): the "
            "time from the cell's output being displayed to the first frame drawn, and the "
            "time of a frame while scrubbing (input event to lanes, graph and text laid out, "
            "`performance.now`); the 100k and 1M rows of the table above.  Live views: "
            "`tests/test_viewdata_binary.py` checks that after the first batch each message "
            "carries only appended and changed rows, and that base plus deltas equal a fresh "
            "build.",
            "",
        ]
    dc = res.get("decode", {})
    if "us_per_event" in dc:
        m = dc["us_per_event"]
        lines += [
            "**k. What each dependency bought** (`bench/decode.py`, CPU per event, medians of "
            f"{dc['rounds']} interleaved rounds on {dc['events']:,} events). msgspec: a trace "
            "file read by its typed decoder (made from the event schema; every field checked "
            f"in C) and one loop building the events costs {m['msgspec']:.2f} us an event "
            f"against {m['careful']:.2f} us for orjson plus the checks in Python "
            f"(x{dc['decode_speedup']:.1f}), and the `Event` struct is 72 bytes against a named "
            "tuple's 96, built and read faster. orjson: writing a trace line "
            f"{m['orjson']:.2f} us against {m['json.dumps']:.2f} us for `json.dumps` "
            f"(x{dc['encode_speedup']:.1f}). A second process (no dependency): the "
            "million-task `diagnose` of i. with and without it. numpy was not added: the "
            "replay is a state machine over Python objects, and what is columnar (the "
            "drawings' strips, the widget's columns) runs as C-level `map`/`bisect` passes "
            "and `array`s; at a million tasks their cost is memory traffic, which numpy "
            "arrays built from the same objects would not remove.",
            "",
        ]
    ins = res.get("instructions", {})
    if "per_task" in ins:
        k = ins["per_task"]
        lines += [
            "**l. The tracer in instructions** (`bench/instructions.py`). Figure a's "
            "untraced median moves by 10-30% between runs on these shared machines, more "
            "than the tracer costs; valgrind's instruction count repeats to a fraction of a "
            "percent. One thread enqueues "
            f"{ins['n_tasks'][0]:,} and {ins['n_tasks'][1]:,} no-op tasks on a MemoryHuey and "
            "executes them (the difference of the two runs, per task, so start-up cancels); "
            f"untraced {k['untraced']:,.0f} instructions a task, traced {k['hueyviz']:,.0f} "
            f"(+{ins['added_per_task']:,.0f}, {_x(ins['ratio']['hueyviz'])}) with the hot "
            "path in C (`hueyviz/record/_hotpath.c`: the receiver in place of Huey's "
            "`_emit`, and the ring's recorder); the same tracer in Python, as an install "
            f"without a compiler runs it, {k['hueyviz, Python hot path']:,.0f} "
            f"(+{ins['added_python']:,.0f}, {_x(ins['ratio']['hueyviz, Python hot path'])}). "
            "In Python, most of the cost was Huey calling a receiver three times a task "
            "(its dispatch, two frames and a chain of lists per signal, as much again as "
            "the recording), at some 1,200 instructions for each Python call CPython 3.11 "
            "makes. The C receiver records, then calls Huey's `_emit` only when the "
            "application has receivers of its own for the signal: with none that dispatch "
            "is skipped, which pays for most of the recording. Beside an application's "
            "receiver (both runs have it, so Huey's dispatch runs in both) the C tracer "
            f"costs {_x(ins['ratio_app_receiver'])}. Wrapping `Huey.execute` and "
            "`put_result` in C as well bought nothing (a call from C back into Python "
            "costs what the Python wrapper's frame does) and was not kept.",
            "",
        ]
    lines += [
        "**Live latency and sink throughput** are measured by `bench/bench_live.py` "
        "(needs redis-server; process workers in the steady state: a warm-up batch, then "
        "the CPU of the consumer's process tree over the timed batch, read off /proc).",
        "",
    ]
    return "\n".join(lines)


def table(res: dict) -> str:
    rs = rows(res)
    w = [max(len(str(r[i])) for r in rs) for i in (0, 1, 4)]
    out = []
    for r in rs:
        out.append(f"{r[0]:<{w[0]}}  {r[1]:<{w[1]}}  {r[4]:<{w[2]}}  {r[2]}".replace("**", ""))
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller batches, fewer rounds")
    ap.add_argument("--only", nargs="*", choices=FIGURES, help="run only these figures")
    args = ap.parse_args(argv)
    res = {}
    if args.only:
        # Re-measure some figures; keep the others from the last full run.
        try:
            with open(os.path.join(HERE, "results.json")) as f:
                res = json.load(f)
        except (OSError, ValueError):
            res = {}
    if not args.only or "machine" not in res:
        res.update({"quick": args.quick, "machine": machine()})
    for name in args.only or FIGURES:
        # The machine line describes the full run; a figure re-measured on
        # its own says when, and under what load.
        when = machine() if args.only else None
        res[name] = run_figure(name, args.quick)
        if when is not None:
            res[name]["remeasured"] = {k: when[k] for k in ("date", "loadavg_at_start")}
    if not args.only:
        run_live(args.quick)
    res["external"] = external()
    with open(os.path.join(HERE, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
    with open(os.path.join(ROOT, "BENCHMARKS.md"), "w") as f:
        f.write(markdown(res))
    print()
    print(table(res))
    print("\nwrote bench/results.json and BENCHMARKS.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
