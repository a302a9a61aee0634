// The scratchnn Playground's page: draws what the server's scratchnn run sends.
// Plain JavaScript, no build step, no library. The configuration lives in the URL's hash.
//
// Nothing from the URL, the server or the user is ever parsed as HTML: every text goes into
// the page through textContent, attributes or DOM nodes (el() below), and every value from
// the URL is checked against the server's options before it is used. The server's
// Content-Security-Policy forbids inline script besides.
"use strict";

const NODE = 40;          // node size in pixels
const NODE_GAP = 52;      // vertical distance between nodes
const TOP = 36;           // room above the columns for the layer controls
const LEFT = 60;          // room left of the features for their labels
const MIN_STEP = 78;      // least distance between columns: a layer's +/- controls fit
const SVG_NS = "http://www.w3.org/2000/svg";

const ICONS = {
  play: "M7 4v16l13-8z",
  pause: "M6 4h4v16H6zM14 4h4v16h-4z",
};

const state = {
  options: null,
  config: null,
  session: null,
  info: null,           // the server's description of the run (points, grid, feature maps)
  frame: null,
  generation: 0,        // bumps on every new run, so late frames of an old run are dropped
  playing: false,
  busy: false,
  train: [],            // loss history
  test: [],
  selected: null,       // {kind: "neuron", layer, index} or {kind: "weight", layer, i, j}
  frameTimes: [],
  drawn: 0,             // heatmap updates drawn since the page opened
  trace: null,          // the inspector's traced step
  stream: null,         // the EventSource of frames while playing
  tracePhase: 0,
};

// ---------------------------------------------------------------- helpers

const $ = (id) => document.getElementById(id);

// An element with attributes and children; strings become text nodes, never markup.
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "dataset") Object.assign(node.dataset, value);
    else if (key === "class") node.className = value;
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

function append(node, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

function icon(name) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "22");
  svg.setAttribute("height", "22");
  const path = document.createElementNS(SVG_NS, "path");
  path.setAttribute("d", ICONS[name]);
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

async function api(path, body) {
  const response = await fetch(path, {
    method: body === undefined ? "GET" : "POST",
    headers: body === undefined ? {} : {"Content-Type": "application/json"},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json();
  if (!response.ok) throw new Error(payload.error || response.statusText);
  return payload;
}

function showStatus(text, isError) {
  const status = $("status");
  status.textContent = text || "";
  status.classList.toggle("error", !!isError);
}

function hexToRgb(hex) {
  const n = parseInt(hex.slice(1), 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255];
}

// 256 colours from orange (byte 0: -1, class 0) through grey-white to blue (255: +1, class 1).
const PALETTE = (() => {
  const neg = hexToRgb("#f59322"), mid = hexToRgb("#e8eaeb"), pos = hexToRgb("#0877bd");
  const table = new Uint8ClampedArray(256 * 3);
  for (let b = 0; b < 256; b++) {
    const t = (b / 255) * 2 - 1;
    const end = t < 0 ? neg : pos, w = Math.abs(t);
    for (let c = 0; c < 3; c++) table[b * 3 + c] = mid[c] + (end[c] - mid[c]) * w;
  }
  return table;
})();

function colourOf(value, low, high) {
  const b = Math.max(0, Math.min(255, Math.round(((value - low) / (high - low)) * 255)));
  return `rgb(${PALETTE[b * 3]},${PALETTE[b * 3 + 1]},${PALETTE[b * 3 + 2]})`;
}

function decode(b64) {
  const text = atob(b64);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

// Paint bytes (size x size) onto a canvas whose drawing buffer is size x size.
function paint(canvas, b64, size) {
  if (canvas.width !== size) { canvas.width = size; canvas.height = size; }
  const ctx = canvas.getContext("2d");
  const bytes = decode(b64);
  const image = ctx.createImageData(size, size);
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] * 3;
    image.data[i * 4] = PALETTE[b];
    image.data[i * 4 + 1] = PALETTE[b + 1];
    image.data[i * 4 + 2] = PALETTE[b + 2];
    image.data[i * 4 + 3] = 255;
  }
  ctx.putImageData(image, 0, 0);
}

function fmt(x, digits = 3) {
  if (x === null || x === undefined || Number.isNaN(x)) return "–";
  const value = Number(x);
  if (value !== 0 && (Math.abs(value) >= 1e6 || Math.abs(value) < 10 ** -digits)) {
    return value.toExponential(2);
  }
  return value.toFixed(digits);
}

const percent = (x) => (x === null || x === undefined ? "–" : `${(100 * x).toFixed(1)}%`);

// ---------------------------------------------------------------- the URL

// A number from the URL, or the text itself when it is none (the server then quotes it).
const numberOrText = (text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);

function configToHash(config) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(config)) {
    if (Array.isArray(value)) params.set(key, value.join(","));
    else if (typeof value === "boolean") params.set(key, value ? "1" : "0");
    else params.set(key, String(value));
  }
  return "#" + params.toString();
}

// The choices each key of the URL may take, from the server's options.
function choices(options) {
  return {
    problem: Object.keys(options.problems),
    activation: options.activations,
    optimizer: options.optimizers,
    loss: options.losses,
    regularization: options.regularizations,
  };
}

// The configuration in the URL's hash, checked against the options: a value that is not one
// of them is replaced by the default and named in `problems`. (Numbers out of range are left
// for the server to refuse, quoting them.)
function hashToConfig(hash, options) {
  const defaults = options.defaults;
  const config = structuredClone(defaults);
  const problems = [];
  const allowed = choices(options);
  const quote = (text) => JSON.stringify(text.length > 60 ? text.slice(0, 60) + "…" : text);
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  for (const [key, text] of params) {
    if (!(key in defaults)) continue;
    const def = defaults[key];
    if (key in allowed) {
      if (allowed[key].includes(text)) config[key] = text;
      else problems.push(`${key} must be one of ${allowed[key].join(", ")}; received ${quote(text)}.`);
    } else if (key === "features") {
      const names = text === "" ? [] : text.split(",");
      const known = Object.keys(options.features);
      if (names.length && names.every((n) => known.includes(n)) && new Set(names).size === names.length) {
        config.features = names;
      } else {
        problems.push(`features must be distinct names among ${known.join(", ")}; received ${quote(text)}.`);
      }
    } else if (key === "hidden") {
      const sizes = text === "" ? [] : text.split(",").map(Number);
      if (sizes.length <= options.max_layers
          && sizes.every((n) => Number.isInteger(n) && n >= 1 && n <= options.max_neurons)) {
        config.hidden = sizes;
      } else {
        problems.push(`hidden must be at most ${options.max_layers} layer sizes, each a whole `
          + `number from 1 to ${options.max_neurons}; received ${quote(text)}.`);
      }
    } else if (typeof def === "boolean") config[key] = text === "1" || text === "true";
    else if (typeof def === "number") config[key] = numberOrText(text);
  }
  return {config, problems};
}

function writeHash() {
  history.replaceState(null, "", configToHash(state.config));
}

// ---------------------------------------------------------------- runs

async function newRun() {
  const generation = ++state.generation;
  const previous = state.session;
  if (previous && state.playing) api("/api/pause", {session: previous}).catch(() => {});
  let info;
  try {
    info = await api("/api/session", {config: state.config});
  } catch (error) {
    if (!state.info) {  // a bad shared URL: say why, and start from the defaults
      state.config = structuredClone(state.options.defaults);
      syncControls();
      writeHash();
      await newRun();
    }
    showStatus(`${error.message} (the URL asked for it)`, true);
    return;
  }
  if (generation !== state.generation) return;
  if (state.info) showStatus("");
  state.session = info.session;
  state.info = info;
  state.frame = null;
  state.train = [];
  state.test = [];
  state.trace = null;
  state.selected = null;
  buildNetwork();
  applyFrame(info.frame);
  renderInspector();
  $("gradcheck-body").replaceChildren();
  if (compare.active) await compare.restart();
  if (state.playing) {
    const answer = await api("/api/play", {session: state.session}).catch(() => null);
    if (answer && answer.playing) loop();
    else {
      showPlaying(false);
      await refresh();
    }
  }
}

// The run's latest frame, asked for once (when no stream brings it).
async function refresh() {
  const generation = state.generation;
  try {
    const frame = await api("/api/frame", {session: state.session, since: state.train.length});
    if (generation === state.generation) applyFrame(frame);
  } catch (error) {
    showStatus(error.message, true);
  }
}

function changeConfig(update) {
  Object.assign(state.config, update);
  syncControls();
  writeHash();
  newRun();
}

// The Step button: pause, then train the chosen number of epochs.
async function step() {
  if (state.busy || !state.session) return;
  await setPlaying(false);
  state.busy = true;
  const generation = state.generation;
  try {
    const epochs = Number($("speed").value);
    const frame = await api("/api/step", {session: state.session, epochs});
    if (generation === state.generation) applyFrame(frame);
    if (compare.active) await compare.step(epochs);
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    state.busy = false;
  }
}

async function reset() {
  await setPlaying(false);
  await newRun();
}

// Play and pause requests are sent one after the other, never overtaking each other.
function setPlaying(on) {
  state.switching = (state.switching || Promise.resolve()).then(() => switchPlaying(on));
  return state.switching;
}

function showPlaying(on) {
  state.playing = on;
  $("play").classList.toggle("playing", on);
  $("play").replaceChildren(icon(on ? "pause" : "play"));
}

async function switchPlaying(on) {
  if (on === state.playing) return;
  showPlaying(on);
  if (!state.session) return;
  if (on) {
    try {
      const answer = await api("/api/play", {session: state.session});
      if (!answer.playing) {  // diverged (at once, or before): the button and page say so
        showPlaying(false);
        await refresh();
        return;
      }
      if (compare.active) await compare.play();
    } catch (error) {
      showStatus(error.message, true);
    }
    loop();
    return;
  }
  state.busy = true;
  if (state.stream) state.stream.close();
  if (compare.source) compare.source.close();
  try {
    const generation = state.generation;
    const frame = await api("/api/pause", {session: state.session});
    if (generation === state.generation) applyFrame(frame);
    if (compare.active) await compare.pause();
  } catch (error) {
    showStatus(error.message, true);
  } finally {
    state.busy = false;
  }
}

// While playing, the server streams frames of the run it trains (server-sent events).
function openStream(session, since, version, onFrame) {
  const query = new URLSearchParams({session, since: String(since)});
  if (version !== null) query.set("version", String(version));
  const source = new EventSource(`/api/stream?${query}`);
  source.onmessage = (event) => onFrame(JSON.parse(event.data));
  source.onerror = () => source.close();  // the stream ended (paused) or failed: no reconnects
  return source;
}

function loop() {
  if (state.stream) state.stream.close();
  const generation = state.generation;
  state.stream = openStream(state.session, state.train.length,
    state.frame ? state.frame.version : null, (frame) => {
      if (generation !== state.generation || !state.playing) return;
      applyFrame(frame);
      if (!frame.playing && frame.diverged) setPlaying(false);
    });
  if (compare.active) compare.stream();
}

// ---------------------------------------------------------------- drawing

// Take in a frame: its losses at once, its drawing at the next animation frame (so frames
// that arrive faster than the screen refreshes cost no drawing).
function applyFrame(frame) {
  if (state.frame && frame.version < state.frame.version) return;  // a late, older frame
  const drawn = !frame.unchanged;
  state.frame = drawn ? frame : {...state.frame, ...frame, unchanged: false};
  frame = state.frame;
  const h = frame.history;
  state.train.length = h.from;
  state.test.length = h.from;
  state.train.push(...h.train);
  state.test.push(...h.test);
  $("epoch").textContent = String(frame.epoch).padStart(6, "0");
  for (const [id, value] of [["train-loss", frame.train_loss], ["test-loss", frame.test_loss]]) {
    $(id).textContent = value === null && frame.diverged ? "diverged" : fmt(value, 4);
    $(id).dataset.value = value === null ? "" : String(value);
  }
  const classification = frame.train_accuracy !== null;
  $("accuracy").hidden = !classification;
  $("train-accuracy").textContent = percent(frame.train_accuracy);
  $("test-accuracy").textContent = percent(frame.test_accuracy);
  showRunStatus(frame);
  if (compare.active) compare.update();
  if (drawn) state.needsDrawing = true;
  if (!state.drawScheduled) {
    state.drawScheduled = true;
    requestAnimationFrame(drawNow);
  }
}

// The status line: a diverged run (with its one-click reset), dead or saturated units.
function showRunStatus(frame) {
  const box = $("run-status");
  const message = frame.diverged || (frame.health && frame.health.message);
  box.hidden = !message;
  box.classList.toggle("diverged", !!frame.diverged);
  box.dataset.kind = frame.diverged ? "diverged" : message ? "health" : "";
  $("run-status-text").textContent = frame.diverged
    ? `Diverged after ${frame.epoch} epoch(s): ${frame.diverged}` : message || "";
}

function drawNow() {
  state.drawScheduled = false;
  drawCurve($("loss-curve"), state.train, state.test);
  if (!state.needsDrawing || !state.frame) return;
  state.needsDrawing = false;
  drawHeatmap($("heatmap"), state.frame.output, state.info, $("show-test").checked);
  updateNetwork(state.frame);
  countFrame();
}

function countFrame() {
  state.drawn += 1;
  const now = performance.now();
  state.frameTimes.push(now);
  while (state.frameTimes.length && state.frameTimes[0] < now - 1000) state.frameTimes.shift();
  $("fps").textContent = state.playing ? String(state.frameTimes.length) : "0";
}

const offscreen = document.createElement("canvas");

function drawHeatmap(canvas, output, info, showTest) {
  paint(offscreen, output, info.grid);
  const ctx = canvas.getContext("2d");
  ctx.imageSmoothingEnabled = true;
  ctx.drawImage(offscreen, 0, 0, canvas.width, canvas.height);
  ctx.fillStyle = "rgba(255, 255, 255, 0.35)";  // a lighter background, so the points stand out
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  drawPoints(ctx, canvas.width, info, showTest);
}

function drawPoints(ctx, size, info, showTest) {
  const [low, high] = info.domain;
  const scale = size / (high - low);
  const regression = info.kind === "regression";
  const count = showTest ? info.points.length : info.n_train;
  const radius = info.points.length <= 10 ? 8 : 3.2;
  for (let k = 0; k < count; k++) {
    const [x1, x2] = info.points[k];
    const target = info.targets[k];
    ctx.beginPath();
    ctx.arc((x1 - low) * scale, (high - x2) * scale, radius, 0, 2 * Math.PI);
    ctx.fillStyle = regression ? colourOf(target, -1, 1) : colourOf(target, 0, 1);
    ctx.fill();
    ctx.lineWidth = 1;
    ctx.strokeStyle = k < info.n_train ? "#fff" : "#000";
    ctx.stroke();
  }
}

const CURVE = {train: "#999", test: "#222", axis: "#aaa", text: "#666"};

// A round number at or above `x` for the loss axis: 1, 2 or 5 times a power of ten.
function axisTop(x) {
  const power = 10 ** Math.floor(Math.log10(x));
  for (const m of [1, 2, 5, 10]) if (m * power >= x * (1 - 1e-9)) return m * power;
  return 10 * power;
}

// The loss curves (training grey, test black) against the epoch, with both axes labelled.
// The axes' ends are kept on the canvas's dataset (ymax, epochs) for the tests.
function drawCurve(canvas, train, test) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  const left = 38, right = 8, top = 8, bottom = 16;
  ctx.clearRect(0, 0, w, h);
  let highest = 0;
  for (const series of [train, test]) {
    for (const v of series) if (v !== null && Number.isFinite(v) && v > highest) highest = v;
  }
  const ymax = highest > 0 ? axisTop(highest) : 1;
  const n = Math.max(train.length - 1, 1);
  ctx.strokeStyle = CURVE.axis;
  ctx.lineWidth = 1;
  ctx.beginPath();
  ctx.moveTo(left + 0.5, top);
  ctx.lineTo(left + 0.5, h - bottom + 0.5);
  ctx.lineTo(w - right, h - bottom + 0.5);
  ctx.stroke();
  ctx.fillStyle = CURVE.text;
  ctx.font = "10px Helvetica, Arial, sans-serif";
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  ctx.fillText(String(Number(ymax.toPrecision(2))), left - 4, top + 2);
  ctx.fillText("0", left - 4, h - bottom);
  ctx.save();
  ctx.translate(9, (top + h - bottom) / 2);
  ctx.rotate(-Math.PI / 2);
  ctx.textAlign = "center";
  ctx.fillText("loss", 0, 0);
  ctx.restore();
  ctx.textBaseline = "top";
  ctx.textAlign = "left";
  ctx.fillText("0", left, h - bottom + 3);
  ctx.textAlign = "right";
  ctx.fillText(`epoch ${Math.max(train.length - 1, 0)}`, w - right, h - bottom + 3);
  canvas.dataset.ymax = String(ymax);
  canvas.dataset.epochs = String(Math.max(train.length - 1, 0));
  if (!highest) return;
  const stride = Math.max(1, Math.floor(train.length / (w - left - right)));  // one point per pixel
  const plotW = w - left - right - 1, plotH = h - top - bottom;
  for (const [series, colour] of [[train, CURVE.train], [test, CURVE.test]]) {
    ctx.beginPath();
    let started = false;
    const indices = [];
    for (let i = 0; i < series.length; i += stride) indices.push(i);
    if (series.length && indices[indices.length - 1] !== series.length - 1) indices.push(series.length - 1);
    for (const i of indices) {
      const v = series[i];
      if (v === null || !Number.isFinite(v)) continue;
      const x = left + 1 + (i / n) * plotW, y = h - bottom - (Math.min(v, ymax) / ymax) * plotH;
      if (!started) { ctx.moveTo(x, y); started = true; } else ctx.lineTo(x, y);
    }
    ctx.strokeStyle = colour;
    ctx.lineWidth = 1.5;
    ctx.stroke();
  }
}

// The network: a column of all features, one per hidden layer, and the output node.
function columns() {
  const names = Object.keys(state.options.features);
  const cols = [names.map((name) => ({kind: "feature", name, on: state.config.features.includes(name)}))];
  state.config.hidden.forEach((size, layer) => {
    cols.push(Array.from({length: size}, (_, index) => ({kind: "neuron", layer, index})));
  });
  cols.push([{kind: "output"}]);
  return cols;
}

function buildNetwork() {
  const nodes = $("nodes");
  nodes.replaceChildren();
  const cols = columns();
  // The columns share the width there is, but never come closer than MIN_STEP: on a narrow
  // screen a deep network scrolls sideways in its own box instead of overlapping.
  const available = $("network-scroll").clientWidth || 600;
  const step = Math.max(MIN_STEP, (available - NODE - LEFT) / (cols.length - 1));
  const width = Math.max(available, Math.ceil(LEFT + step * (cols.length - 1) + NODE + 4));
  $("network").style.width = `${width}px`;
  const position = new Map();
  cols.forEach((col, c) => {
    const x = LEFT + c * step;
    col.forEach((node, r) => {
      const y = TOP + r * NODE_GAP;
      const div = el("div", {class: "node"});
      div.style.left = `${x}px`;
      div.style.top = `${y}px`;
      const canvas = el("canvas");
      div.append(canvas);
      if (node.kind === "feature") {
        div.dataset.feature = node.name;
        div.title = `${state.options.features[node.name]}: click to switch on or off`;
        if (!node.on) div.classList.add("off");
        div.append(el("span", {class: "label"}, state.options.features[node.name]));
        paint(canvas, state.info.feature_maps[node.name], state.info.grid);
        div.addEventListener("click", () => toggleFeature(node.name));
      } else if (node.kind === "neuron") {
        div.dataset.layer = node.layer;
        div.dataset.index = node.index;
        div.id = `neuron-${node.layer}-${node.index}`;
        div.title = `Neuron ${node.index} of hidden layer ${node.layer + 1}: click to inspect`;
        div.addEventListener("click", () => select({kind: "neuron", layer: node.layer, index: node.index}));
      } else {
        div.id = "output-node";
        div.title = "The output: click to inspect";
        div.addEventListener("click", () => select({kind: "neuron", layer: state.config.hidden.length, index: 0}));
      }
      nodes.append(div);
      position.set(node, {x, y});
    });
  });
  // Layer controls above each hidden column.
  state.config.hidden.forEach((size, layer) => {
    const x = LEFT + (layer + 1) * step;
    const add = el("button", {class: "round add-neuron", title: "Add a neuron"}, "+");
    const remove = el("button", {class: "round remove-neuron", title: "Remove a neuron"}, "−");
    add.addEventListener("click", () => resizeLayer(layer, +1));
    remove.addEventListener("click", () => resizeLayer(layer, -1));
    const bar = el("div", {class: "layer-controls"}, add, remove, el("span", {}, size));
    bar.style.left = `${x - 14}px`;
    nodes.append(bar);
  });
  const tallest = Math.max(...cols.map((col) => col.length));
  $("network").style.height = `${TOP + tallest * NODE_GAP + 10}px`;
  $("n-layers").textContent = state.config.hidden.length;
  // Links: one path per weight of every Dense layer.
  const svg = $("links");
  svg.replaceChildren();
  const sources = [cols[0].filter((node) => node.on), ...cols.slice(1, -1)];
  state.links = [];
  sources.forEach((from, layer) => {
    const to = cols[layer + 1];
    from.forEach((a, i) => {
      to.forEach((b, j) => {
        const p = position.get(a), q = position.get(b);
        const x0 = p.x + NODE, y0 = p.y + NODE / 2, x1 = q.x, y1 = q.y + NODE / 2;
        const mid = (x0 + x1) / 2;
        const path = document.createElementNS(SVG_NS, "path");
        path.setAttribute("d", `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`);
        path.dataset.layer = layer; path.dataset.i = i; path.dataset.j = j;
        path.id = `weight-${layer}-${i}-${j}`;
        const title = document.createElementNS(SVG_NS, "title");
        path.append(title);
        path.addEventListener("click", () => select({kind: "weight", layer, i, j}));
        path.addEventListener("mouseenter", () => {
          const w = state.frame?.weights[layer]?.[i]?.[j];
          title.textContent = `W${layer + 1}[${i}, ${j}] = ${fmt(w, 4)}: click to inspect`;
        });
        svg.append(path);
        state.links.push({path, title, layer, i, j, x0, y0, x1, y1, mid});
      });
    });
  });
  const canvas = $("links-canvas");
  canvas.width = $("network").clientWidth;
  canvas.height = $("network").clientHeight;
}

// The links are drawn on a canvas (repainting hundreds of SVG paths every frame is slow);
// the transparent SVG paths above it only catch the mouse.
function drawLinks(weights) {
  const canvas = $("links-canvas");
  const ctx = canvas.getContext("2d");
  ctx.clearRect(0, 0, canvas.width, canvas.height);
  ctx.globalAlpha = 0.75;
  for (const link of state.links || []) {
    const w = weights[link.layer]?.[link.i]?.[link.j];
    if (w === undefined || !Number.isFinite(w)) continue;
    ctx.beginPath();
    ctx.moveTo(link.x0, link.y0);
    ctx.bezierCurveTo(link.mid, link.y0, link.mid, link.y1, link.x1, link.y1);
    ctx.strokeStyle = w >= 0 ? "#0877bd" : "#f59322";
    ctx.lineWidth = Math.min(0.5 + Math.abs(w) * 2, 10);
    ctx.stroke();
  }
  ctx.globalAlpha = 1;
}

function updateNetwork(frame) {
  frame.neurons.forEach((layer, l) => layer.forEach((b64, k) => {
    const node = $(`neuron-${l}-${k}`);
    if (node) paint(node.firstChild, b64, state.info.neuron_grid);
  }));
  const out = $("output-node");
  if (out) paint(out.firstChild, frame.output, state.info.grid);
  drawLinks(frame.weights);
}

// ---------------------------------------------------------------- editing the network

function toggleFeature(name) {
  const on = state.config.features.includes(name);
  if (on && state.config.features.length === 1) return;  // keep at least one input
  const names = Object.keys(state.options.features);
  const features = on ? state.config.features.filter((f) => f !== name)
    : names.filter((f) => f === name || state.config.features.includes(f));
  changeConfig({features});
}

function resizeLayer(layer, delta) {
  const hidden = state.config.hidden.slice();
  hidden[layer] = Math.max(1, Math.min(state.options.max_neurons, hidden[layer] + delta));
  changeConfig({hidden});
}

function addLayer() {
  if (state.config.hidden.length >= state.options.max_layers) return;
  changeConfig({hidden: [...state.config.hidden, 2]});
}

function removeLayer() {
  if (!state.config.hidden.length) return;
  changeConfig({hidden: state.config.hidden.slice(0, -1)});
}

// ---------------------------------------------------------------- controls

function setOptions(select, values) {
  select.replaceChildren(...values.map((v) => el("option", {value: v}, v)));
}

// Show `value` in `select`. A number the list lacks (from a shared URL, such as lr 0.02) is
// added as an option; anything else must already be one of the options.
function setSelect(select, value) {
  const text = String(value);
  const known = [...select.options].some((o) => o.value === text);
  if (!known && typeof value === "number" && Number.isFinite(value)) {
    select.append(el("option", {value: text}, text));
  }
  if (known || typeof value === "number") select.value = text;
}

function syncControls() {
  const c = state.config;
  for (const key of ["activation", "optimizer", "loss", "regularization"]) setSelect($(key), c[key]);
  for (const key of ["lr", "reg_rate", "dropout"]) setSelect($(key), c[key]);
  $("loss").disabled = state.options.problems[c.problem] === "regression";
  $("batch_norm").checked = c.batch_norm;
  $("train_ratio").value = Math.round(c.train_ratio * 100);
  $("train_ratio-out").textContent = Math.round(c.train_ratio * 100);
  $("noise").value = Math.round(c.noise * 100);
  $("noise-out").textContent = Math.round(c.noise * 100);
  $("batch_size").value = c.batch_size;
  $("batch_size-out").textContent = c.batch_size;
  $("seed-out").textContent = c.seed;
  for (const button of document.querySelectorAll("#problems button")) {
    button.classList.toggle("selected", button.dataset.problem === c.problem);
  }
}

function buildProblemButtons() {
  const box = $("problems");
  for (const [name, thumb] of Object.entries(state.options.thumbnails)) {
    const canvas = el("canvas", {width: 60, height: 60});
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, 60, 60);
    const info = {domain: thumb.domain, points: thumb.points, targets: thumb.targets,
      n_train: thumb.points.length, kind: state.options.problems[name]};
    drawPoints(ctx, 60, info, false);
    const button = el("button", {title: name, dataset: {problem: name}}, canvas, el("span", {}, name));
    button.addEventListener("click", () => changeConfig({problem: name}));
    box.append(button);
  }
}

function wireControls() {
  const number = (id) => () => changeConfig({[id]: Number($(id).value)});
  $("activation").addEventListener("change", () => changeConfig({activation: $("activation").value}));
  $("optimizer").addEventListener("change", () => changeConfig({optimizer: $("optimizer").value}));
  $("loss").addEventListener("change", () => changeConfig({loss: $("loss").value}));
  $("regularization").addEventListener("change", () => changeConfig({regularization: $("regularization").value}));
  for (const id of ["lr", "reg_rate", "dropout", "batch_size"]) $(id).addEventListener("change", number(id));
  $("batch_norm").addEventListener("change", () => changeConfig({batch_norm: $("batch_norm").checked}));
  $("train_ratio").addEventListener("change", () => changeConfig({train_ratio: Number($("train_ratio").value) / 100}));
  $("noise").addEventListener("change", () => changeConfig({noise: Number($("noise").value) / 100}));
  for (const id of ["train_ratio", "noise", "batch_size"]) {
    $(id).addEventListener("input", () => { $(`${id}-out`).textContent = $(id).value; });
  }
  $("regenerate").addEventListener("click", () => changeConfig({seed: (state.config.seed + 1) % 2147483647}));
  $("play").addEventListener("click", () => setPlaying(!state.playing));
  $("step").addEventListener("click", step);
  $("reset").addEventListener("click", reset);
  $("run-reset").addEventListener("click", reset);
  $("add-layer").addEventListener("click", addLayer);
  $("remove-layer").addEventListener("click", removeLayer);
  $("show-test").addEventListener("change", () => {
    if (state.frame) drawHeatmap($("heatmap"), state.frame.output, state.info, $("show-test").checked);
  });
  $("preset-tutorial").addEventListener("click", () => changeConfig({
    problem: "tutorial-xor", features: ["x1", "x2"], hidden: [4], activation: "sigmoid",
    loss: "mse", optimizer: "sgd", lr: 0.5, batch_size: 4, regularization: "none", reg_rate: 0,
    dropout: 0, batch_norm: false,
  }));
  $("export-npz").addEventListener("click", () => download("/api/export.npz", "playground_model.npz"));
  $("export-py").addEventListener("click", () => download("/api/export.py", "playground_model.py"));
  $("open-inspector").addEventListener("click", () => { $("inspector").hidden = false; renderInspector(); $("inspector").scrollIntoView(); });
  $("inspector-close").addEventListener("click", () => { $("inspector").hidden = true; });
  $("inspect-step").addEventListener("click", traceStep);
  $("trace-next").addEventListener("click", () => movePhase(+1));
  $("trace-prev").addEventListener("click", () => movePhase(-1));
  $("tutorial-convention").addEventListener("change", renderInspector);
  $("gradcheck").addEventListener("click", runGradcheck);
  $("open-compare").addEventListener("click", () => compare.open());
  window.addEventListener("hashchange", () => {
    const {config, problems} = hashToConfig(location.hash, state.options);
    state.config = config;
    syncControls();
    newRun().then(() => { if (problems.length) showStatus(problems.join(" "), true); });
  });
  window.addEventListener("resize", () => {
    if (!state.info) return;
    buildNetwork();
    if (state.frame) updateNetwork(state.frame);
    markSelected();
    renderInspector();
  });
}

function download(path, name) {
  const a = el("a", {href: `${path}?${new URLSearchParams({session: state.session})}`, download: name});
  document.body.append(a);
  a.click();
  a.remove();
}

// ---------------------------------------------------------------- the backprop inspector

function select(target) {
  state.selected = target;
  markSelected();
  const box = $("inspector");
  box.hidden = false;
  // Open at the clicked unit's layer: its forward phase, if the steps have not reached it.
  if (state.trace && !phaseReached("forward", target.layer)) state.tracePhase = phaseIndex("forward", target.layer);
  renderInspector();
  if (box.getBoundingClientRect().top > window.innerHeight * 0.6) box.scrollIntoView({block: "start"});
}

function markSelected() {
  for (const node of document.querySelectorAll(".node.selected, #links path.selected")) node.classList.remove("selected");
  const target = state.selected;
  if (!target) return;
  const node = target.kind === "weight" ? $(`weight-${target.layer}-${target.i}-${target.j}`)
    : target.layer === state.config.hidden.length ? $("output-node") : $(`neuron-${target.layer}-${target.index}`);
  if (node) node.classList.add("selected");
}

async function traceStep() {
  await setPlaying(false);
  try {
    const trace = await api("/api/inspect", {session: state.session});
    state.trace = trace;
    state.tracePhase = state.selected ? phaseIndex("forward", state.selected.layer) : 0;
    applyFrame(trace.frame);
    renderInspector();
  } catch (error) {
    showStatus(error.message, true);
  }
}

function movePhase(delta) {
  if (!state.trace) return;
  state.tracePhase = Math.max(0, Math.min(state.trace.phases.length - 1, state.tracePhase + delta));
  renderInspector();
}

// The trace in the chosen convention (the tutorial's, where the run allows it).
function shownTrace() {
  const trace = state.trace;
  const box = $("tutorial-convention");
  box.disabled = !trace || !trace.tutorial;
  $("tutorial-convention-label").title = trace && trace.tutorial_note ? trace.tutorial_note
    : "The tutorial's summed error E = ½ Σ (y − a)² and its y − output sign: δ = −∂E/∂z";
  return trace && trace.tutorial && box.checked ? {...trace, ...trace.tutorial} : trace;
}

function numbersRow(label, values, kind) {
  return el("tr", {}, el("th", {}, label),
    values.map((v) => el("td", {dataset: {kind, value: String(v)}}, fmt(v, 5))));
}

function valueOf(kind, value, digits = 6) {
  return el("b", {dataset: {kind, value: String(value)}}, fmt(value, digits));
}

function phaseIndex(kind, layer) {
  return state.trace.phases.findIndex((p) => p.kind === kind && (kind === "update" || p.layer === layer));
}

function phaseReached(kind, layer) {
  // Whether the inspector has stepped as far as `kind` ("forward"/"backward"/"update") of `layer`.
  const target = phaseIndex(kind, layer);
  return target >= 0 && state.tracePhase >= target;
}

function renderInspector() {
  const body = $("inspector-body");
  const trace = shownTrace();
  for (const node of document.querySelectorAll(".node.phase-current")) node.classList.remove("phase-current");
  if (!trace) {
    $("trace-phase").textContent = "";
    body.replaceChildren(el("p", {}, "Click ", el("b", {}, "Trace one step"),
      " to run one training step on the inspector's batch and take it apart: the forward pass "
      + "layer by layer, the loss, the backward pass layer by layer and the update. Then click "
      + "any neuron or weight in the network; the arrows step through the phases."));
    return;
  }
  const phase = trace.phases[state.tracePhase];
  if (phase.kind !== "update") {  // mark the layer this phase works on
    const selector = phase.layer === trace.layers.length - 1 ? "#output-node"
      : `.node[data-layer='${Number(phase.layer)}']`;
    for (const node of document.querySelectorAll(selector)) node.classList.add("phase-current");
  }
  $("trace-phase").textContent = `${state.tracePhase + 1}/${trace.phases.length}: ${phase.title}`;
  $("trace-next").disabled = state.tracePhase === trace.phases.length - 1;
  $("trace-prev").disabled = state.tracePhase === 0;
  const tutorial = trace.convention === "tutorial";
  const parts = [
    el("p", {}, `Batch of ${trace.batch.length} sample(s): rows ${trace.batch.join(", ")} of the training set. `,
      `Loss before the step (${trace.loss_name}) = `, el("b", {id: "trace-loss", dataset: {value: String(trace.loss)}}, fmt(trace.loss, 6)),
      `; optimizer ${trace.optimizer}.`),
    el("div", {class: "math-block phase-current"}, el("div", {class: "formula"}, phase.formula), el("div", {}, phase.text)),
  ];
  const sel = state.selected;
  const layer = sel ? trace.layers[sel.layer] : null;
  if (!sel || !layer) {
    parts.push(el("p", {}, "Click a neuron or a weight to see its numbers."));
    body.replaceChildren(...parts);
    return;
  }
  const forward = phaseReached("forward", sel.layer);
  const backward = phaseReached("backward", sel.layer);
  const updated = phaseReached("update", 0);
  const n = sel.layer + 1;  // trace_step's stage number: z1 = x·W1 + b1 is trace.stages[0]
  const samples = el("tr", {}, el("th", {}, "sample (row)"), trace.batch.map((r) => el("td", {}, r)));
  if (layer.note) parts.push(el("p", {class: "hint"}, `Note: ${layer.note}.`));
  const delta = tutorial ? `δ${n} = −∂E/∂z${n}` : `δ${n} = ∂L/∂z${n}`;
  if (sel.kind === "neuron") {
    const j = sel.index;
    const col = (m) => m.map((row) => row[j]);
    const name = sel.layer === trace.layers.length - 1 ? "the output neuron" : `neuron ${j} of layer ${n}`;
    parts.push(el("h3", {id: "inspect-title"},
      `z${n}[:, ${j}]: ${name} (trace.stages[${sel.layer}], activation ${layer.activation})`));
    parts.push(el("p", {class: "formula"},
      `z${n}[:, ${j}] = Σᵢ a${n - 1}[:, i] W${n}[i, ${j}] + b${n}[${j}]    a${n}[:, ${j}] = ${layer.activation}(z)    `
      + `${delta}[:, ${j}] = ${tutorial ? "(y − a) or the error from above" : "∂L/∂a"} · ${layer.activation}′(z)`));
    const table = el("table", {id: "inspect-neuron"}, samples);
    if (forward) table.append(numbersRow(`z${n}`, col(layer.z), "z"), numbersRow(`a${n}`, col(layer.a), "a"));
    if (backward) table.append(numbersRow(delta, col(layer.delta), "delta"));
    parts.push(el("div", {class: "table-scroll"}, table));
    if (!forward) parts.push(el("p", {class: "hint"}, "Step forward to reach this layer."));
    else if (!backward) parts.push(el("p", {class: "hint"}, "Step on to this layer's backward pass to see δ."));
    if (backward) {
      const db = tutorial ? `db${n}[${j}] = Σ over the batch of δ` : `∂L/∂b${n}[${j}] = Σ over the batch of δ`;
      parts.push(el("p", {class: "formula"}, `${db} = `, valueOf("db", layer.db[j])));
    }
    if (updated) {
      parts.push(el("p", {class: "formula"}, `update Δb${n}[${j}] = `, valueOf("update_b", layer.update_b[j]),
        ` (b: ${fmt(layer.b_before[j], 6)} → ${fmt(layer.b_after[j], 6)})`));
    }
  } else {
    const {i, j} = sel;
    const prev = sel.layer === 0 ? trace.inputs : trace.layers[sel.layer - 1].a;
    parts.push(el("h3", {id: "inspect-title"},
      `W${n}[${i}, ${j}] = ${fmt(layer.W_before[i][j], 6)} (trace.stages[${sel.layer}].W[${i}, ${j}]), `
      + `from ${sel.layer === 0 ? `input ${i}` : `neuron ${i} of layer ${n - 1}`} to `
      + `${sel.layer === trace.layers.length - 1 ? "the output" : `neuron ${j} of layer ${n}`}`));
    const penalty = layer.penalty ? ` + the ${layer.penalty.toUpperCase()} penalty's gradient` : "";
    const gradName = tutorial ? `dW${n}[${i}, ${j}] = −∂E/∂W` : `∂L/∂W${n}[${i}, ${j}]`;
    parts.push(el("p", {class: "formula"}, `${gradName} = Σ over the batch of a${n - 1}[:, ${i}] · δ${n}[:, ${j}]${penalty}`));
    const table = el("table", {id: "inspect-weight"}, samples);
    if (forward) table.append(numbersRow(n === 1 ? `x[:, ${i}] (input)` : `a${n - 1}[:, ${i}] (input)`, prev.map((row) => row[i]), "a_in"));
    if (backward) table.append(numbersRow(`δ${n}[:, ${j}]`, layer.delta.map((row) => row[j]), "delta"));
    parts.push(el("div", {class: "table-scroll"}, table));
    if (!forward) parts.push(el("p", {class: "hint"}, "Step forward to reach this layer."));
    if (backward) parts.push(el("p", {class: "formula"}, `${gradName} = `, valueOf("dW", layer.dW[i][j])));
    if (updated) {
      parts.push(el("p", {class: "formula"}, `update ΔW${n}[${i}, ${j}] = `, valueOf("update_W", layer.update_W[i][j]),
        `; W: ${fmt(layer.W_before[i][j], 6)} → ${fmt(layer.W_after[i][j], 6)}`));
    }
  }
  body.replaceChildren(...parts);
}

async function runGradcheck() {
  await setPlaying(false);
  const box = $("gradcheck-body");
  box.textContent = "Running gradcheck…";
  try {
    const result = await api("/api/gradcheck", {session: state.session});
    const exp = (x, digits) => (x === null ? "–" : Number(x).toExponential(digits));
    const verdicts = el("table", {id: "gradcheck-verdicts"},
      el("tr", {}, ["parameter", "relative error", "absolute error", "verdict"].map((t) => el("th", {}, t))),
      result.parameters.map((p) => el("tr", {dataset: {verdict: p.verdict}},
        el("td", {}, p.name), el("td", {}, exp(p.relative, 2)), el("td", {}, exp(p.absolute, 2)),
        el("td", {class: `verdict ${p.verdict}`}, p.reason ? `${p.verdict}: ${p.reason}` : p.verdict))));
    const entries = el("table", {id: "gradcheck-table"},
      el("tr", {}, ["parameter", "entry", "analytic ∂L/∂θ", "finite difference", "|difference|"].map((t) => el("th", {}, t))),
      result.entries.map((row) => el("tr", {},
        el("td", {}, row.name), el("td", {}, row.index),
        el("td", {dataset: {kind: "analytic"}}, row.analytic.toExponential(6)),
        el("td", {dataset: {kind: "numeric"}}, row.numeric.toExponential(6)),
        el("td", {}, Math.abs(row.analytic - row.numeric).toExponential(2)))));
    box.replaceChildren(
      el("p", {id: "gradcheck-summary", class: `verdict ${result.verdict}`, dataset: {verdict: result.verdict}}, result.summary),
      el("div", {class: "table-scroll"}, verdicts),
      el("div", {class: "table-scroll"}, entries));
  } catch (error) {
    box.textContent = error.message;
  }
}

// ---------------------------------------------------------------- side-by-side runs

// Run B differs from the page's run A in one setting and starts from A's initial weights;
// opening it leaves A as it is (its epochs, its weights, playing or not).
const compare = {
  active: false,
  b: null,
  open() {
    if (!this.active) {
      this.active = true;
      $("compare").hidden = false;
      this.render();
      this.restart();
    }
    $("compare").scrollIntoView({block: "start"});
  },
  variants() {
    const c = state.config;
    return {
      activation: c.activation === "relu" ? "tanh" : "relu",
      optimizer: c.optimizer === "adam" ? "sgd" : "adam",
      lr: c.lr === 0.1 ? "0.03" : "0.1",
    };
  },
  render() {
    const key = el("select", {id: "compare-key"},
      el("option", {value: "activation"}, "activation"), el("option", {value: "optimizer"}, "optimizer"),
      el("option", {value: "lr"}, "learning rate"));
    const value = el("select", {id: "compare-value"});
    const panel = (run, title) => el("div", {class: "compare-run"},
      el("b", {id: `compare-${run}-title`}, title),
      el("canvas", {id: `compare-${run}`, width: 240, height: 240}),
      el("canvas", {class: "curve", id: `compare-${run}-curve`, width: 240, height: 80}));
    const rows = [["epoch", "Epochs"], ["train_loss", "Training loss"], ["test_loss", "Test loss"],
      ["train_accuracy", "Training accuracy"], ["test_accuracy", "Test accuracy"]];
    const table = el("table", {id: "compare-table"},
      el("tr", {}, el("th", {}), el("th", {}, "A"), el("th", {}, "B")),
      rows.map(([name, label]) => el("tr", {dataset: {row: name}}, el("th", {}, label),
        el("td", {dataset: {run: "a", key: name}}, "–"), el("td", {dataset: {run: "b", key: name}}, "–"))));
    $("compare-body").replaceChildren(
      el("div", {class: "compare-run"}, el("label", {}, "Vary ", key), " ", el("label", {}, "to ", value),
        el("p", {class: "hint"}, "B starts from A's initial weights and trains on the same points; "
          + "A keeps its training. Play or step trains both."),
        table, el("div", {class: "curve-legend"}, el("span", {class: "swatch train"}), "training ",
          el("span", {class: "swatch test"}), "test")),
      panel("a", "A: this page's run"), panel("b", "B"));
    const fill = () => {
      const values = key.value === "activation" ? state.options.activations
        : key.value === "optimizer" ? state.options.optimizers : ["0.003", "0.01", "0.03", "0.1", "0.3", "1"];
      setOptions(value, values);
      value.value = this.variants()[key.value];
    };
    fill();
    key.addEventListener("change", () => { fill(); this.restart(); });
    value.addEventListener("change", () => this.restart());
  },
  async restart() {
    if (!this.active || !$("compare-key")) return;
    const key = $("compare-key").value;
    const raw = $("compare-value").value;
    const config = {...state.config, [key]: key === "lr" ? Number(raw) : raw};
    $("compare-b-title").textContent = `B: ${key} = ${raw}`;
    try {
      const info = await api("/api/session", {config, same_start: state.session});
      if (this.b) api("/api/pause", {session: this.b.session}).catch(() => {});
      this.b = {info, session: info.session, train: [], test: [], frame: null};
      this.draw(info.frame);
      if (state.playing) { await this.play(); this.stream(); }
    } catch (error) {
      $("compare-b-title").textContent = error.message;
    }
  },
  async step(epochs) {
    if (!this.b) return;
    this.draw(await api("/api/step", {session: this.b.session, epochs}));
  },
  async play() {
    if (this.b) await api("/api/play", {session: this.b.session});
  },
  async pause() {
    if (this.b) this.draw(await api("/api/pause", {session: this.b.session}));
  },
  stream() {
    if (this.source) this.source.close();
    if (!this.b) return;
    const b = this.b;
    this.source = openStream(b.session, b.train.length, null, (frame) => {
      if (this.b === b) this.draw(frame);
    });
  },
  // The numbers of both runs, side by side.
  update() {
    const runs = {a: state.frame, b: this.b && this.b.frame};
    for (const cell of document.querySelectorAll("#compare-table td")) {
      const frame = runs[cell.dataset.run];
      const value = frame ? frame[cell.dataset.key] : null;
      cell.dataset.value = value === null || value === undefined ? "" : String(value);
      cell.textContent = !frame ? "–" : cell.dataset.key === "epoch" ? String(value)
        : cell.dataset.key.endsWith("accuracy") ? percent(value)
          : value === null && frame.diverged ? "diverged" : fmt(value, 4);
    }
    this.schedule();
  },
  draw(frameB) {
    const b = this.b;
    b.train.length = frameB.history.from; b.test.length = frameB.history.from;
    b.train.push(...frameB.history.train); b.test.push(...frameB.history.test);
    b.frame = b.frame && frameB.unchanged ? {...b.frame, ...frameB, unchanged: false} : frameB;
    this.update();
  },
  schedule() {
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {  // drawn at most once per animation frame
      this.scheduled = false;
      if (!this.active) return;
      const b = this.b;
      if (b && b.frame && b.frame.output) {
        drawHeatmap($("compare-b"), b.frame.output, b.info, false);
        drawCurve($("compare-b-curve"), b.train, b.test);
      }
      if (state.frame && state.frame.output) {
        drawHeatmap($("compare-a"), state.frame.output, state.info, false);
        drawCurve($("compare-a-curve"), state.train, state.test);
      }
    });
  },
};

// ---------------------------------------------------------------- start

async function main() {
  state.options = await api("/api/options");
  setOptions($("activation"), state.options.activations);
  setOptions($("optimizer"), state.options.optimizers);
  buildProblemButtons();
  const {config, problems} = hashToConfig(location.hash, state.options);
  state.config = config;
  syncControls();
  wireControls();
  showPlaying(false);
  writeHash();
  await newRun();
  if (problems.length) showStatus(`${problems.join(" ")} (the URL asked for it)`, true);
  document.body.dataset.ready = "1";
}

main().catch((error) => showStatus(error.message, true));
