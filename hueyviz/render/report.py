"""One standalone HTML file: lanes, wait-for snapshots, the diagnosis in
words and a time scrubber.  No network, no CDN: CSS and JS are inline, the
wait-for snapshots are ``data:`` images (so their ids cannot collide and they
cannot run anything), and the embedded JSON is safe inside ``<script>``.
"""
from __future__ import annotations

import base64
import json
from typing import List, Optional, Tuple

from . import palette as P
from .animated import snapshot_times, waitfor_snapshots
from .axis import absolute_start, duration_label
from .fix import TABLE_CSS, render_fixes_table
from .lanes import draw_lanes, svg_document
from .markup import attr, esc, num, script_json
from .timeline import build_timeline

__all__ = ["render_report"]


CSS = f"""
body{{font-family:{P.FONT};color:{P.TEXT};margin:24px auto;max-width:1000px;padding:0 12px;
line-height:1.45}}
h1{{font-size:22px;margin:0 0 4px}} h2{{font-size:16px;margin:24px 0 8px}}
.muted{{color:#555}} .hv-badge{{display:inline-block;padding:2px 10px;border-radius:10px;
color:#fff;font-weight:bold;text-transform:uppercase;font-size:13px}}
.message{{border-left:4px solid;padding:6px 12px;background:#fafafa;white-space:pre-wrap;
overflow-wrap:anywhere}}
ul.knot li{{margin:2px 0;overflow-wrap:anywhere}}
.scrub{{position:sticky;top:0;background:#fff;padding:8px 0;z-index:2;border-bottom:1px solid #ddd;
display:flex;gap:10px;align-items:center;flex-wrap:wrap}}
.scrub input[type=range]{{flex:1;min-width:240px}}
.scrub output{{font-variant-numeric:tabular-nums;min-width:8em}}
button{{font:inherit;padding:2px 10px}}
.frame{{display:none;max-width:100%;height:auto}} .frame.on{{display:block}}
.lanes svg{{max-width:100%;height:auto}}
.ticks{{font-size:12px}}
"""

JS = """
(function(){
  var data = JSON.parse(document.getElementById('hv-data').textContent);
  var range = document.getElementById('hv-range'), out = document.getElementById('hv-time');
  var svg = document.querySelector('.lanes svg');
  var ns = 'http://www.w3.org/2000/svg';
  var line = document.createElementNS(ns, 'line');
  line.setAttribute('stroke', '#222222'); line.setAttribute('stroke-width', '2');
  line.setAttribute('y1', data.top); line.setAttribute('y2', data.bottom);
  line.setAttribute('id', 'hv-scrub-cursor');
  if (svg) svg.appendChild(line);
  var frames = document.querySelectorAll('.frame');
  var none = document.getElementById('hv-none');
  function fmt(s){ var a=Math.abs(s);
    if (a < 1e-3) return (s*1e6).toFixed(0)+' \\u00b5s';
    if (a < 1) return (s*1e3).toFixed(2)+' ms';
    if (a < 120) return s.toFixed(2)+' s';
    return (s/60).toFixed(1)+' min'; }
  // the slider holds seconds from the trace start (step any): a snapshot's
  // time is set exactly, never rounded onto a grid of slider steps
  function show(rel){
    var t = data.t0 + rel;
    var x = data.x0 + (t - data.w0) * data.scale;
    line.setAttribute('x1', x); line.setAttribute('x2', x);
    out.textContent = '+' + fmt(rel);
    var pick = -1;
    for (var i = 0; i < data.snapshots.length; i++) if (data.snapshots[i] <= t + 1e-9) pick = i;
    for (var j = 0; j < frames.length; j++) frames[j].classList.toggle('on', j === pick);
    if (none) none.style.display = pick < 0 ? 'block' : 'none';
    range.dataset.snapshot = String(pick);
  }
  function jump(dir){
    var t = data.t0 + parseFloat(range.value), best = null;
    data.snapshots.forEach(function(s){
      if (dir > 0 && s > t + 1e-9 && (best === null || s < best)) best = s;
      if (dir < 0 && s < t - 1e-9 && (best === null || s > best)) best = s; });
    if (best === null) return;
    range.value = String(best - data.t0);
    show(best - data.t0);
  }
  range.addEventListener('input', function(){ show(parseFloat(range.value)); });
  document.getElementById('hv-prev').addEventListener('click', function(){ jump(-1); });
  document.getElementById('hv-next').addEventListener('click', function(){ jump(1); });
  show(parseFloat(range.value));
})();
"""


def _knot_words(item: dict) -> str:
    if item.get("kind") == "needs_worker":
        pos = item.get("queue_position")
        where = f", queue position {pos}" if pos is not None else ""
        return (f"{item.get('name') or '?'} [{str(item.get('task'))[:8]}] needs a free "
                f"worker{where}")
    who = f"{item.get('waiter_name') or 'code outside a task'}"
    if item.get("waiter"):
        who += f" [{str(item.get('waiter'))[:8]}]"
    s = (f"{item.get('worker') or '?'}: {who} waits for {item.get('waits_on_name') or '?'} "
         f"[{str(item.get('waits_on'))[:8]}]")
    if item.get("waits_on_state"):
        s += f" ({item['waits_on_state']})"
    if item.get("site"):
        s += f" at {item['site']}"
    return s


def render_report(trace, diagnosis=None, title: Optional[str] = None,
                  window: Optional[Tuple[float, float]] = None, advice=None) -> str:
    """A standalone HTML report of ``trace`` (deterministic text).

    ``window`` (``(from, to)`` on the trace clock) zooms the lanes and the
    time slider into that stretch of the whole run.  ``advice``
    (:func:`hueyviz.advise` of the trace) adds the fixes table; without it
    a report with a finding says how to get one.
    """
    from ..analysis.detector import diagnose
    from ..core.trace import Trace

    if not isinstance(trace, Trace):
        trace = Trace(trace)
    if diagnosis is None:
        diagnosis = diagnose(trace)
    tl = build_timeline(trace, diagnosis)
    d = draw_lanes(tl, width=960, window=window)
    lanes_svg = svg_document(d, [*d.chrome, *d.plot, *d.marks, *d.legend])
    verdict = getattr(diagnosis, "verdict", "ok")
    colour = P.VERDICT_COLOURS.get(verdict, P.TEXT)
    times = snapshot_times(trace, diagnosis)
    lo, hi = (tl.t0, tl.t1) if window is None else (max(window[0], tl.t0), min(window[1], tl.t1))
    if window is not None:
        inside = [t for t in times if lo <= t <= hi]
        times = sorted(set(inside) | ({hi} if len(trace) else set()))
    frames, error = waitfor_snapshots(trace, diagnosis, times)
    title = title or f"hueyviz report · {verdict}"
    html: List[str] = [
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">",
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{esc(title)}</title><style>{CSS}{TABLE_CSS if advice is not None else ''}"
        "</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="muted">{esc(trace.summary())}'
        + (f" · starts {esc(absolute_start(tl.t0, tl.unix))}" if len(trace) else "") + "</p>",
        f'<p><span class="hv-badge" style="background:{colour}">{esc(verdict)}</span></p>',
        f'<div class="message" style="border-color:{colour}">{esc(getattr(diagnosis, "message", ""))}</div>',
    ]
    for f in getattr(diagnosis, "findings", ())[:20]:
        html.append(f"<h2>{esc(f.verdict.capitalize())} at +{esc(duration_label(f.at - tl.t0))}</h2>")
        html.append('<ul class="knot">' + "".join(f"<li>{esc(_knot_words(k))}</li>" for k in f.knot)
                    + "</ul>")
        if f.culprit is not None:
            c = f.culprit
            html.append(f"<p>The wait that closed it: <b>{esc(c.waiter_name or '?')} "
                        f"[{esc(str(c.waiter)[:8])}]</b> on {esc(c.worker or '?')} waiting for "
                        f"<b>{esc(c.waits_on_name or '?')} [{esc(str(c.waits_on)[:8])}]</b>"
                        + (f" at <code>{esc(c.site)}</code>" if c.site else "") + ".</p>")
        for note in f.notes:
            html.append(f'<p class="muted">{esc(note)}</p>')
    for note in getattr(diagnosis, "notes", ()):
        html.append(f'<p class="muted">{esc(note)}</p>')
    if advice is not None:
        html.append('<h2 id="fixes">Fixes, replayed</h2>')
        html.append(render_fixes_table(advice))
    elif verdict != "ok":
        html.append('<p class="muted" id="fixes">Which fix helps: <code>hueyviz advise</code>, '
                    "or this report with its fixes table: <code>hueyviz render --format "
                    "all,fixes</code>.</p>")
    html.append('<div class="scrub"><label for="hv-range">Time</label>'
                '<button type="button" id="hv-prev" title="previous snapshot">&#9664;</button>'
                f'<input type="range" id="hv-range" min="{num(lo - tl.t0, 9)}" '
                f'max="{num(hi - tl.t0, 9)}" step="any" value="{num(hi - tl.t0, 9)}">'
                '<button type="button" id="hv-next" title="next snapshot">&#9654;</button>'
                '<output id="hv-time" for="hv-range"></output></div>')
    html.append('<div class="lanes">' + lanes_svg + "</div>")
    html.append("<h2>Wait-for graph at the cursor</h2>")
    if times:
        ticks = ", ".join(f"+{duration_label(t - tl.t0)}" for t in times)
        html.append(f'<p class="muted ticks">Snapshots at {esc(ticks)}; the graph shown is the '
                    "latest one at or before the cursor.</p>")
    html.append('<p id="hv-none" class="muted" style="display:none">No snapshot yet at this time: '
                "no task was waiting.</p>")
    if not frames:
        html.append(f'<p class="muted">{esc(error or "Nothing to draw: the trace is empty.")}</p>')
    for i, (t, svg, w, h) in enumerate(frames):
        data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
        on = " on" if i == len(frames) - 1 else ""
        alt = f"wait-for graph at +{duration_label(t - tl.t0)}"
        html.append(f'<img class="frame{on}" alt={attr(alt)} width="{num(w)}" height="{num(h)}" '
                    f'src="data:image/svg+xml;base64,{data}">')
    payload = {"t0": tl.t0, "t1": tl.t1, "w0": d.t0, "x0": d.x0, "scale": d.scale,
               "top": d.plot_top - 4, "bottom": d.plot_bottom,
               "snapshots": [t for t, *_ in frames]}
    html.append('<script type="application/json" id="hv-data">'
                + script_json(json.dumps(payload, sort_keys=True)) + "</script>")
    html.append(f"<script>{JS}</script>")
    html.append("</body></html>\n")
    return "\n".join(html)
