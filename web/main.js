// The playground page: connect with an API key, pick a model and settings, generate or compare clipSkip values,
// optionally from a seed image (img2img) with a painted mask (inpainting).
// Talks only to the public WebSocket API (see client.js); no build step, no dependencies.
import { connect, defaultServerUrl, inferImages, searchModels, uploadImage } from "./client.js";
import { createImageInput, requestSide } from "./image-input.js";
import { createRun, renderError } from "./results.js";

const KEY_STORAGE = "vellum.apiKey";
const $ = (id) => document.getElementById(id);

const ui = {
  connectForm: $("connect-form"),
  apiKey: $("api-key"),
  status: $("status"),
  form: $("generate-form"),
  fields: $("generate-fields"),
  model: $("model"),
  modelHint: $("model-hint"),
  width: $("width"),
  height: $("height"),
  steps: $("steps"),
  cfg: $("cfg"),
  scheduler: $("scheduler"),
  seed: $("seed"),
  clipSkip: $("clipskip"),
  clipSkipHint: $("clipskip-hint"),
  clipSkipField: $("clipskip-field"),
  sweep: $("sweep"),
  sweepField: $("sweep-field"),
  count: $("count"),
  countField: $("count-field"),
  loraModel: $("lora-model"),
  loraWeight: $("lora-weight"),
  loraAdd: $("lora-add"),
  loraList: $("lora-list"),
  generate: $("generate"),
  errors: $("errors"),
  results: $("results"),
};

const imageInput = createImageInput(
  {
    file: $("seed-image"),
    options: $("image-options"),
    strength: $("strength"),
    uploadOnce: $("upload-once"),
    useMask: $("use-mask"),
    maskTools: $("mask-tools"),
    brush: $("brush-size"),
    brushValue: $("brush-size-value"),
    maskClear: $("mask-clear"),
    maskFill: $("mask-fill"),
    previewImg: $("seed-preview-img"),
    canvas: $("mask-canvas"),
    remove: $("seed-remove"),
  },
  {
    // The request size follows the image (the API wants multiples of 64; the server resizes the image to it).
    onImage: ({ width, height }) => {
      ui.width.value = requestSide(width);
      ui.height.value = requestSide(height);
    },
    onError: (err) => renderError(ui.errors, err),
  },
);

let client;
let checkpoints = [];
let loras = [];
const chosenLoras = []; // { air, name, weight }

const storage = {
  get: () => {
    try {
      return localStorage.getItem(KEY_STORAGE) ?? "";
    } catch {
      return "";
    }
  },
  set: (v) => {
    try {
      localStorage.setItem(KEY_STORAGE, v);
    } catch {
      /* storage disabled: the key just is not remembered */
    }
  },
};

const setStatus = (text) => (ui.status.textContent = text);
const showError = (err) => renderError(ui.errors, err);
const clearErrors = () => ui.errors.replaceChildren();

function option(value, text) {
  const o = document.createElement("option");
  o.value = value;
  o.textContent = text;
  return o;
}

// ── connection ────────────────────────────────────────────────────────────────────────────────────────────────

async function onConnect(event) {
  event?.preventDefault();
  const apiKey = ui.apiKey.value.trim();
  storage.set(apiKey);
  client?.close();
  client = undefined;
  imageInput.forgetUploads();
  ui.fields.disabled = true;
  clearErrors();
  const url = defaultServerUrl();
  setStatus(`Connecting to ${url}…`);
  try {
    const next = await connect(url, apiKey, {
      onClose: (e) => {
        if (client !== next) return; // an older connection we replaced
        ui.fields.disabled = true;
        setStatus(`Disconnected (code ${e.code}). Press Connect to reconnect.`);
      },
      onStrayError: showError,
    });
    client = next;
  } catch (err) {
    setStatus(`Not connected: ${err.code ?? "error"}.`);
    showError(err);
    return;
  }
  setStatus("Connected. Loading models…");
  try {
    [checkpoints, loras] = await Promise.all([
      searchModels(client, { category: "checkpoint" }),
      searchModels(client, { category: "lora" }),
    ]);
  } catch (err) {
    showError(err);
  }
  fillModels();
  ui.fields.disabled = false;
  setStatus(`Connected. ${checkpoints.length} model${checkpoints.length === 1 ? "" : "s"} available.`);
}

// ── models, clipSkip hint, LoRAs ─────────────────────────────────────────────────────────────────────────────────

function fillModels() {
  ui.model.replaceChildren(...checkpoints.map((m) => option(m.air, m.name ? `${m.name}${m.version ? ` (${m.version})` : ""}` : m.air)));
  if (checkpoints.length === 0) ui.model.append(option("", "No checkpoints on this server"));
  ui.loraModel.replaceChildren(...loras.map((m) => option(m.air, m.name ?? m.air)));
  const hasLoras = loras.length > 0;
  ui.loraModel.disabled = ui.loraWeight.disabled = ui.loraAdd.disabled = !hasLoras;
  if (!hasLoras) ui.loraModel.append(option("", "No LoRAs on this server"));
  onModelChange();
  onLoraModelChange();
}

const selectedModel = () => checkpoints.find((m) => m.air === ui.model.value);

function onModelChange() {
  const m = selectedModel();
  if (m === undefined) {
    ui.modelHint.textContent = "";
    ui.clipSkipHint.textContent = "";
    return;
  }
  if (Number.isInteger(m.defaultWidth)) ui.width.value = m.defaultWidth;
  if (Number.isInteger(m.defaultHeight)) ui.height.value = m.defaultHeight;
  if (Number.isInteger(m.defaultSteps)) ui.steps.value = m.defaultSteps;
  if (typeof m.defaultCFG === "number") ui.cfg.value = m.defaultCFG;
  if (typeof m.defaultScheduler === "string" && [...ui.scheduler.options].some((o) => o.value === m.defaultScheduler)) {
    ui.scheduler.value = m.defaultScheduler;
  }
  ui.modelHint.textContent = [m.air, m.architecture].filter(Boolean).join(" · ");
  const max = Number.isInteger(m.maxClipSkip) ? m.maxClipSkip : 2;
  ui.clipSkip.max = String(max);
  const rec = Number.isInteger(m.recommendedClipSkip) ? m.recommendedClipSkip : undefined;
  ui.clipSkip.placeholder = rec === undefined ? "model default" : `default: ${rec}`;
  const parts = [];
  parts.push(rec === undefined ? "This model gives no recommended clipSkip (0 is the usual choice)." : `Recommended for this model: ${rec}.`);
  if (Number.isInteger(m.civitaiClipSkip)) parts.push(`Its model page says "Clip skip: ${m.civitaiClipSkip}".`);
  parts.push(`Allowed: 0 to ${max}. Blank uses the model's default.`);
  ui.clipSkipHint.textContent = parts.join(" ");
}

function onLoraModelChange() {
  const l = loras.find((x) => x.air === ui.loraModel.value);
  if (l !== undefined && typeof l.defaultWeight === "number") ui.loraWeight.value = l.defaultWeight;
}

function renderLoras() {
  ui.loraList.replaceChildren(
    ...chosenLoras.map((l, i) => {
      const li = document.createElement("li");
      li.append(`${l.name} × ${l.weight} `);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "Remove";
      remove.setAttribute("aria-label", `Remove LoRA ${l.name}`);
      remove.addEventListener("click", () => {
        chosenLoras.splice(i, 1);
        renderLoras();
        ui.loraAdd.focus();
      });
      li.append(remove);
      return li;
    }),
  );
}

function onLoraAdd() {
  const l = loras.find((x) => x.air === ui.loraModel.value);
  if (l === undefined) return;
  const weight = Number(ui.loraWeight.value || 1);
  const existing = chosenLoras.find((x) => x.air === l.air);
  if (existing) existing.weight = weight;
  else chosenLoras.push({ air: l.air, name: l.name ?? l.air, weight });
  renderLoras();
}

// ── generation ──────────────────────────────────────────────────────────────────────────────────────────────────

const isCompareMode = () => ui.form.elements.mode.value === "compare";

function onModeChange() {
  const compare = isCompareMode();
  ui.sweepField.hidden = !compare;
  ui.clipSkipField.hidden = compare;
  ui.countField.hidden = compare;
}

/** "0, 1, 2" → [0, 1, 2]; undefined when it is not a list of non-negative integers. */
function parseSweep(text) {
  const parts = text.split(/[\s,;]+/).filter((s) => s !== "");
  if (parts.length === 0 || parts.some((s) => !/^\d+$/.test(s))) return undefined;
  return parts.map(Number);
}

const num = (input) => (input.value.trim() === "" ? undefined : Number(input.value));

function buildTask() {
  const task = {
    positivePrompt: $("prompt").value,
    model: ui.model.value,
    width: num(ui.width),
    height: num(ui.height),
    steps: num(ui.steps),
    CFGScale: num(ui.cfg),
    outputType: "URL",
    outputFormat: "PNG",
    includeProgress: true,
  };
  const negative = $("negative").value;
  if (negative.trim() !== "") task.negativePrompt = negative;
  if (ui.scheduler.value !== "Default") task.scheduler = ui.scheduler.value;
  if (chosenLoras.length > 0) task.lora = chosenLoras.map((l) => ({ model: l.air, weight: l.weight }));
  const seedText = ui.seed.value.trim();
  if (seedText !== "") task.seed = Number(seedText);
  for (const k of Object.keys(task)) if (task[k] === undefined) delete task[k];
  return task;
}

async function onGenerate(event) {
  event.preventDefault();
  if (client === undefined || !client.isOpen) {
    showError({ code: "notConnected", message: "Connect with an API key first." });
    return;
  }
  clearErrors();
  const task = buildTask();
  try {
    Object.assign(task, await imageInput.taskFields((image) => uploadImage(client, image)));
  } catch (err) {
    showError(err);
    setStatus(`Failed: ${err.code ?? "error"}.`);
    return;
  }
  const isCompare = isCompareMode();
  let slots;
  if (isCompare) {
    const values = parseSweep(ui.sweep.value);
    if (values === undefined) {
      showError({ code: "invalidClipSkip", message: "Enter clipSkip values as whole numbers separated by commas, e.g. 0, 1, 2.", parameter: "clipSkip" });
      ui.sweep.focus();
      return;
    }
    // One seed for every image, so only clipSkip differs between them.
    if (task.seed === undefined) task.seed = 1 + Math.floor(Math.random() * 2 ** 31);
    task.clipSkip = values;
    task.numberResults = values.length;
    slots = values.map((clipSkip) => ({ clipSkip }));
  } else {
    const cs = num(ui.clipSkip);
    if (cs !== undefined) task.clipSkip = cs;
    task.numberResults = num(ui.count) ?? 1;
    slots = Array.from({ length: Math.max(1, Math.min(task.numberResults, 20)) }, () => ({ clipSkip: cs }));
  }
  const note = task.seedImage === undefined ? undefined : `${task.maskImage !== undefined ? "inpainting" : "img2img"}, strength ${task.strength ?? "default"}`;
  const run = createRun(ui.results, slots, { isCompare, seed: task.seed, note });
  ui.generate.disabled = true;
  const started = performance.now();
  const kind = note === undefined ? "" : ` (${note})`;
  setStatus(isCompare ? `Comparing clipSkip ${task.clipSkip.join(", ")}${kind}…` : `Generating ${task.numberResults} image${task.numberResults === 1 ? "" : "s"}${kind}…`);
  try {
    const n = await inferImages(client, task, slots.length, { onProgress: run.progress, onImage: run.image });
    setStatus(`Done: ${n} image${n === 1 ? "" : "s"} in ${((performance.now() - started) / 1000).toFixed(1)} s.`);
  } catch (err) {
    run.fail();
    showError(err);
    setStatus(`Failed: ${err.code ?? "error"}.`);
  } finally {
    ui.generate.disabled = false;
  }
}

// ── wiring ──────────────────────────────────────────────────────────────────────────────────────────────────────

ui.connectForm.addEventListener("submit", onConnect);
ui.form.addEventListener("submit", onGenerate);
ui.model.addEventListener("change", onModelChange);
ui.loraModel.addEventListener("change", onLoraModelChange);
ui.loraAdd.addEventListener("click", onLoraAdd);
for (const radio of ui.form.elements.mode) radio.addEventListener("change", onModeChange);
onModeChange();

ui.apiKey.value = storage.get();
if (ui.apiKey.value !== "") void onConnect();
