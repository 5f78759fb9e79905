// hueyviz TraceView front end (anywidget ESM): constants and small helpers.
// One ES module with traceview-wire.js, -model.js, -lanes.js and traceview.js,
// joined in that order by hueyviz/widget/traceview.py (anywidget takes one
// module); top-level names are shared.
//
// Python sends the trace once (model "data", built by
// hueyviz/render/viewdata.py): JSON metadata and typed columns packed in one
// binary buffer (hueyviz/render/viewcodec.py), decoded here into typed
// arrays.  Every frame is computed here, but only by looking states up:
// each task's state changes, each pool's live size and busy/blocked counts,
// the findings with the moment they end.  Nothing here interprets events.
// A live view gets what changed as custom messages (rows appended, values
// changed); a big trace's task ids, args and errors are asked for when one
// is shown.  The decoded model lives once per widget model (a second view of
// the same widget shares it).
//
// The lanes are drawn for the current time window at the box's own width
// (text stays at its CSS size whatever the width): as bars (a few <path>s per
// colour) while the window holds few enough spans, else aggregated: each
// lane's pixel column filled by how long its worker spent in each state
// there.  Either is revealed up to the current instant with a clip
// rectangle: a frame only moves the clip, the cursor and one "running"
// overlay per lane.  They are redrawn only when the window, the width, the
// colouring or the selection changes, and only the spans inside the window
// are visited (binary search in each lane).  The wait-for graph is redrawn
// per frame from the waits active at that instant (an interval index), on
// node positions laid out once in Python.

const SVGNS = "http://www.w3.org/2000/svg";
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8];
const PLAY_SECONDS = 8;        // the whole window plays in 8 s at 1x
const GRAPH_MIN_SCALE = 10 / 10.5; // the graph's smallest text is 10.5 px
const MAX_LABELS = 400;        // bar labels drawn at once
const BAR_PX = 4;              // aggregate a window averaging more than a bar per 4 px of lane
const MAX_BARS = 20000;        // and any window of more bars than this
const GRAPH_CAP = 300;         // waits drawn in the graph at once
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
  if (s === null || s === undefined || Number.isNaN(s)) return "\u2014";
  const a = Math.abs(scale === undefined ? s : scale);
  if (a < 1e-3) return (s * 1e6).toFixed(0) + " \u00b5s";
  if (a < 1) return (s * 1e3).toFixed(a < 0.01 ? 2 : 1) + " ms";
  if (a < 120) return s.toFixed(a < 10 ? 3 : 2) + " s";
  return (s / 60).toFixed(1) + " min";
}
const none = (x) => x === null || x === undefined || Number.isNaN(x);
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
function bisectRight(arr, x, lo = 0, hi = arr.length) {
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
