// The item view: one file large (zoom and pan for images, play and a frame scrubber for videos)
// with every annotation drawn and listed, its facts, metadata and tags (editable), collections,
// upload job, a copyable signed URL, and the previous and next file of the current query.

import { get, post, withQuery } from "./api.js";
import { bytes, date, h, listFromText, number, showError, typedValue } from "./dom.js";
import { drawShapes, newSvg, shapeFilter, visible } from "./shapes.js";
import { readState, selectionOf, sortOf, stateQuery } from "./view_state.js";

export async function itemView(root, uniqueName) {
  const state = readState(null);
  shapeFilter.minConfidence = state.minConfidence;
  shapeFilter.hidden = new Set(state.hidden);
  const item = await get(withQuery("/files/view", { unique_name: uniqueName }));
  const back = state.collectionId ? `/collections/${state.collectionId}` : "/";
  const context = stateQuery(state, { withScope: true, withAnchor: false });
  const nav = h("div.item-nav", {}, h("a", { href: back + stateQuery(state) }, "← back to the grid"));
  const viewer = item.content_type === "video" ? await videoViewer(item) : imageViewer(item);
  const panel = h(
    "aside.item-panel",
    {},
    h("h2", {}, item.file_name),
    facts(item),
    annotationList(item, () => viewer.redraw && viewer.redraw()),
    metadataEditor(item),
    collectionsOf(item),
  );
  root.replaceChildren(h("section.item-view", {}, nav, h("div.item-body", {}, viewer.element, panel)));
  neighbours(nav, state, uniqueName, context);
}

async function neighbours(nav, state, uniqueName, context) {
  try {
    const found = await post("/items/neighbours", {
      selection: selectionOf(state),
      sort_order: sortOf(state),
      unique_name: uniqueName,
    });
    for (const [side, text] of [["previous", "← previous"], ["next", "next →"]]) {
      const name = found[side];
      nav.append(
        name
          ? h("a", { href: `/items/${encodeURIComponent(name)}${context}`, "data-testid": side, rel: side === "next" ? "next" : "prev" }, text)
          : h("span.muted", {}, text),
      );
    }
  } catch (error) {
    nav.append(h("span.error", {}, error.message));
  }
}

function imageViewer(item) {
  const img = h("img", {
    src: withQuery("/api/v1/files/thumbnail", { unique_name: item.unique_name, size: 1024, v: item.sha256 }),
    alt: item.file_name,
    draggable: "false",
  });
  const svg = newSvg("shapes");
  const stage = h("div.stage", {}, img, svg);
  const element = h("div.viewer", { "data-testid": "viewer" }, stage);
  const width = item.width || 1;
  const height = item.height || 1;
  stage.style.width = `${width}px`;
  stage.style.height = `${height}px`;
  let scale = 1;
  let x = 0;
  let y = 0;
  const apply = () => {
    stage.style.transform = `translate(${x}px, ${y}px) scale(${scale})`;
  };
  const fit = () => {
    const box = element.getBoundingClientRect();
    scale = Math.min(box.width / width, box.height / height) || 1;
    x = (box.width - width * scale) / 2;
    y = (box.height - height * scale) / 2;
    apply();
  };
  element.addEventListener("wheel", (event) => {
    event.preventDefault();
    const box = element.getBoundingClientRect();
    const px = event.clientX - box.left;
    const py = event.clientY - box.top;
    const factor = Math.exp(-event.deltaY / 500);
    x = px - (px - x) * factor;
    y = py - (py - y) * factor;
    scale *= factor;
    apply();
  }, { passive: false });
  let drag = null;
  element.addEventListener("pointerdown", (event) => {
    drag = { px: event.clientX - x, py: event.clientY - y };
    element.setPointerCapture(event.pointerId);
  });
  element.addEventListener("pointermove", (event) => {
    if (!drag) return;
    x = event.clientX - drag.px;
    y = event.clientY - drag.py;
    apply();
  });
  element.addEventListener("pointerup", () => (drag = null));
  element.addEventListener("dblclick", fit);
  new ResizeObserver(fit).observe(element);
  get(withQuery("/files/url", { file_key: item.unique_name })).then(({ url }) => {
    const full = new Image();
    full.onload = () => (img.src = url);
    full.src = url;
  });
  const redraw = () => drawShapes(svg, item.annotations, width, height);
  redraw();
  return { element, redraw };
}

async function videoViewer(item) {
  const { url } = await get(withQuery("/files/url", { file_key: item.unique_name }));
  const video = h("video", { src: url, controls: true, preload: "metadata" });
  const fps = item.fps || 10; // without a known rate, the scrubber steps by tenths of a second
  const scrubber = h("input", { type: "range", name: "frame", min: "0", max: "0", step: "1", value: "0" });
  const label = h("span.small", {}, "frame 0");
  video.addEventListener("loadedmetadata", () => {
    scrubber.max = String(Math.max(0, Math.round(video.duration * fps) - 1));
  });
  video.addEventListener("timeupdate", () => {
    const frame = Math.round(video.currentTime * fps);
    scrubber.value = String(frame);
    label.textContent = item.fps
      ? `frame ${number(frame)} of ${number(item.frame_count || Number(scrubber.max) + 1)}`
      : `${video.currentTime.toFixed(1)} s`;
  });
  scrubber.addEventListener("input", () => {
    video.pause();
    video.currentTime = Number(scrubber.value) / fps;
  });
  return { element: h("div.viewer.video", { "data-testid": "viewer" }, video, h("div.scrubber", {}, scrubber, label)) };
}

function facts(item) {
  const rows = [
    ["unique name", item.unique_name],
    ["type", item.content_type],
    ["size", `${bytes(item.size)} (${number(item.size)} bytes)`],
    item.width ? ["resolution", `${item.width} × ${item.height}`] : null,
    item.duration ? ["duration", `${item.duration.toFixed(2)} s, ${number(item.frame_count || 0)} frames`] : null,
    ["sha256", h("code.hash", {}, item.sha256)],
    ["uploaded", date(item.created)],
    ["last change", date(item.modified)],
    ["upload job", item.upload_job_id ? h("a", { href: `/jobs#${item.upload_job_id}` }, item.upload_job_id) : "—"],
  ].filter(Boolean);
  const urlBox = h("input.url", { readonly: true, name: "download_url", placeholder: "signed download URL" });
  const copy = h("button.secondary", { type: "button" }, "Copy download URL");
  copy.addEventListener("click", async () => {
    const { url } = await get(withQuery("/files/url", { file_key: item.unique_name }));
    urlBox.value = new URL(url, location.href).href;
    urlBox.select();
    try {
      await navigator.clipboard.writeText(urlBox.value);
      copy.textContent = "Copied";
    } catch {
      document.execCommand("copy");
    }
  });
  return h(
    "section",
    {},
    h("dl.facts", {}, rows.flatMap(([key, value]) => [h("dt", {}, key), h("dd", {}, value)])),
    h("div.row", {}, copy, urlBox),
  );
}

function annotationList(item, redraw) {
  const body = h("tbody");
  const render = () => {
    body.replaceChildren(
      ...item.annotations.map((a) =>
        h(
          `tr${visible(a) ? "" : ".hidden-shape"}`,
          { "data-testid": "annotation" },
          h("td", {}, h("span.swatch", { style: `background:${a.color}` }), a.label),
          h("td", {}, a.type),
          h("td", {}, a.confidence == null ? "—" : a.confidence.toFixed(2)),
          h("td", {}, a.operation_id),
          h("td.attrs", {}, Object.keys(a.attributes || {}).length ? JSON.stringify(a.attributes) : ""),
        ),
      ),
    );
  };
  const confidence = h("input", { type: "range", name: "confidence", min: "0", max: "1", step: "0.05", value: shapeFilter.minConfidence });
  confidence.addEventListener("input", () => {
    shapeFilter.minConfidence = Number(confidence.value);
    render();
    redraw();
  });
  const operations = [...new Set(item.annotations.map((a) => a.operation_id))].map((op) => {
    const box = h("input", { type: "checkbox", name: `show_${op}`, checked: !shapeFilter.hidden.has(op) });
    box.addEventListener("change", () => {
      if (box.checked) shapeFilter.hidden.delete(op);
      else shapeFilter.hidden.add(op);
      render();
      redraw();
    });
    return h("label.check", {}, box, op);
  });
  render();
  return h(
    "section",
    {},
    h("h3", {}, `Annotations (${number(item.annotations.length)})`),
    h("div.controls", {}, h("label.small", {}, "confidence ≥ ", confidence), operations),
    h("table.annotations", {}, h("thead", {}, h("tr", {}, ["label", "type", "conf.", "operation", "attributes"].map((t) => h("th", {}, t)))), body),
  );
}


function metadataEditor(item) {
  const rows = h("tbody");
  const addRow = (key = "", value = "") => {
    rows.append(
      h(
        "tr",
        {},
        h("td", {}, h("input", { name: "meta_key", value: key, placeholder: "field" })),
        h("td", {}, h("input", { name: "meta_value", value: String(value), placeholder: "value" })),
      ),
    );
  };
  Object.entries(item.metadata).forEach(([key, value]) => addRow(key, value));
  addRow();
  const tags = h("div.tags", { "data-testid": "tags" }, item.tags.map((t) => h("span.tag", {}, t)));
  const newTags = h("input", { name: "new_tags", placeholder: "add tags, comma-separated" });
  const error = h("p.error", { "data-testid": "metadata-error", hidden: true });
  const saved = h("span.muted", { "data-testid": "metadata-saved" });
  const save = h("button", { type: "button", "data-testid": "save-metadata" }, "Save");
  save.addEventListener("click", async () => {
    const metadata = {};
    for (const row of rows.querySelectorAll("tr")) {
      const key = row.querySelector("[name=meta_key]").value.trim();
      const text = row.querySelector("[name=meta_value]").value;
      if (!key) continue;
      const old = item.metadata[key];
      metadata[key] = old !== undefined && String(old) === text ? old : typedValue(text);
    }
    const added = listFromText(newTags.value);
    if (added.length) metadata.Tags = added;
    saved.textContent = "";
    try {
      await post("/files/metadata", {
        target: { kind: "unique_name" },
        document: { files: [{ file: item.unique_name, metadata }] },
      });
      showError(error, "");
      const fresh = await get(withQuery("/files/view", { unique_name: item.unique_name }));
      item.metadata = fresh.metadata;
      item.tags = fresh.tags;
      tags.replaceChildren(...item.tags.map((t) => h("span.tag", {}, t)));
      newTags.value = "";
      saved.textContent = "saved";
    } catch (failure) {
      showError(error, failure.message);
    }
  });
  return h(
    "section.metadata",
    {},
    h("h3", {}, "Metadata"),
    h("table", {}, rows),
    h("button.link", { type: "button", on: { click: () => addRow() } }, "+ field"),
    h("h3", {}, "Tags"),
    tags,
    newTags,
    h("div.row", {}, save, saved),
    error,
  );
}

function collectionsOf(item) {
  return h(
    "section",
    {},
    h("h3", {}, "Collections"),
    item.collections.length
      ? h("ul", {}, item.collections.map((c) => h("li", {}, h("a", { href: `/collections/${c.id}` }, c.name))))
      : h("p.muted", {}, "none"),
  );
}
