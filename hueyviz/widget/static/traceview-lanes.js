// hueyviz TraceView front end, the worker lanes (bars, or aggregated per pixel).
// One ES module with traceview-base.js, -wire.js, -model.js, -lanes.js and
// traceview.js, joined in that order by hueyviz/widget/traceview.py
// (anywidget takes one module); top-level names are shared.

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
  let VA = 0, KX = 1;    // the window's start and pixels per second, set by each build
  const xOf = (time) => LABEL + (time - VA) * KX;
  const tOf = (x) => VA + (x - LABEL) / KX;
  const endOf = (i) => { const e = P.d.spans.end[i]; return Number.isNaN(e) ? P.T : e; };

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
    const x1 = xOf(endOf(i));
    return [x0, y, Math.max(0.8, x1 - x0), hgt];
  }
  const rectPath = (r) => `M${r[0].toFixed(2)} ${r[1].toFixed(1)}h${r[2].toFixed(2)}v${r[3].toFixed(1)}h${(-r[2]).toFixed(2)}z`;

  function spanColour(i) {
    const d = P.d, sp = d.spans, pal = d.palette;
    if (host.colourBy() === "name") return P.nameColour(sp.task[i] >= 0 ? d.tasks.name[sp.task[i]] : -1);
    const oc = P.S[sp.outcome[i]];
    return oc === "running" ? pal.states.running : (pal.states[oc] || pal.states.unknown);
  }
  const taskWords = (i) => taskWordsOf(P, i);
  // the spans of each track inside [a, b]: [track, first, last] (binary search)
  function inWindow(a, b) {
    const out = [];
    let n = 0;
    P.tracks.forEach((tr, k) => {
      const j0 = Math.max(0, bisectRight(tr.starts, a));
      const j1 = bisectRight(tr.starts, b);
      if (j1 >= j0) { out.push([k, j0, j1]); n += j1 - j0 + 1; }
    });
    return { ranges: out, n };
  }
  function* spansIn(ranges, a) {
    for (const [k, j0, j1] of ranges) {
      const tr = P.tracks[k];
      for (let j = j0; j <= j1; j++) { const i = tr.idx[j]; if (endOf(i) >= a) yield i; }
    }
  }
  // blocked stretches of span i: [wait, start, end]
  function blocksOf(i) {
    const w = P.d.waits, out = [];
    for (const j of P.bySpan.of(i)) out.push([j, w.since[j], Number.isNaN(w.until[j]) ? endOf(i) : w.until[j]]);
    return out;
  }

  function queuePath(y0, hq, maxN) {
    // a step area; past a couple of points per pixel, each pixel column's most
    const q = P.d.queue, [va, vb] = view();
    const yq = (k) => (y0 - (maxN ? (k / maxN) * hq : 0)).toFixed(1);
    const j0 = Math.max(0, bisectRight(q.t, va)), j1 = bisectRight(q.t, vb);
    const plotW = width - LABEL - RPAD;
    let path = `M${xOf(0).toFixed(2)} ${y0}`;
    if (j1 - j0 <= 2 * plotW) {
      for (let k = j0; k <= j1; k++) path += `H${xOf(q.t[k]).toFixed(2)}V${yq(q.n[k])}`;
    } else {
      const cols = Math.ceil(plotW), hi = new Int32Array(cols).fill(-1);
      for (let k = j0; k <= j1; k++) {
        const c = Math.min(cols - 1, Math.max(0, Math.floor(xOf(q.t[k]) - LABEL)));
        if (q.n[k] > hi[c]) hi[c] = q.n[k];
      }
      for (let c = 0; c < cols; c++) if (hi[c] >= 0) path += `H${(LABEL + c).toFixed(2)}V${yq(hi[c])}`;
      path += `H${(LABEL + cols).toFixed(2)}V${yq(q.n[j1])}`;    // then the level it ends at
    }
    return path + `H${xOf(P.T).toFixed(2)}V${y0}Z`;
  }

  // each lane's pixel columns filled by the share of their time the worker
  // spent in each colour (depth 0: an inner execution is inside its outer
  // one); the past in colour, the whole faint: two images under one clip.
  // Pixels are written directly and the images encoded off the main thread
  // (toBlob): a rebuild of 100k runs stays well under a frame's budget.
  function drawAggregate(plot, past, ranges) {
    const d = P.d, pal = d.palette, sp = d.spans, [va, vb] = view();
    const cols = Math.max(1, Math.ceil(width - LABEL - RPAD)), px = (vb - va) / (width - LABEL - RPAD);
    const colours = [], ck = new Map();
    const kOf = (c) => { let k = ck.get(c); if (k === undefined) { k = colours.length; ck.set(c, k); colours.push(c); } return k; };
    const kBlocked = kOf(pal.states.blocked);
    const K = 16;            // colours of one lane (more repeat the last)
    const bins = new Float32Array(P.nW * cols * K);
    const add = (w, a, b, k, sign) => {
      const x0 = Math.max(0, (a - va) / px), x1 = Math.min(cols, (b - va) / px);
      if (x1 <= x0) return;
      const base = w * cols * K + Math.min(k, K - 1);
      for (let c = Math.floor(x0); c < x1 && c < cols; c++) bins[base + c * K] += sign * (Math.min(x1, c + 1) - Math.max(x0, c));
    };
    // a colour per outcome string (or per task name): looked up once each
    const byName = host.colourBy() === "name", memo = new Map();
    const keyOf = (i) => {
      const code = byName ? (sp.task[i] >= 0 ? d.tasks.name[sp.task[i]] : -1) : sp.outcome[i];
      let k = memo.get(code);
      if (k === undefined) { k = kOf(spanColour(i)); memo.set(code, k); }
      return k;
    };
    const w = d.waits, bs = P.bySpan.start, bi = P.bySpan.idx;
    for (const [t, j0, j1] of ranges) {
      const tr = P.tracks[t];
      if (tr.depth > 0) continue;
      for (let j = j0; j <= j1; j++) {
        const i = tr.idx[j], e = endOf(i);
        if (e < va) continue;
        const k = keyOf(i);
        add(tr.worker, sp.start[i], e, k, 1);
        for (let q = bs[i]; q < bs[i + 1]; q++) {
          const wj = bi[q], a = w.since[wj], b = Number.isNaN(w.until[wj]) ? e : w.until[wj];
          add(tr.worker, a, b, k, -1);
          add(tr.worker, a, b, kBlocked, 1);
        }
      }
    }
    const H = L.axisY;
    const rgba = colours.map((c) => {
      const m = /^#([0-9a-f]{6})$/i.exec(c) || [0, "999999"];
      const v = parseInt(m[1], 16);
      return (255 << 24 | (v & 255) << 16 | ((v >> 8) & 255) << 8 | (v >> 16)) >>> 0;   // little-endian RGBA
    });
    const stack = colours.map((_, k) => k).filter((k) => k !== kBlocked && k < K).concat([kBlocked]);
    const ghostImg = new ImageData(cols, H), pastImg = new ImageData(cols, H);
    const gpx = new Uint32Array(ghostImg.data.buffer), ppx = new Uint32Array(pastImg.data.buffer);
    const GREY = (255 << 24 | 0xBB << 16 | 0xBB << 8 | 0xBB) >>> 0, full = ROW - 8;
    for (let wk = 0; wk < P.nW; wk++) {
      const yb = L.rowY[wk] + ROW - 5;
      for (let c = 0; c < cols; c++) {
        const at = (wk * cols + c) * K;
        let tot = 0;
        for (const k of stack) tot += Math.max(0, bins[at + k]);
        if (tot <= 1e-4) continue;
        const s = full / Math.max(1, tot);
        let acc = 0, y = yb;
        for (const k of stack) {      // from the bottom up, blocked on top (as the hatch on a bar)
          acc += Math.max(0, bins[at + k]) * s;
          const top = yb - Math.round(acc);
          for (; y > top; y--) { ppx[(y - 1) * cols + c] = rgba[k]; gpx[(y - 1) * cols + c] = GREY; }
        }
        if (y === yb) { ppx[(yb - 1) * cols + c] = rgba[stack[stack.length - 1] === kBlocked && bins[at + kBlocked] * 2 > tot ? kBlocked : stack[0]]; gpx[(yb - 1) * cols + c] = GREY; }
      }
    }
    const attrs = { x: String(LABEL), y: "0", width: String(cols), height: String(H), preserveAspectRatio: "none" };
    const image = (img, parent, before, extra) => {
      const node = el("image", { ...attrs, ...extra });
      parent.insertBefore(node, before);
      const cv = document.createElement("canvas");
      cv.width = cols; cv.height = H;
      cv.getContext("2d").putImageData(img, 0, 0);
      cv.toBlob((blob) => {
        if (!blob || !node.isConnected) return;
        const url = URL.createObjectURL(blob);
        node.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
        node.setAttribute("href", url);
      });
      return node;
    };
    image(ghostImg, plot, past, { opacity: "0.3", class: "hv-ghost hv-agg" });
    image(pastImg, past, null, { class: "hv-spans hv-agg" });
  }

  function buildLanes() {
    if (!P) return;
    const d = P.d, sp = d.spans, pal = d.palette;
    width = Math.max(260, Math.floor(box.clientWidth || 700));
    LABEL = host.labelWidth ? host.labelWidth(width) : laneLabelWidth(P, width);
    box.textContent = "";
    const rows = laneRows();
    L.rowY = rows.y;
    const axisY = rows.bottom + 2;
    L.axisY = axisY;
    const H = axisY + AXIS;
    const [va, vb] = view();
    const plotW = width - LABEL - RPAD;
    VA = va;
    KX = plotW / (vb - va);
    const win = inWindow(va, vb);
    const aggregate = win.n > MAX_BARS || win.n > (plotW / BAR_PX) * Math.max(1, P.nW);
    L.mode = aggregate ? "aggregate" : "bars";
    const svg = el("svg", { viewBox: `0 0 ${width} ${H}`, width: String(width), height: String(H), class: "hv-lanes-svg",
                            role: "img", "aria-label": host.ariaLabel || "worker lanes", "data-from": String(va), "data-to": String(vb),
                            "data-lod": L.mode, "data-spans": String(win.n) }, box);
    const defs = el("defs", {}, svg);
    const pat = el("pattern", { id: uid + "-hatch", width: "6", height: "6",
                                patternUnits: "userSpaceOnUse", patternTransform: "rotate(45)" }, defs);
    el("rect", { width: "6", height: "6", fill: pal.states.blocked }, pat);
    el("line", { x1: "0", y1: "0", x2: "0", y2: "6", stroke: "#ffffff", "stroke-width": "2.2", "stroke-opacity": "0.75" }, pat);
    const clip = el("clipPath", { id: uid + "-clip" }, defs);
    L.clipRect = el("rect", { x: String(LABEL), y: "0", width: "0", height: String(H) }, clip);
    const plotClip = el("clipPath", { id: uid + "-plot" }, defs);
    el("rect", { x: String(LABEL), y: "0", width: String(plotW + 1), height: String(H) }, plotClip);
    el("rect", { x: "0", y: "0", width: String(width), height: String(H), fill: pal.background }, svg);
    // group headers, rows and labels
    for (const [g, gy] of rows.heads) {
      const tx = el("text", { x: "6", y: String(gy + GROUP - 5), class: "hv-group-label" }, svg);
      tx.textContent = trunc(d.groups.label[g], Math.floor((width - 12) / 6.5));
    }
    for (let w = 0; w < P.nW; w++) {
      const y = L.rowY[w];
      el("rect", { x: String(LABEL), y: String(y), width: String(plotW), height: String(ROW - 2),
                   fill: w % 2 ? "#F4F4F4" : "#FAFAFA" }, svg);
      const lab = el("text", { x: String(LABEL - 6), y: String(y + ROW / 2), "text-anchor": "end",
                               "dominant-baseline": "middle", class: "hv-lane-label" }, svg);
      lab.textContent = trunc(P.lanes.label[w], Math.floor((LABEL - 8) / 6.3));
      el("title", {}, lab).textContent = d.worker_keys[w];
      // a worker that left the pool (stopped, or lost with its process)
      const down = P.lanes.down[w];
      if (!none(down) && down <= vb) {
        const x = Math.max(LABEL, xOf(down));
        el("rect", { x: String(x), y: String(y), width: String(Math.max(0, width - RPAD - x)), height: String(ROW - 2),
                     fill: "#E4E4E4", class: "hv-gone" }, svg);
      }
    }
    // the queue: how many tasks wait for a worker (a step area, clipped to the past)
    const q = d.queue;
    let maxN = 0;
    for (let k = 0; k < q.n.length; k++) if (q.n[k] > maxN) maxN = q.n[k];
    const qpath = queuePath(TOP + QROW - 6, QROW - 12, maxN);
    el("rect", { x: String(LABEL), y: String(TOP), width: String(plotW), height: String(QROW - 6), fill: "#FAFAFA" }, svg);
    const ql = el("text", { x: String(LABEL - 6), y: String(TOP + 9), "text-anchor": "end", "dominant-baseline": "middle", class: "hv-lane-label hv-queue-label" }, svg);
    ql.textContent = "queue";
    const mx = el("text", { x: String(LABEL - 6), y: String(TOP + 21), "text-anchor": "end", "dominant-baseline": "middle", class: "hv-axis" }, svg);
    mx.textContent = "max " + maxN;
    // axis: ticks within the window
    const step = niceStep(vb - va, Math.max(2, Math.floor((width - LABEL) / 90)));
    const axis = el("g", { class: "hv-axis-band" }, svg);
    el("rect", { x: String(LABEL), y: String(axisY - 2), width: String(plotW), height: String(AXIS), fill: "#ffffff", class: "hv-axis-hit" }, axis);
    for (let v = Math.ceil(va / step) * step; v <= vb + 1e-12; v += step) {
      const x = xOf(v);
      if (x < LABEL - 0.5 || x > width - RPAD + 0.5) continue;
      el("line", { x1: String(x), x2: String(x), y1: String(TOP), y2: String(axisY), stroke: pal.grid, "stroke-width": "0.6" }, svg);
      const tx = el("text", { x: String(x), y: String(axisY + 13), "text-anchor": "middle", class: "hv-axis" }, axis);
      tx.textContent = "+" + fmtT(v, step);
    }
    const plot = el("g", { "clip-path": `url(#${uid}-plot)` }, svg);
    const past = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-past" }, plot);
    el("path", { d: qpath, fill: pal.states.queued, stroke: "#8C7E00", "stroke-width": "0.8", class: "hv-queue" }, past);
    const visible = aggregate ? null : [...spansIn(win.ranges, va)];
    if (aggregate) {
      drawAggregate(plot, past, win.ranges);
      const note = el("text", { x: String(LABEL + 4), y: String(TOP + 9), "dominant-baseline": "middle", class: "hv-axis hv-lod-note hv-halo" }, svg);
      note.textContent = `${win.n.toLocaleString("en")} runs, each lane's share of time per pixel \u00b7 zoom in for bars`;
    } else {
      // ghost of the whole window (the future, faint), then the past in colour
      const ghost = [], byColour = new Map();
      for (const i of visible) {
        const p = rectPath(barRect(i));
        ghost.push(p);
        const col = spanColour(i);
        if (!byColour.has(col)) byColour.set(col, []);
        byColour.get(col).push(p);
      }
      plot.insertBefore(el("path", { d: ghost.join(""), fill: "#BBBBBB", "fill-opacity": "0.3", class: "hv-ghost" }), past);
      const sparse = visible.length < plotW / 6;   // separators only where they help
      for (const [col, ps] of [...byColour.entries()].sort()) {
        el("path", { d: ps.join(""), fill: col, stroke: sparse ? "#ffffff" : "none", "stroke-width": "0.8", class: "hv-spans" }, past);
      }
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
    // blocked stretches of the bars: hatched orange, clipped to the past
    const bparts = [], blabels = [];
    if (!aggregate) {
      for (const i of visible) {
        for (const [j, a, b] of blocksOf(i)) {
          if (b < va || a > vb) continue;
          const r = barRect(i), x0 = xOf(a), x1 = xOf(b);
          const rr = [x0, r[1], Math.max(0.8, x1 - x0), r[3]];
          bparts.push(rectPath(rr));
          blabels.push([j, i, rr]);
        }
      }
    }
    const bg = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-blocked" }, plot);
    el("path", { d: bparts.join(""), fill: `url(#${uid}-hatch)`, stroke: pal.states.blocked, "stroke-width": "0.7" }, bg);
    // labels: the task on each bar wide enough to carry one, the awaited
    // task on each blocked stretch (clipped to the past, like the bars)
    const lg = el("g", { "clip-path": `url(#${uid}-clip)`, class: "hv-bar-labels" }, plot);
    let nLab = 0;
    for (const i of visible || []) {
      if (nLab >= MAX_LABELS) break;
      const r = barRect(i);
      const x0 = Math.max(r[0], LABEL), x1 = Math.min(r[0] + r[2], width - RPAD);
      let end = x1;
      for (const [, a] of blocksOf(i)) end = Math.min(end, Math.max(x0, xOf(a)));
      const room = end - x0 - 6;
      if (room < 34 || r[3] < 12) continue;
      const ti = sp.task[i];
      if (ti >= 0) P.need(ti);
      const tx = el("text", { x: String(x0 + 3), y: String(r[1] + r[3] / 2), "dominant-baseline": "middle", class: "hv-bar-label",
                              fill: host.colourBy() === "name" ? inkOn(spanColour(i)) : "#000000" }, lg);
      tx.textContent = trunc(ti >= 0 ? taskWords(ti) : "?", Math.floor(room / 6.2));
      nLab += 1;
    }
    const waitLabel = (j, words, x0, xe, y, parent) => {
      const tg = d.waits.target[j];
      const tx = el("text", { x: String(x0 + 3), y: String(y), "dominant-baseline": "middle", class: "hv-bar-label hv-halo" }, parent);
      tx.textContent = trunc(`${words} ${P.S[d.tasks.name[tg]]} [${shortId(P, tg, 4)}]`, Math.floor((xe - x0 - 6) / 6.2));
    };
    for (const [j, , rr] of blabels) {
      if (nLab >= MAX_LABELS) break;
      const x0 = Math.max(rr[0], LABEL), x1 = Math.min(rr[0] + rr[2], width - RPAD);
      if (x1 - x0 < 60 || rr[3] < 12) continue;
      waitLabel(j, "waits for", x0, x1, rr[1] + rr[3] / 2, lg);
      nLab += 1;
    }
    // still waiting after the trace ends: a stuck run never moves again, so
    // from the finding on the open bars continue to the right edge
    L.stuck = null;
    if (P.stuck && vb > P.T) {
      const sg = el("g", { class: "hv-stuck", visibility: "hidden" }, plot);
      // (past P.Tx when a longer replay beside it stretches the axis)
      const xe = Math.min(width - RPAD, xOf(Math.max(P.Tx, vb))) - 2;
      L.stuckEnd = xe;
      const xT = xOf(P.T);
      for (const i of P.open) {
        const r = barRect(i);
        el("rect", { x: String(xT), y: String(r[1]), width: String(Math.max(0, xe - xT)), height: String(r[3]),
                     fill: spanColour(i), "fill-opacity": "0.45" }, sg);
        for (const j of P.bySpan.of(i)) {
          if (!Number.isNaN(d.waits.until[j])) continue;
          // the part before the end is the past group's; this is what follows it
          const x0 = Math.max(LABEL, xT);
          el("rect", { x: String(x0), y: String(r[1]), width: String(Math.max(2, xe - x0)), height: String(r[3]),
                       fill: `url(#${uid}-hatch)`, stroke: pal.states.blocked, "stroke-width": "0.7" }, sg);
          if (xe - x0 > 60) waitLabel(j, "still waits for", x0, xe, r[1] + r[3] / 2, sg);
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
    for (const f of P.findings) {
      const j = f.wait, i = j >= 0 ? d.waits.span[j] : -1;
      if (i < 0) continue;
      const open = Number.isNaN(d.waits.until[j]) && Number.isNaN(sp.end[i]);
      const a = d.waits.since[j], b = Number.isNaN(d.waits.until[j]) ? endOf(i) : d.waits.until[j];
      if (b < va || a > vb) continue;
      const r = barRect(i), x0 = xOf(a);
      const x1 = open && L.stuck ? L.stuckEnd : Math.max(x0 + 0.8, xOf(b));
      L.culpritMarks.push([f, el("rect", { x: String(x0), y: String(r[1] - 1.5), width: String(Math.max(4, x1 - x0)), height: String(r[3] + 3),
                                           fill: "none", stroke: pal.culprit, "stroke-width": "2.5", "stroke-dasharray": "5 3",
                                           class: "hv-lane-culprit", visibility: "hidden" }, plot)]);
    }
    // the selected task: outlined wherever it ran
    const si = host.selectedIndex(P);
    if (si >= 0) {
      for (const i of P.byTask.of(si)) {
        if (endOf(i) < va || sp.start[i] > vb) continue;
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
    hookLanes(svg);
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
        const e = Number.isNaN(sp.end[i]) ? (P.stuck ? P.Tx : P.T) : sp.end[i];
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
    lines.push(`${ti >= 0 ? taskWords(ti) : "?"}  [${ti >= 0 ? shortId(P, ti) : "?"}]`);
    lines.push(`on ${P.lanes.label[hit.worker]} \u00b7 started +${fmtT(sp.start[i], P.T)}` +
               (Number.isNaN(sp.end[i]) ? " \u00b7 never finished" : ` \u00b7 ${oc} after ${fmtT(sp.end[i] - sp.start[i])}`));
    if (ti >= 0 && !Number.isNaN(tk.enq[ti]) && tk.enq[ti] <= sp.start[i]) lines.push(`waited ${fmtT(sp.start[i] - tk.enq[ti])} in the queue`);
    const w = d.waits;
    if (ti >= 0) {
      for (const k of P.byWaiter.of(ti)) {
        if (w.since[k] > hit.time + 1e-12) continue;
        if (!Number.isNaN(w.until[k]) && w.until[k] < hit.time) continue;
        const tg = w.target[k];
        lines.push(`blocked on ${taskWords(tg)} [${shortId(P, tg, 8)}] since +${fmtT(w.since[k], P.T)}` +
                   (Number.isNaN(w.until[k]) ? ", never returned" : ` until +${fmtT(w.until[k], P.T)}`));
        if (w.site[k] >= 0) lines.push(`at ${P.S[w.site[k]]}`);
      }
    }
    lines.push("click: details \u00b7 drag: zoom");
    return lines;
  }

  function svgPoint(svg, ev) {
    const r = svg.getBoundingClientRect();
    return [(ev.clientX - r.left) * (width / r.width), (ev.clientY - r.top) * (width / r.width)];
  }

  let hover = null;      // the last pointer position over the lanes (its tip is redrawn when details come)
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
        hover = null;
        if (py >= L.axisY - 2) { host.showTip(["drag: pan \u00b7 wheel: zoom"], ev); return; }
        if (py < TOP + QROW && px >= LABEL) { host.showTip([`queued at +${fmtT(tOf(px), P.T)}: ${stepAt(P.d.queue, "n", tOf(px), 0)} tasks`], ev); return; }
        const hit = hitLane(px, py);
        hover = hit ? { hit, ev: { clientX: ev.clientX, clientY: ev.clientY } } : null;
        host.showTip(hit ? laneTip(hit) : null, ev);
        return;
      }
      host.showTip(null);
      if (Math.abs(px - drag.x0) > 4) drag.moved = true;
      if (!drag.moved) return;
      if (drag.onAxis) {
        const [a, b] = drag.view;
        const dt = ((drag.x0 - px) / (width - LABEL - RPAD)) * (b - a);
        // a rebuild per animation frame, however fast the pointer moves
        drag.next = [a + dt, b + dt];
        if (!drag.raf) drag.raf = requestAnimationFrame(() => { if (drag) { drag.raf = 0; host.setWindow(drag.next); } });
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
      if (d0.raf) { cancelAnimationFrame(d0.raf); host.setWindow(d0.next); }
      if (d0.moved && !d0.onAxis) {
        const a = tOf(Math.max(LABEL, Math.min(d0.x0, px))), b = tOf(Math.min(width - RPAD, Math.max(d0.x0, px)));
        host.setWindow([a, b]);
        return;
      }
      if (d0.moved) return;
      const hit = hitLane(px, py);
      if (hit && hit.span >= 0 && P.d.spans.task[hit.span] >= 0) host.pick(P, P.d.spans.task[hit.span]);
      else if (px >= LABEL) host.seek(tOf(px));
    };
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", () => { drag = null; L.brush.setAttribute("visibility", "hidden"); });
    svg.addEventListener("pointerleave", () => { hover = null; host.showTip(null); });
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
    // details arrived: the tooltip under the pointer says them
    retip() { if (hover && P) host.showTip(laneTip(hover.hit), hover.ev); },
    get width() { return width; },
    get mode() { return L.mode || ""; },
  };
}
