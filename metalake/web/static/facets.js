// The facet sidebar: labels, tags, operations and the top values of a chosen metadata field
// among the current selection, with file counts; a click adds the value to the query.

import { post } from "./api.js";
import { h, number, showError } from "./dom.js";

const TITLES = { label: "Labels", tag: "Tags", operation: "Operations" };

export class Facets {
  constructor({ onPick }) {
    this.onPick = onPick;
    this.metadataField = "";
    this.fieldInput = h("input", {
      name: "facet_field",
      placeholder: "metadata field, e.g. camera",
      spellcheck: "false",
    });
    this.fieldInput.addEventListener("change", () => {
      this.metadataField = this.fieldInput.value.trim();
      this.load(this.selection);
    });
    this.body = h("div.facet-groups");
    this.error = h("p.error", { hidden: true });
    this.element = h(
      "aside.facets",
      { "data-testid": "facets" },
      this.body,
      h("label.small", {}, "Top values of ", this.fieldInput),
      this.error,
    );
  }

  async load(selection) {
    this.selection = selection;
    const ticket = (this.ticket = (this.ticket || 0) + 1);
    const fields = ["label", "tag", "operation"];
    if (this.metadataField) fields.push(`metadata.${this.metadataField}`);
    this.element.classList.add("loading");
    try {
      const answer = await post("/items/facets", { selection, fields, top: 20 });
      if (ticket !== this.ticket) return;
      showError(this.error, "");
      this.render(answer.facets);
    } catch (error) {
      if (ticket === this.ticket) showError(this.error, error.message);
    } finally {
      if (ticket === this.ticket) this.element.classList.remove("loading");
    }
  }

  render(facets) {
    this.body.replaceChildren(
      ...Object.entries(facets).map(([field, values]) =>
        h(
          "section.facet-group",
          { dataset: { field } },
          h("h3", {}, TITLES[field] || field),
          values.length
            ? h(
                "ul",
                {},
                values.map((entry) =>
                  h(
                    "li",
                    {},
                    h(
                      "button.facet",
                      {
                        type: "button",
                        "data-testid": "facet",
                        dataset: { field, value: String(entry.value) },
                        on: { click: () => this.onPick(field, entry.value) },
                      },
                      h("span.value", {}, String(entry.value)),
                      h("span.count", {}, number(entry.file_count)),
                    ),
                  ),
                ),
              )
            : h("p.muted", {}, "none"),
        ),
      ),
    );
  }
}
