// The seed image (img2img) and the mask brush (inpainting): a file becomes a data URI `seedImage` (or, when asked, an
// `imageUpload` whose UUID is reused); strokes painted over the preview become a black/white PNG `maskImage` of the
// seed image's own size (white = repaint), as the API requires.

const STROKE = "rgb(255, 0, 160)"; // shown over the image; exported as white
const readAsDataUrl = (file) =>
  new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result));
    reader.onerror = () => reject(reader.error);
    reader.readAsDataURL(file);
  });

const loadImage = (src) =>
  new Promise((resolve, reject) => {
    const img = new Image();
    img.onload = () => resolve(img);
    img.onerror = () => reject(new Error("The browser cannot decode this image."));
    img.src = src;
  });

/** The nearest size the API accepts (128–2048, a multiple of 64) at or below an image side. */
export const requestSide = (side) => Math.min(2048, Math.max(128, Math.floor(side / 64) * 64));

/**
 * Wires the image controls. `els`: { file, options, strength, uploadOnce, useMask, maskTools, brush, brushValue,
 * maskClear, maskFill, preview, previewImg, canvas, remove }. `onImage({ width, height })` fires when an image is loaded.
 */
export function createImageInput(els, { onImage = () => {}, onError = () => {} } = {}) {
  let seed; // { dataUri, width, height, name }
  let painted = false;
  const uploads = new Map(); // data URI → imageUUID (the upload is done once per image and connection)
  const ctx = els.canvas.getContext("2d");

  function setMaskMode() {
    const on = seed !== undefined && els.useMask.checked;
    els.maskTools.hidden = !on;
    els.canvas.hidden = !on;
  }

  function clearMask() {
    ctx.clearRect(0, 0, els.canvas.width, els.canvas.height);
    painted = false;
  }

  function fillMask() {
    ctx.fillStyle = STROKE;
    ctx.fillRect(0, 0, els.canvas.width, els.canvas.height);
    painted = true;
  }

  function reset() {
    seed = undefined;
    els.file.value = "";
    els.previewImg.removeAttribute("src");
    els.options.hidden = true;
    els.useMask.checked = false;
    clearMask();
    setMaskMode();
  }

  async function onFile() {
    const file = els.file.files?.[0];
    if (file === undefined) return reset();
    try {
      const dataUri = await readAsDataUrl(file);
      const img = await loadImage(dataUri);
      seed = { dataUri, width: img.naturalWidth, height: img.naturalHeight, name: file.name };
    } catch (err) {
      reset();
      onError({ code: "invalidSeedImage", message: `${file.name}: ${err.message ?? "unreadable image"}`, parameter: "seedImage" });
      return;
    }
    els.previewImg.src = seed.dataUri;
    els.previewImg.alt = `Seed image ${seed.name}, ${seed.width}×${seed.height}`;
    els.canvas.width = seed.width; // the mask has the seed image's own size
    els.canvas.height = seed.height;
    clearMask();
    els.options.hidden = false;
    setMaskMode();
    onImage({ width: seed.width, height: seed.height });
  }

  // ── brush ──
  let last;
  const brushSize = () => Number(els.brush.value);
  const toCanvas = (e) => {
    const r = els.canvas.getBoundingClientRect();
    return { x: ((e.clientX - r.left) * els.canvas.width) / r.width, y: ((e.clientY - r.top) * els.canvas.height) / r.height };
  };
  function dab(p) {
    ctx.strokeStyle = ctx.fillStyle = STROKE;
    ctx.lineWidth = brushSize();
    ctx.lineCap = ctx.lineJoin = "round";
    ctx.beginPath();
    if (last === undefined) ctx.arc(p.x, p.y, brushSize() / 2, 0, Math.PI * 2), ctx.fill();
    else ctx.moveTo(last.x, last.y), ctx.lineTo(p.x, p.y), ctx.stroke();
    last = p;
    painted = true;
  }
  els.canvas.addEventListener("pointerdown", (e) => {
    e.preventDefault();
    els.canvas.setPointerCapture(e.pointerId);
    last = undefined;
    dab(toCanvas(e));
  });
  els.canvas.addEventListener("pointermove", (e) => {
    if (last !== undefined && els.canvas.hasPointerCapture(e.pointerId)) dab(toCanvas(e));
  });
  const end = () => (last = undefined);
  els.canvas.addEventListener("pointerup", end);
  els.canvas.addEventListener("pointercancel", end);

  const showBrush = () => (els.brushValue.textContent = `${brushSize()} px`);
  els.brush.addEventListener("input", showBrush);
  showBrush();
  els.file.addEventListener("change", onFile);
  els.useMask.addEventListener("change", setMaskMode);
  els.maskClear.addEventListener("click", clearMask);
  els.maskFill.addEventListener("click", fillMask);
  els.remove.addEventListener("click", () => {
    reset();
    els.file.focus();
  });
  reset();

  /** Black/white PNG data URI of the painted area, the seed image's size. */
  function maskDataUri() {
    const { width, height } = els.canvas;
    const pixels = ctx.getImageData(0, 0, width, height);
    const d = pixels.data;
    for (let i = 0; i < d.length; i += 4) {
      const v = d[i + 3] >= 128 ? 255 : 0; // painted (opaque) → white = repaint
      d[i] = d[i + 1] = d[i + 2] = v;
      d[i + 3] = 255;
    }
    const out = document.createElement("canvas");
    out.width = width;
    out.height = height;
    out.getContext("2d").putImageData(pixels, 0, 0);
    return out.toDataURL("image/png");
  }

  return {
    get hasImage() {
      return seed !== undefined;
    },
    /** The size of the loaded image, or undefined. */
    get size() {
      return seed && { width: seed.width, height: seed.height };
    },
    /**
     * Fields to add to imageInference: seedImage (data URI or uploaded UUID), strength, maskImage when painting.
     * `upload(dataUri)` runs the imageUpload task. Throws an API-shaped error object when the form is incomplete.
     */
    async taskFields(upload) {
      if (seed === undefined) return {};
      const strength = els.strength.value.trim() === "" ? undefined : Number(els.strength.value);
      let seedImage = seed.dataUri;
      if (els.uploadOnce.checked) {
        if (!uploads.has(seed.dataUri)) uploads.set(seed.dataUri, await upload(seed.dataUri));
        seedImage = uploads.get(seed.dataUri);
      }
      const fields = { seedImage, ...(strength !== undefined && { strength }) };
      if (els.useMask.checked) {
        if (!painted) throw { code: "invalidMaskImage", message: "Paint the area to repaint on the image (or untick \"Paint a mask\").", parameter: "maskImage" };
        fields.maskImage = maskDataUri();
      }
      return fields;
    },
    /** Uploaded UUIDs belong to a server: forget them when the connection changes. */
    forgetUploads: () => uploads.clear(),
  };
}
