// What a view shows, read from and written to the URL, so that a view is a link: scope, query,
// filter, sort, scroll anchor, tile size and shape filter.

export const SORT_FIELDS = {
  date_modified: "Last change",
  date_created: "Upload date",
  name: "Name",
  size: "Size",
};

export function readState(collectionId) {
  const params = new URLSearchParams(location.search);
  const [sortField, sortOrder] = (params.get("sort") || "date_modified:DESC").split(":");
  return {
    collectionId: collectionId || params.get("collection") || null,
    contentType: params.get("type") || "image",
    query: params.get("q") || "",
    annotationTypes: (params.get("types") || "").split(",").filter(Boolean),
    fromDate: params.get("from") || "",
    toDate: params.get("to") || "",
    sortField: SORT_FIELDS[sortField] ? sortField : "date_modified",
    sortOrder: sortOrder === "ASC" ? "ASC" : "DESC",
    anchor: params.get("at") || null,
    offset: Number(params.get("skip")) || 0,
    tileSize: Number(params.get("size")) || 180,
    minConfidence: Number(params.get("conf")) || 0,
    hidden: (params.get("hide") || "").split(",").filter(Boolean),
  };
}

/** The URL query string of `state` (defaults left out). */
export function stateQuery(state, { withScope = false, withAnchor = true } = {}) {
  const params = new URLSearchParams();
  if (withScope && state.collectionId) params.set("collection", state.collectionId);
  if (!state.collectionId && state.contentType !== "image") params.set("type", state.contentType);
  if (state.query) params.set("q", state.query);
  if (state.annotationTypes.length) params.set("types", state.annotationTypes.join(","));
  if (state.fromDate) params.set("from", state.fromDate);
  if (state.toDate) params.set("to", state.toDate);
  if (state.sortField !== "date_modified" || state.sortOrder !== "DESC") {
    params.set("sort", `${state.sortField}:${state.sortOrder}`);
  }
  if (state.tileSize !== 180) params.set("size", state.tileSize);
  if (state.minConfidence) params.set("conf", state.minConfidence);
  if (state.hidden.length) params.set("hide", state.hidden.join(","));
  if (withAnchor && state.anchor) params.set("at", state.anchor);
  if (withAnchor && state.offset) params.set("skip", state.offset);
  const text = params.toString();
  return text ? `?${text}` : "";
}

/** The SDK's selection (scope, query, filter) of `state`. */
export function selectionOf(state, query = state.query) {
  const selection = { query };
  if (state.collectionId) selection.collection_id = state.collectionId;
  else selection.content_type = state.contentType;
  const filter = {};
  if (state.annotationTypes.length) filter.annotation_types = state.annotationTypes;
  if (state.fromDate) filter.from_date = state.fromDate;
  if (state.toDate) filter.to_date = state.toDate;
  if (Object.keys(filter).length) selection.filter = filter;
  return selection;
}

export const sortOf = (state) => ({ sort_by_field: state.sortField, sort_order: state.sortOrder });
