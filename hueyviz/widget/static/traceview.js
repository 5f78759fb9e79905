// hueyviz TraceView front end (anywidget ESM).
//
// Python sends the trace once as column arrays (model "data", built by
// hueyviz/render/viewdata.py); every frame is computed here, but only by
// looking states up: each task's state changes, each pool's live size and
// busy/blocked counts, the findings with the moment they end.  Nothing here
// interprets events.
//
// The lanes are drawn for the current time window at the box's own width
// (text stays at its CSS size whatever the width) as a few <path>s per
// colour, revealed up to the current instant with a clip rectangle: a frame
// only moves the clip, the cursor and one "running" overlay per lane.  They
// are redrawn only when the window, the width, the colouring or the
// selection changes.  The wait-for graph is redrawn per frame from the
// waits active at that instant, on node positions laid out once in Python.

const SVGNS = "http://www.w3.org/2000/svg";
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const PLAY_SECONDS = 8;        // the whole window plays in 8 s at 1x
const MIN_TEXT_PX = 10;        // no text of the widget renders smaller
const GRAPH_MIN_SCALE = 10 / 10.5; // the graph's smallest text is 10.5 px
const MAX_LABELS = 400;        // bar labels drawn at once
let instances = 0;
const icon = (d) => `<svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true"><path d="${d}" fill="currentColor"/></svg>`;
const ICONS = {
  play: icon("M3 1.5L12 7L3 12.5Z"),
  pause: icon("M3 2h3v10H3zM8 2h3v10H8z"),
  prev: icon("M2 2h2v10H2zM12 2v10L5 7z"),
  next: icon("M10 2h2v10h-2zM2 2v10l7-5z"),
};

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
}
function trunc(s, n) {
  s = String(s);
  if (n < 2) return "";
  return s.length > n ? s.slice(0, n - 1) + "\u2026" : s;
}
function fmtT(s, scale) {
  if (s === null || s === undefined) return "\u2014";
  const a = Math.abs(scale === undefined ? s : scale);
  if (a < 1e-3) return (s * 1e6).toFixed(0) + " \u00b5s";
  if (a < 1) return (s * 1e3).toFixed(a < 0.01 ? 2 : 1) + " ms";
  if (a < 120) return s.toFixed(a < 10 ? 3 : 2) + " s";
  return (s / 60).toFixed(1) + " min";
}
function el(tag, attrs, parent) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs || {}) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function h(tag, cls, parent, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
// index of the last element <= x in a sorted array (-1 if none)
function bisectRight(arr, x) {
  let lo = 0, hi = arr.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid] <= x) lo = mid + 1; else hi = mid;
  }
  return lo - 1;
}
// the value of a step series {t: [...], key: [...]} at time x
function stepAt(series, key, x, dflt) {
  if (!series || !series.t) return dflt;
  const k = bisectRight(series.t, x + 1e-12);
  return k >= 0 ? series[key][k] : dflt;
}
function niceStep(range, target) {
  const raw = range / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}
// black or white text on a fill, whichever reads better
function inkOn(hex) {
  const m = /^#([0-9a-f]{6})$/i.exec(hex || "");
  if (!m) return "#000000";
  const v = parseInt(m[1], 16);
  const lin = (c) => { c /= 255; return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); };
  const L = 0.2126 * lin(v >> 16) + 0.7152 * lin((v >> 8) & 255) + 0.0722 * lin(v & 255);
  return L > 0.2 ? "#000000" : "#ffffff";
}
// JupyterLab's shortcuts (Lumino) look at the focused element and its
// ancestors for this attribute: every focusable control needs it, not only
// the root, or arrow keys collapse headings and Space scrolls the notebook.
function quiet(e) { e.setAttribute("data-lm-suppress-shortcuts", "true"); return e; }

// ---------------------------------------------------------------- model prep
function prepare(d) {
  const S = d.strings;
  const sp = d.spans;
  const nW = d.workers.length;
  const T = Math.max(d.t1 || 0, 1e-9);
  // per (worker, depth): span indices sorted by start, for binary search
  const tracks = [];
  const trackOf = new Map();
  let maxDepth = 0;
  for (let i = 0; i < sp.task.length; i++) {
    const key = sp.worker[i] * 64 + Math.min(sp.depth[i], 63);
    let tr = trackOf.get(key);
    if (!tr) {
      tr = { worker: sp.worker[i], depth: Math.min(sp.depth[i], 63), idx: [], starts: [] };
      trackOf.set(key, tr);
      tracks.push(tr);
    }
    tr.idx.push(i);
    maxDepth = Math.max(maxDepth, sp.depth[i]);
  }
  for (const tr of tracks) {
    tr.idx.sort((a, b) => sp.start[a] - sp.start[b]);
    tr.starts = tr.idx.map((i) => sp.start[i]);
  }
  tracks.sort((a, b) => a.worker - b.worker || a.depth - b.depth);
  const w = d.waits;
  const findWait = (c) => {
    if (!c) return -1;
    for (let i = 0; i < w.since.length; i++) {
      if (w.waiter[i] === c.waiter && w.target[i] === c.target && Math.abs(w.since[i] - c.since) < 1e-6) return i;
    }
    return -1;
  };
  const findings = (d.findings && d.findings.length ? d.findings : (d.diagnosis.verdict !== "ok" ? [d.diagnosis] : []))
    .map((f) => ({ ...f, wait: findWait(f.culprit), knotSet: new Set(f.knot || []) }));
  const stuck = findings.some((f) => f.stuck);
  // a stuck run stays stuck after the trace ends: the view extends past the
  // end to draw what still waits there (as lanes.svg does)
  const act = (d.windows && d.windows.activity) || [0, T];
  const Tx = stuck ? T + Math.max((T - act[0]) * 0.25, T * 1e-4, 1e-6) : T;
  const taskIndex = new Map(d.tasks.id.map((id, i) => [id, i]));
  const lanes = d.lanes || { label: d.workers, group: d.workers.map(() => 0), up: [], down: [] };
  const firstSeen = new Array(nW).fill(null);
  for (let i = 0; i < sp.task.length; i++) {
    const k = sp.worker[i];
    if (firstSeen[k] === null || sp.start[i] < firstSeen[k]) firstSeen[k] = sp.start[i];
  }
  const poolOfQueue = new Map();
  (d.pools || []).forEach((p, j) => poolOfQueue.set(p.qi, j));
  const workerPool = new Array(nW).fill(-1);
  (d.pools || []).forEach((p, j) => { for (const k of p.workers) workerPool[k] = j; });
  const nameColour = (ni) => (d.name_colours && d.name_colours[String(ni)]) || d.palette.states.unknown;
  return { d, S, T, Tx, nW, tracks, maxDepth, findings, stuck, taskIndex, lanes, firstSeen, poolOfQueue, workerPool, nameColour };
}

// ------------------------------------------------------------------ lanes
// One trace's worker lanes on a time window shared with its host: the view
// draws one; a second trace (an alternative replayed beside the original) can
// draw another on the same axis, driven by the same controls.  ``host``
// gives the window (view), the colouring, the selection, and takes what the
// pointer does (seek, select, zoom, pan, tooltips).
function createLanes(box, uid, host) {
  let P = null;
  let width = 0;
  const L = {};          // lane svg parts
  const view = host.view;
  const RPAD = 12, ROW = 26, QROW = 30, GROUP = 17, TOP = 4, AXIS = 22;
  let LABEL = 96;
  function xOf(time) { const [a, b] = view(); return LABEL + ((time - a) / (b - a)) * (width - LABEL - RPAD); }
  function tOf(x) { const [a, b] = view(); return a + ((x - LABEL) / (width - LABEL - RPAD)) * (b - a); }

  function laneRows() {
    // y of each worker's lane; a header row above each process group when
    // there are several (two consumers, or one restarted)
    const groups = P.lanes.group;
    const many = new Set(groups).size > 1;
    const y = new Array(P.nW);
    const heads = [];
    let cur = TOP + QROW;
    let last = -1;
    for (let k = 0; k < P.nW; k++) {
      if (many && groups[k] !== last) { heads.push([groups[k], cur]); cur += GROUP; }
      last = groups[k];
      y[k] = cur;
      cur += ROW;
    }
    return { y, heads, bottom: cur };
  }

  function barRect(i) {
    const sp = P.d.spans;
    const dep = Math.min(sp.depth[i], 3);
    const y = L.rowY[sp.worker[i]] + 3 + dep * 3;
    const hgt = Math.max(4, ROW - 8 - dep * 6);
    const x0 = xOf(sp.start[i]);
    const x1 = xOf(sp.end[i] === null ? P.T : sp.end[i]);
    return [x0, y, Math.max(0.8, x1 - x0), hgt];
  }
  const rectPath = (r) => `M${r[0].toFixed(2)} ${r[1].toFixed(1)}h${r[2].toFixed(2)}v${r[3].toFixed(1)}h${(-r[2]).toFixed(2)}z`;

  function spanColour(i) {
    const d = P.d, sp = d.spans, pal = d.palette;
    if (host.colourBy() === "name") return P.nameColour(d.tasks.name[sp.task[i]] ?? -1);
    const oc = P.S[sp.outcome[i]];
    return oc === "running" ? pal.states.running : (pal.states[oc] || pal.states.unknown);
  }
  const taskWords = (i) => taskWordsOf(P, i);

  function buildLanes() {
    if (!P) return;
    const d = P.d, sp = d.spans, pal = d.palette;
    width = Math.max(260, Math.floor(box.clientWidth || 700));
    // lanes drawn one above the other share the label column, so that one
    // instant is one x in all of them
    LABEL = host.labelWidth ? host.labelWidth(width) : laneLabelWidth(P, width);
    box.textContent = "";
    const rows = laneRows();
    L.rowY = rows.y;
    const axisY = rows.bottom + 2;
    const H = axisY + AXIS;
    const [va, vb] = view();
    const svg = el("svg", { viewBox: `0 0 ${width} ${H}`, width: String(width), height: String(H), class: "hv-lanes-svg",
                            role: "img", "aria-label": host.ariaLabel || "worker lanes", "data-from": String(va), "data-to": String(vb) }, box);
    const defs = el("defs", {}, svg);
    const pat = el("pattern", { id: uid + "-hatch", width: "6", height: "6",
                                patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
    el("rect", { width: "6", height: "6", fill: pal.states.blocked }, pat);
    el("line", { x1: "0", y1: "0", x2: "0", y2: "6", stroke: "#ffffff", "stroke-width": "2.2", "stroke-opacity": "0.75" }, pat);
    const patf = el("pattern", { id: uid + "-hatchf", width: "6", height: "6",
                                 patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
    el("rect", { width: "6", height: "6", fill: "#FBE3B3" }, patf);
    el("rect", { width: "2.5", height: "6", fill: pal.states.blocked }, patf);
    const clip = el("clipPath", { id: uid + "-clip" }, defs);
    L.clipRect = el("rect", { x: String(LABEL), y: "0", width: "0", height: String(H) }, clip);
    const plotClip = el("clipPath", { id: uid + "-plot" }, defs);
    el("rect", { x: String(LABEL), y: "0", width: String(width - LABEL - RPAD + 1), height: String(H) }, plotClip);
    el("rect", { x: "0", y: "0", width: String(width), height: String(H), fill: pal.background }, svg);
    // group headers, rows and labels
    for (const [g, gy] of rows.heads) {
      const tx = el("text", { x: "6", y: String(gy + GROUP - 5), class: "hv-group-label" }, svg);
      tx.textContent = trunc(d.groups.label[g], Math.floor((width - 12) / 6.5));
    }
    for (let w = 0; w < P.nW; w++) {
      const y = L.rowY[w];
      el("rect", { x: String(LABEL), y: String(y), width: String(width - LABEL - RPAD), height: String(ROW - 2),
                   fill: w % 2 ? "#F4F4F4" : "#FAFAFA" }, svg);
      const lab = el("text", { x: String(LABEL - 6), y: String(y + ROW / 2), "text-anchor": "end",
                               "dominant-baseline": "middle", class: "hv-lane-label" }, svg);
      lab.textContent = trunc(P.lanes.label[w], Math.floor((LABEL - 8) / 6.3));
      el("title", {}, lab).textContent = d.worker_keys[w];
      // a worker that left the pool (stopped, or lost with its process)
      const down = P.lanes.down[w];
      if (down !== null && down !== undefined && down <= vb) {
        const x = Math.max(LABEL, xOf(down));
        el("rect", { x: String(x), y: String(y), width: String(Math.max(0, width - RPAD - x)), height: String(ROW - 2),
                     fill: "#E4E4E4", class: "hv-gone" }, svg);
      }
    }
    // the queue: how many tasks wait for a worker (a step area, clipped to the past)
    const q = d.queue;
    let maxN = 0;
    for (let k = 0; k < q.t.length; k++) maxN = Math.max(maxN, q.n[k]);
    const y0 = TOP + QROW - 6, hq = QROW - 12;
    const yq = (k) => y0 - (maxN ? (k / maxN) * hq : 0);
    let qpath = `M${xOf(0).toFixed(2)} ${y0}`;
    for (let k = 0; k < q.t.length; k++) qpath += `H${xOf(q.t[k]).toFixed(2)}V${yq(q.n[k]).toFixed(1)}`;
    qpath += `H${xOf(P.T).toFixed(2)}V${y0}Z`;
    el("rect", { x: String(LABEL), y: String(TOP), width: String(width - LABEL - RPAD), height: String(QROW - 6), fill: "#FAFAFA" }, svg);
    const ql = el("text", { x: String(LABEL - 6), y: String(TOP + 9), "text-anchor": "end", "dominant-baseline": "middle", class: "hv-lane-label hv-queue-label" }, svg);
    ql.textContent = "queue";
    const mx = el("text", { x: String(LABEL - 6), y: String(TOP + 21), "text-anchor": "end", "dominant-baseline": "middle", class: "hv-axis" }, svg);
    mx.textContent = "max " + maxN;
    // axis: ticks within the window
    const step = niceStep(vb - va, Math.max(2, Math.floor((width - LABEL) / 90)));
    const axis = el("g", { class: "hv-axis-band" }, svg);
    el("rect", { x: String(LABEL), y: String(axisY - 2), width: String(width - LABEL - RPAD), height: String(AXIS), fill: "#ffffff", class: "hv-axis-hit" }, axis);
    for (let v = Math.ceil(va / step) * step; v <= vb + 1e-12; v += step) {
      const x = xOf(v);
      if (x < LABEL - 0.5 || x > width - RPAD + 0.5) continue;
      el("line", { x1: String(x), x2: String(x), y1: String(TOP), y2: String(axisY), stroke: pal.grid, "stroke-width": "0.6" }, svg);
      const tx = el("text", { x: String(x), y: String(axisY + 13), "text-anchor": "middle", class: "hv-axis" }, axis);
      tx.textContent = "+" + fmtT(v, step);
    }
    const plot = el("g", { "clip-path": `url(#${uid}-plot)` }, svg);
    // ghost of the whole trace (the future, faint), then the past in colour
    const ghost = [];
    const byColour = new Map();
    const visible = [];
    for (let i = 0; i < sp.task.length; i++) {
      const e = sp.end[i] === null ? P.T : sp.end[i];
      if (e < va || sp.start[i] > vb) continue;
      visible.push(i);
      const p = rectPath(barRect(i));
      ghost.push(p);
      const col = spanColour(i);
      if (!byColour.has(col)) byColour.set(col, []);
      byColour.get(col).push(p);
    }
    el("path", { d: ghost.join(""), fill: "#BBBBBB", "fill-opacity": "0.3", class: "hv-ghost" }, plot);
    const past = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-past" }, plot);
    el("path", { d: qpath, fill: pal.states.queued, stroke: "#8C7E00", "stroke-width": "0.8", class: "hv-queue" }, past);
    const sparse = visible.length < (width - LABEL) / 6;   // separators only where they help
    for (const [col, ps] of [...byColour.entries()].sort()) {
      el("path", { d: ps.join(""), fill: col, stroke: sparse ? "#ffffff" : "none", "stroke-width": "0.8", class: "hv-spans" }, past);
    }
    // running overlays (one per track): a span still running at the cursor
    // is drawn as running, whatever its outcome later; under the blocked
    // hatch, so a blocked task never reads as running
    L.overlays = [];
    const ovg = el("g", { class: "hv-running" }, plot);
    for (const tr of P.tracks) {
      const dep = Math.min(tr.depth, 3);
      const r = el("rect", { y: String(L.rowY[tr.worker] + 3 + dep * 3), height: String(Math.max(4, ROW - 8 - dep * 6)),
                             fill: pal.states.running, stroke: "#ffffff", "stroke-width": "0.6", visibility: "hidden" }, ovg);
      L.overlays.push(r);
    }
    // blocked stretches: hatched orange, clipped to the past
    const bl = d.blocks;
    const bparts = [];
    const blabels = [];
    L.culpritBlocks = [];
    const culprits = P.findings.filter((f) => f.culprit);
    for (let j = 0; j < bl.span.length; j++) {
      const i = bl.span[j];
      const be = bl.end[j] === null ? (sp.end[i] === null ? P.T : sp.end[i]) : bl.end[j];
      if (be < va || bl.start[j] > vb) continue;
      const r = barRect(i);
      const x0 = xOf(bl.start[j]);
      const x1 = xOf(be);
      const rr = [x0, r[1], Math.max(0.8, x1 - x0), r[3]];
      bparts.push(rectPath(rr));
      for (const f of culprits) {
        if (sp.task[i] === f.culprit.waiter && Math.abs(bl.start[j] - f.culprit.since) < 1e-6) L.culpritBlocks.push([f, rr, j]);
      }
      blabels.push([j, i, rr]);
    }
    const bg = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-blocked" }, plot);
    el("path", { d: bparts.join(""), fill: `url(#${uid}-hatch)`, stroke: pal.states.blocked, "stroke-width": "0.7" }, bg);
    // labels: the task on each bar wide enough to carry one, the awaited
    // task on each blocked stretch (clipped to the past, like the bars)
    const lg = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-bar-labels" }, plot);
    let nLab = 0;
    const blockOf = new Map();
    for (const [j, i] of blabels) { if (!blockOf.has(i)) blockOf.set(i, []); blockOf.get(i).push(j); }
    for (const i of visible) {
      if (nLab >= MAX_LABELS) break;
      const r = barRect(i);
      const x0 = Math.max(r[0], LABEL), x1 = Math.min(r[0] + r[2], width - RPAD);
      let end = x1;
      for (const j of blockOf.get(i) || []) end = Math.min(end, Math.max(x0, xOf(bl.start[j])));
      const room = end - x0 - 6;
      if (room < 34 || r[3] < 12) continue;
      const ti = sp.task[i];
      const tx = el("text", { x: String(x0 + 3), y: String(r[1] + r[3] / 2), "dominant-baseline": "middle", class: "hv-bar-label",
                              fill: host.colourBy() === "name" ? inkOn(spanColour(i)) : "#000000" }, lg);
      tx.textContent = trunc(ti >= 0 ? taskWords(ti) : "?", Math.floor(room / 6.2));
      nLab += 1;
    }
    for (const [j, i, rr] of blabels) {
      if (nLab >= MAX_LABELS) break;
      const x0 = Math.max(rr[0], LABEL), x1 = Math.min(rr[0] + rr[2], width - RPAD);
      if (x1 - x0 < 60 || rr[3] < 12) continue;
      const wj = waitOfBlock(j, i);
      if (wj < 0) continue;
      const tg = d.waits.target[wj];
      const tx = el("text", { x: String(x0 + 3), y: String(rr[1] + rr[3] / 2), "dominant-baseline": "middle", class: "hv-bar-label hv-halo" }, lg);
      tx.textContent = trunc("waits for " + P.S[d.tasks.name[tg]] + " [" + d.tasks.id[tg].slice(0, 4) + "]", Math.floor((x1 - x0 - 6) / 6.2));
      nLab += 1;
    }
    // still waiting after the trace ends: a stuck run never moves again, so
    // from the finding on the open bars continue to the right edge
    L.stuck = null;
    if (P.stuck && vb > P.T) {
      const sg = el("g", { class: "hv-stuck", visibility: "hidden" }, plot);
      // a stuck run never moves again: what waits goes on to the view's end
      // (past P.Tx when a longer replay beside it stretches the axis)
      const xe = Math.min(width - RPAD, xOf(Math.max(P.Tx, vb))) - 2;
      L.stuckEnd = xe;
      const xT = xOf(P.T);
      for (let i = 0; i < sp.task.length; i++) {
        if (sp.end[i] !== null) continue;
        const r = barRect(i);
        el("rect", { x: String(xT), y: String(r[1]), width: String(Math.max(0, xe - xT)), height: String(r[3]),
                     fill: spanColour(i), "fill-opacity": "0.45" }, sg);
      }
      for (let j = 0; j < bl.span.length; j++) {
        const i = bl.span[j];
        if (bl.end[j] !== null || sp.end[i] !== null) continue;
        const r = barRect(i);
        // the part before the end is the past group's; this is what follows it
        const x0 = Math.max(LABEL, xT);
        el("rect", { x: String(x0), y: String(r[1]), width: String(Math.max(2, xe - x0)), height: String(r[3]),
                     fill: `url(#${uid}-hatch)`, stroke: pal.states.blocked, "stroke-width": "0.7" }, sg);
        const wj = waitOfBlock(j, i);
        if (wj >= 0 && xe - x0 > 60) {
          const tg = d.waits.target[wj];
          const tx = el("text", { x: String(x0 + 3), y: String(r[1] + r[3] / 2), "dominant-baseline": "middle", class: "hv-bar-label hv-halo" }, sg);
          tx.textContent = trunc("still waits for " + P.S[d.tasks.name[tg]] + " [" + d.tasks.id[tg].slice(0, 4) + "]", Math.floor((xe - x0 - 6) / 6.2));
        }
      }
      el("line", { x1: String(xT), x2: String(xT), y1: String(TOP + QROW - 4), y2: String(axisY), stroke: pal.muted, "stroke-width": "0.8", "stroke-dasharray": "1 2" }, sg);
      if (xe - xT > 80) {
        const et = el("text", { x: String(xe), y: String(TOP + 10), "text-anchor": "end", class: "hv-axis" }, sg);
        et.textContent = "after the end: stuck";
      }
      el("title", {}, sg).textContent = "The run is stuck: nothing moves after the end of the trace, so what still waits is drawn on past it.";
      L.stuck = sg;
    }
    // the culprit's blocked stretch, outlined from its finding on
    L.culpritMarks = [];
    for (const [f, rr, j] of L.culpritBlocks) {
      const open = d.blocks.end[j] === null && d.spans.end[d.blocks.span[j]] === null;
      const x1 = open && L.stuck ? L.stuckEnd : rr[0] + rr[2];
      L.culpritMarks.push([f, el("rect", { x: String(rr[0]), y: String(rr[1] - 1.5), width: String(Math.max(4, x1 - rr[0])), height: String(rr[3] + 3),
                                   fill: "none", stroke: pal.culprit, "stroke-width": "2.5", "stroke-dasharray": "5 3",
                                   class: "hv-lane-culprit", visibility: "hidden" }, plot)]);
    }
    // the selected task: outlined wherever it ran
    const selected = host.selected();
    if (selected && P.taskIndex.has(selected)) {
      const ti = P.taskIndex.get(selected);
      for (const i of visible) {
        if (sp.task[i] !== ti) continue;
        const r = barRect(i);
        el("rect", { x: String(r[0] - 1.5), y: String(r[1] - 1.5), width: String(r[2] + 3), height: String(r[3] + 3), fill: "none",
                     stroke: pal.selected || "#000000", "stroke-width": "2", class: "hv-lane-selected" }, plot);
      }
    }
    // the findings and the cursor
    for (const f of P.findings) {
      if (f.at < va || f.at > vb) continue;
      const fx = xOf(f.at);
      el("line", { x1: String(fx), x2: String(fx), y1: String(TOP), y2: String(axisY), stroke: pal.verdicts[f.verdict] || pal.culprit,
                   "stroke-width": "1.2", "stroke-dasharray": "3 2", class: "hv-finding-mark" }, svg);
    }
    L.brush = el("rect", { y: String(TOP), height: String(axisY - TOP), fill: "#0072B2", "fill-opacity": "0.12", stroke: "#0072B2",
                           "stroke-width": "1", visibility: "hidden", class: "hv-brush" }, svg);
    L.cursor = el("line", { y1: String(TOP), y2: String(axisY + 2), stroke: pal.text, "stroke-width": "1.4", class: "hv-cursor" }, svg);
    L.svg = svg;
    L.axisY = axisY;
    hookLanes(svg);
  }

  function waitOfBlock(j, i) {
    // the wait behind blocked stretch j (of span i): same waiter, same start
    const d = P.d, w = d.waits, ti = d.spans.task[i];
    for (let k = 0; k < w.since.length; k++) {
      if (w.waiter[k] === ti && Math.abs(w.since[k] - d.blocks.start[j]) < 1e-9) return k;
    }
    return -1;
  }

  function drawLanes(time, held, finding) {
    const x = Math.max(LABEL, Math.min(xOf(time), width - RPAD + 1));
    L.clipRect.setAttribute("width", String(Math.max(0, x - LABEL)));
    L.cursor.setAttribute("x1", String(xOf(time)));
    L.cursor.setAttribute("x2", String(xOf(time)));
    L.cursor.setAttribute("visibility", xOf(time) >= LABEL - 1 && xOf(time) <= width - RPAD + 1 ? "visible" : "hidden");
    const sp = P.d.spans;
    for (let k = 0; k < P.tracks.length; k++) {
      const r = L.overlays[k];
      const i = held[k];
      if (i < 0 || host.colourBy() === "name") { if (r.getAttribute("visibility") !== "hidden") r.setAttribute("visibility", "hidden"); continue; }
      const x0 = Math.max(LABEL - 1, xOf(sp.start[i]));
      r.setAttribute("x", String(x0));
      r.setAttribute("width", String(Math.max(0.8, x - x0)));
      r.setAttribute("visibility", "visible");
    }
    if (L.stuck) L.stuck.setAttribute("visibility", finding && finding.stuck ? "visible" : "hidden");
    for (const [f, m] of L.culpritMarks) m.setAttribute("visibility", finding === f ? "visible" : "hidden");
  }

  // the span (and blocked stretch) under a point of the lanes
  function hitLane(px, py) {
    const sp = P.d.spans;
    let w = -1;
    for (let k = 0; k < P.nW; k++) if (py >= L.rowY[k] && py < L.rowY[k] + ROW) { w = k; break; }
    if (w < 0 || px < LABEL || px > width - RPAD) return null;
    const time = tOf(px);
    const slack = Math.abs(tOf(px + 3) - time);
    let best = -1;
    for (const tr of P.tracks) {
      if (tr.worker !== w) continue;
      const j = bisectRight(tr.starts, time + slack);
      for (let q = j; q >= 0 && q >= j - 3; q--) {
        const i = tr.idx[q];
        const e = sp.end[i] === null ? (P.stuck ? P.Tx : P.T) : sp.end[i];
        if (sp.start[i] - slack <= time && time <= e + slack && (best < 0 || sp.depth[i] > sp.depth[best])) best = i;
      }
    }
    return { worker: w, time, span: best };
  }

  function laneTip(hit) {
    const d = P.d, sp = d.spans, tk = d.tasks;
    const i = hit.span;
    const lines = [];
    if (i < 0) {
      lines.push(`${d.worker_keys[hit.worker]}: idle at +${fmtT(hit.time, P.T)}`);
      return lines;
    }
    const ti = sp.task[i];
    const oc = P.S[sp.outcome[i]];
    lines.push(`${ti >= 0 ? taskWords(ti) : "?"}  [${ti >= 0 ? tk.id[ti] : "?"}]`);
    lines.push(`on ${P.lanes.label[hit.worker]} \u00b7 started +${fmtT(sp.start[i], P.T)}` +
               (sp.end[i] === null ? " \u00b7 never finished" : ` \u00b7 ${oc} after ${fmtT(sp.end[i] - sp.start[i])}`));
    if (ti >= 0 && tk.enq[ti] !== null && tk.enq[ti] <= sp.start[i]) lines.push(`waited ${fmtT(sp.start[i] - tk.enq[ti])} in the queue`);
    const w = d.waits;
    for (let k = 0; k < w.since.length; k++) {
      if (w.waiter[k] !== ti || w.since[k] > hit.time + 1e-12) continue;
      if (w.until[k] !== null && w.until[k] < hit.time) continue;
      const tg = w.target[k];
      lines.push(`blocked on ${taskWords(tg)} [${tk.id[tg].slice(0, 8)}] since +${fmtT(w.since[k], P.T)}` +
                 (w.until[k] === null ? ", never returned" : ` until +${fmtT(w.until[k], P.T)}`));
      if (w.site[k] >= 0) lines.push(`at ${P.S[w.site[k]]}`);
    }
    lines.push("click: details \u00b7 drag: zoom");
    return lines;
  }

  function svgPoint(svg, ev) {
    const r = svg.getBoundingClientRect();
    return [(ev.clientX - r.left) * (width / r.width), (ev.clientY - r.top) * (width / r.width)];
  }

  function hookLanes(svg) {
    let drag = null;
    svg.addEventListener("pointerdown", (ev) => {
      if (ev.button !== 0) return;
      const [px, py] = svgPoint(svg, ev);
      if (px < LABEL) return;
      drag = { x0: px, y0: py, onAxis: py >= L.axisY - 2, moved: false, view: view() };
      svg.setPointerCapture(ev.pointerId);
      ev.preventDefault();
      host.focus();
    });
    svg.addEventListener("pointermove", (ev) => {
      const [px, py] = svgPoint(svg, ev);
      if (!drag) {
        if (py >= L.axisY - 2) { host.showTip(["drag: pan \u00b7 wheel: zoom"], ev); return; }
        if (py < TOP + QROW && px >= LABEL) { host.showTip([`queued at +${fmtT(tOf(px), P.T)}: ${stepAt(P.d.queue, "n", tOf(px), 0)} tasks`], ev); return; }
        const hit = hitLane(px, py);
        host.showTip(hit ? laneTip(hit) : null, ev);
        return;
      }
      host.showTip(null);
      if (Math.abs(px - drag.x0) > 4) drag.moved = true;
      if (!drag.moved) return;
      if (drag.onAxis) {
        const [a, b] = drag.view;
        const dt = ((drag.x0 - px) / (width - LABEL - RPAD)) * (b - a);
        host.setWindow([a + dt, b + dt]);
      } else {
        const x0 = Math.max(LABEL, Math.min(drag.x0, px)), x1 = Math.min(width - RPAD, Math.max(drag.x0, px));
        L.brush.setAttribute("x", String(x0));
        L.brush.setAttribute("width", String(Math.max(0, x1 - x0)));
        L.brush.setAttribute("visibility", "visible");
      }
    });
    const end = (ev) => {
      if (!drag) return;
      const [px, py] = svgPoint(svg, ev);
      const d0 = drag;
      drag = null;
      if (d0.moved && !d0.onAxis) {
        const a = tOf(Math.max(LABEL, Math.min(d0.x0, px))), b = tOf(Math.min(width - RPAD, Math.max(d0.x0, px)));
        host.setWindow([a, b]);
        return;
      }
      if (d0.moved) return;
      const hit = hitLane(px, py);
      if (hit && hit.span >= 0 && P.d.spans.task[hit.span] >= 0) host.select(P.d.tasks.id[P.d.spans.task[hit.span]]);
      else if (px >= LABEL) host.seek(tOf(px));
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", () => { drag = null; L.brush.setAttribute("visibility", "hidden"); });
    svg.addEventListener("pointerleave", () => host.showTip(null));
    svg.addEventListener("wheel", (ev) => {
      const [px, py] = svgPoint(svg, ev);
      const onAxis = py >= L.axisY - 2;
      const horizontal = Math.abs(ev.deltaX) > Math.abs(ev.deltaY);
      // the notebook keeps plain wheel scrolling; ctrl/cmd + wheel (and a
      // trackpad pinch) or any wheel on the time axis zooms; shift + wheel
      // or a sideways swipe pans
      if (ev.ctrlKey || ev.metaKey || (onAxis && !horizontal && !ev.shiftKey)) {
        ev.preventDefault();
        host.zoomBy(Math.exp(Math.max(-300, Math.min(300, ev.deltaY)) * 0.002), px >= LABEL ? tOf(px) : undefined);
      } else if (ev.shiftKey || horizontal) {
        ev.preventDefault();
        host.panBy(((horizontal ? ev.deltaX : ev.deltaY) / (width - LABEL)) * 0.8);
      }
    }, { passive: false });
  }

  return {
    build(p) { P = p; buildLanes(); },
    draw: drawLanes,
    get width() { return width; },
  };
}

// the lane label column: room for the longest label (pids included), within limits
function laneLabelWidth(P, width) {
  const longest = Math.max(8, ...P.lanes.label.map((x) => String(x).length));
  return Math.round(Math.min(Math.max(150, width * 0.3), Math.max(84, longest * 6.4 + 14)));
}

// the finding that holds at `time`: formed by then, not yet dissolved
function findingOf(P, time) {
  let best = null;
  for (const f of P.findings) {
    if (f.at <= time + 1e-9 && (f.until === null || f.until === undefined || time < f.until - 1e-12)) best = f;
  }
  return best;
}

// the sorted union of two sorted arrays of instants
function mergeTimes(a, b) {
  const out = [];
  let i = 0, j = 0;
  while (i < a.length || j < b.length) {
    const x = j >= b.length || (i < a.length && a[i] <= b[j]) ? a[i++] : b[j++];
    if (!out.length || x > out[out.length - 1]) out.push(x);
  }
  return out;
}

// which span holds each track at time t (index into spans, or -1)
function holdersAt(P, time) {
  const sp = P.d.spans;
  const out = new Array(P.tracks.length);
  for (let k = 0; k < P.tracks.length; k++) {
    const tr = P.tracks[k];
    const j = bisectRight(tr.starts, time);
    let s = -1;
    if (j >= 0) {
      const i = tr.idx[j];
      const e = sp.end[i];
      if (e === null || time < e) s = i;
    }
    out[k] = s;
  }
  return out;
}


function taskWordsOf(P, i) {
  const tk = P.d.tasks;
  return P.S[tk.name[i]] + (tk.args[i] || "");
}

// ------------------------------------------------------------------ the view
function render({ model, el: host }) {
  const uid = "hv" + (++instances) + "x" + Math.floor(Math.random() * 1e9).toString(36);
  const root = quiet(h("div", "hv-root", host));
  root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "hueyviz trace view: Space play/pause, arrows step, Home/End, F finding, + and - zoom, 0 whole trace");
  root.dataset.frame = "0";

  // controls
  const bar = h("div", "hv-bar", root);
  const btn = (cls, html, title, parent) => {
    const b = quiet(h("button", "hv-btn " + cls, parent || bar));
    b.type = "button";
    b.innerHTML = html;
    b.title = title;
    b.setAttribute("aria-label", title);
    return b;
  };
  const bPrev = btn("hv-prev", ICONS.prev, "previous event (\u2190)");
  const bPlay = btn("hv-play", ICONS.play, "play / pause (Space)");
  const bNext = btn("hv-next", ICONS.next, "next event (\u2192)");
  const bFind = btn("hv-finding", "\u2691 finding", "jump to the finding (F)");
  const speedSel = quiet(h("select", "hv-speed", bar));
  speedSel.title = "playback speed";
  speedSel.setAttribute("aria-label", "playback speed");
  for (const s of SPEEDS) {
    const o = h("option", "", speedSel, s + "\u00d7");
    o.value = String(s);
  }
  const scrub = quiet(h("input", "hv-scrub", bar));
  scrub.type = "range"; scrub.min = "0"; scrub.step = "any";
  scrub.setAttribute("aria-label", "time");
  const tLabel = h("span", "hv-time", bar);
  const liveTag = h("span", "hv-live", bar, "\u25CF live");

  const zbar = h("div", "hv-zoombar", root);
  h("span", "hv-zlabel", zbar, "Zoom");
  const zAll = btn("hv-zall", "whole trace", "show the whole trace (0)", zbar);
  const zAct = btn("hv-zactivity", "activity", "zoom to where the tasks are", zbar);
  const zFind = btn("hv-zfinding", "the finding", "zoom to the finding: its tasks from their start to the knot", zbar);
  const zOut = btn("hv-zout", "\u2212", "zoom out (\u2212)", zbar);
  const zIn = btn("hv-zin", "+", "zoom in (+)", zbar);
  const winLabel = h("span", "hv-window", zbar);
  h("span", "hv-zlabel hv-colour-label", zbar, "Colour");
  const colourSel = quiet(h("select", "hv-colour", zbar));
  colourSel.title = "colour the bars by task state (default) or by task name";
  colourSel.setAttribute("aria-label", "colour bars by");
  for (const [v, words] of [["state", "by state"], ["name", "by task name"]]) {
    const o = h("option", "", colourSel, words);
    o.value = v;
  }

  const grid = h("div", "hv-grid", root);
  const left = h("div", "hv-left", grid);
  const origCap = h("div", "hv-caption hv-orig-caption", left, "As recorded");
  const lanesBox = h("div", "hv-lanes", left);
  // a fix's replayed lanes, under the original's (hidden until one is chosen)
  const fixPane = h("div", "hv-fixpane", left);
  const fixHead = h("div", "hv-fix-caption", fixPane);
  const fixBox = h("div", "hv-fixlanes", fixPane);
  const fixStatus = h("div", "hv-fix-status", fixPane);
  fixStatus.setAttribute("aria-live", "off");
  fixPane.style.display = origCap.style.display = "none";
  h("div", "hv-caption", left, "Who waits for whom at this instant");
  const graphBox = h("div", "hv-waitfor", left);
  const side = h("div", "hv-side", grid);
  const badge = h("div", "hv-badge", side);
  const status = h("div", "hv-status", side);
  const msg = h("div", "hv-message", side);
  const fixesBox = h("div", "hv-fixes", side);
  fixesBox.style.display = "none";
  const details = h("div", "hv-details", side);
  const legend = h("div", "hv-legend", side);
  const tip = h("div", "hv-tip", root);
  tip.setAttribute("role", "tooltip");

  let P = null;          // prepared model
  let t = 0;
  let win = null;        // [from, to] seconds, or null: the whole trace
  let playing = false;
  let raf = 0;
  let lastTs = 0;
  let frames = 0;
  let loads = 0;
  let colourBy = model.get("color_by") || "state";
  let selected = model.get("selected") || "";
  const verdictsSeen = [];

  // ------------------------------------------------------------ time window
  // the whole axis: the original's, and a longer replay's beside it
  function extent() { return [0, Math.max(P ? P.Tx : 1, F ? F.Tx : 0)]; }
  function view() {
    const [a, b] = win || extent();
    return [a, Math.max(b, a + 1e-9)];
  }
  function tMin() { return Math.max(0, view()[0]); }
  function tMax() { return Math.max(tMin(), Math.min(Math.max(P.T, F ? F.T : 0), view()[1])); }
  function clampWin(a, b) {
    const [e0, e1] = extent();
    const minW = Math.max((e1 - e0) * 1e-5, 1e-7);
    if (b - a < minW) { const m = (a + b) / 2; a = m - minW / 2; b = m + minW / 2; }
    const wdt = Math.min(b - a, e1 - e0);
    if (a < e0) { a = e0; b = a + wdt; }
    if (b > e1) { b = e1; a = b - wdt; }
    return [a, b];
  }
  let winTimer = 0;
  function setWindow(w, opts) {
    if (!P) return;
    if (w) {
      const [e0, e1] = extent();
      // a window reaching the end of a stuck run shows what still waits after it
      if (P.stuck && w[1] >= P.T - 1e-9 && w[1] < P.Tx) w = [w[0], P.Tx];
      w = clampWin(w[0], w[1]);
      if (w[0] <= e0 + 1e-12 && w[1] >= e1 - 1e-12) w = null;
    }
    win = w;
    buildLanes();
    const nt = Math.min(Math.max(t, tMin()), tMax());
    frame(nt);
    if (nt !== t) sync();
    if (!opts || !opts.fromModel) tellWindow();
  }
  function tellWindow() {
    // wheel zooms fire many times a second: tell Python once it settles
    clearTimeout(winTimer);
    winTimer = setTimeout(() => { model.set("window", win ? [win[0], win[1]] : []); model.save_changes(); }, 120);
  }
  function zoomBy(factor, centre) {
    const [a, b] = view();
    const c = centre === undefined ? Math.min(Math.max(t, a), b) : centre;
    setWindow([c - (c - a) * factor, c + (b - c) * factor]);
  }
  function panBy(frac) {
    const [a, b] = view();
    const dx = (b - a) * frac;
    setWindow([a + dx, b + dx]);
  }
  function currentFindingWindow() {
    const f = P.findings.length ? P.findings[0] : null;
    return (P.d.windows && P.d.windows.finding) || (f ? [Math.max(0, f.at - 0.1 * P.T), f.at + 0.1 * P.T] : null);
  }

  function showTip(lines, ev) {
    if (!lines || !lines.length) { tip.style.display = "none"; return; }
    tip.textContent = "";
    for (const ln of lines) h("div", "", tip, ln);
    tip.style.display = "block";
    const rb = root.getBoundingClientRect();
    const tw = tip.offsetWidth, th = tip.offsetHeight;
    let x = ev.clientX - rb.left + 14, y = ev.clientY - rb.top + 14;
    if (x + tw > rb.width - 4) x = Math.max(4, ev.clientX - rb.left - tw - 10);
    if (y + th > rb.height - 4) y = Math.max(4, ev.clientY - rb.top - th - 10);
    tip.style.left = x + "px";
    tip.style.top = y + "px";
  }

  const taskWords = (i) => taskWordsOf(P, i);
  const laneHost = {
    view, colourBy: () => colourBy, selected: () => selected, select, showTip,
    focus: () => root.focus({ preventScroll: true }),
    seek: (x) => { setPlaying(false); frame(Math.min(Math.max(x, tMin()), tMax())); sync(); },
    setWindow: (w) => setWindow(w), zoomBy, panBy,
    labelWidth: (width) => Math.max(laneLabelWidth(P, width), F ? laneLabelWidth(F, width) : 0),
  };
  const lanes = createLanes(lanesBox, uid, laneHost);

  // ------------------------------------------------------------ fixes
  // A fix's replay is view data of its own, on the original's axis (built
  // in hueyviz/render/fix.py): a second createLanes draws it on the same
  // window, and every control moves both.
  let F = null;          // the prepared replay of the fix shown
  let fixEntry = null;   // its entry of the "fixes" model
  let fixKind = model.get("fix") || "";
  let stepTimes = null;  // the instants of both, for the step keys
  const fixLanes = createLanes(fixBox, uid + "f", {
    ...laneHost,
    ariaLabel: "worker lanes of the fix, replayed",
    // a pipeline's continuation ("id~1") is its parent task in the original
    select: (id) => {
      const base = id.includes("~") ? id.slice(0, id.lastIndexOf("~")) : id;
      select(P && !P.taskIndex.has(id) && P.taskIndex.has(base) ? base : id);
    },
  });
  const span = (x) => (x === null || x === undefined ? "never finishes" : fmtT(x));

  function prepareFix(kind) {
    const fm = model.get("fixes") || {};
    const entry = kind && fm.state === "ready" ? (fm.fixes || []).find((f) => f.kind === kind && f.data) : null;
    fixKind = kind || "";
    fixEntry = entry || null;
    F = entry ? prepare(entry.data) : null;
    stepTimes = F ? mergeTimes(P.d.times, F.d.times) : null;
    root.dataset.fix = F ? fixKind : "";
    fixPane.style.display = F ? "" : "none";
    origCap.style.display = F ? "" : "none";
    if (!F) fixBox.textContent = "";
  }

  function setFix(kind, opts) {
    if (!P) { fixKind = kind || ""; return; }
    const reachedEnd = win && win[1] >= P.T - 1e-9;
    prepareFix(kind);
    if (win) {
      // a window that reached the end keeps reaching it, on the new axis
      const [e0, e1] = extent();
      win = clampWin(win[0], reachedEnd ? e1 : win[1]);
      if (win[0] <= e0 + 1e-12 && win[1] >= e1 - 1e-12) win = null;
      tellWindow();
    }
    drawFixes();
    buildLanes();
    const nt = Math.min(Math.max(t, tMin()), tMax());
    const moved = nt !== t;
    frame(nt);
    if (moved) sync();
    if (!(opts && opts.fromModel) && model.get("fix") !== fixKind) { model.set("fix", fixKind); model.save_changes(); }
  }

  function drawFix(time) {
    const ff = findingOf(F, time);
    fixLanes.draw(time, holdersAt(F, time), ff);
    const d = F.d;
    const size = stepAt(d.status, "size", time, 0), busy = stepAt(d.status, "busy", time, 0);
    const blocked = stepAt(d.status, "blocked", time, 0), queued = stepAt(d.queue, "n", time, 0);
    let words = `+${fmtT(time, P.T)} in the replay: ${busy} of ${size} worker${size === 1 ? "" : "s"} busy, ${blocked} blocked, ${queued} queued`;
    if (ff) words += ` \u00b7 ${ff.verdict.toUpperCase()}`;
    else if (time >= F.T - 1e-12 && fixEntry.verdict === "ok") words += " \u00b7 all done";
    if (fixStatus.textContent !== words) fixStatus.textContent = words;
    fixStatus.dataset.busy = String(busy);
  }

  const chip = (parent, verdict) => {
    const pal = P.d.palette, col = pal.verdicts[verdict] || pal.muted;
    const c = h("span", "hv-chip", parent, verdict);
    c.style.background = col;
    c.style.color = inkOn(col);
    return c;
  };

  // the panel: each fix with its verdict and makespan; choosing one draws it
  function drawFixes() {
    const fm = model.get("fixes") || {};
    // the list is redrawn: the fix that had the focus keeps it
    const focused = fixesBox.contains(document.activeElement) ? (document.activeElement.dataset.kind || "") : null;
    fixesBox.textContent = "";
    fixHead.textContent = "";
    fixesBox.style.display = fm.state && P ? "" : "none";
    if (!fm.state || !P) return;
    const head = h("div", "hv-fixes-head", fixesBox, "Fixes, replayed");
    head.title = "hueyviz.advise: each usual fix applied to the recorded task scripts and replayed";
    if (fm.state !== "ready") {
      const words = fm.state === "computing" ? `Replaying each fix on the ${fm.tasks} tasks\u2026`
        : fm.state === "error" ? `The replay failed: ${fm.why}` : `Not replayed yet (${fm.why}).`;
      h("div", "hv-hint", fixesBox, words);
      if (fm.state !== "computing") {
        const b = btn("hv-advise", "replay the fixes", "replay each usual fix on this workload (hueyviz.advise), in the background", fixesBox);
        b.addEventListener("click", () => { b.disabled = true; b.textContent = "replaying\u2026"; model.send({ type: "advise" }); });
      }
      return;
    }
    const base = h("div", "hv-fixes-base", fixesBox);
    base.textContent = `Original: ${fm.verdict}; replayed, it ${fm.makespan === null ? "never finishes" : "takes " + fmtT(fm.makespan)}.`;
    const list = h("div", "hv-fix-list", fixesBox);
    list.setAttribute("role", "radiogroup");
    list.setAttribute("aria-label", "fixes: choose one to see its replayed lanes");
    const items = [];
    for (const f of fm.fixes || []) {
      const b = quiet(h("button", "hv-fix", list));
      b.type = "button";
      b.dataset.kind = f.kind;
      b.setAttribute("role", "radio");
      b.setAttribute("aria-checked", f.kind === fixKind && F ? "true" : "false");
      b.tabIndex = f.kind === fixKind || (!F && !items.length) ? 0 : -1;
      b.title = f.hint;
      h("span", "hv-fix-kind", b, f.kind);
      chip(b, f.verdict);
      h("span", "hv-fix-span", b, span(f.makespan));
      if (!f.data) b.disabled = true;
      b.addEventListener("click", () => setFix(f.kind === fixKind && F ? "" : f.kind));
      items.push(b);
      if (focused === f.kind) b.focus({ preventScroll: true });
    }
    // arrows move through the fixes and show each (as radio buttons do)
    list.addEventListener("keydown", (ev) => {
      if (ev.key !== "ArrowDown" && ev.key !== "ArrowUp") return;
      const on = items.filter((b) => !b.disabled);
      if (!on.length) return;
      const i = on.indexOf(document.activeElement);
      const nb = on[(i + (ev.key === "ArrowDown" ? 1 : on.length - 1) + (i < 0 ? 1 : 0)) % on.length];
      nb.focus();
      setFix(nb.dataset.kind);
      ev.preventDefault();
      ev.stopPropagation();
    });
    const more = h("div", "hv-fix-detail", fixesBox);
    if (!fixEntry) {
      h("div", "hv-hint", more, "Choose a fix: its replayed lanes appear under the original's, on the same time axis, moved by the same controls.");
      return;
    }
    const f = fixEntry;
    h("div", "hv-fix-hint", more, f.hint);
    for (const w of f.where || []) h("div", "hv-code", more, "at " + w);
    if (f.reason) h("div", "", more, "Does not help: " + f.reason);
    for (const n of f.notes || []) h("div", "hv-note", more, n);
    const sim = fm.exact ? "exact: every task ran to its end in the recording"
      : "approximate: " + (fm.notes || []).join("; ");
    h("div", "hv-note", more, `A simulation of the recorded task scripts, not a recording (${sim}).`);
    // the caption over the replayed lanes
    const words = h("span", "hv-fix-words", fixHead);
    h("b", "", words, `Fix \u201c${f.kind}\u201d, replayed: `);
    chip(words, f.verdict);
    words.appendChild(document.createTextNode(` makespan ${span(f.makespan)} (original, replayed: ${span(fm.makespan)}) \u00b7 ` +
      `${fm.exact ? "a" : "an approximate"} simulation from the first task's arrival (+${fmtT(fm.origin || 0)})`));
    const close = quiet(h("button", "hv-link hv-clear", fixHead, "\u00d7"));
    close.type = "button"; close.title = "hide the fix"; close.setAttribute("aria-label", "hide the fix");
    close.addEventListener("click", () => setFix(""));
  }

  // the lanes for the current window, and the controls that follow the window
  function buildLanes() {
    if (!P) return;
    lanes.build(P);
    if (F) fixLanes.build(F);
    const [va, vb] = view();
    winLabel.textContent = win ? `+${fmtT(va, vb - va)} \u2013 +${fmtT(vb, vb - va)}` : "";
    root.dataset.from = String(va);
    root.dataset.to = String(vb);
    scrub.min = String(tMin());
    scrub.max = String(tMax());
  }

  // ------------------------------------------------------------ wait-for
  // The state of task i at `time`: its last recorded change at or before
  // then (the replay's changes, sent with the data; nothing is inferred here).
  function taskState(i, time) {
    const c = P.d.changes;
    const a = c.start[i], b = c.start[i + 1];
    let lo = a, hi = b - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (c.t[mid] <= time + 1e-9) { found = mid; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? "not yet enqueued" : P.S[c.state[found]];
  }

  function findingAt(time) { return findingOf(P, time); }

  function workerLive(k, time) {
    const up = P.lanes.up[k], down = P.lanes.down[k];
    const from = up !== null && up !== undefined ? up : P.firstSeen[k];
    return from !== null && from <= time + 1e-9 && (down === null || down === undefined || time < down);
  }

  function drawGraph(time, held, finding) {
    const d = P.d, w = d.waits, pal = d.palette, lay = d.layout || { pos: {}, node_w: 150, node_h: 36, width: 300, height: 100 };
    const active = [];
    for (let i = 0; i < w.since.length; i++) {
      if (w.since[i] > time) break;
      if (w.until[i] === null || time < w.until[i]) active.push(i);
    }
    const blockedSet = new Set();
    for (const i of active) if (w.waiter[i] >= 0) blockedSet.add(w.waiter[i]);
    const holderTask = new Array(P.nW).fill(-1);
    for (let k = 0; k < P.tracks.length; k++) {
      if (held[k] >= 0) holderTask[P.tracks[k].worker] = d.spans.task[held[k]];
    }
    const knot = finding ? finding.knotSet : new Set();
    const nodes = new Map();   // key -> {kind, i}
    const NW = lay.node_w, NH = lay.node_h;
    const pos = (k) => lay.pos[k];
    for (let k = 0; k < P.nW; k++) if (pos("w" + k) && workerLive(k, time)) nodes.set("w" + k, { kind: "worker", i: k });
    const CAP = 300;
    const shown = active.slice(0, CAP);
    for (const i of shown) {
      if (w.waiter[i] >= 0 && pos("t" + w.waiter[i])) nodes.set("t" + w.waiter[i], { kind: "task", i: w.waiter[i] });
      if (pos("t" + w.target[i])) nodes.set("t" + w.target[i], { kind: "task", i: w.target[i] });
    }
    // pools: a box around the live workers of each queue
    const pools = [];
    (d.pools || []).forEach((p, j) => {
      const ks = p.workers.filter((k) => nodes.has("w" + k));
      const anchor = ks.length ? ks : p.workers.filter((k) => pos("w" + k)).slice(0, 1);
      if (!anchor.length) return;
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const k of anchor) {
        const q = pos("w" + k);
        x0 = Math.min(x0, q[0] - NW / 2); x1 = Math.max(x1, q[0] + NW / 2);
        y0 = Math.min(y0, q[1] - NH / 2); y1 = Math.max(y1, q[1] + NH / 2);
      }
      const size = stepAt(p, "size", time, ks.length), busy = stepAt(p, "busy", time, 0), blocked = stepAt(p, "blocked", time, 0);
      pools.push({ j, box: [x0 - 9, y0 - 22, x1 - x0 + 18, y1 - y0 + 31], live: ks.length,
                   label: `${p.label}: ${busy} of ${size} busy, ${blocked} blocked`, inKnot: !!finding && blocked > 0 && blocked >= size });
    });
    // viewport: the whole layout when small, else fit what is shown
    let vb;
    const nLayout = Object.keys(lay.pos).length;
    if (nLayout <= 60 || lay.engine !== "graphviz") vb = [0, 0, Math.max(lay.width, 200), Math.max(lay.height, 60)];
    else {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const k of nodes.keys()) {
        const p = pos(k);
        x0 = Math.min(x0, p[0] - NW / 2); x1 = Math.max(x1, p[0] + NW / 2);
        y0 = Math.min(y0, p[1] - NH / 2 - 22); y1 = Math.max(y1, p[1] + NH / 2);
      }
      if (!isFinite(x0)) { x0 = 0; y0 = 0; x1 = 200; y1 = 60; }
      vb = [x0 - 12, y0 - 12, x1 - x0 + 24, y1 - y0 + 24];
    }
    if (!active.length) vb = [vb[0], vb[1], vb[2], vb[3] + 22];   // room for the note
    const parts = [];
    const marker = (id, col, size) => `<marker id="${uid}-${id}" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="${size}" markerHeight="${size}" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${col}"/></marker>`;
    parts.push(`<defs>${marker("arr", pal.wait, 10)}${marker("arrc", pal.culprit, 13)}${marker("arrh", pal.muted, 8)}${marker("arrn", pal.knot, 10)}` +
      `<pattern id="${uid}-ghatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${pal.states.blocked}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.2" stroke-opacity="0.6"/></pattern></defs>`);
    parts.push(`<rect x="${vb[0]}" y="${vb[1]}" width="${vb[2]}" height="${vb[3]}" fill="${pal.background}"/>`);
    for (const pl of pools) {
      const [x, y, bw, bh] = pl.box;
      parts.push(`<g class="hv-pool" data-pool="${pl.j}"><title>${esc(pl.label)}</title><rect x="${x}" y="${y}" width="${bw}" height="${bh}" rx="10" fill="#F2F8FC" stroke="${pl.inKnot ? pal.knot : pal.pool}" stroke-width="${pl.inKnot ? 2.5 : 1.4}"/>` +
        `<text x="${x + 8}" y="${y + 15}" class="hv-n2 hv-pool-label">${esc(pl.label)}</text></g>`);
    }
    const curve = (x1, y1, x2, y2) => {
      const mx = (x1 + x2) / 2;
      return `M${x1.toFixed(1)},${y1.toFixed(1)} C${mx.toFixed(1)},${y1.toFixed(1)} ${mx.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
    };
    const edge = (a, b, cls, colour, width, dash, mk, title, label) => {
      const pa = pos(a), pb = pos(b);
      if (!pa || !pb) return;
      // from the right side of a to the left side of b (or around when b is left of a)
      let x1 = pa[0] + NW / 2, y1 = pa[1], x2 = pb[0] - NW / 2, y2 = pb[1];
      if (pb[0] <= pa[0]) { x1 = pa[0]; y1 = pa[1] + (pb[1] >= pa[1] ? NH / 2 : -NH / 2); x2 = pb[0]; y2 = pb[1] + (pb[1] >= pa[1] ? -NH / 2 : NH / 2); }
      parts.push(`<g class="${cls}" data-tip="${esc(title)}"><title>${esc(title)}</title><path d="${curve(x1, y1, x2, y2)}" fill="none" stroke="${colour}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ""} marker-end="url(#${uid}-${mk})"/>` +
        `<path d="${curve(x1, y1, x2, y2)}" fill="none" stroke="transparent" stroke-width="10"/>` +
        (label ? `<text x="${((x1 + x2) / 2).toFixed(1)}" y="${((y1 + y2) / 2 - 5).toFixed(1)}" text-anchor="middle" class="hv-n2 hv-edge-label">${esc(label)}</text>` : "") + `</g>`);
    };
    const fewEdges = shown.length <= 6;
    // worker -> the task it holds (only for waiters shown)
    for (let k = 0; k < P.nW; k++) {
      const ti = holderTask[k];
      if (ti >= 0 && nodes.has("t" + ti) && nodes.has("w" + k)) edge("w" + k, "t" + ti, "hv-hold", pal.muted, 1.2, "3 3", "arrh", `${P.lanes.label[k]} is held by ${taskWords(ti)}`, fewEdges ? "held by" : "");
    }
    for (const i of shown) {
      if (w.waiter[i] < 0) continue;
      const isCulprit = finding && i === finding.wait;
      const a = "t" + w.waiter[i], b = "t" + w.target[i];
      const title = `${taskWords(w.waiter[i])} waits for ${taskWords(w.target[i])} since +${fmtT(w.since[i], P.T)}` + (w.site[i] >= 0 ? ` at ${P.S[w.site[i]]}` : "") + (isCulprit ? " \u2014 the wait that closed the deadlock" : "");
      if (isCulprit) edge(a, b, "hv-edge culprit", pal.culprit, 3.5, "7 4", "arrc", title, "culprit");
      else edge(a, b, "hv-edge hv-wait", pal.wait, 1.6, "", "arr", title, fewEdges ? "waits for" : "");
    }
    // "needs a worker": an awaited task still in the queue needs a worker of
    // its queue's pool; with every worker held, that is what makes the knot
    const needDone = new Set();
    for (const i of shown) {
      const tg = w.target[i];
      if (needDone.has(tg) || taskState(tg, time) !== "queued") continue;
      needDone.add(tg);
      const pj = P.poolOfQueue.get(d.tasks.queue[tg]);
      const pl = pools.find((x) => x.j === pj) || (pools.length === 1 ? pools[0] : null);
      const pb = pos("t" + tg);
      if (!pl || !pb) continue;
      const [bx, by, bw, bh] = pl.box;
      const inKnot = knot.has(tg);
      const x1 = pb[0], y1 = pb[1] + NH / 2;
      const x2 = bx + bw * 0.75, y2 = by + bh;
      const path = `M${x1.toFixed(1)},${y1.toFixed(1)} C${x1.toFixed(1)},${(y1 + 40).toFixed(1)} ${x2.toFixed(1)},${(y2 + 40).toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
      const title = `${taskWords(tg)} is queued: it needs a free worker of ${d.pools[pl.j].label}`;
      parts.push(`<g class="hv-need${inKnot ? " knot" : ""}" data-tip="${esc(title)}"><title>${esc(title)}</title><path d="${path}" fill="none" stroke="${inKnot ? pal.knot : pal.muted}" stroke-width="1.6" stroke-dasharray="5 3" marker-end="url(#${uid}-arrn)"/></g>`);
      vb[3] = Math.max(vb[3], (y1 + 44) - vb[1]);
    }
    if (needDone.size && needDone.size <= 3) {
      const pl = pools[0];
      if (pl) parts.push(`<text x="${pl.box[0] + pl.box[2] * 0.75 + 6}" y="${pl.box[1] + pl.box[3] + 16}" class="hv-n2 hv-edge-label">needs a worker</text>`);
    }
    for (const [key, n] of nodes) {
      const p = pos(key);
      const x = p[0] - NW / 2, y = p[1] - NH / 2;
      if (n.kind === "worker") {
        const ti = holderTask[n.i];
        const st = ti >= 0 ? (blockedSet.has(ti) ? "blocked" : "running") : "idle";
        const fill = st === "idle" ? "#ffffff" : (st === "blocked" ? `url(#${uid}-ghatch)` : pal.states.running);
        const sub = ti >= 0 ? `${st}: ${P.S[d.tasks.name[ti]]}` : st;
        parts.push(`<g class="hv-node hv-worker" data-state="${st}" data-tip="${esc(d.worker_keys[n.i] + ": " + sub)}"><title>${esc(d.worker_keys[n.i])}: ${esc(sub)}</title>` +
          `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="4" fill="${fill}" stroke="${pal.pool}" stroke-width="1.4"/>` +
          `<text x="${p[0]}" y="${p[1] - 3}" text-anchor="middle" class="hv-n1">${esc(trunc(P.lanes.label[n.i], 21))}</text>` +
          `<text x="${p[0]}" y="${p[1] + 12}" text-anchor="middle" class="hv-n2">${esc(trunc(sub, 23))}</text></g>`);
      } else {
        const i = n.i;
        const st = taskState(i, time);
        const inKnot = knot.has(i);
        const fill = st === "blocked" ? `url(#${uid}-ghatch)` : (colourBy === "name" && st === "running" ? P.nameColour(d.tasks.name[i]) : (pal.states[st] || pal.states.unknown));
        const dark = inkOn(st === "blocked" ? pal.states.blocked : fill) === "#ffffff";
        const tk = d.tasks;
        const name = taskWords(i);
        const sel = tk.id[i] === selected;
        const stroke = sel ? (pal.selected || "#000000") : (inKnot ? pal.knot : "#555555");
        const sw = sel ? 3.5 : (inKnot ? 3 : 1);
        parts.push(`<g class="hv-node hv-task${inKnot ? " hv-knot knot" : ""}${sel ? " hv-selected" : ""}" data-task="${esc(tk.id[i])}" data-state="${esc(st)}" data-tip="${esc(name + " [" + tk.id[i] + "]: " + st)}">` +
          `<title>${esc(name)} [${esc(tk.id[i])}]: ${esc(st)}</title>` +
          (inKnot && sel ? `<rect x="${x - 5}" y="${y - 5}" width="${NW + 10}" height="${NH + 10}" rx="7" fill="none" stroke="${pal.knot}" stroke-width="2.5"/>` : "") +
          `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="${st === "blocked" || st === "running" ? 12 : 3}" fill="${fill}" stroke="${stroke}" stroke-width="${sw}"/>` +
          `<text x="${p[0]}" y="${p[1] - 3}" text-anchor="middle" class="hv-n1${dark ? " hv-light" : ""}">${esc(trunc(name, 21))}</text>` +
          `<text x="${p[0]}" y="${p[1] + 12}" text-anchor="middle" class="hv-n2${dark ? " hv-light" : ""}">${esc(st)} \u00b7 ${esc(tk.id[i].slice(0, 8))}</text></g>`);
      }
    }
    if (active.length > CAP) parts.push(`<text x="${vb[0] + 6}" y="${vb[1] + 14}" class="hv-n2">+${active.length - CAP} more waits not drawn</text>`);
    if (!active.length) parts.push(`<text x="${vb[0] + vb[2] / 2}" y="${vb[1] + vb[3] - 7}" text-anchor="middle" class="hv-n2">no task is waiting at this instant</text>`);
    // natural size when it fits; narrower boxes shrink it only down to a
    // scale that keeps every text >= 10 px, and scroll beyond that
    const box = Math.max(120, graphBox.clientWidth || vb[2]);
    const s = Math.max(GRAPH_MIN_SCALE, Math.min(1, box / vb[2]));
    const svg = `<svg xmlns="${SVGNS}" class="hv-waitfor-svg" viewBox="${vb.join(" ")}" width="${(vb[2] * s).toFixed(0)}" height="${(vb[3] * s).toFixed(0)}" data-t="${time}" role="img" aria-label="wait-for graph">${parts.join("")}</svg>`;
    graphBox.innerHTML = svg;
    return { active: active.length, blocked: blockedSet.size, holders: holderTask.filter((x) => x >= 0).length };
  }

  // ---------------------------------------------------------------- side
  function drawSide(time, g, finding) {
    const d = P.d, pal = d.palette;
    const next = P.findings.find((f) => f.at > time + 1e-9);
    const past = [...P.findings].reverse().find((f) => f.at <= time + 1e-9);
    let shown = finding || next || null;
    let text, dim = false, words;
    if (finding) {
      words = `${finding.verdict.toUpperCase()} at +${fmtT(finding.at, P.T)}`;
      text = finding.message;
    } else if (past && !next) {
      shown = past;
      words = "OK now";
      const how = past.until !== null && past.until !== undefined ? ` ended at +${fmtT(past.until, P.T)}` : "";
      text = `The ${past.verdict} found at +${fmtT(past.at, P.T)}${how}: its closing wait is over (answered, timed out, or its worker was lost). ` + past.message;
      dim = true;
    } else if (next) {
      words = `${next.verdict.toUpperCase()} at +${fmtT(next.at, P.T)}`;
      text = `Not yet (forms at +${fmtT(next.at, P.T)}). ` + next.message;
      dim = true;
    } else {
      words = "OK";
      text = d.diagnosis.message;
    }
    const vcol = shown && !(past && !next && !finding) ? (pal.verdicts[shown.verdict] || pal.muted) : pal.verdicts.ok;
    badge.textContent = words;
    badge.style.background = vcol;
    badge.style.color = inkOn(vcol);
    badge.classList.toggle("hv-badge-dim", dim && !!next && !finding);
    const size = stepAt(d.status, "size", time, null);
    const busy = stepAt(d.status, "busy", time, g.holders);
    const blocked = stepAt(d.status, "blocked", time, g.blocked);
    const pool = size === null ? Math.max(d.pool_size, P.nW) : size;
    status.textContent = `+${fmtT(time, P.T)}: ${busy} of ${pool} worker${pool === 1 ? "" : "s"} busy, ` +
      `${blocked} blocked, ${stepAt(d.queue, "n", time, 0)} queued` + (d.dropped ? ` \u00b7 ${d.dropped} events dropped` : "");
    status.dataset.busy = String(busy);
    status.dataset.pool = String(pool);
    msg.classList.toggle("hv-message-dim", dim);
    msg.style.borderLeftColor = dim ? "" : vcol;
    if (msg.dataset.text !== text) {
      msg.dataset.text = text;
      msg.textContent = text;
    }
  }

  function taskLink(parent, i, words) {
    const a = quiet(h("button", "hv-link", parent, words));
    a.type = "button";
    a.title = "show this task";
    a.addEventListener("click", () => select(P.d.tasks.id[i]));
    return a;
  }

  function drawDetails() {
    details.textContent = "";
    if (!selected || !P) { h("div", "hv-hint", details, "Click a task (lane or graph node) for its details; hover for a summary."); return; }
    const d = P.d, tk = d.tasks;
    const i = P.taskIndex.get(selected);
    if (i === undefined) return;
    const head = h("div", "hv-dtitle", details, taskWords(i));
    const clear = quiet(h("button", "hv-link hv-clear", head, "\u00d7"));
    clear.type = "button"; clear.title = "clear the selection"; clear.setAttribute("aria-label", "clear the selection");
    clear.addEventListener("click", () => select(""));
    const tbl = h("table", "hv-dtable", details);
    const row = (k, v) => {
      const tr = h("tr", "", tbl);
      h("th", "", tr, k);
      const td = h("td", "", tr);
      if (typeof v === "function") v(td); else td.textContent = v;
      return td;
    };
    row("id", tk.id[i]).classList.add("hv-id");
    row("worker", tk.worker[i] >= 0 ? d.worker_keys[tk.worker[i]] : "\u2014").classList.add("hv-id");
    row("enqueued", tk.enq[i] === null ? "\u2014" : "+" + fmtT(tk.enq[i], P.T));
    row("started", tk.start[i] === null ? "\u2014" : "+" + fmtT(tk.start[i], P.T));
    row("finished", tk.end[i] === null ? "\u2014" : "+" + fmtT(tk.end[i], P.T));
    row("outcome", P.S[tk.outcome[i]]);
    if (tk.args[i]) row("args", tk.args[i]);
    if (tk.parent[i] >= 0) {
      const pi = tk.parent[i];
      row("parent", (td) => taskLink(td, pi, `${P.S[tk.name[pi]]} [${tk.id[pi].slice(0, 8)}]`));
    }
    if (tk.error[i]) row("error", tk.error[i]);
    const w = d.waits;
    for (let j = 0; j < w.since.length; j++) {
      if (w.waiter[j] !== i) continue;
      const tgt = w.target[j];
      const culprit = P.findings.some((f) => f.wait === j);
      row("waits for", (td) => {
        taskLink(td, tgt, `${taskWords(tgt)} [${tk.id[tgt].slice(0, 8)}]`);
        td.appendChild(document.createTextNode(` from +${fmtT(w.since[j], P.T)}` +
          (w.until[j] === null ? " (never returned)" : ` to +${fmtT(w.until[j], P.T)}`) + (culprit ? " \u2014 the culprit" : "")));
      });
      if (w.site[j] >= 0) row("call site", P.S[w.site[j]]).classList.add("hv-code");
    }
  }

  function drawLegend() {
    const pal = P.d.palette;
    legend.textContent = "";
    const key = (label, style, cls) => {
      const it = h("span", "hv-key", legend);
      const sw = h("span", "hv-swatch" + (cls ? " " + cls : ""), it);
      Object.assign(sw.style, style);
      it.appendChild(document.createTextNode(label));
    };
    if (colourBy === "name") {
      const seen = Object.keys(P.d.name_colours || {}).slice(0, 9);
      for (const ni of seen) key(P.S[+ni], { background: P.d.name_colours[ni] });
    }
    // the state colours are in every legend, whatever the bars are coloured by
    key("running", { background: pal.states.running });
    key("blocked (hatched)", { background: `repeating-linear-gradient(45deg, ${pal.states.blocked} 0 3px, #ffffff 3px 4.5px)` }, "hv-swatch-hatch");
    key("complete", { background: pal.states.complete });
    key("queued", { background: pal.states.queued });
    key("error", { background: pal.states.error });
    key("culprit wait", { borderTop: `3px dashed ${pal.culprit}` }, "hv-swatch-line");
    key("waits for", { borderTop: `2px solid ${pal.wait}` }, "hv-swatch-line");
    key("needs a worker", { borderTop: `2px dashed ${pal.knot}` }, "hv-swatch-line");
    key("selected", { background: "#ffffff", outline: `2px solid ${pal.selected || "#000"}` });
  }

  function select(id) {
    selected = id;
    model.set("selected", id);
    model.save_changes();
    drawDetails();
    buildLanes();
    frame(t, true);
  }

  graphBox.addEventListener("click", (ev) => {
    const g = ev.target.closest && ev.target.closest(".hv-task");
    if (g && g.dataset.task) select(g.dataset.task);
  });
  graphBox.addEventListener("pointermove", (ev) => {
    const g = ev.target.closest && ev.target.closest("[data-tip]");
    showTip(g ? [g.getAttribute("data-tip")] : null, ev);
  });
  graphBox.addEventListener("pointerleave", () => { tip.style.display = "none"; });

  // ---------------------------------------------------------------- frames
  function frame(time) {
    if (!P) return;
    t = Math.min(Math.max(tMin(), time), tMax());
    const held = holdersAt(P, t);
    const finding = findingAt(t);
    lanes.draw(t, held, finding);
    if (F) drawFix(t);
    const g = drawGraph(t, held, finding);
    drawSide(t, g, finding);
    scrub.value = String(t);
    const end = Math.max(P.T, F ? F.T : 0);
    tLabel.textContent = `+${fmtT(t, end)} / ${fmtT(end)}`;
    frames += 1;
    root.dataset.frame = String(frames);
    root.dataset.t = String(t);
    root.dataset.finding = finding ? "1" : "0";
    if (finding && model.get("live")) root.dataset.liveFinding = "1";
  }

  function sync() {
    model.set("t", t);
    model.save_changes();
  }

  function load() {
    const d = model.get("data");
    if (!d || !d.spans) { root.classList.add("hv-empty"); return false; }
    root.classList.remove("hv-empty");
    const first = P === null;
    const wasAtEnd = P ? t >= P.T - 1e-9 : false;
    P = prepare(d);
    loads += 1;
    root.dataset.loads = String(loads);
    verdictsSeen.push(P.findings.length ? P.findings[P.findings.length - 1].verdict : "ok");
    root.dataset.verdicts = verdictsSeen.slice(-50).join(",");
    prepareFix(fixKind);
    if (first) {
      const w = model.get("window");
      // (a window reaching the end reaches that of a longer replay shown too)
      win = w && w.length === 2 ? clampWin(w[0], w[1] >= P.T - 1e-9 ? extent()[1] : w[1]) : null;
    } else if (win) win = clampWin(win[0], win[1]);
    buildLanes();
    drawLegend();
    if (first) drawFixes();   // (it reads no data: live batches leave it, and its focus, alone)
    liveTag.style.display = model.get("live") ? "" : "none";
    const findable = P.findings.length > 0;
    bFind.disabled = !findable;
    zFind.disabled = !findable;
    const follow = model.get("live") && model.get("follow") && !playing;
    if (first) frame(follow ? P.T : model.get("t"));
    else frame(follow || wasAtEnd ? P.T : t);
    drawDetails();
    return true;
  }

  // ---------------------------------------------------------------- playback
  function tick(ts) {
    if (!playing) return;
    const dt = lastTs ? (ts - lastTs) / 1000 : 0;
    lastTs = ts;
    const speed = parseFloat(speedSel.value) || 1;
    let nt = t + dt * speed * ((tMax() - tMin()) / PLAY_SECONDS);
    if (nt >= tMax()) {
      nt = tMax();
      if (!model.get("live")) setPlaying(false);
    }
    frame(nt);
    if (playing) raf = requestAnimationFrame(tick);
  }
  function setPlaying(on) {
    if (!P) return;
    if (on && t >= tMax() - 1e-12 && !model.get("live")) t = tMin();
    playing = on;
    bPlay.innerHTML = on ? ICONS.pause : ICONS.play;
    bPlay.classList.toggle("hv-on", on);
    bPlay.setAttribute("aria-pressed", on ? "true" : "false");
    root.dataset.playing = on ? "1" : "0";
    cancelAnimationFrame(raf);
    lastTs = 0;
    if (on) raf = requestAnimationFrame(tick);
    else sync();
    if (model.get("playing") !== on) { model.set("playing", on); model.save_changes(); }
  }
  function step(dir) {
    const ts = stepTimes || P.d.times;
    if (!ts.length) return;
    const j = bisectRight(ts, t + (dir > 0 ? 1e-9 : -1e-9));
    let nt = dir > 0 ? ts[Math.min(ts.length - 1, j + 1)] : ts[Math.max(0, j)];
    if (dir < 0 && nt >= t - 1e-12) nt = tMin();
    setPlaying(false);
    frame(nt);
    sync();
  }
  function jumpToFinding() {
    if (!P || !P.findings.length) return;
    setPlaying(false);
    // the next finding after the instant shown, or the first
    const f = P.findings.find((x) => x.at > t + 1e-9) || P.findings[0];
    const [a, b] = view();
    if (f.at < a || f.at > b) setWindow(currentFindingWindow());
    frame(f.at);
    sync();
  }

  bPlay.addEventListener("click", () => setPlaying(!playing));
  bPrev.addEventListener("click", () => step(-1));
  bNext.addEventListener("click", () => step(1));
  bFind.addEventListener("click", jumpToFinding);
  zAll.addEventListener("click", () => setWindow(null));
  zAct.addEventListener("click", () => { if (P) setWindow((P.d.windows && P.d.windows.activity) || null); });
  zFind.addEventListener("click", () => { if (P) { const w = currentFindingWindow(); if (w) { setWindow(w); jumpToFinding(); } } });
  zIn.addEventListener("click", () => zoomBy(0.5));
  zOut.addEventListener("click", () => zoomBy(2));
  speedSel.value = String(model.get("speed") || 1);
  if (!speedSel.value) speedSel.value = "1";
  speedSel.addEventListener("change", () => { model.set("speed", parseFloat(speedSel.value)); model.save_changes(); });
  colourSel.value = colourBy === "name" ? "name" : "state";
  colourSel.addEventListener("change", () => { colourBy = colourSel.value; model.set("color_by", colourBy); model.save_changes(); buildLanes(); drawLegend(); frame(t); });
  scrub.addEventListener("input", () => { if (playing) setPlaying(false); frame(parseFloat(scrub.value)); });
  scrub.addEventListener("change", () => sync());

  // the widget's own keys; every other key stays inside the widget too (a
  // stray arrow key must not move to another cell), except with a modifier
  root.addEventListener("keydown", (ev) => {
    if (!P || ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const k = ev.key;
    let used = true;
    if (k === " " || k === "Spacebar") setPlaying(!playing);
    else if (k === "ArrowRight" && ev.shiftKey) panBy(0.2);
    else if (k === "ArrowLeft" && ev.shiftKey) panBy(-0.2);
    else if (k === "ArrowRight") step(1);
    else if (k === "ArrowLeft") step(-1);
    else if (k === "Home") { setPlaying(false); frame(tMin()); sync(); }
    else if (k === "End") { setPlaying(false); frame(tMax()); sync(); }
    else if (k === "f" || k === "F") jumpToFinding();
    else if (k === "+" || k === "=") zoomBy(0.5);
    else if (k === "-" || k === "_") zoomBy(2);
    else if (k === "0") setWindow(null);
    else if (k === "Escape") { root.blur(); used = false; }
    else used = false;
    if (used) ev.preventDefault();
    if (k !== "Tab" && k !== "Escape") ev.stopPropagation();
  });

  const onData = () => load();
  const onT = () => { const nt = model.get("t"); if (P && Math.abs(nt - t) > 1e-12 && !playing) frame(nt); };
  const onPlaying = () => { const p = model.get("playing"); if (p !== playing) setPlaying(p); };
  const onLive = () => { liveTag.style.display = model.get("live") ? "" : "none"; };
  const onSelected = () => { const id = model.get("selected") || ""; if (id !== selected) { selected = id; drawDetails(); buildLanes(); frame(t); } };
  const onWindow = () => {
    const w = model.get("window");
    const nw = w && w.length === 2 ? w : null;
    if (JSON.stringify(nw) !== JSON.stringify(win)) setWindow(nw, { fromModel: true });
  };
  const onFixes = () => { if (!P) return; prepareFix(fixKind); setFix(fixKind, { fromModel: true }); };
  const onFix = () => { const k = model.get("fix") || ""; if (k !== fixKind || (k && !F)) setFix(k, { fromModel: true }); };
  const onColour = () => { const c = model.get("color_by") || "state"; if (c !== colourBy) { colourBy = c; colourSel.value = c; buildLanes(); drawLegend(); frame(t); } };
  const handlers = { selected: onSelected, data: onData, t: onT, playing: onPlaying, live: onLive,
                     window: onWindow, color_by: onColour, fixes: onFixes, fix: onFix };
  for (const [name, fn] of Object.entries(handlers)) model.on("change:" + name, fn);

  // size from the widget's own box, not the window: redraw the lanes at the
  // new width (once per animation frame however many resizes arrive)
  let resizeRaf = 0;
  const ro = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
    cancelAnimationFrame(resizeRaf);
    resizeRaf = requestAnimationFrame(() => {
      if (!P) return;
      const w = Math.floor(lanesBox.clientWidth || 0);
      if (w && Math.abs(w - lanes.width) >= 1) { buildLanes(); frame(t); }
    });
  });
  if (ro) ro.observe(lanesBox);

  // hooks for tests and benchmarks (no effect on the view)
  root.__hueyviz = { frame: (x) => frame(x), get t() { return t; }, get T() { return P ? P.T : 0; }, setPlaying,
                     setWindow: (w) => setWindow(w), get window() { return view(); },
                     setFix: (k) => setFix(k), get fix() { return F ? fixKind : ""; } };

  load();

  return () => {
    playing = false;
    cancelAnimationFrame(raf);
    cancelAnimationFrame(resizeRaf);
    clearTimeout(winTimer);
    if (ro) ro.disconnect();
    for (const [name, fn] of Object.entries(handlers)) model.off("change:" + name, fn);
  };
}

export default { render };
