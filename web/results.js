// Result cards: one per requested image, with a progress bar until its image arrives, a label, and a download link.

const el = (tag, attrs = {}, text) => {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
};

/** The clipSkip a result reports, from `clipSkip` or vellum's `clipSkipApplied.clipSkip`; undefined if absent. */
export function reportedClipSkip(item) {
  if (Number.isInteger(item.clipSkip)) return item.clipSkip;
  if (Number.isInteger(item.clipSkipApplied?.clipSkip)) return item.clipSkipApplied.clipSkip;
  return undefined;
}

const imageSrc = (item) =>
  item.imageURL ?? item.imageDataURI ?? (item.imageBase64Data ? `data:image/png;base64,${item.imageBase64Data}` : "");

/** Shows an error object as the API returned it: code, message, parameter (and range, task, docs link if present). */
export function renderError(container, err) {
  const box = el("div", { class: "error" });
  const head = el("p");
  head.append(el("strong", {}, err.code ?? "error"), `: ${err.message ?? "Unknown error."}`);
  box.append(head);
  const details = [];
  if (err.parameter !== undefined) details.push(`parameter: ${err.parameter}`);
  if (err.min !== undefined || err.max !== undefined) details.push(`allowed: ${err.min ?? "…"} to ${err.max ?? "…"}`);
  if (err.taskType !== undefined) details.push(`task: ${err.taskType}`);
  if (details.length > 0) box.append(el("p", { class: "hint" }, details.join(" · ")));
  if (typeof err.documentation === "string" && /^https?:\/\//.test(err.documentation)) {
    const link = el("a", { href: err.documentation, target: "_blank", rel: "noopener" }, "documentation");
    box.append(link);
  }
  container.append(box);
}

/**
 * A run of `slots` cards (each `{ clipSkip?: number }`; compare mode sets clipSkip per slot). `note` (e.g.
 * "img2img, strength 0.6") is added to every card's caption.
 * Returns handlers that the inference callbacks drive.
 */
export function createRun(container, slots, { isCompare, seed, note }) {
  const grid = el("div", { class: isCompare ? "cards compare" : "cards", role: "list" });
  const cards = slots.map((slot, i) => {
    const label = isCompare ? `clipSkip ${slot.clipSkip}` : `Image ${i + 1}`;
    const card = el("figure", { class: "card", role: "listitem", "aria-busy": "true" });
    const frame = el("div", { class: "frame" });
    const bar = el("progress", { max: "1", value: "0", "aria-label": `Progress of ${label}` });
    const stepText = el("span", { class: "hint" }, "queued");
    frame.append(bar, stepText);
    const caption = el("figcaption");
    const title = el("strong", { class: "label" }, label);
    const meta = el("span", { class: "hint meta" });
    caption.append(title, meta);
    card.append(frame, caption);
    grid.append(card);
    return { slot, card, frame, bar, stepText, title, meta, label, filled: false };
  });
  container.prepend(grid);

  const pickCard = (item, arrival) => {
    const cs = reportedClipSkip(item);
    const free = cards.filter((c) => !c.filled);
    if (isCompare && cs !== undefined) {
      const match = free.find((c) => c.slot.clipSkip === cs);
      if (match) return match;
    }
    const index = Number.isInteger(item.imageIndex) ? item.imageIndex : Number.isInteger(item.index) ? item.index : undefined;
    if (index !== undefined && cards[index] && !cards[index].filled) return cards[index];
    return cards[arrival] && !cards[arrival].filled ? cards[arrival] : free[0];
  };

  return {
    progress({ step, total, imageIndex }) {
      const card = cards[imageIndex] ?? cards.find((c) => !c.filled);
      if (card === undefined || card.filled) return;
      card.bar.max = total;
      card.bar.value = Math.min(step, total);
      card.stepText.textContent = `step ${Math.min(step, total)} / ${total}`;
    },
    image(item, arrival) {
      const card = pickCard(item, arrival);
      if (card === undefined) return;
      card.filled = true;
      const cs = reportedClipSkip(item) ?? card.slot.clipSkip;
      if (isCompare) {
        card.label = `clipSkip ${cs}`;
        card.title.textContent = card.label;
      }
      const itemSeed = item.seed ?? seed;
      const parts = [];
      if (!isCompare && cs !== undefined) parts.push(`clipSkip ${cs}`);
      if (itemSeed !== undefined) parts.push(`seed ${itemSeed}`);
      if (note) parts.push(note);
      card.meta.textContent = parts.join(" · ");
      const src = imageSrc(item);
      const img = el("img", { src, alt: `Generated image, ${card.label}${itemSeed !== undefined ? `, seed ${itemSeed}` : ""}` });
      const link = el("a", { href: src, download: `vellum-${itemSeed ?? "image"}${cs !== undefined ? `-clipskip${cs}` : ""}.png`, class: "download", target: "_blank", rel: "noopener" }, "Download PNG");
      link.setAttribute("aria-label", `Download ${card.label} as PNG`);
      card.frame.replaceChildren(img);
      card.card.querySelector("figcaption").append(link);
      card.card.setAttribute("aria-busy", "false");
      card.card.dataset.clipSkip = cs === undefined ? "" : String(cs);
    },
    /** Marks unfinished cards failed; drops the whole set when nothing arrived (the error message says why). */
    fail() {
      if (cards.every((c) => !c.filled)) {
        grid.remove();
        return;
      }
      for (const c of cards) {
        if (c.filled) continue;
        c.stepText.textContent = "failed";
        c.card.classList.add("failed");
        c.card.setAttribute("aria-busy", "false");
      }
    },
  };
}
