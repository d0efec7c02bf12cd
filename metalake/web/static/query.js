// The query bar: the query language of the SDK, checked by the Lake as you type (nothing runs
// until Enter), with the Lake's message and a caret under the column it names.

import { post } from "./api.js";
import { h } from "./dom.js";

const CHECK_DELAY_MS = 150;

export class QueryBar {
  constructor({ value, onSubmit }) {
    this.onSubmit = onSubmit;
    this.input = h("input.query", {
      name: "query",
      value: value || "",
      placeholder: "Query, e.g. annotation(label=car AND confidence>=0.8) AND tags = night",
      spellcheck: "false",
      autocomplete: "off",
    });
    this.error = h("div.query-error", { "data-testid": "query-error", hidden: true });
    this.element = h("div.query-bar", {}, this.input, this.error);
    this.timer = 0;
    this.checked = 0;
    this.input.addEventListener("input", () => {
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.check(), CHECK_DELAY_MS);
    });
    this.input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.submit();
      }
    });
  }

  /** Ask the Lake whether `query` (the input's text) is valid; show its message if not. */
  async check(query = this.input.value) {
    const ticket = ++this.checked;
    const answer = await post("/query/check", { query });
    if (ticket !== this.checked) return answer;
    this.show(answer.valid ? null : answer);
    return answer;
  }

  show(problem) {
    this.error.replaceChildren();
    this.error.hidden = !problem;
    this.input.classList.toggle("invalid", Boolean(problem));
    if (!problem) return;
    this.error.append(h("span.message", {}, problem.message));
    if (problem.column) {
      const text = this.input.value;
      this.error.append(
        h("pre.caret", {}, `${text}\n${" ".repeat(Math.max(0, problem.column - 1))}^`),
      );
    }
  }

  async submit() {
    clearTimeout(this.timer);
    const query = this.input.value;
    const answer = await this.check(query);
    if (answer.valid) this.onSubmit(query.trim());
  }

  /** Add `term` to the query with AND and run it. */
  append(term) {
    const current = this.input.value.trim();
    this.input.value = current ? `(${current}) AND ${term}` : term;
    this.submit();
  }
}

/** A double-quoted string of the query language (whose only escapes are \" and \\). */
export function quoted(text) {
  return `"${text.replaceAll("\\", "\\\\").replaceAll('"', '\\"')}"`;
}

/** A term of the query language for a facet's value. */
export function facetTerm(field, value) {
  const literal = typeof value === "string" ? quoted(value) : String(value);
  if (field === "label") return `annotation.label = ${literal}`;
  if (field === "tag") return `tags = ${literal}`;
  if (field === "operation") return `annotation.operation = ${literal}`;
  const key = field.slice("metadata.".length);
  const path = /^[A-Za-z_][A-Za-z0-9_]*$/.test(key) ? key : quoted(key);
  if (typeof value === "string" && /[\r\n]/.test(value)) {
    // The query bar is one line: a value's line breaks become `?` wildcards of a `~` match.
    return `metadata.${path} ~ ${quoted(value.replace(/[\r\n]/g, "?"))}`;
  }
  return `metadata.${path} = ${literal}`;
}

/** `unique_name IN [...]` queries for the names, each within the query length limit. */
export function nameQueries(names, limit = 9000) {
  const queries = [];
  let batch = [];
  let length = 0;
  for (const name of names) {
    const literal = quoted(name);
    if (batch.length && (length + literal.length + 2 > limit || batch.length >= 1000)) {
      queries.push(`unique_name IN [${batch.join(", ")}]`);
      batch = [];
      length = 0;
    }
    batch.push(literal);
    length += literal.length + 2;
  }
  if (batch.length) queries.push(`unique_name IN [${batch.join(", ")}]`);
  return queries;
}
