// hueyviz TraceView front end (anywidget ESM).
//
// Python sends the trace once as column arrays (model "data"); every frame is
// computed here.  The lanes are drawn once as a few <path>s (one per colour)
// and revealed up to the current instant with a clip rectangle, so a frame
// only moves the clip, the cursor and one "running" overlay per lane; the
// wait-for graph is redrawn per frame from the waits active at that instant,
// on node positions laid out once in Python.

const SVGNS = "http://www.w3.org/2000/svg";
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const PLAY_SECONDS = 8; // the whole trace plays in 8 s at 1x
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
function niceStep(range, target) {
  const raw = range / Math.max(1, target);
  const p = Math.pow(10, Math.floor(Math.log10(raw || 1e-9)));
  for (const m of [1, 2, 5, 10]) if (m * p >= raw) return m * p;
  return 10 * p;
}

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
  const culprit = d.diagnosis.culprit;
  let culpritWait = -1;
  if (culprit) {
    const w = d.waits;
    for (let i = 0; i < w.since.length; i++) {
      if (w.waiter[i] === culprit.waiter && w.target[i] === culprit.target &&
          Math.abs(w.since[i] - culprit.since) < 1e-6) { culpritWait = i; break; }
    }
  }
  const knot = new Set(d.diagnosis.knot || []);
  const taskIndex = new Map(d.tasks.id.map((id, i) => [id, i]));
  return { d, S, T, nW, tracks, maxDepth, culpritWait, knot, taskIndex };
}

// ------------------------------------------------------------------ the view
function render({ model, el: host }) {
  const uid = "hv" + (++instances) + "x" + Math.floor(Math.random() * 1e9).toString(36);
  const root = h("div", "hv-root", host);
  root.dataset.frame = "0";

  // controls
  const bar = h("div", "hv-bar", root);
  const bPrev = h("button", "hv-btn hv-prev", bar);
  bPrev.innerHTML = ICONS.prev;
  bPrev.title = "previous event";
  const bPlay = h("button", "hv-btn hv-play", bar);
  bPlay.innerHTML = ICONS.play;
  bPlay.title = "play / pause";
  const bNext = h("button", "hv-btn hv-next", bar);
  bNext.innerHTML = ICONS.next;
  bNext.title = "next event";
  const bFind = h("button", "hv-btn hv-finding", bar, "\u2691 finding");
  bFind.title = "jump to the finding";
  const speedSel = h("select", "hv-speed", bar);
  speedSel.title = "playback speed";
  for (const s of SPEEDS) {
    const o = h("option", "", speedSel, s + "\u00d7");
    o.value = String(s);
  }
  const scrub = h("input", "hv-scrub", bar);
  scrub.type = "range"; scrub.min = "0"; scrub.step = "any";
  scrub.setAttribute("aria-label", "time");
  const tLabel = h("span", "hv-time", bar);
  const liveTag = h("span", "hv-live", bar, "\u25CF live");

  const grid = h("div", "hv-grid", root);
  const left = h("div", "hv-left", grid);
  const lanesBox = h("div", "hv-lanes", left);
  h("div", "hv-caption", left, "Who waits for whom at this instant");
  const graphBox = h("div", "hv-waitfor", left);
  const side = h("div", "hv-side", grid);
  const badge = h("div", "hv-badge", side);
  const status = h("div", "hv-status", side);
  const msg = h("div", "hv-message", side);
  const details = h("div", "hv-details", side);
  const legend = h("div", "hv-legend", side);

  let P = null;          // prepared model
  let t = 0;
  let playing = false;
  let raf = 0;
  let lastTs = 0;
  let frames = 0;
  let loads = 0;
  let selected = model.get("selected") || "";
  const L = {};          // lane svg parts

  // ---------------------------------------------------------------- lanes
  const LW = 720, LABEL = 92, RPAD = 14, ROW = 30, TOP = 8, AXIS = 22;
  function xOf(time) { return LABEL + (time / P.T) * (LW - LABEL - RPAD); }
  function rowY(w) { return TOP + (w + 1) * ROW; }   // row 0: the queue

  function buildLanes() {
    const d = P.d, sp = d.spans, pal = d.palette, S = d.strings;
    lanesBox.textContent = "";
    const H = TOP + (Math.max(1, P.nW) + 1) * ROW + AXIS;
    const svg = el("svg", { viewBox: `0 0 ${LW} ${H}`, width: "100%", class: "hv-lanes-svg",
                            role: "img", "aria-label": "worker lanes" }, lanesBox);
    const defs = el("defs", {}, svg);
    const pat = el("pattern", { id: uid + "-hatch", width: "6", height: "6",
                                patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
    el("rect", { width: "6", height: "6", fill: pal.states.blocked }, pat);
    el("line", { x1: "0", y1: "0", x2: "0", y2: "6", stroke: "#ffffff", "stroke-width": "2.2", "stroke-opacity": "0.75" }, pat);
    const clip = el("clipPath", { id: uid + "-clip" }, defs);
    L.clipRect = el("rect", { x: "0", y: "0", width: String(LABEL), height: String(H) }, clip);
    el("rect", { x: "0", y: "0", width: String(LW), height: String(H), fill: pal.background }, svg);
    // rows and labels
    for (let w = 0; w < P.nW; w++) {
      el("rect", { x: String(LABEL), y: String(rowY(w)), width: String(LW - LABEL - RPAD), height: String(ROW - 6),
                   fill: w % 2 ? "#F7F7F7" : "#FBFBFB" }, svg);
      const lab = el("text", { x: String(LABEL - 6), y: String(rowY(w) + ROW / 2), "text-anchor": "end",
                               "dominant-baseline": "middle", class: "hv-lane-label" }, svg);
      lab.textContent = trunc(d.workers[w], 13);
      const title = el("title", {}, lab);
      title.textContent = d.worker_keys[w];
    }
    // the queue: how many tasks wait for a worker (a step area, clipped to the past)
    {
      // queue depth after each change, as the replay recorded it
      const q = d.queue, pts = [];
      let maxN = 0;
      const evs = [];
      for (let k = 0; k < q.t.length; k++) { evs.push([q.t[k], q.n[k]]); maxN = Math.max(maxN, q.n[k]); }
      const y0 = TOP + ROW - 6, hq = ROW - 10;
      const yq = (k) => y0 - (maxN ? (k / maxN) * hq : 0);
      let path = `M${xOf(0)} ${y0}`;
      let cur = 0;
      for (const [tt, k] of evs) { const x = xOf(tt).toFixed(2); path += `H${x}V${yq(k).toFixed(1)}`; cur = k; }
      path += `H${xOf(P.T)}V${y0}Z`;
      el("rect", { x: String(LABEL), y: String(TOP), width: String(LW - LABEL - RPAD), height: String(ROW - 6), fill: "#FBFBFB" }, svg);
      const lab = el("text", { x: String(LABEL - 6), y: String(TOP + ROW / 2 - 3), "text-anchor": "end", "dominant-baseline": "middle", class: "hv-lane-label hv-queue-label" }, svg);
      lab.textContent = "queue";
      const mx = el("text", { x: String(LABEL - 6), y: String(TOP + ROW / 2 + 8), "text-anchor": "end", "dominant-baseline": "middle", class: "hv-axis" }, svg);
      mx.textContent = "max " + maxN;
      L.queuePath = path;
      L.queueMax = maxN;
    }
    // axis
    const axisY = TOP + (P.nW + 1) * ROW;
    const step = niceStep(P.T, 6);
    for (let v = 0; v <= P.T + 1e-12; v += step) {
      const x = xOf(v);
      el("line", { x1: String(x), x2: String(x), y1: String(TOP), y2: String(axisY), stroke: pal.grid, "stroke-width": "0.6" }, svg);
      const tx = el("text", { x: String(x), y: String(axisY + 14), "text-anchor": "middle", class: "hv-axis" }, svg);
      tx.textContent = "+" + fmtT(v, step);
    }
    // ghost of the whole trace (the future, faint), then the past in colour
    const ghost = [];
    const byColour = new Map();
    const bar = (i) => {
      const dep = Math.min(sp.depth[i], 3);
      const y = rowY(sp.worker[i]) + 2 + dep * 4;
      const hgt = ROW - 10 - dep * 8;
      const x0 = xOf(sp.start[i]);
      const x1 = xOf(sp.end[i] === null ? P.T : sp.end[i]);
      return [x0, y, Math.max(0.6, x1 - x0), Math.max(2, hgt)];
    };
    const rectPath = (r) => `M${r[0].toFixed(2)} ${r[1].toFixed(1)}h${r[2].toFixed(2)}v${r[3].toFixed(1)}h${(-r[2]).toFixed(2)}z`;
    for (let i = 0; i < sp.task.length; i++) {
      const r = bar(i);
      const p = rectPath(r);
      ghost.push(p);
      const oc = S[sp.outcome[i]];
      const col = oc === "running" ? pal.states.running : (pal.states[oc] || pal.states.unknown);
      if (!byColour.has(col)) byColour.set(col, []);
      byColour.get(col).push(p);
    }
    el("path", { d: ghost.join(""), fill: "#BBBBBB", "fill-opacity": "0.28", class: "hv-ghost" }, svg);
    const past = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-past" }, svg);
    el("path", { d: L.queuePath, fill: pal.states.queued, stroke: "#8C7E00", "stroke-width": "0.8", class: "hv-queue" }, past);
    for (const [col, ps] of [...byColour.entries()].sort()) {
      const sparse = sp.task.length < (LW - LABEL) / 6;   // separators only where they help
      el("path", { d: ps.join(""), fill: col, stroke: sparse ? "#ffffff" : "none", "stroke-width": "0.6", class: "hv-spans" }, past);
    }
    // running overlays (one per track), drawn under the blocked hatch
    L.overlays = [];
    const ovg = el("g", { class: "hv-running" }, svg);
    for (const tr of P.tracks) {
      const dep = Math.min(tr.depth, 3);
      const r = el("rect", { y: String(rowY(tr.worker) + 2 + dep * 4), height: String(Math.max(2, ROW - 10 - dep * 8)),
                             fill: pal.states.running, stroke: "#ffffff", "stroke-width": "0.4", visibility: "hidden" }, ovg);
      L.overlays.push(r);
    }
    // blocked stretches: hatched orange, also clipped to the past
    const bl = d.blocks;
    const bparts = [];
    L.culpritBlock = null;
    for (let j = 0; j < bl.span.length; j++) {
      const i = bl.span[j];
      const r = bar(i);
      const x0 = xOf(bl.start[j]);
      const x1 = xOf(bl.end[j] === null ? (sp.end[i] === null ? P.T : sp.end[i]) : bl.end[j]);
      const rr = [x0, r[1], Math.max(0.6, x1 - x0), r[3]];
      bparts.push(rectPath(rr));
      const c = d.diagnosis.culprit;
      if (c && sp.task[i] === c.waiter && Math.abs(bl.start[j] - c.since) < 1e-6) L.culpritBlock = rr;
    }
    const bg = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-blocked" }, svg);
    el("path", { d: bparts.join(""), fill: `url(#${uid}-hatch)`, stroke: pal.states.blocked, "stroke-width": "0.6" }, bg);
    if (L.culpritBlock) {
      const r = L.culpritBlock;
      L.culpritMark = el("rect", { x: String(r[0]), y: String(r[1] - 1.5), width: String(Math.max(3, r[2])), height: String(r[3] + 3),
                                   fill: "none", stroke: pal.culprit, "stroke-width": "2.5", "stroke-dasharray": "5 3",
                                   class: "hv-lane-culprit", visibility: "hidden" }, bg);
    }
    // the finding and the cursor
    if (d.diagnosis.at !== null && d.diagnosis.at !== undefined) {
      const fx = xOf(d.diagnosis.at);
      el("line", { x1: String(fx), x2: String(fx), y1: String(TOP - 4), y2: String(axisY), stroke: pal.verdicts[d.diagnosis.verdict] || pal.culprit,
                   "stroke-width": "1", "stroke-dasharray": "2 2", class: "hv-finding-mark" }, svg);
    }
    L.cursor = el("line", { y1: String(TOP - 6), y2: String(axisY + 2), stroke: pal.text, "stroke-width": "1.3", class: "hv-cursor" }, svg);
    L.svg = svg;
    svg.addEventListener("click", onLaneClick);
  }

  // which span holds each track at time t (index into spans, or -1)
  function holdersAt(time) {
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

  function drawLanes(time, held) {
    const x = xOf(time);
    L.clipRect.setAttribute("width", String(Math.max(0, x)));
    L.cursor.setAttribute("x1", String(x));
    L.cursor.setAttribute("x2", String(x));
    const sp = P.d.spans;
    for (let k = 0; k < P.tracks.length; k++) {
      const r = L.overlays[k];
      const i = held[k];
      if (i < 0) { if (r.getAttribute("visibility") !== "hidden") r.setAttribute("visibility", "hidden"); continue; }
      const x0 = xOf(sp.start[i]);
      r.setAttribute("x", String(x0));
      r.setAttribute("width", String(Math.max(0.6, x - x0)));
      r.setAttribute("visibility", "visible");
    }
    if (L.culpritMark) L.culpritMark.setAttribute("visibility", atFinding(time) ? "visible" : "hidden");
  }

  function atFinding(time) {
    const at = P.d.diagnosis.at;
    return at !== null && at !== undefined && time >= at - 1e-9;
  }

  function onLaneClick(ev) {
    const pt = L.svg.createSVGPoint();
    pt.x = ev.clientX; pt.y = ev.clientY;
    const p = pt.matrixTransform(L.svg.getScreenCTM().inverse());
    const w = Math.floor((p.y - TOP) / ROW) - 1;
    if (w < 0 || w >= P.nW || p.x < LABEL) return;
    const time = ((p.x - LABEL) / (LW - LABEL - RPAD)) * P.T;
    const sp = P.d.spans;
    const slack = (P.T / (LW - LABEL - RPAD)) * 2;
    let best = -1;
    for (const tr of P.tracks) {
      if (tr.worker !== w) continue;
      const j = bisectRight(tr.starts, time + slack);
      for (let q = j; q >= 0 && q >= j - 2; q--) {
        const i = tr.idx[q];
        const e = sp.end[i] === null ? P.T : sp.end[i];
        if (sp.start[i] - slack <= time && time <= e + slack && (best < 0 || sp.depth[i] > sp.depth[best])) best = i;
      }
    }
    if (best >= 0 && sp.task[best] >= 0) select(P.d.tasks.id[sp.task[best]]);
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

  function queuedAt(time) {
    const q = P.d.queue;
    const k = bisectRight(q.t, time);
    return k >= 0 ? q.n[k] : 0;
  }

  function drawGraph(time, held) {
    const d = P.d, w = d.waits, pal = d.palette, lay = d.layout || { pos: {}, node_w: 150, node_h: 34, width: 300, height: 100 };
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
    const finding = atFinding(time);
    const nodes = new Map();   // key -> {x,y,kind,...}
    const NW = lay.node_w, NH = lay.node_h;
    const pos = (k) => lay.pos[k];
    for (let k = 0; k < P.nW; k++) if (pos("w" + k)) nodes.set("w" + k, { kind: "worker", i: k });
    const CAP = 300;
    const shown = active.slice(0, CAP);
    for (const i of shown) {
      if (w.waiter[i] >= 0 && pos("t" + w.waiter[i])) nodes.set("t" + w.waiter[i], { kind: "task", i: w.waiter[i] });
      if (pos("t" + w.target[i])) nodes.set("t" + w.target[i], { kind: "task", i: w.target[i] });
    }
    // viewport: the whole layout when small, else fit what is shown
    let vb;
    const nLayout = Object.keys(lay.pos).length;
    if (nLayout <= 60 || lay.engine !== "graphviz") vb = [0, 0, Math.max(lay.width, 200), Math.max(lay.height, 60)];
    else {
      let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
      for (const k of nodes.keys()) {
        const p = pos(k);
        x0 = Math.min(x0, p[0] - NW / 2); x1 = Math.max(x1, p[0] + NW / 2);
        y0 = Math.min(y0, p[1] - NH / 2); y1 = Math.max(y1, p[1] + NH / 2);
      }
      if (!isFinite(x0)) { x0 = 0; y0 = 0; x1 = 200; y1 = 60; }
      vb = [x0 - 10, y0 - 10, x1 - x0 + 20, y1 - y0 + 20];
    }
    if (!active.length) vb = [vb[0], vb[1], vb[2], vb[3] + 20];   // room for the note
    const parts = [];
    parts.push(`<defs><marker id="${uid}-arr" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="10" markerHeight="10" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${pal.wait}"/></marker>` +
      `<marker id="${uid}-arrc" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="13" markerHeight="13" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${pal.culprit}"/></marker>` +
      `<marker id="${uid}-arrh" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="${pal.muted}"/></marker>` +
      `<pattern id="${uid}-ghatch" width="6" height="6" patternUnits="userSpaceOnUse" patternTransform="rotate(45)"><rect width="6" height="6" fill="${pal.states.blocked}"/><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" stroke-width="2.2" stroke-opacity="0.6"/></pattern></defs>`);
    parts.push(`<rect x="${vb[0]}" y="${vb[1]}" width="${vb[2]}" height="${vb[3]}" fill="${pal.background}"/>`);
    const edge = (a, b, cls, colour, width, dash, marker, title) => {
      const pa = pos(a), pb = pos(b);
      if (!pa || !pb) return;
      // from the right side of a to the left side of b (or around when b is left of a)
      let x1 = pa[0] + NW / 2, y1 = pa[1], x2 = pb[0] - NW / 2, y2 = pb[1];
      if (pb[0] <= pa[0]) { x1 = pa[0]; y1 = pa[1] + (pb[1] >= pa[1] ? NH / 2 : -NH / 2); x2 = pb[0]; y2 = pb[1] + (pb[1] >= pa[1] ? -NH / 2 : NH / 2); }
      const mx = (x1 + x2) / 2;
      const dpath = `M${x1.toFixed(1)},${y1.toFixed(1)} C${mx.toFixed(1)},${y1.toFixed(1)} ${mx.toFixed(1)},${y2.toFixed(1)} ${x2.toFixed(1)},${y2.toFixed(1)}`;
      parts.push(`<g class="${cls}"><title>${esc(title)}</title><path d="${dpath}" fill="none" stroke="${colour}" stroke-width="${width}"${dash ? ` stroke-dasharray="${dash}"` : ""} marker-end="url(#${uid}-${marker})"/></g>`);
    };
    // worker -> the task it holds (only for waiters shown)
    for (let k = 0; k < P.nW; k++) {
      const ti = holderTask[k];
      if (ti >= 0 && nodes.has("t" + ti)) edge("w" + k, "t" + ti, "hv-hold", pal.muted, 1.2, "3 3", "arrh", `${d.workers[k]} is held by this task`);
    }
    for (const i of shown) {
      if (w.waiter[i] < 0) continue;
      const isCulprit = finding && i === P.culpritWait;
      const a = "t" + w.waiter[i], b = "t" + w.target[i];
      const tn = P.S[d.tasks.name[w.waiter[i]]], bn = P.S[d.tasks.name[w.target[i]]];
      const title = `${tn} waits for ${bn}` + (w.site[i] >= 0 ? ` at ${P.S[w.site[i]]}` : "") + (isCulprit ? " \u2014 the wait that closed the deadlock" : "");
      if (isCulprit) edge(a, b, "hv-edge culprit", pal.culprit, 3.5, "7 4", "arrc", title);
      else edge(a, b, "hv-edge hv-wait", pal.wait, 1.6, "", "arr", title);
    }
    for (const [key, n] of nodes) {
      const p = pos(key);
      const x = p[0] - NW / 2, y = p[1] - NH / 2;
      if (n.kind === "worker") {
        const ti = holderTask[n.i];
        const st = ti >= 0 ? (blockedSet.has(ti) ? "blocked" : "running") : "idle";
        const fill = st === "idle" ? "#ffffff" : (st === "blocked" ? `url(#${uid}-ghatch)` : pal.states.running);
        parts.push(`<g class="hv-node hv-worker" data-state="${st}"><title>${esc(d.worker_keys[n.i])}: ${st}</title>` +
          `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="17" fill="${fill}" stroke="${pal.pool}" stroke-width="1.6"/>` +
          `<text x="${p[0]}" y="${p[1] - 3}" text-anchor="middle" class="hv-n1">${esc(trunc(d.workers[n.i], 20))}</text>` +
          `<text x="${p[0]}" y="${p[1] + 10}" text-anchor="middle" class="hv-n2">${st}</text></g>`);
      } else {
        const i = n.i;
        const st = taskState(i, time);
        const inKnot = finding && P.knot.has(i);
        const fill = st === "blocked" ? `url(#${uid}-ghatch)` : (pal.states[st] || pal.states.unknown);
        const dark = st === "complete" || st === "finished" || st === "error" || st === "timeout" || st === "lost" || st === "interrupted";
        const tk = d.tasks;
        const name = P.S[tk.name[i]] + (tk.args[i] ? tk.args[i] : "");
        const sel = tk.id[i] === selected;
        parts.push(`<g class="hv-node hv-task${inKnot ? " hv-knot" : ""}${sel ? " hv-selected" : ""}" data-task="${esc(tk.id[i])}" data-state="${esc(st)}">` +
          `<title>${esc(name)} [${esc(tk.id[i])}]: ${esc(st)}</title>` +
          `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="4" fill="${fill}" stroke="${inKnot ? pal.knot : (sel ? pal.text : "#555555")}" stroke-width="${inKnot ? 3 : (sel ? 2 : 1)}"/>` +
          `<text x="${p[0]}" y="${p[1] - 3}" text-anchor="middle" class="hv-n1${dark ? " hv-light" : ""}">${esc(trunc(name, 24))}</text>` +
          `<text x="${p[0]}" y="${p[1] + 10}" text-anchor="middle" class="hv-n2${dark ? " hv-light" : ""}">${esc(st)} \u00b7 ${esc(tk.id[i].slice(0, 8))}</text></g>`);
      }
    }
    if (active.length > CAP) parts.push(`<text x="${vb[0] + 6}" y="${vb[1] + 14}" class="hv-n2">+${active.length - CAP} more waits not drawn</text>`);
    if (!active.length) parts.push(`<text x="${vb[0] + vb[2] / 2}" y="${vb[1] + vb[3] - 6}" text-anchor="middle" class="hv-n2">no task is waiting at this instant</text>`);
    const svg = `<svg xmlns="${SVGNS}" class="hv-waitfor-svg" viewBox="${vb.join(" ")}" width="100%" style="max-height:${Math.max(120, Math.min(420, vb[3] * 1.25))}px" role="img" aria-label="wait-for graph">${parts.join("")}</svg>`;
    graphBox.innerHTML = svg;
    return { active: active.length, blocked: blockedSet.size, holders: holderTask.filter((x) => x >= 0).length };
  }

  // ---------------------------------------------------------------- side
  function drawSide(time, g) {
    const d = P.d, dg = d.diagnosis, pal = d.palette;
    const finding = atFinding(time);
    const vcol = pal.verdicts[dg.verdict] || pal.muted;
    if (dg.verdict === "ok") {
      badge.textContent = "OK";
    } else {
      badge.textContent = `${dg.verdict.toUpperCase()} at +${fmtT(dg.at, P.T)}`;
    }
    badge.style.background = vcol;
    badge.style.color = dg.verdict === "ok" || dg.verdict === "stall" ? "#000000" : "#ffffff";
    badge.classList.toggle("hv-badge-dim", !finding && dg.verdict !== "ok");
    const pool = Math.max(d.pool_size, P.nW);
    status.textContent = `+${fmtT(time, P.T)}: ${g.holders} of ${pool} worker${pool === 1 ? "" : "s"} busy, ` +
      `${g.blocked} blocked, ${queuedAt(time)} queued` + (d.dropped ? ` \u00b7 ${d.dropped} events dropped` : "");
    msg.classList.toggle("hv-message-dim", !finding && dg.verdict !== "ok");
    msg.style.borderLeftColor = (!finding && dg.verdict !== "ok") ? "" : vcol;
    const prefix = dg.verdict === "ok" ? "" : (finding ? "" : `Not yet (forms at +${fmtT(dg.at, P.T)}). `);
    if (msg.dataset.text !== prefix + dg.message) {
      msg.dataset.text = prefix + dg.message;
      msg.textContent = prefix + dg.message;
    }
  }

  function drawDetails() {
    details.textContent = "";
    if (!selected || !P) { h("div", "hv-hint", details, "Click a task (lane or graph node) for its details."); return; }
    const d = P.d, tk = d.tasks;
    const i = P.taskIndex.get(selected);
    if (i === undefined) return;
    h("div", "hv-dtitle", details, P.S[tk.name[i]] + (tk.args[i] || ""));
    const rows = [["id", tk.id[i]], ["worker", tk.worker[i] >= 0 ? d.worker_keys[tk.worker[i]] : "\u2014"],
      ["enqueued", tk.enq[i] === null ? "\u2014" : "+" + fmtT(tk.enq[i], P.T)],
      ["started", tk.start[i] === null ? "\u2014" : "+" + fmtT(tk.start[i], P.T)],
      ["finished", tk.end[i] === null ? "\u2014" : "+" + fmtT(tk.end[i], P.T)],
      ["outcome", P.S[tk.outcome[i]]]];
    if (tk.args[i]) rows.push(["args", tk.args[i]]);
    if (tk.parent[i] >= 0) rows.push(["parent", P.S[tk.name[tk.parent[i]]] + " [" + tk.id[tk.parent[i]].slice(0, 8) + "]"]);
    if (tk.error[i]) rows.push(["error", tk.error[i]]);
    const w = d.waits;
    for (let j = 0; j < w.since.length; j++) {
      if (w.waiter[j] !== i) continue;
      const tgt = w.target[j];
      rows.push(["waits for", `${P.S[tk.name[tgt]]}${tk.args[tgt] || ""} [${tk.id[tgt].slice(0, 8)}] from +${fmtT(w.since[j], P.T)}` +
        (w.until[j] === null ? " (never returned)" : ` to +${fmtT(w.until[j], P.T)}`) + (j === P.culpritWait ? " \u2014 the culprit" : "")]);
      if (w.site[j] >= 0) rows.push(["call site", P.S[w.site[j]]]);
    }
    const tbl = h("table", "hv-dtable", details);
    for (const [k, v] of rows) {
      const tr = h("tr", "", tbl);
      h("th", "", tr, k);
      h("td", "", tr, v);
    }
  }

  function drawLegend() {
    const pal = P.d.palette;
    legend.textContent = "";
    const items = [["running", pal.states.running, ""], ["blocked (hatched)", pal.states.blocked, "hatch"], ["complete", pal.states.complete, ""],
      ["queued", pal.states.queued, ""], ["error", pal.states.error, ""]];
    for (const [label, col, kind] of items) {
      const it = h("span", "hv-key", legend);
      const sw = h("span", "hv-swatch" + (kind ? " hv-swatch-hatch" : ""), it);
      sw.style.background = kind ? `repeating-linear-gradient(45deg, ${col} 0 3px, #ffffff 3px 4.5px)` : col;
      it.appendChild(document.createTextNode(label));
    }
    const it = h("span", "hv-key", legend);
    const sw = h("span", "hv-swatch hv-swatch-line", it);
    sw.style.borderTop = `3px dashed ${pal.culprit}`;
    it.appendChild(document.createTextNode("culprit wait"));
    const it2 = h("span", "hv-key", legend);
    const sw2 = h("span", "hv-swatch hv-swatch-line", it2);
    sw2.style.borderTop = `2px solid ${pal.wait}`;
    it2.appendChild(document.createTextNode("waits for"));
  }

  function select(id) {
    selected = id;
    model.set("selected", id);
    model.save_changes();
    drawDetails();
    frame(t, true);
  }

  graphBox.addEventListener("click", (ev) => {
    const g = ev.target.closest && ev.target.closest(".hv-task");
    if (g && g.dataset.task) select(g.dataset.task);
  });

  // ---------------------------------------------------------------- frames
  function frame(time, force) {
    if (!P) return;
    t = Math.min(Math.max(0, time), P.T);
    const held = holdersAt(t);
    drawLanes(t, held);
    const g = drawGraph(t, held);
    drawSide(t, g);
    scrub.value = String(t);
    tLabel.textContent = `+${fmtT(t, P.T)} / ${fmtT(P.T)}`;
    frames += 1;
    root.dataset.frame = String(frames);
    root.dataset.t = String(t);
    root.dataset.finding = atFinding(t) ? "1" : "0";
  }

  function sync() {
    model.set("t", t);
    model.save_changes();
  }

  function load() {
    const d = model.get("data");
    if (!d || !d.spans) { root.classList.add("hv-empty"); return false; }
    const prevT1 = P ? P.T : null;
    const wasAtEnd = P ? t >= P.T - 1e-9 : false;
    P = prepare(d);
    loads += 1;
    root.dataset.loads = String(loads);
    scrub.max = String(P.T);
    buildLanes();
    drawLegend();
    liveTag.style.display = model.get("live") ? "" : "none";
    if (prevT1 !== null && wasAtEnd && model.get("follow") && !playing) t = P.T;
    frame(prevT1 === null ? model.get("t") : t);
    drawDetails();
    return true;
  }

  // ---------------------------------------------------------------- playback
  function tick(ts) {
    if (!playing) return;
    const dt = lastTs ? (ts - lastTs) / 1000 : 0;
    lastTs = ts;
    const speed = parseFloat(speedSel.value) || 1;
    let nt = t + dt * speed * (P.T / PLAY_SECONDS);
    if (nt >= P.T) {
      nt = P.T;
      if (!model.get("live")) setPlaying(false);
    }
    frame(nt);
    if (playing) raf = requestAnimationFrame(tick);
  }
  function setPlaying(on) {
    if (!P) return;
    if (on && t >= P.T - 1e-12 && !model.get("live")) t = 0;
    playing = on;
    bPlay.innerHTML = on ? ICONS.pause : ICONS.play;
    bPlay.classList.toggle("hv-on", on);
    root.dataset.playing = on ? "1" : "0";
    cancelAnimationFrame(raf);
    lastTs = 0;
    if (on) raf = requestAnimationFrame(tick);
    else sync();
  }
  function step(dir) {
    const ts = P.d.times;
    if (!ts.length) return;
    let j = bisectRight(ts, t + (dir > 0 ? 1e-9 : -1e-9));
    const nt = dir > 0 ? ts[Math.min(ts.length - 1, j + 1)] : ts[Math.max(0, j)];
    setPlaying(false);
    frame(nt);
    sync();
  }

  bPlay.addEventListener("click", () => setPlaying(!playing));
  bPrev.addEventListener("click", () => step(-1));
  bNext.addEventListener("click", () => step(1));
  bFind.addEventListener("click", () => {
    const at = P && P.d.diagnosis.at;
    setPlaying(false);
    if (at !== null && at !== undefined) { frame(at); sync(); }
  });
  speedSel.value = String(model.get("speed") || 1);
  if (!speedSel.value) speedSel.value = "1";
  speedSel.addEventListener("change", () => { model.set("speed", parseFloat(speedSel.value)); model.save_changes(); });
  scrub.addEventListener("input", () => { if (playing) setPlaying(false); frame(parseFloat(scrub.value)); });
  scrub.addEventListener("change", () => sync());

  const onData = () => load();
  const onT = () => { const nt = model.get("t"); if (P && Math.abs(nt - t) > 1e-12 && !playing) frame(nt); };
  const onPlaying = () => { const p = model.get("playing"); if (p !== playing) setPlaying(p); };
  const onLive = () => { liveTag.style.display = model.get("live") ? "" : "none"; };
  const onSelected = () => { const id = model.get("selected") || ""; if (id !== selected) { selected = id; drawDetails(); frame(t, true); } };
  model.on("change:selected", onSelected);
  model.on("change:data", onData);
  model.on("change:t", onT);
  model.on("change:playing", onPlaying);
  model.on("change:live", onLive);

  // hooks for tests and benchmarks (no effect on the view)
  root.__hueyviz = { frame: (x) => frame(x), get t() { return t; }, get T() { return P ? P.T : 0; }, setPlaying };

  bFind.disabled = false;
  if (load()) bFind.disabled = P.d.diagnosis.at === null || P.d.diagnosis.at === undefined;

  return () => {
    playing = false;
    cancelAnimationFrame(raf);
    model.off("change:data", onData);
    model.off("change:t", onT);
    model.off("change:playing", onPlaying);
    model.off("change:live", onLive);
    model.off("change:selected", onSelected);
  };
}

export default { render };
