// The scratchnn Playground's page: draws what the server's scratchnn run sends.
// Plain JavaScript, no build step, no library. The configuration lives in the URL's hash.
"use strict";

const NODE = 40;          // node size in pixels
const NODE_GAP = 52;      // vertical distance between nodes
const TOP = 36;           // room above the columns for the layer controls
const HEAT = 300;         // output heatmap size in pixels

const ICONS = {
  play: '<svg viewBox="0 0 24 24" width="22" height="22"><path d="M7 4v16l13-8z" fill="currentColor"/></svg>',
  pause: '<svg viewBox="0 0 24 24" width="22" height="22"><path d="M6 4h4v16H6zM14 4h4v16h-4z" fill="currentColor"/></svg>',
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
  return Number(x).toFixed(digits);
}

// ---------------------------------------------------------------- the URL

// A number from the URL, or the text itself when it is none (the server then quotes it).
const numberOrText = (text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : text);
const LIST_KEYS = {features: String, hidden: numberOrText};

function configToHash(config) {
  const params = new URLSearchParams();
  for (const [key, value] of Object.entries(config)) {
    if (Array.isArray(value)) params.set(key, value.join(","));
    else if (typeof value === "boolean") params.set(key, value ? "1" : "0");
    else params.set(key, String(value));
  }
  return "#" + params.toString();
}

function hashToConfig(hash, defaults) {
  const config = structuredClone(defaults);
  const params = new URLSearchParams(hash.replace(/^#/, ""));
  for (const [key, text] of params) {
    if (!(key in defaults)) continue;
    const def = defaults[key];
    if (key in LIST_KEYS) config[key] = text === "" ? [] : text.split(",").map(LIST_KEYS[key]);
    else if (typeof def === "boolean") config[key] = text === "1" || text === "true";
    else if (typeof def === "number") config[key] = numberOrText(text);
    else config[key] = text;
  }
  return config;
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
  $("gradcheck-body").innerHTML = "";
  if (compare.active) await compare.restart();
  if (state.playing) {
    await api("/api/play", {session: state.session}).catch(() => {});
    loop();
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

// Play and pause requests are sent one after the other, never overtaking each other.
function setPlaying(on) {
  state.switching = (state.switching || Promise.resolve()).then(() => switchPlaying(on));
  return state.switching;
}

async function switchPlaying(on) {
  if (on === state.playing) return;
  state.playing = on;
  $("play").classList.toggle("playing", on);
  $("play").innerHTML = on ? ICONS.pause : ICONS.play;
  if (!state.session) return;
  if (on) {
    try {
      await api("/api/play", {session: state.session});
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
  const query = `session=${session}&since=${since}` + (version === null ? "" : `&version=${version}`);
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
    $(id).textContent = fmt(value, 4);
    $(id).dataset.value = value === null ? "" : String(value);
  }
  if (frame.diverged) showStatus(frame.diverged, true);
  if (drawn) state.needsDrawing = true;
  if (!state.drawScheduled) {
    state.drawScheduled = true;
    requestAnimationFrame(drawNow);
  }
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

function drawCurve(canvas, train, test) {
  const ctx = canvas.getContext("2d");
  const w = canvas.width, h = canvas.height;
  ctx.clearRect(0, 0, w, h);
  let top = 0;
  for (const series of [train, test]) {
    for (const v of series) if (v !== null && Number.isFinite(v) && v > top) top = v;
  }
  if (!top) return;
  const n = Math.max(train.length - 1, 1);
  const stride = Math.max(1, Math.floor(train.length / w));  // at most one point per pixel
  for (const [series, colour] of [[train, "#999"], [test, "#222"]]) {
    ctx.beginPath();
    let started = false;
    const indices = [];
    for (let i = 0; i < series.length; i += stride) indices.push(i);
    if (series.length && indices[indices.length - 1] !== series.length - 1) indices.push(series.length - 1);
    for (const i of indices) {
      const v = series[i];
      if (v === null || !Number.isFinite(v)) continue;
      const x = (i / n) * (w - 2) + 1, y = h - 2 - (Math.min(v, top) / top) * (h - 6);
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
  nodes.innerHTML = "";
  const cols = columns();
  const width = $("network").clientWidth || 600;
  const step = (width - NODE - 60) / (cols.length - 1);
  const position = new Map();
  cols.forEach((col, c) => {
    const x = 60 + c * step;
    col.forEach((node, r) => {
      const y = TOP + r * NODE_GAP;
      const div = document.createElement("div");
      div.className = "node";
      div.style.left = `${x}px`;
      div.style.top = `${y}px`;
      const canvas = document.createElement("canvas");
      div.appendChild(canvas);
      if (node.kind === "feature") {
        div.dataset.feature = node.name;
        div.title = `${state.options.features[node.name]}: click to switch on or off`;
        if (!node.on) div.classList.add("off");
        const label = document.createElement("span");
        label.className = "label";
        label.textContent = state.options.features[node.name];
        div.appendChild(label);
        paint(canvas, state.info.feature_maps[node.name], state.info.grid);
        div.addEventListener("click", () => toggleFeature(node.name));
      } else if (node.kind === "neuron") {
        div.dataset.layer = node.layer;
        div.dataset.index = node.index;
        div.id = `neuron-${node.layer}-${node.index}`;
        div.addEventListener("click", () => select({kind: "neuron", layer: node.layer, index: node.index}));
      } else {
        div.id = "output-node";
        div.title = "The output";
        div.addEventListener("click", () => select({kind: "neuron", layer: state.config.hidden.length, index: 0}));
      }
      nodes.appendChild(div);
      position.set(node, {x, y});
    });
  });
  // Layer controls above each hidden column.
  state.config.hidden.forEach((size, layer) => {
    const x = 60 + (layer + 1) * step;
    const bar = document.createElement("div");
    bar.className = "layer-controls";
    bar.style.left = `${x - 14}px`;
    bar.innerHTML = `<button class="round add-neuron" title="Add a neuron">+</button>` +
      `<button class="round remove-neuron" title="Remove a neuron">&minus;</button><span>${size}</span>`;
    bar.querySelector(".add-neuron").addEventListener("click", () => resizeLayer(layer, +1));
    bar.querySelector(".remove-neuron").addEventListener("click", () => resizeLayer(layer, -1));
    nodes.appendChild(bar);
  });
  const tallest = Math.max(...cols.map((col) => col.length));
  $("network").style.height = `${TOP + tallest * NODE_GAP + 10}px`;
  $("n-layers").textContent = state.config.hidden.length;
  // Links: one path per weight of every Dense layer.
  const svg = $("links");
  svg.innerHTML = "";
  const sources = [cols[0].filter((node) => node.on), ...cols.slice(1, -1)];
  state.links = [];
  sources.forEach((from, layer) => {
    const to = cols[layer + 1];
    from.forEach((a, i) => {
      to.forEach((b, j) => {
        const p = position.get(a), q = position.get(b);
        const x0 = p.x + NODE, y0 = p.y + NODE / 2, x1 = q.x, y1 = q.y + NODE / 2;
        const mid = (x0 + x1) / 2;
        const path = document.createElementNS("http://www.w3.org/2000/svg", "path");
        path.setAttribute("d", `M${x0},${y0} C${mid},${y0} ${mid},${y1} ${x1},${y1}`);
        path.dataset.layer = layer; path.dataset.i = i; path.dataset.j = j;
        path.id = `weight-${layer}-${i}-${j}`;
        const title = document.createElementNS("http://www.w3.org/2000/svg", "title");
        path.appendChild(title);
        path.addEventListener("click", () => select({kind: "weight", layer, i, j}));
        path.addEventListener("mouseenter", () => {
          const w = state.frame?.weights[layer]?.[i]?.[j];
          title.textContent = `Weight ${fmt(w, 4)} (layer ${layer + 1}, from ${i + 1} to ${j + 1}); click to inspect`;
        });
        svg.appendChild(path);
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
    if (w === undefined) continue;
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
  select.innerHTML = values.map((v) => `<option value="${v}">${v}</option>`).join("");
}

function setSelect(select, value) {
  const text = String(value);
  if (![...select.options].some((o) => o.value === text)) {
    select.insertAdjacentHTML("beforeend", `<option value="${text}">${text}</option>`);
  }
  select.value = text;
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
    const button = document.createElement("button");
    button.dataset.problem = name;
    button.title = name;
    const canvas = document.createElement("canvas");
    canvas.width = 60; canvas.height = 60;
    const ctx = canvas.getContext("2d");
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, 60, 60);
    const info = {domain: thumb.domain, points: thumb.points, targets: thumb.targets,
      n_train: thumb.points.length, kind: state.options.problems[name]};
    drawPoints(ctx, 60, info, false);
    button.appendChild(canvas);
    const label = document.createElement("span");
    label.textContent = name;
    button.appendChild(label);
    button.addEventListener("click", () => changeConfig({problem: name}));
    box.appendChild(button);
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
  $("reset").addEventListener("click", async () => { await setPlaying(false); newRun(); });
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
  $("export-npz").addEventListener("click", () => download(`/api/export.npz?session=${state.session}`, "playground_model.npz"));
  $("export-py").addEventListener("click", () => download(`/api/export.py?session=${state.session}`, "playground_model.py"));
  $("open-inspector").addEventListener("click", () => { $("inspector").hidden = false; renderInspector(); $("inspector").scrollIntoView(); });
  $("inspector-close").addEventListener("click", () => { $("inspector").hidden = true; });
  $("inspect-step").addEventListener("click", traceStep);
  $("trace-next").addEventListener("click", () => movePhase(+1));
  $("trace-prev").addEventListener("click", () => movePhase(-1));
  $("gradcheck").addEventListener("click", runGradcheck);
  $("open-compare").addEventListener("click", () => compare.open());
  window.addEventListener("hashchange", () => {
    state.config = hashToConfig(location.hash, state.options.defaults);
    syncControls();
    newRun();
  });
  window.addEventListener("resize", () => {
    if (!state.info) return;
    buildNetwork();
    updateNetwork(state.frame);
    markSelected();
    renderInspector();
  });
}

function download(url, name) {
  const a = document.createElement("a");
  a.href = url;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
}

// ---------------------------------------------------------------- the backprop inspector

function select(target) {
  state.selected = target;
  markSelected();
  $("inspector").hidden = false;
  renderInspector();
}

function markSelected() {
  for (const el of document.querySelectorAll(".node.selected, #links path.selected")) el.classList.remove("selected");
  const target = state.selected;
  if (!target) return;
  const el = target.kind === "weight" ? $(`weight-${target.layer}-${target.i}-${target.j}`)
    : target.layer === state.config.hidden.length ? $("output-node") : $(`neuron-${target.layer}-${target.index}`);
  if (el) el.classList.add("selected");
}

async function traceStep() {
  await setPlaying(false);
  try {
    const trace = await api("/api/inspect", {session: state.session});
    state.trace = trace;
    state.tracePhase = 0;
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

function numbersRow(label, values, kind) {
  const cells = values.map((v) => `<td data-kind="${kind}" data-value="${v}">${fmt(v, 5)}</td>`).join("");
  return `<tr><th>${label}</th>${cells}</tr>`;
}

function phaseReached(kind, layer) {
  // Whether the inspector has stepped as far as `kind` ("forward"/"backward"/"update") of `layer`.
  const phases = state.trace.phases;
  const target = phases.findIndex((p) => p.kind === kind && (kind === "update" || p.layer === layer));
  return target >= 0 && state.tracePhase >= target;
}

function renderInspector() {
  const body = $("inspector-body");
  const trace = state.trace;
  for (const el of document.querySelectorAll(".node.phase-current")) el.classList.remove("phase-current");
  if (!trace) {
    $("trace-phase").textContent = "";
    body.innerHTML = `<p>Click <b>Trace one step</b> to run one training step on the inspector's batch and take it apart:
      the forward pass layer by layer, the loss, the backward pass layer by layer and the update.
      Then click any neuron or weight in the network; the arrows step through the phases.</p>`;
    return;
  }
  const phase = trace.phases[state.tracePhase];
  if (phase.kind !== "update") {  // mark the layer this phase works on
    const selector = phase.layer === trace.layers.length - 1 ? "#output-node"
      : `.node[data-layer='${phase.layer}']`;
    for (const el of document.querySelectorAll(selector)) el.classList.add("phase-current");
  }
  $("trace-phase").textContent = `${state.tracePhase + 1}/${trace.phases.length}: ${phase.title}`;
  $("trace-next").disabled = state.tracePhase === trace.phases.length - 1;
  $("trace-prev").disabled = state.tracePhase === 0;
  let html = `<p>Batch of ${trace.batch.length} sample(s): rows ${trace.batch.join(", ")} of the training set.
    Loss before the step L = <b id="trace-loss" data-value="${trace.loss}">${fmt(trace.loss, 6)}</b>; optimizer ${trace.optimizer}.</p>`;
  html += `<div class="math-block phase-current"><div class="formula">${phase.formula}</div><div>${phase.text}</div></div>`;
  const sel = state.selected;
  const layer = sel ? trace.layers[sel.layer] : null;
  if (!sel || !layer) {
    html += "<p>Click a neuron or a weight to see its numbers.</p>";
    body.innerHTML = html;
    return;
  }
  const forward = phaseReached("forward", sel.layer);
  const backward = phaseReached("backward", sel.layer);
  const updated = phaseReached("update", 0);
  const samples = `<tr><th>sample</th>${trace.batch.map((r) => `<td>${r}</td>`).join("")}</tr>`;
  if (layer.note) html += `<p class="hint">Note: ${layer.note}.</p>`;
  if (sel.kind === "neuron") {
    const j = sel.index;
    const col = (m) => m.map((row) => row[j]);
    const name = sel.layer === trace.layers.length - 1 ? "the output neuron" : `neuron ${j + 1} of hidden layer ${sel.layer + 1}`;
    html += `<h3 id="inspect-title">${name} (activation: ${layer.activation})</h3>`;
    html += `<p class="formula">zⱼ = Σᵢ aᵢ Wᵢⱼ + bⱼ &nbsp;&nbsp; aⱼ = ${layer.activation}(zⱼ) &nbsp;&nbsp; δⱼ = ∂L/∂zⱼ = ∂L/∂aⱼ · ${layer.activation}'(zⱼ)</p>`;
    html += `<table id="inspect-neuron">${samples}`;
    if (forward) html += numbersRow("z", col(layer.z), "z") + numbersRow("a", col(layer.a), "a");
    if (backward) html += numbersRow("δ = ∂L/∂z", col(layer.delta), "delta");
    html += "</table>";
    if (!forward) html += "<p class=\"hint\">Step forward to reach this layer.</p>";
    if (backward) {
      html += `<p class="formula">∂L/∂bⱼ = Σ over the batch of δⱼ = <b data-kind="db" data-value="${layer.db[j]}">${fmt(layer.db[j], 6)}</b></p>`;
    }
    if (updated) {
      html += `<p class="formula">update Δbⱼ = <b data-kind="update_b" data-value="${layer.update_b[j]}">${fmt(layer.update_b[j], 6)}</b>
        (bⱼ: ${fmt(layer.b_before[j], 6)} → ${fmt(layer.b_after[j], 6)})</p>`;
    }
  } else {
    const {i, j} = sel;
    const prev = sel.layer === 0 ? trace.inputs : trace.layers[sel.layer - 1].a;
    html += `<h3 id="inspect-title">weight W[${i + 1}, ${j + 1}] of layer ${sel.layer + 1}: ${fmt(layer.W_before[i][j], 6)}</h3>`;
    html += `<p class="formula">∂L/∂Wᵢⱼ = Σ over the batch of aᵢ · δⱼ ${layer.penalty ? "+ the " + layer.penalty.toUpperCase() + " penalty's gradient" : ""}</p>`;
    html += `<table id="inspect-weight">${samples}`;
    if (forward) html += numbersRow("aᵢ (input)", prev.map((row) => row[i]), "a_in");
    if (backward) html += numbersRow("δⱼ", layer.delta.map((row) => row[j]), "delta");
    html += "</table>";
    if (backward) {
      html += `<p class="formula">∂L/∂Wᵢⱼ = <b data-kind="dW" data-value="${layer.dW[i][j]}">${fmt(layer.dW[i][j], 6)}</b></p>`;
    }
    if (updated) {
      html += `<p class="formula">update ΔWᵢⱼ = <b data-kind="update_W" data-value="${layer.update_W[i][j]}">${fmt(layer.update_W[i][j], 6)}</b>;
        Wᵢⱼ: ${fmt(layer.W_before[i][j], 6)} → ${fmt(layer.W_after[i][j], 6)}</p>`;
    }
  }
  body.innerHTML = html;
}

async function runGradcheck() {
  await setPlaying(false);
  const box = $("gradcheck-body");
  box.textContent = "Running gradcheck…";
  try {
    const result = await api("/api/gradcheck", {session: state.session});
    let html = `<p>${result.summary}</p><table id="gradcheck-table"><tr><th>parameter</th><th>entry</th><th>analytic ∂L/∂θ</th><th>finite difference</th><th>|difference|</th></tr>`;
    for (const row of result.entries) {
      html += `<tr><td>${row.name}</td><td>${row.index}</td><td data-kind="analytic">${row.analytic.toExponential(6)}</td><td data-kind="numeric">${row.numeric.toExponential(6)}</td><td>${Math.abs(row.analytic - row.numeric).toExponential(2)}</td></tr>`;
    }
    box.innerHTML = html + `</table><pre>${result.table}</pre>`;
  } catch (error) {
    box.textContent = error.message;
  }
}

// ---------------------------------------------------------------- side-by-side runs

const compare = {
  active: false,
  runs: [],
  open() {
    this.active = true;
    $("compare").hidden = false;
    this.render();
    newRun();  // restarts both runs from the same seed
    $("compare").scrollIntoView();
  },
  variants() {
    const c = state.config;
    return [
      {label: "activation", key: "activation", value: c.activation === "relu" ? "tanh" : "relu"},
      {label: "optimizer", key: "optimizer", value: c.optimizer === "adam" ? "sgd" : "adam"},
    ];
  },
  render() {
    const options = this.variants();
    const box = $("compare-body");
    box.innerHTML = `<div class="compare-run"><label>Vary <select id="compare-key">
      <option value="activation">activation</option><option value="optimizer">optimizer</option>
      <option value="lr">learning rate</option></select></label>
      <label>to <select id="compare-value"></select></label>
      <p class="hint">Both runs start from the same seed and train on the same points; press play.</p></div>
      <div class="compare-run"><b>A: this page's run</b><canvas id="compare-a" width="240" height="240"></canvas><canvas class="curve" id="compare-a-curve" width="240" height="60"></canvas><div>Test loss <output id="compare-a-loss">–</output></div></div>
      <div class="compare-run"><b id="compare-b-title">B</b><canvas id="compare-b" width="240" height="240"></canvas><canvas class="curve" id="compare-b-curve" width="240" height="60"></canvas><div>Test loss <output id="compare-b-loss">–</output></div></div>`;
    const fill = () => {
      const key = $("compare-key").value;
      const values = key === "activation" ? state.options.activations
        : key === "optimizer" ? state.options.optimizers : ["0.003", "0.01", "0.03", "0.1", "0.3", "1"];
      setOptions($("compare-value"), values);
      const preset = options.find((o) => o.key === key);
      if (preset) $("compare-value").value = preset.value;
    };
    fill();
    $("compare-key").addEventListener("change", () => { fill(); newRun(); });
    $("compare-value").addEventListener("change", () => newRun());
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
      this.b = {info, session: info.session, train: [], test: []};
      this.draw(info.frame, null);
      if (state.playing) { await this.play(); this.stream(); }
    } catch (error) {
      $("compare-b-title").textContent = error.message;
    }
  },
  async step(epochs) {
    if (!this.b) return;
    const frame = await api("/api/step", {session: this.b.session, epochs});
    this.draw(frame, state.frame);
  },
  async play() {
    if (this.b) await api("/api/play", {session: this.b.session});
  },
  async pause() {
    if (this.b) this.draw(await api("/api/pause", {session: this.b.session}), state.frame);
  },
  stream() {
    if (this.source) this.source.close();
    if (!this.b) return;
    const b = this.b;
    this.source = openStream(b.session, b.train.length, null, (frame) => {
      if (this.b === b) this.draw(frame, state.frame);
    });
  },
  draw(frameB, frameA) {
    const b = this.b;
    b.train.length = frameB.history.from; b.test.length = frameB.history.from;
    b.train.push(...frameB.history.train); b.test.push(...frameB.history.test);
    b.frame = frameB;
    this.withA = !!frameA;
    $("compare-b-loss").textContent = fmt(frameB.test_loss);
    if (frameA) $("compare-a-loss").textContent = fmt(frameA.test_loss);
    if (this.scheduled) return;
    this.scheduled = true;
    requestAnimationFrame(() => {  // drawn at most once per animation frame
      this.scheduled = false;
      if (this.b !== b) return;
      drawHeatmap($("compare-b"), b.frame.output, b.info, false);
      drawCurve($("compare-b-curve"), b.train, b.test);
      if (this.withA && state.frame) {
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
  state.config = hashToConfig(location.hash, state.options.defaults);
  syncControls();
  wireControls();
  $("play").innerHTML = ICONS.play;
  writeHash();
  await newRun();
  document.body.dataset.ready = "1";
}

main().catch((error) => showStatus(error.message, true));
