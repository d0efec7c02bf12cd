// Small helpers to build elements and format numbers, sizes and dates.

/** An element: h("div.card", {attrs, on: {click}}, children...). */
export function h(tag, props = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const element = document.createElement(name);
  if (classes.length) element.className = classes.join(" ");
  for (const [key, value] of Object.entries(props || {})) {
    if (key === "on") {
      for (const [event, handler] of Object.entries(value)) element.addEventListener(event, handler);
    } else if (key === "dataset") {
      Object.assign(element.dataset, value);
    } else if (key in element && typeof value !== "string") {
      element[key] = value;
    } else if (value !== undefined && value !== null && value !== false) {
      element.setAttribute(key, value === true ? "" : value);
    }
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    element.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return element;
}

/** A metadata value typed as text, read as `metalake upload --meta` reads it: a whole or
 * decimal number if it is one, else the text. */
export function typedValue(text) {
  const trimmed = text.trim();
  if (/^[+-]?\d+$/.test(trimmed) && Number.isSafeInteger(Number(trimmed))) return Number(trimmed);
  if (/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(trimmed)) return Number(trimmed);
  return text;
}

/** The comma-separated entries of `text`, trimmed, empty ones left out. */
export const listFromText = (text) => text.split(",").map((t) => t.trim()).filter(Boolean);

/** A metadata object from `field=value, ...` text and comma-separated tags (`Tags`); Error
 * naming a pair that is not field=value. */
export function metadataFromText(fieldText, tagText) {
  const metadata = {};
  for (const pair of listFromText(fieldText)) {
    const at = pair.indexOf("=");
    if (at < 1) throw new Error(`metadata "${pair}" is not field=value`);
    metadata[pair.slice(0, at).trim()] = typedValue(pair.slice(at + 1));
  }
  const tags = listFromText(tagText);
  if (tags.length) metadata.Tags = tags;
  return metadata;
}

export const number = (n) => Number(n).toLocaleString("en-US");

export function bytes(n) {
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = Number(n);
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit ? value.toFixed(1) : value} ${units[unit]}`;
}

export const date = (iso) => (iso ? new Date(iso).toLocaleString() : "—");

/** Show `message` (an error's text) in `element`, or hide it when empty. */
export function showError(element, message) {
  element.textContent = message || "";
  element.hidden = !message;
}

/** A modal dialog asking to confirm `question`; resolves true if confirmed. */
export function confirmDialog(question, action = "OK") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog.card",
      { "data-testid": "confirm" },
      h("p", {}, question),
      h(
        "div.row",
        {},
        h("button", { type: "button", on: { click: () => close(true) } }, action),
        h("button.secondary", { type: "button", on: { click: () => close(false) } }, "Cancel"),
      ),
    );
    function close(answer) {
      dialog.close();
      dialog.remove();
      resolve(answer);
    }
    dialog.addEventListener("cancel", () => close(false));
    document.body.append(dialog);
    dialog.showModal();
  });
}
