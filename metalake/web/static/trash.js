// The trash: trashed files, most recent first, to restore; and emptying what has been there
// long enough.

import { get, post, withQuery } from "./api.js";
import { bytes, confirmDialog, date, h, number, showError } from "./dom.js";
import { nameQueries } from "./query.js";

export async function trashView(root) {
  const body = h("tbody");
  const error = h("p.error", { "data-testid": "trash-error", hidden: true });
  const status = h("p.muted", { "data-testid": "trash-status" });
  const picked = new Map();
  let next = null;
  const more = h("button.secondary", { type: "button", hidden: true }, "Load more");
  async function load(after) {
    const page = await get(withQuery("/trash", { after, limit: 200 }));
    for (const item of page.items) {
      const box = h("input", { type: "checkbox", name: "pick" });
      box.addEventListener("change", () => (box.checked ? picked.set(item.unique_name, item.content_type) : picked.delete(item.unique_name)));
      body.append(
        h(
          "tr",
          { "data-testid": "trashed", "data-unique-name": item.unique_name },
          h("td", {}, box),
          h("td", {}, item.file_name),
          h("td", {}, item.content_type),
          h("td.num", {}, bytes(item.size)),
          h("td", {}, date(item.trashed_at)),
        ),
      );
    }
    next = page.next;
    more.hidden = next === null;
    if (!body.children.length) body.append(h("tr", {}, h("td", { colspan: "5" }, "The trash is empty.")));
  }
  more.addEventListener("click", () => load(next));
  const restore = h("button", { type: "button", "data-testid": "restore" }, "Restore selected");
  restore.addEventListener("click", async () => {
    const byType = new Map();
    for (const [name, type] of picked) byType.set(type, [...(byType.get(type) || []), name]);
    try {
      for (const [type, names] of byType) {
        for (const query of nameQueries(names)) await post("/items/restore", { selection: { content_type: type, query } });
      }
      status.textContent = `${number(picked.size)} files restored`;
      picked.clear();
      body.replaceChildren();
      await load(null);
    } catch (failure) {
      showError(error, failure.message);
    }
  });
  const days = h("input", { type: "number", name: "older_than_days", min: "0", step: "any", value: "30" });
  const empty = h("button.danger", { type: "button", "data-testid": "empty-trash" }, "Empty");
  empty.addEventListener("click", async () => {
    if (!(await confirmDialog(`Delete for good every file in the trash for ${days.value} days or longer?`, "Delete"))) return;
    try {
      const answer = await post("/trash/empty", { older_than_days: days.valueAsNumber }); // blank: NaN, sent as null, refused
      status.textContent = answer.message || "emptied";
      body.replaceChildren();
      await load(null);
    } catch (failure) {
      showError(error, failure.message);
    }
  });
  root.replaceChildren(
    h(
      "section.page",
      {},
      h("h2", {}, "Trash"),
      h("div.row", {}, restore, h("span", {}, "Delete for good what has been in the trash for at least "), days, h("span", {}, " days"), empty),
      status,
      error,
      h("table.list", {}, h("thead", {}, h("tr", {}, ["", "name", "type", "size", "trashed"].map((t) => h("th", {}, t)))), body),
      more,
    ),
  );
  await load(null);
}
