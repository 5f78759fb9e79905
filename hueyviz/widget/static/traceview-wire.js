// hueyviz TraceView front end, the wire format and the per-model store.
// One ES module with traceview-base.js, -wire.js, -model.js, -lanes.js and
// traceview.js, joined in that order by hueyviz/widget/traceview.py
// (anywidget takes one module); top-level names are shared.

// ---------------------------------------------------------------- the wire
// The layout of the buffer is hueyviz/render/viewcodec.py's: each column at a
// multiple of 8 bytes, little-endian, ints in the smallest type that holds
// them, instants as ticks (plain, as differences, or counted from another
// column), the largest value of the type standing for none.
const CTOR = { u1: Uint8Array, u2: Uint16Array, u4: Uint32Array, i1: Int8Array, i2: Int16Array, i4: Int32Array };
const DMAX = { u1: 0xFF, u2: 0xFFFF, u4: 0xFFFFFFFF };
const LITTLE = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function bytesOf(x) {
  if (!x) return new Uint8Array(0);
  if (x instanceof ArrayBuffer) return new Uint8Array(x);
  return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
}
async function inflate(meta, x) {
  const raw = bytesOf(x);
  // (a copy: typed views need the column offsets aligned from byte 0)
  if (meta.compression !== "deflate") return raw.slice().buffer;
  return await new Response(new Blob([raw]).stream().pipeThrough(new DecompressionStream("deflate"))).arrayBuffer();
}
// the columns of one buffer: ints as Int32Array, instants as Float64Array
// seconds from t0 (NaN for none)
function unpackColumns(manifest, buf, tps, base) {
  if (!LITTLE) throw new Error("hueyviz: the view data is little-endian; this browser is not");
  const out = {}, ticks = {};
  for (const c of manifest) {
    const src = new CTOR[c.dtype](buf, c.offset, c.length);
    if (c.kind === "int") { out[c.name] = Int32Array.from(src); continue; }
    const n = c.length, m = DMAX[c.dtype], tk = new Float64Array(n), v = new Float64Array(n);
    if (c.encoding === "delta") {
      let acc = 0;
      for (let i = 0; i < n; i++) { acc += src[i]; tk[i] = acc; }
    } else {
      const ref = c.encoding.startsWith("after:") ? ticks[c.encoding.slice(6)] : null;
      for (let i = 0; i < n; i++) { const x = src[i]; tk[i] = x === m ? NaN : (ref ? ref[i] + x : x); }
    }
    for (let i = 0; i < n; i++) v[i] = (tk[i] + base) / tps;   // NaN stays NaN
    ticks[c.name] = tk;
    out[c.name] = v;
  }
  return out;
}
// the model the views read: the metadata, and the columns by table
function assemble(meta, col, text) {
  const d = Object.assign({}, meta);
  const cols = (prefix, names) => Object.fromEntries(names.map((k) => [k, col(prefix + k)]));
  d.tasks = cols("task.", ["name", "queue", "outcome", "worker", "parent", "enq", "end"]);
  d.spans = cols("span.", ["task", "worker", "depth", "start", "end", "outcome"]);
  d.waits = cols("wait.", ["waiter", "target", "span", "site", "since", "until"]);
  d.changes = cols("change.", ["task", "state", "t"]);
  d.queue = cols("queue.", ["t", "n"]);
  d.pools = (meta.pools || []).map((p, j) => Object.assign({}, p, cols(`pool${j}.`, ["t", "size", "busy", "blocked"])));
  d.nodes = meta.layout && meta.layout.task_nodes === "columns" ? cols("node.", ["task", "x", "y"]) : null;
  d.text = text || {};
  return d;
}
async function decodeData(data) {
  const buf = await inflate(data, data.buffer);
  const got = unpackColumns(data.columns, buf, data.ticks_per_s, data.time_base);
  return assemble(data, (k) => got[k] || new Int32Array(0), data.text);
}

// ---------------------------------------------------------------- the store
// One per widget model, shared by its views: the decoded model, brought
// forward by each live delta; what is known of each task's id, args and
// error (sent with a small trace, asked for otherwise); the fixes' replays.
// anywidget hands each view its own proxy of the model: the store is found
// by the widget's "_uid" trait, and listens through initialize's proxy,
// which lives as long as the model.
const stores = new Map();
function storeOf(model) {
  const key = model.get("_uid") || model;
  let s = stores.get(key);
  if (!s) {
    s = createStore(model);
    stores.set(key, s);
    model.on("destroy", () => stores.delete(key));
  }
  return s;
}

function createStore(model) {
  const S = { d: null, seq: -1, version: 0, fixes: new Map(), fixesVersion: 0 };
  const listeners = new Set();
  const notify = (what) => { for (const f of [...listeners]) f(what); };
  S.subscribe = (f) => { listeners.add(f); return () => listeners.delete(f); };
  let meta = null, cols = {}, text = {};
  let chain = Promise.resolve();
  const queue = (job) => { chain = chain.then(job).catch((e) => { S.error = String(e); notify("error"); }); return chain; };
  const view = (k) => (cols[k] ? cols[k].arr.subarray(0, cols[k].n) : new Int32Array(0));
  let syncing = false, early = [];

  // ---- details: per source ("" the original, else a fix's kind)
  const sources = new Map();
  const src = (name) => {
    let x = sources.get(name);
    if (!x) { x = { info: new Map(), ids: new Map(), pending: new Set(), asked: new Set() }; sources.set(name, x); }
    return x;
  };
  S.prefill = (name, t) => {
    const x = src(name);
    const ids = (t && t["task.id"]) || null;
    if (!ids) return;
    for (let i = 0; i < ids.length; i++) {
      x.info.set(i, { i, id: ids[i], args: t["task.args"][i], error: t["task.error"][i] });
      x.ids.set(ids[i], i);
    }
  };
  S.detail = (name, i) => src(name).info.get(i);
  S.indexOf = (name, id) => src(name).ids.get(id);
  let outbox = new Map(), timer = 0, req = 0;
  const flush = () => {
    timer = 0;
    for (const [name, set] of outbox) {
      const tasks = [...set];
      for (let k = 0; k < tasks.length; k += 2000) model.send({ type: "details", src: name, tasks: tasks.slice(k, k + 2000), req: ++req });
    }
    outbox = new Map();
  };
  // ask Python for what the view is about to show; the answer redraws it
  S.need = (name, i) => {
    const x = src(name);
    if (i < 0 || x.info.has(i) || x.pending.has(i)) return;
    x.pending.add(i);
    if (!outbox.has(name)) outbox.set(name, new Set());
    outbox.get(name).add(i);
    // at most a few requests a second while scrubbing or playing, each for
    // what is shown and not known yet (never one per frame)
    if (!timer) timer = setTimeout(flush, 150);
  };
  S.find = (name, id) => {
    const x = src(name);
    if (!id || x.ids.has(id) || x.asked.has(id) || name) return;
    x.asked.add(id);
    model.send({ type: "find", id, req: ++req });
  };

  // ---- the model
  async function full() {
    const data = model.get("data");
    if (!data || !data.columns) { S.d = null; S.version++; notify("data"); return; }
    const buf = await inflate(data, data.buffer);
    const got = unpackColumns(data.columns, buf, data.ticks_per_s, data.time_base);
    meta = Object.assign({}, data);
    delete meta.buffer;
    cols = {};
    for (const k in got) cols[k] = { arr: got[k], n: got[k].length };
    text = {};
    for (const k in data.text || {}) text[k] = data.text[k].slice();
    S.seq = data.seq || 0;
    S.prefill("", text);
    S.d = assemble(meta, view, text);
    S.version++;
    syncing = false;
    const later = early.filter(([m]) => m.seq > S.seq).sort((a, b) => a[0].seq - b[0].seq);
    early = [];
    notify("data");
    for (const [m, b] of later) await delta(m, b);
  }
  const grow = (c, extra) => {
    if (c.n + extra <= c.arr.length) return;
    const arr = new c.arr.constructor(Math.max(c.n + extra, c.arr.length * 2, 64));
    arr.set(c.arr.subarray(0, c.n));
    c.arr = arr;
  };
  async function delta(msg, buffers) {
    if (syncing) { early.push([msg, buffers]); return; }
    if (!meta || msg.seq <= S.seq) return;
    if (msg.seq !== S.seq + 1) {
      // a batch went missing (this model was made from an older state):
      // Python sends the whole current model again
      syncing = true;
      early.push([msg, buffers]);
      model.send({ type: "sync" });
      return;
    }
    const buf = msg.columns.length ? await inflate(msg, buffers[0]) : null;
    const got = buf ? unpackColumns(msg.columns, buf, meta.ticks_per_s, meta.time_base) : {};
    const names = new Set();
    for (const k in got) names.add(k.replace(/(@i|@v|\+)$/, ""));
    for (const name of names) {
      const c = cols[name];
      if (!c) continue;
      const idx = got[name + "@i"], vals = got[name + "@v"], add = got[name + "+"];
      if (idx) for (let k = 0; k < idx.length; k++) c.arr[idx[k]] = vals[k];
      if (add) { grow(c, add.length); c.arr.set(add, c.n); c.n += add.length; }
    }
    for (const name in msg.text || {}) {
      const t = msg.text[name], c = text[name] || (text[name] = []);
      t.i.forEach((i, k) => { c[i] = t.v[k]; });
      c.push(...t["+"]);
    }
    Object.assign(meta, msg.meta || {});
    for (const k of msg.drop || []) delete meta[k];
    S.seq = msg.seq;
    S.prefill("", text);
    S.d = assemble(meta, view, text);
    S.version++;
    notify("data");
  }
  async function loadFixes() {
    const fm = model.get("fixes") || {};
    const next = new Map();
    for (const f of fm.state === "ready" ? fm.fixes || [] : []) {
      if (!f.data) continue;
      const had = S.fixes.get(f.kind);
      next.set(f.kind, had && had.data === f.data ? had : { data: f.data, d: await decodeData(f.data) });
      sources.delete(f.kind);
      S.prefill(f.kind, f.data.text);
    }
    S.fixes = next;
    S.fixesVersion++;
    notify("fixes");
  }

  model.on("change:data", () => queue(full));
  model.on("change:fixes", () => queue(loadFixes));
  model.on("msg:custom", (msg, buffers) => {
    if (!msg) return;
    if (msg.type === "delta") queue(() => delta(msg, buffers || []));
    else if (msg.type === "details") {
      const x = src(msg.src || "");
      const got = new Set();
      for (const t of msg.tasks || []) { x.info.set(t.i, t); x.ids.set(t.id, t.i); got.add(t.i); x.pending.delete(t.i); }
      notify("details");
    }
  });
  S.ready = queue(full).then(() => queue(loadFixes));
  return S;
}
