// hueyviz TraceView front end, the model prepared for drawing (indices, lookups).
// One ES module with traceview-base.js, -wire.js, -model.js, -lanes.js and
// traceview.js, joined in that order by hueyviz/widget/traceview.py
// (anywidget takes one module); top-level names are shared.

// ---------------------------------------------------------------- model prep
// rows grouped by a key column (-1: none), each group in row order
function groupBy(keys, nKeys) {
  const start = new Int32Array(nKeys + 1);
  for (let i = 0; i < keys.length; i++) if (keys[i] >= 0 && keys[i] < nKeys) start[keys[i] + 1]++;
  for (let k = 0; k < nKeys; k++) start[k + 1] += start[k];
  const fill = start.slice(0, nKeys), idx = new Int32Array(start[nKeys]);
  for (let i = 0; i < keys.length; i++) { const k = keys[i]; if (k >= 0 && k < nKeys) idx[fill[k]++] = i; }
  return { start, idx, of: (k) => idx.subarray(start[k], start[k + 1]) };
}
// the waits active at t (since <= t < until), in order of since: a tree of
// the latest end over ranges of waits, so a frame visits only those
function intervalIndex(since, until) {
  const n = since.length;
  let size = 1;
  while (size < n) size <<= 1;
  const mx = new Float64Array(2 * size).fill(-Infinity);
  for (let i = 0; i < n; i++) mx[size + i] = Number.isNaN(until[i]) ? Infinity : until[i];
  for (let i = size - 1; i >= 1; i--) mx[i] = Math.max(mx[2 * i], mx[2 * i + 1]);
  return (t) => {
    const out = [], j = bisectRight(since, t);
    const go = (node, lo, hi) => {
      if (lo > j || mx[node] <= t) return;
      if (node >= size) { out.push(node - size); return; }
      const mid = (lo + hi) >> 1;
      go(2 * node, lo, mid);
      go(2 * node + 1, mid + 1, hi);
    };
    if (j >= 0) go(1, 0, size - 1);
    return out;
  };
}
// the sorted union of sorted arrays of instants
function mergeTimes(arrays) {
  let out = new Float64Array(0);
  for (const a of arrays) {
    const m = new Float64Array(out.length + a.length);
    let i = 0, j = 0, n = 0;
    while (i < out.length || j < a.length) {
      const x = j >= a.length || (i < out.length && out[i] <= a[j]) ? out[i++] : a[j++];
      if (!Number.isNaN(x) && (n === 0 || x > m[n - 1])) m[n++] = x;
    }
    out = m.subarray(0, n);
  }
  return out;
}
const sortedCopy = (a) => { for (let i = 1; i < a.length; i++) if (a[i] < a[i - 1]) return Float64Array.from(a).sort(); return a; };

function prepare(d, store, src) {
  const S = d.strings;
  const sp = d.spans;
  const nW = d.workers.length, nT = d.n_tasks, nS = sp.task.length;
  const T = Math.max(d.t1 || 0, 1e-9);
  // per (worker, depth): span indices sorted by start, for binary search
  const key = new Int32Array(nS);
  const trackOf = new Map(), tracks = [];
  let maxDepth = 0;
  for (let i = 0; i < nS; i++) {
    const dep = Math.min(sp.depth[i], 63), k = sp.worker[i] * 64 + dep;
    let t = trackOf.get(k);
    if (t === undefined) { t = tracks.length; trackOf.set(k, t); tracks.push({ worker: sp.worker[i], depth: dep }); }
    key[i] = t;
    maxDepth = Math.max(maxDepth, sp.depth[i]);
  }
  const byTrack = groupBy(key, tracks.length);
  tracks.forEach((tr, t) => {
    let idx = byTrack.of(t);
    const st = (i) => sp.start[i];
    for (let k = 1; k < idx.length; k++) if (st(idx[k]) < st(idx[k - 1])) { idx = Int32Array.from(idx).sort((a, b) => st(a) - st(b)); break; }
    tr.idx = idx;
    tr.starts = Float64Array.from(idx, st);
  });
  const order = tracks.map((_, t) => t).sort((a, b) => tracks[a].worker - tracks[b].worker || tracks[a].depth - tracks[b].depth);
  const sorted = order.map((t) => tracks[t]);
  const w = d.waits;
  const byWaiter = groupBy(w.waiter, nT), bySpan = groupBy(w.span, nS), byTask = groupBy(sp.task, nT);
  const changes = groupBy(d.changes.task, nT);
  // the culprit's wait: same waiter, target and start
  const findWait = (c) => {
    if (!c || none(c.since)) return -1;
    for (let j = Math.max(0, bisectRight(w.since, c.since - 1e-6)); j < w.since.length && w.since[j] <= c.since + 1e-6; j++) {
      if (w.waiter[j] === c.waiter && w.target[j] === c.target) return j;
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
  const lanes = d.lanes || { label: d.workers, group: d.workers.map(() => 0), up: [], down: [] };
  const firstSeen = new Array(nW).fill(null);
  for (const tr of sorted) if (tr.starts.length && (firstSeen[tr.worker] === null || tr.starts[0] < firstSeen[tr.worker])) firstSeen[tr.worker] = tr.starts[0];
  const open = [];
  for (let i = 0; i < nS; i++) if (Number.isNaN(sp.end[i])) open.push(i);
  const poolOfQueue = new Map();
  (d.pools || []).forEach((p, j) => poolOfQueue.set(p.qi, j));
  const nameColour = (ni) => (d.name_colours && d.name_colours[String(ni)]) || d.palette.states.unknown;
  let nodePos = null;
  if (d.nodes) {
    nodePos = new Map();
    for (let k = 0; k < d.nodes.task.length; k++) nodePos.set(d.nodes.task[k], [d.nodes.x[k] / 10, d.nodes.y[k] / 10]);
  }
  const lay = d.layout || { pos: {}, node_w: 150, node_h: 36, width: 300, height: 100 };
  let steps = null;
  const P = {
    d, S, T, Tx, nW, tracks: sorted, maxDepth, findings, stuck, lanes, firstSeen, open, poolOfQueue, nameColour,
    byWaiter, bySpan, byTask, changes, src, store,
    activeAt: intervalIndex(w.since, w.until),
    taskStart: (i) => { const s = byTask.of(i); return s.length ? sp.start[s[0]] : NaN; },
    pos: (k) => lay.pos[k] || (nodePos && k[0] === "t" ? nodePos.get(+k.slice(1)) : undefined),
    nLayout: Object.keys(lay.pos).length + (nodePos ? nodePos.size : 0),
    detail: (i) => store.detail(src, i),
    need: (i) => store.need(src, i),
    indexOf: (id) => { const i = store.indexOf(src, id); if (i === undefined) store.find(src, id); return i; },
    // the instants at which something shown changes: where the step keys go
    steps: () => steps || (steps = mergeTimes([sortedCopy(d.changes.t), sortedCopy(d.queue.t), ...(d.pools || []).map((p) => sortedCopy(p.t))])),
  };
  return P;
}

// lanes drawn one above the other share the label column: room for the
// longest label (pids included), within limits
function laneLabelWidth(P, width) {
  let longest = 8;
  for (const x of P.lanes.label) longest = Math.max(longest, String(x).length);
  return Math.round(Math.min(Math.max(150, width * 0.3), Math.max(84, longest * 6.4 + 14)));
}

// the finding that holds at `time`: formed by then, not yet dissolved
function findingOf(P, time) {
  let best = null;
  for (const f of P.findings) {
    if (f.at <= time + 1e-9 && (none(f.until) || time < f.until - 1e-12)) best = f;
  }
  return best;
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
      if (Number.isNaN(e) || time < e) s = i;
    }
    out[k] = s;
  }
  return out;
}

// all pools together at `time`: live workers, busy, blocked (null: no pool seen yet)
function statusAt(P, time) {
  let seen = false, size = 0, busy = 0, blocked = 0;
  for (const p of P.d.pools || []) {
    const k = bisectRight(p.t, time + 1e-12);
    if (k < 0) continue;
    seen = true;
    size += p.size[k]; busy += p.busy[k]; blocked += p.blocked[k];
  }
  return seen ? { size, busy, blocked } : null;
}

// a task in words: its name and, once known, its args
function taskWordsOf(P, i) {
  const det = P.detail(i);
  return P.S[P.d.tasks.name[i]] + ((det && det.args) || "");
}
// the first n characters of a task's id, once known ("…" until then)
function shortId(P, i, n) {
  const det = P.detail(i);
  if (!det) { P.need(i); return "\u2026"; }
  return n ? det.id.slice(0, n) : det.id;
}
