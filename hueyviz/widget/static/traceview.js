// hueyviz TraceView front end, the view (controls, wait-for graph, side panel, playback).
// One ES module with traceview-base.js, -wire.js, -model.js, -lanes.js and
// traceview.js, joined in that order by hueyviz/widget/traceview.py
// (anywidget takes one module); top-level names are shared.

// ------------------------------------------------------------------ the view
function render({ model, el: host }) {
  const t0Render = performance.now();
  const store = storeOf(model);
  const uid = "hv" + (++instances) + "x" + Math.floor(Math.random() * 1e9).toString(36);
  const root = quiet(h("div", "hv-root", host));
  root.tabIndex = 0;
  root.setAttribute("role", "group");
  root.setAttribute("aria-label", "hueyviz trace view: Space play/pause, arrows step, Home/End, F finding, + and - zoom, 0 whole trace");
  root.dataset.frame = "0";
  root.dataset.tRender = String(Math.round(t0Render));

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
  let selected = model.get("selected") || "";   // the selected task's id
  let selIdx = -1;       // its index in the original (-1: not there, or not known yet)
  let picking = null;    // [prepared, task]: clicked before its id was known
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
  // task i of P (the original, or a fix's replay) was clicked: select it by
  // id, once the id is known
  function pick(Q, i) {
    const det = Q.detail(i);
    if (!det) { picking = [Q, i]; Q.need(i); return; }
    picking = null;
    let id = det.id;
    // a pipeline's continuation ("id~1") is its parent task in the original
    if (Q !== P && id.includes("~")) {
      const base = id.slice(0, id.lastIndexOf("~"));
      if (P.indexOf(id) === undefined && P.indexOf(base) !== undefined) id = base;
    }
    select(id);
  }
  const selectedIndex = (Q) => { const i = selected ? Q.indexOf(selected) : undefined; return i === undefined ? -1 : i; };
  const laneHost = {
    view, colourBy: () => colourBy, selectedIndex, pick, showTip,
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
  const fixLanes = createLanes(fixBox, uid + "f", { ...laneHost, ariaLabel: "worker lanes of the fix, replayed" });
  const span = (x) => (none(x) ? "never finishes" : fmtT(x));

  function prepareFix(kind) {
    const fm = model.get("fixes") || {};
    const entry = kind && fm.state === "ready" ? (fm.fixes || []).find((f) => f.kind === kind && f.data) : null;
    fixKind = kind || "";
    fixEntry = entry || null;
    const got = entry ? store.fixes.get(kind) : null;
    F = got ? prepare(got.d, store, kind) : null;
    stepTimes = null;
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
    const st = statusAt(F, time) || { size: 0, busy: 0, blocked: 0 };
    const size = st.size, busy = st.busy, blocked = st.blocked, queued = stepAt(d.queue, "n", time, 0);
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
    root.dataset.lod = lanes.mode;
    scrub.min = String(tMin());
    scrub.max = String(tMax());
  }

  // ------------------------------------------------------------ wait-for
  // The state of task i at `time`: its last recorded change at or before
  // then (the replay's changes, sent with the data; nothing is inferred here).
  function taskState(i, time) {
    const c = P.d.changes, ks = P.changes.of(i);
    let lo = 0, hi = ks.length - 1, found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (c.t[ks[mid]] <= time + 1e-9) { found = ks[mid]; lo = mid + 1; } else hi = mid - 1;
    }
    return found < 0 ? "not yet enqueued" : P.S[c.state[found]];
  }

  function findingAt(time) { return findingOf(P, time); }

  function workerLive(k, time) {
    const up = P.lanes.up[k], down = P.lanes.down[k];
    const from = !none(up) ? up : P.firstSeen[k];
    return from !== null && from <= time + 1e-9 && (none(down) || time < down);
  }

  function drawGraph(time, held, finding) {
    const d = P.d, w = d.waits, pal = d.palette, lay = d.layout || { pos: {}, node_w: 150, node_h: 36, width: 300, height: 100 };
    const active = P.activeAt(time);
    const blockedSet = new Set();
    for (const i of active) if (w.waiter[i] >= 0) blockedSet.add(w.waiter[i]);
    const holderTask = new Array(P.nW).fill(-1);
    for (let k = 0; k < P.tracks.length; k++) {
      if (held[k] >= 0) holderTask[P.tracks[k].worker] = d.spans.task[held[k]];
    }
    const knot = finding ? finding.knotSet : new Set();
    const nodes = new Map();   // key -> {kind, i}
    const NW = lay.node_w, NH = lay.node_h;
    const pos = P.pos;
    for (let k = 0; k < P.nW; k++) if (pos("w" + k) && workerLive(k, time)) nodes.set("w" + k, { kind: "worker", i: k });
    const CAP = GRAPH_CAP;
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
    const nLayout = P.nLayout;
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
        const sel = i === selIdx;
        const id = shortId(P, i), id8 = shortId(P, i, 8);
        const stroke = sel ? (pal.selected || "#000000") : (inKnot ? pal.knot : "#555555");
        const sw = sel ? 3.5 : (inKnot ? 3 : 1);
        parts.push(`<g class="hv-node hv-task${inKnot ? " hv-knot knot" : ""}${sel ? " hv-selected" : ""}" data-ti="${i}" data-state="${esc(st)}" data-tip="${esc(name + " [" + id + "]: " + st)}">` +
          `<title>${esc(name)} [${esc(id)}]: ${esc(st)}</title>` +
          (inKnot && sel ? `<rect x="${x - 5}" y="${y - 5}" width="${NW + 10}" height="${NH + 10}" rx="7" fill="none" stroke="${pal.knot}" stroke-width="2.5"/>` : "") +
          `<rect x="${x}" y="${y}" width="${NW}" height="${NH}" rx="${st === "blocked" || st === "running" ? 12 : 3}" fill="${fill}" stroke="${stroke}" stroke-width="${sw}"/>` +
          `<text x="${p[0]}" y="${p[1] - 3}" text-anchor="middle" class="hv-n1${dark ? " hv-light" : ""}">${esc(trunc(name, 21))}</text>` +
          `<text x="${p[0]}" y="${p[1] + 12}" text-anchor="middle" class="hv-n2${dark ? " hv-light" : ""}">${esc(st)} \u00b7 ${esc(id8)}</text></g>`);
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
      const how = !none(past.until) ? ` ended at +${fmtT(past.until, P.T)}` : "";
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
    const st = statusAt(P, time);
    const busy = st ? st.busy : g.holders, blocked = st ? st.blocked : g.blocked;
    const pool = st ? st.size : Math.max(d.pool_size, P.nW);
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
    a.addEventListener("click", () => pick(P, i));
    return a;
  }

  function drawDetails() {
    details.textContent = "";
    if (!selected || !P) { h("div", "hv-hint", details, "Click a task (lane or graph node) for its details; hover for a summary."); return; }
    const d = P.d, tk = d.tasks;
    const i = selIdx;
    if (i < 0) {
      // (a big trace's ids are asked for: this one may still be on its way)
      if (P.d.details !== "inline") h("div", "hv-hint", details, `Task ${selected}\u2026`);
      return;
    }
    const det = P.detail(i) || { id: selected, args: null, error: null };
    for (const j of [tk.parent[i], ...[...P.byWaiter.of(i)].map((k) => d.waits.target[k])]) if (j >= 0) P.need(j);
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
    row("id", det.id).classList.add("hv-id");
    row("worker", tk.worker[i] >= 0 ? d.worker_keys[tk.worker[i]] : "\u2014").classList.add("hv-id");
    const at = (x) => (none(x) ? "\u2014" : "+" + fmtT(x, P.T));
    row("enqueued", at(tk.enq[i]));
    row("started", at(P.taskStart(i)));
    row("finished", at(tk.end[i]));
    row("outcome", P.S[tk.outcome[i]]);
    if (det.args) row("args", det.args);
    if (tk.parent[i] >= 0) {
      const pi = tk.parent[i];
      row("parent", (td) => taskLink(td, pi, `${P.S[tk.name[pi]]} [${shortId(P, pi, 8)}]`));
    }
    if (det.error) row("error", det.error);
    const w = d.waits;
    for (const j of P.byWaiter.of(i)) {
      const tgt = w.target[j];
      const culprit = P.findings.some((f) => f.wait === j);
      row("waits for", (td) => {
        taskLink(td, tgt, `${taskWords(tgt)} [${shortId(P, tgt, 8)}]`);
        td.appendChild(document.createTextNode(` from +${fmtT(w.since[j], P.T)}` +
          (Number.isNaN(w.until[j]) ? " (never returned)" : ` to +${fmtT(w.until[j], P.T)}`) + (culprit ? " \u2014 the culprit" : "")));
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
    selIdx = selectedIndex(P);
    model.set("selected", id);
    model.save_changes();
    drawDetails();
    buildLanes();
    frame(t, true);
  }

  graphBox.addEventListener("click", (ev) => {
    const g = ev.target.closest && ev.target.closest(".hv-task");
    if (g && g.dataset.ti) pick(P, +g.dataset.ti);
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
    const d = store.d;
    if (!d || !d.spans) { root.classList.add("hv-empty"); return false; }
    root.classList.remove("hv-empty");
    const first = P === null;
    const wasAtEnd = P ? t >= P.T - 1e-9 : false;
    P = prepare(d, store, "");
    selIdx = selectedIndex(P);
    stepTimes = null;
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
    if (first) {
      // for the benchmarks: when the first frame was drawn (ms since the page
      // loaded, and since the epoch, to compare with the kernel's clock)
      root.dataset.tFirstFrame = String(Math.round(performance.now()));
      root.dataset.firstFrameEpoch = String(Date.now());
      root.dataset.ready = "1";
    }
    return true;
  }

  // task details (ids, args, errors) arrived: redraw what shows them, once
  // per animation frame however many answers come
  let detailsRaf = 0;
  function onDetails() {
    if (detailsRaf || !P) return;
    detailsRaf = requestAnimationFrame(() => {
      detailsRaf = 0;
      if (!P) return;
      if (picking && picking[0].detail(picking[1])) pick(picking[0], picking[1]);
      const si = selectedIndex(P);
      if (si !== selIdx || lanes.mode === "bars" || (F && fixLanes.mode === "bars")) { selIdx = si; buildLanes(); }
      frame(t);
      drawDetails();
      lanes.retip();
      fixLanes.retip();
    });
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
    const ts = stepTimes || (stepTimes = F ? mergeTimes([P.steps(), F.steps()]) : P.steps());
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

  const onT = () => { const nt = model.get("t"); if (P && Math.abs(nt - t) > 1e-12 && !playing) frame(nt); };
  const onPlaying = () => { const p = model.get("playing"); if (p !== playing) setPlaying(p); };
  const onLive = () => { liveTag.style.display = model.get("live") ? "" : "none"; };
  const onSelected = () => {
    const id = model.get("selected") || "";
    if (id === selected) return;
    selected = id;
    if (!P) return;
    selIdx = selectedIndex(P);
    drawDetails(); buildLanes(); frame(t);
  };
  const onWindow = () => {
    const w = model.get("window");
    const nw = w && w.length === 2 ? w : null;
    if (JSON.stringify(nw) !== JSON.stringify(win)) setWindow(nw, { fromModel: true });
  };
  const onFixes = () => { if (!P) return; prepareFix(fixKind); setFix(fixKind, { fromModel: true }); };
  const onFix = () => { const k = model.get("fix") || ""; if (k !== fixKind || (k && !F)) setFix(k, { fromModel: true }); };
  const onColour = () => { const c = model.get("color_by") || "state"; if (c !== colourBy) { colourBy = c; colourSel.value = c; buildLanes(); drawLegend(); frame(t); } };
  const handlers = { selected: onSelected, t: onT, playing: onPlaying, live: onLive,
                     window: onWindow, color_by: onColour, fix: onFix };
  const unsubscribe = store.subscribe((what) => {
    if (what === "data") load();
    else if (what === "fixes") onFixes();
    else if (what === "details") onDetails();
    else if (what === "error") root.dataset.error = store.error;
  });
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
                     setFix: (k) => setFix(k), get fix() { return F ? fixKind : ""; }, get lod() { return lanes.mode; } };

  store.ready.then(() => {
    root.dataset.tDecoded = String(Math.round(performance.now()));
    if (!P) load();
  });

  return () => {
    playing = false;
    unsubscribe();
    cancelAnimationFrame(detailsRaf);
    cancelAnimationFrame(raf);
    cancelAnimationFrame(resizeRaf);
    clearTimeout(winTimer);
    if (ro) ro.disconnect();
    for (const [name, fn] of Object.entries(handlers)) model.off("change:" + name, fn);
  };
}

// one store per widget model, made before its first view
function initialize({ model }) { storeOf(model); }

export default { initialize, render };
