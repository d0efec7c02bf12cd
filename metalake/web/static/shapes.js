// Annotations drawn as SVG in image pixels (the viewBox is the image), the same code for the
// grid's tiles and the item view; the shape filter (hidden operations, minimum confidence) is
// shared by every drawing on the page.

const SVG = "http://www.w3.org/2000/svg";

export const shapeFilter = {
  hidden: new Set(),
  minConfidence: 0,
  listeners: new Set(),
  changed() {
    this.listeners.forEach((listener) => listener());
  },
};

export function visible(annotation) {
  if (shapeFilter.hidden.has(annotation.operation_id)) return false;
  const confidence = annotation.confidence ?? 1;
  return confidence >= shapeFilter.minConfidence;
}

function element(name, attributes) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

const pairs = (points) => points.map(([x, y]) => `${x},${y}`).join(" ");

function shapeNode(annotation, radius) {
  const style = { stroke: annotation.color, "vector-effect": "non-scaling-stroke" };
  switch (annotation.type) {
    case "rectangle": {
      const [x, y, w, h] = annotation.bbox;
      return element("rect", { ...style, x, y, width: w, height: h, fill: "none" });
    }
    case "polygon":
      return element("polygon", {
        ...style,
        points: pairs(annotation.polygon),
        fill: annotation.color,
        "fill-opacity": "0.15",
      });
    case "line":
      return element("polyline", { ...style, points: pairs(annotation.polygon), fill: "none" });
    case "points": {
      const group = element("g", { fill: annotation.color });
      for (const [x, y] of annotation.points) group.append(element("circle", { cx: x, cy: y, r: radius }));
      return group;
    }
    default:
      return null;
  }
}

/** Draw `annotations` over an image of `width` x `height` pixels into `svg`. */
export function drawShapes(svg, annotations, width, height) {
  svg.replaceChildren();
  if (!width || !height) return;
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
  svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
  const radius = Math.max(width, height) / 120;
  for (const annotation of annotations || []) {
    if (!visible(annotation)) continue;
    const node = shapeNode(annotation, radius);
    if (!node) continue;
    node.setAttribute("data-shape", annotation.type);
    node.setAttribute("data-label", annotation.label);
    node.setAttribute("data-operation", annotation.operation_id);
    const confidence = annotation.confidence == null ? "" : ` ${annotation.confidence.toFixed(2)}`;
    const title = element("title", {});
    title.textContent = `${annotation.label}${confidence} (${annotation.operation_id})`;
    node.append(title);
    svg.append(node);
  }
}

export function newSvg(className) {
  return element("svg", { class: className });
}
