// The explore view: the grid of a lake's (or a collection's) files for a query, with its count,
// facets, filter and sort controls, the shape filter, and the selection's actions.

import { get, post, withQuery } from "./api.js";
import { h, number, showError } from "./dom.js";
import { Facets } from "./facets.js";
import { Grid } from "./grid.js";
import { QueryBar, facetTerm } from "./query.js";
import { SelectionBar } from "./selection.js";
import { drawShapes, newSvg, shapeFilter } from "./shapes.js";
import { SORT_FIELDS, readState, selectionOf, sortOf, stateQuery } from "./view_state.js";

const VIDEO_ICON =
  "data:image/svg+xml," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 48"><rect width="64" height="48" fill="#222"/><path d="M26 16v16l13-8z" fill="#ddd"/></svg>',
  );
const FILE_ICON =
  "data:image/svg+xml," +
  encodeURIComponent(
    '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 48"><rect width="64" height="48" fill="#eee"/><path d="M24 10h12l6 6v22H24z" fill="#bbb"/></svg>',
  );

export function thumbnailUrl(item, size) {
  if (item.content_type === "video") return VIDEO_ICON;
  if (item.content_type !== "image") return FILE_ICON;
  const pixels = size > 256 ? 512 : 256;
  return withQuery("/api/v1/files/thumbnail", {
    unique_name: item.unique_name,
    size: pixels,
    v: item.sha256,
  });
}

export async function explore(root, collectionId = null) {
  const state = readState(collectionId);
  shapeFilter.minConfidence = state.minConfidence;
  shapeFilter.hidden = new Set(state.hidden);
  const writeUrl = () => history.replaceState(null, "", location.pathname + stateQuery(state));
  let anchorTimer = 0;
  const writeUrlSoon = () => {
    // The scroll position changes every frame: the URL follows once scrolling pauses (browsers
    // throttle pages that replace their URL too often).
    clearTimeout(anchorTimer);
    anchorTimer = setTimeout(writeUrl, 250);
  };

  const count = h("span.count", { "data-testid": "match-count" }, "…");
  const countError = h("p.error", { hidden: true });
  const queryBar = new QueryBar({
    value: state.query,
    onSubmit: (query) => {
      state.query = query;
      reload();
    },
  });
  const facets = new Facets({ onPick: (field, value) => queryBar.append(facetTerm(field, value)) });
  const scroller = h("div.grid", { "data-testid": "grid", tabindex: "0" });
  const selection = new SelectionBar({
    state,
    count: () => lastCount,
    changed: () => grid.refresh(),
    done: () => reload(),
  });

  const grid = new Grid(scroller, {
    fetchPage: (cursor, size) =>
      post("/items/page", {
        selection: selectionOf(state),
        sort_order: sortOf(state),
        page_size: size,
        cursor,
        with_annotations: true,
      }),
    renderTile: (item, index, size) => renderTile(item, index, size),
    onAnchor: (cursor, offset) => {
      state.anchor = cursor;
      state.offset = offset;
      writeUrlSoon();
    },
    onError: (error) => {
      showError(gridErrorText, error ? error.message : "");
      gridError.hidden = !error;
    },
  });

  function renderTile(item, index, size) {
    const selected = selection.has(item.unique_name);
    const img = h("img", { alt: item.file_name, decoding: "async", draggable: "false" });
    const svg = newSvg("shapes");
    const check = h("input.pick", { type: "checkbox", checked: selected, title: "Select" });
    const tile = h(
      `div.tile${selected ? ".selected" : ""}`,
      { "data-testid": "tile", "data-unique-name": item.unique_name, title: item.unique_name },
      img,
      svg,
      check,
      h("span.caption", {}, item.file_name),
    );
    tile.fill = () => {
      tile.fill = null;
      img.src = thumbnailUrl(item, size);
      drawShapes(svg, item.annotations, item.width, item.height);
    };
    tile.release = () => {
      if (!img.complete) img.removeAttribute("src"); // the browser drops the pending request
    };
    tile.addEventListener("click", (event) => {
      if (event.target === check || event.shiftKey || event.metaKey || event.ctrlKey) {
        event.preventDefault();
        selection.click(grid.items, index, event.shiftKey);
        return;
      }
      location.href = `/items/${encodeURIComponent(item.unique_name)}${stateQuery(state, { withScope: true, withAnchor: false })}`;
    });
    return tile;
  }

  let lastCount = null;
  async function loadCount() {
    count.textContent = "…";
    const ticket = (loadCount.ticket = (loadCount.ticket || 0) + 1);
    try {
      const answer = await post("/items/count", { selection: selectionOf(state) });
      if (ticket !== loadCount.ticket) return;
      lastCount = answer.count;
      count.textContent = number(answer.count);
      grid.setTotal(answer.count);
      showError(countError, "");
    } catch (error) {
      if (ticket === loadCount.ticket) showError(countError, error.message);
    }
  }

  function reload(anchor = null, offset = 0) {
    state.anchor = anchor;
    state.offset = offset;
    writeUrl();
    selection.clear();
    gridError.hidden = true;
    grid.reset(anchor, offset);
    showError(countError, "");
    loadCount();
    facets.load(selectionOf(state));
    fromStart.hidden = !anchor;
  }

  const gridErrorText = h("span.error");
  const gridError = h(
    "p.grid-error",
    { "data-testid": "grid-error", hidden: true },
    gridErrorText,
    " ",
    h("button.link", { type: "button", on: { click: () => grid.retry() } }, "try again"),
  );
  const fromStart = h(
    "button.link",
    { type: "button", hidden: true, on: { click: () => reload(null) } },
    "↑ back to the first files",
  );
  const controls = filterControls(state, reload, grid, writeUrl);
  const heading = collectionId ? h("div.collection-head", { "data-testid": "collection-head" }) : null;
  root.replaceChildren(
    h(
      "section.explore",
      {},
      heading,
      h("div.toolbar", {}, queryBar.element, h("span.matches", {}, count, " files"), countError),
      controls,
      h("div.explore-body", {}, facets.element, h("div.grid-wrap", {}, fromStart, gridError, scroller)),
      selection.element,
    ),
  );
  reload(state.anchor, state.offset);
  if (collectionId) {
    const { collectionPanel } = await import("./collections.js");
    await collectionPanel(heading, collectionId);
  }
}

function filterControls(state, reload, grid, writeUrl) {
  const type = h(
    "select",
    { name: "content_type", disabled: Boolean(state.collectionId) },
    ["image", "video", "other"].map((t) => h("option", { value: t, selected: t === state.contentType }, t)),
  );
  type.addEventListener("change", () => {
    state.contentType = type.value;
    reload();
  });
  const sort = h(
    "select",
    { name: "sort" },
    Object.entries(SORT_FIELDS).flatMap(([field, title]) =>
      ["DESC", "ASC"].map((order) =>
        h(
          "option",
          { value: `${field}:${order}`, selected: field === state.sortField && order === state.sortOrder },
          `${title} ${order === "DESC" ? "↓" : "↑"}`,
        ),
      ),
    ),
  );
  sort.addEventListener("change", () => {
    [state.sortField, state.sortOrder] = sort.value.split(":");
    reload();
  });
  const kinds = ["raw", "human", "machine"].map((kind) => {
    const box = h("input", { type: "checkbox", name: `annotation_type_${kind}`, checked: state.annotationTypes.includes(kind) });
    box.addEventListener("change", () => {
      state.annotationTypes = ["raw", "human", "machine"].filter((k) => root(`annotation_type_${k}`).checked);
      reload();
    });
    return h("label.check", {}, box, kind);
  });
  const dates = ["fromDate", "toDate"].map((key) => {
    const input = h("input", { type: "date", name: key, value: state[key] });
    input.addEventListener("change", () => {
      state[key] = input.value;
      reload();
    });
    return h("label.small", {}, key === "fromDate" ? "from " : "to ", input);
  });
  const size = h("input", { type: "range", name: "tile_size", min: "80", max: "400", step: "20", value: state.tileSize });
  size.addEventListener("input", () => {
    state.tileSize = Number(size.value);
    grid.setTileSize(state.tileSize);
    writeUrl();
  });
  grid.setTileSize(state.tileSize);
  const confidence = h("input", { type: "range", name: "confidence", min: "0", max: "1", step: "0.05", value: state.minConfidence });
  const confidenceText = h("span.small", {}, state.minConfidence.toFixed(2));
  confidence.addEventListener("input", () => {
    state.minConfidence = Number(confidence.value);
    shapeFilter.minConfidence = state.minConfidence;
    confidenceText.textContent = state.minConfidence.toFixed(2);
    grid.refresh();
    writeUrl();
  });
  const operations = h("span.operations", { "data-testid": "operations" });
  get("/operations").then((found) => {
    operations.replaceChildren(
      ...found.map((op) => {
        const box = h("input", { type: "checkbox", checked: !shapeFilter.hidden.has(op.operation_id), name: `show_${op.operation_id}` });
        box.addEventListener("change", () => {
          if (box.checked) shapeFilter.hidden.delete(op.operation_id);
          else shapeFilter.hidden.add(op.operation_id);
          state.hidden = [...shapeFilter.hidden];
          grid.refresh();
          writeUrl();
        });
        return h("label.check", { title: `${op.kind}, ${number(op.annotation_count)} annotations` }, box, op.operation_id);
      }),
    );
  });
  const wrapper = h(
    "div.controls",
    {},
    h("label.small", {}, "type ", type),
    h("label.small", {}, "sort ", sort),
    h("span.group", {}, "annotations: ", kinds),
    dates,
    h("label.small", {}, "tiles ", size),
    h("label.small", {}, "confidence ≥ ", confidence, confidenceText),
    h("span.group", {}, "shapes: ", operations),
  );
  const root = (name) => wrapper.querySelector(`[name=${name}]`);
  return wrapper;
}
