// Datasets: the list with each one's latest version; and a dataset's versions with their counts
// per split and label, what selected them, their downloads and deleting one.

import { del, get, withQuery } from "./api.js";
import { confirmDialog, date, h, number, showError } from "./dom.js";

/** The export formats of `GET /dataset-versions/{id}/export.zip` (its `export_type`). */
export const FORMATS = ["COCO", "YOLO", "PASCAL VOC", "MetaLake JSON"];

const datasetHref = (name) => `/datasets/${encodeURIComponent(name)}`;

/** How to make a dataset, for a lake (or a page) without one. */
function emptyState() {
  return h(
    "div.card.empty",
    { "data-testid": "datasets-empty" },
    h("p", {}, "No datasets yet. A dataset freezes the files and annotations a query selects, split for training. Make one with the SDK:"),
    h("pre", {}, 'client.create_dataset("cars", collection_id=..., query="annotation.label = car",\n                      split_info={"train": 80, "validation": 10, "test": 10})'),
    h("p", {}, "or the command line:"),
    h("pre", {}, "metalake dataset create cars 'annotation.label = car' --collection streets"),
  );
}

export async function datasetsView(root) {
  const body = h("tbody");
  const table = h(
    "table.list",
    { "data-testid": "datasets" },
    h("thead", {}, h("tr", {}, ["name", "versions", "latest", "files", "annotations", "last change"].map((t) => h("th", {}, t)))),
    body,
  );
  const page = h("section.page", {}, h("h2", {}, "Datasets"), table);
  root.replaceChildren(page);
  const found = await get("/datasets");
  if (!found.length) {
    table.replaceWith(emptyState());
    return;
  }
  body.replaceChildren(
    ...found.map((d) =>
      h(
        "tr",
        { "data-testid": "dataset", "data-name": d.dataset_name },
        h("td", {}, h("a", { href: datasetHref(d.dataset_name) }, d.dataset_name)),
        h("td.num", {}, number(d.version_count)),
        h("td.num", {}, `v${d.latest_version}`),
        h("td.num", {}, number(d.file_count)),
        h("td.num", {}, number(d.annotation_count)),
        h("td", {}, date(d.modified)),
      ),
    ),
  );
}

export async function datasetView(root, name) {
  const dataset = await get(withQuery("/datasets/by-name", { dataset_name: name }));
  const collections = new Map((await get("/collections")).map((c) => [c.id, c.name]));
  const error = h("p.error", { "data-testid": "dataset-error", hidden: true });
  async function remove(version) {
    const question = `Delete version ${version.version} of ${dataset.dataset_name} (${number(version.file_count)} files)?` +
      (dataset.versions.length === 1 ? " It is the last one: the dataset goes with it." : "");
    if (!(await confirmDialog(question, "Delete"))) return;
    try {
      await del(`/dataset-versions/${version.version_id}`);
      location.href = dataset.versions.length === 1 ? "/datasets" : datasetHref(dataset.dataset_name);
    } catch (failure) {
      showError(error, failure.message);
    }
  }
  const newestFirst = [...dataset.versions].reverse();
  root.replaceChildren(
    h(
      "section.page",
      {},
      h("div.row", {}, h("a", { href: "/datasets" }, "← Datasets")),
      h("h2", {}, dataset.dataset_name, h("span.muted", {}, ` ${number(dataset.versions.length)} versions · last change ${date(dataset.modified)}`)),
      error,
      newestFirst.map((v) => versionCard(v, collections, () => remove(v))),
    ),
  );
}

function versionCard(version, collections, onDelete) {
  return h(
    "article.card.version",
    { "data-testid": "version", "data-version-id": version.version_id, "data-version": String(version.version) },
    h(
      "div.version-head",
      {},
      h("h3", {}, `Version ${version.version}`),
      h("span.muted", {}, `${number(version.file_count)} files · ${number(version.annotation_count)} annotations · made ${date(version.created)} · id `, h("code", {}, version.version_id)),
      h("button.danger", { type: "button", "data-testid": "delete-version", on: { click: onDelete } }, "Delete"),
    ),
    selectionFacts(version.selection, collections),
    countsTable(version),
    downloadControl(version),
  );
}

/** What selected a version's files and annotations: collection, query, operations, split. */
function selectionFacts(selection, collections) {
  const where = selection.collection_id
    ? h("a", { href: `/collections/${selection.collection_id}` }, collections.get(selection.collection_id) || selection.collection_id)
    : `every ${selection.content_type || "image"} file`;
  const annotations = selection.operation_id_list.length ? `operations ${selection.operation_id_list.join(", ")}` : `${selection.annotation_type} annotations`;
  const split = Object.entries(selection.split_info).map(([s, p]) => `${s} ${p}%`).join(", ");
  return h(
    "dl.facts.selection",
    { "data-testid": "selection" },
    h("dt", {}, "from"),
    h("dd", {}, where),
    h("dt", {}, "query"),
    h("dd", {}, selection.query ? h("code", {}, selection.query) : h("span.muted", {}, "all files")),
    Object.keys(selection.filter || {}).length ? [h("dt", {}, "filter"), h("dd", {}, h("code", {}, JSON.stringify(selection.filter)))] : null,
    h("dt", {}, "annotations"),
    h("dd", {}, annotations, selection.labels.length ? `, labels ${selection.labels.join(", ")}` : ""),
    h("dt", {}, "split"),
    h("dd", {}, `${split} (seed ${selection.seed})`),
  );
}

/** Labels as rows, splits as columns, with the files and annotations of each split and totals. */
function countsTable(version) {
  const splits = Object.keys(version.splits);
  const labels = Object.keys(version.labels).sort();
  const row = (title, key, pick, total) =>
    h(
      key.total ? "tr.total" : "tr",
      { "data-testid": "count-row", dataset: key },
      h("th", {}, title),
      splits.map((s) => h("td.num", { "data-split": s }, number(pick(version.splits[s])))),
      h("td.num", { "data-split": "total" }, number(total)),
    );
  return h(
    "table.list.counts",
    { "data-testid": "counts" },
    h("thead", {}, h("tr", {}, h("th", {}, "label"), splits.map((s) => h("th.num", {}, s)), h("th.num", {}, "total"))),
    h(
      "tbody",
      {},
      labels.map((l) => row(l, { label: l }, (s) => s.labels[l] || 0, version.labels[l])),
      row("annotations", { total: "annotations" }, (s) => s.annotation_count, version.annotation_count),
      row("files", { total: "files" }, (s) => s.file_count, version.file_count),
    ),
  );
}

/** A format choice and "with images", and a link to the streamed zip they name. */
function downloadControl(version) {
  const format = h("select", { name: "export_type" }, FORMATS.map((f) => h("option", { value: f }, f)));
  const media = h("input", { type: "checkbox", name: "with_media" });
  const link = h("a.button", { "data-testid": "download-version" }, "Download zip");
  function update() {
    link.href = withQuery(`/api/v1/dataset-versions/${version.version_id}/export.zip`, { export_type: format.value, with_media: String(media.checked) });
  }
  format.addEventListener("change", update);
  media.addEventListener("change", update);
  update();
  return h("div.row", {}, h("span", {}, "Download as"), format, h("label.check", {}, media, "with images"), link);
}
