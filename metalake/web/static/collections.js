// Collections: the list with counts, sizes and last change; creating one; and the head of a
// collection's explore view (its metadata and tags, editable, and its downloads).

import { get, post, withQuery } from "./api.js";
import { bytes, date, h, metadataFromText, number, showError } from "./dom.js";

export async function collectionsView(root) {
  const body = h("tbody");
  const error = h("p.error", { "data-testid": "collection-error", hidden: true });
  const name = h("input", { name: "new_collection", placeholder: "new collection name", required: true });
  const type = h("select", { name: "new_collection_type" }, ["image", "video", "other"].map((t) => h("option", { value: t }, t)));
  const create = h("form.row", {}, name, type, h("button", { type: "submit" }, "Create"), error);
  create.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const answer = await post("/collections", { collection_name: name.value, content_type: type.value });
      location.href = `/collections/${answer.collection_id}`;
    } catch (failure) {
      showError(error, failure.message);
    }
  });
  root.replaceChildren(
    h(
      "section.page",
      {},
      h("h2", {}, "Collections"),
      create,
      h("table.list", { "data-testid": "collections" },
        h("thead", {}, h("tr", {}, ["name", "type", "files", "size", "last change"].map((t) => h("th", {}, t)))),
        body),
    ),
  );
  const found = await get("/collections");
  body.replaceChildren(
    ...found.map((c) =>
      h(
        "tr",
        { "data-testid": "collection", dataset: { id: c.id } },
        h("td", {}, h("a", { href: `/collections/${c.id}` }, c.name)),
        h("td", {}, c.content_type),
        h("td.num", {}, number(c.item_count)),
        h("td.num", {}, bytes(c.size)),
        h("td", {}, date(c.modified)),
      ),
    ),
  );
  if (!found.length) body.append(h("tr", {}, h("td", { colspan: "5" }, "No collections yet: upload some files.")));
}

/** The head of a collection's view: name, metadata and tags (editable), downloads. */
export async function collectionPanel(element, collectionId) {
  const c = await get(`/collections/${collectionId}`);
  const fields = h("input", { name: "collection_metadata", placeholder: "field=value, field2=value2" });
  const tags = h("input", { name: "collection_tags", placeholder: "tags, comma-separated" });
  const apply = h("input", { type: "checkbox", name: "apply_to_files" });
  const error = h("p.error", { hidden: true });
  const save = h("button.secondary", { type: "button" }, "Save");
  save.addEventListener("click", async () => {
    try {
      const metadata = metadataFromText(fields.value, tags.value);
      await post("/collections/metadata", { collection_name: c.name, content_type: c.content_type, metadata, apply_to_files: apply.checked });
      collectionPanel(element, collectionId);
    } catch (failure) {
      showError(error, failure.message);
    }
  });
  const meta = Object.entries(c.metadata).map(([k, v]) => h("span.tag.meta", {}, `${k}: ${v}`));
  element.replaceChildren(
    h("h2", {}, c.name, h("span.muted", {}, ` ${c.content_type} collection · ${number(c.item_count)} files · id `, h("code", {}, c.id))),
    h("div.tags", {}, meta, c.tags.map((t) => h("span.tag", {}, t))),
    h(
      "div.row",
      {},
      h("a.button", { href: `/api/v1/collections/${collectionId}/export.json`, download: "annotations.json" }, "Download annotations (JSON)"),
      h("a.button", { href: `/api/v1/collections/${collectionId}/export.zip`, download: `${c.storage_name}.zip` }, "Download files (zip)"),
      fields,
      tags,
      h("label.check", {}, apply, "also on its files"),
      save,
    ),
    error,
  );
}
