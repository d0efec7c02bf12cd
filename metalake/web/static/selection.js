// The selection of the explore view (files picked by click and shift-click, or all that match)
// and what can be done with it: add to a collection, move to the trash.

import { get, post } from "./api.js";
import { confirmDialog, h, number, showError } from "./dom.js";
import { nameQueries } from "./query.js";
import { selectionOf } from "./view_state.js";

export class SelectionBar {
  constructor({ state, count, changed, done }) {
    this.state = state;
    this.count = count;
    this.changed = changed;
    this.done = done;
    this.names = new Set();
    this.allMatching = false;
    this.last = null;
    this.label = h("span.selected-count", { "data-testid": "selected-count" });
    this.error = h("p.error", { "data-testid": "selection-error", hidden: true });
    this.collectionInput = h("input", { name: "collection_name", list: "collection-names", placeholder: "collection name (new or existing)" });
    this.names_list = h("datalist", { id: "collection-names" });
    this.element = h(
      "div.selection-bar",
      { hidden: true },
      this.label,
      h("button.link", { type: "button", "data-testid": "select-all", on: { click: () => this.selectAll() } }, "select all matching"),
      h("button.link", { type: "button", on: { click: () => this.clear(true) } }, "clear"),
      this.collectionInput,
      this.names_list,
      h("button", { type: "button", "data-testid": "add-to-collection", on: { click: () => this.addToCollection() } }, "Add to collection"),
      h("button.danger", { type: "button", "data-testid": "trash-selection", on: { click: () => this.trash() } }, "Move to trash"),
      this.error,
    );
  }

  has(name) {
    return this.allMatching || this.names.has(name);
  }

  click(items, index, range) {
    this.allMatching = false;
    const name = items[index].unique_name;
    if (range && this.last !== null) {
      const [from, to] = [Math.min(this.last, index), Math.max(this.last, index)];
      for (let i = from; i <= to; i += 1) this.names.add(items[i].unique_name);
    } else if (this.names.has(name)) {
      this.names.delete(name);
    } else {
      this.names.add(name);
    }
    this.last = index;
    this.update();
  }

  selectAll() {
    this.allMatching = true;
    this.update();
  }

  clear(redraw = false) {
    this.names.clear();
    this.allMatching = false;
    this.last = null;
    this.update(redraw);
  }

  size() {
    return this.allMatching ? this.count() : this.names.size;
  }

  update(redraw = true) {
    const size = this.size();
    this.element.hidden = !this.allMatching && this.names.size === 0;
    this.label.textContent = this.allMatching
      ? `all ${size === null ? "" : number(size)} matching files selected`
      : `${number(size)} selected`;
    showError(this.error, "");
    if (!this.element.hidden) this.loadCollections();
    if (redraw) this.changed();
  }

  async loadCollections() {
    if (this.loaded) return;
    this.loaded = true;
    const type = this.state.collectionId ? undefined : this.state.contentType;
    const found = await get(`/collections${type ? `?content_type=${type}` : ""}`);
    this.names_list.replaceChildren(...found.map((c) => h("option", { value: c.name })));
  }

  /** The selections (scope + query) the action applies to: the query, or the picked names. */
  selections() {
    if (this.allMatching) return [selectionOf(this.state)];
    return nameQueries([...this.names]).map((query) => selectionOf({ ...this.state, annotationTypes: [], fromDate: "", toDate: "" }, query));
  }

  async contentType() {
    if (!this.state.collectionId) return this.state.contentType;
    return (await get(`/collections/${this.state.collectionId}`)).content_type;
  }

  async addToCollection() {
    const name = this.collectionInput.value.trim();
    if (!name) {
      showError(this.error, "name the collection to add the files to");
      return;
    }
    try {
      const contentType = await this.contentType();
      let added = 0;
      for (const selection of this.selections()) {
        const answer = await post("/collections/add", { selection, collection_name: name, content_type: contentType });
        added += answer.added_count;
      }
      this.clear(true);
      this.element.hidden = false;
      this.label.textContent = `${number(added)} files added to ${name}`;
    } catch (error) {
      showError(this.error, error.message);
    }
  }

  async trash() {
    const size = this.allMatching
      ? (await post("/items/count", { selection: selectionOf(this.state) })).count
      : this.names.size;
    if (!(await confirmDialog(`Move ${number(size)} files to the trash?`, "Move to trash"))) return;
    try {
      for (const selection of this.selections()) await post("/items/trash", { selection });
      this.clear();
      this.done();
    } catch (error) {
      showError(this.error, error.message);
    }
  }
}
