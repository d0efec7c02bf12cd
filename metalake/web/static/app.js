// The web app's entry: picks the view of the page's path, and logs out.

import { ApiError, post } from "./api.js";
import { h } from "./dom.js";

const ROUTES = [
  [/^\/$/, "explore", async (root) => (await import("./explore.js")).explore(root)],
  [/^\/collections$/, "collections", async (root) => (await import("./collections.js")).collectionsView(root)],
  [/^\/collections\/([^/]+)$/, "explore", async (root, id) => (await import("./explore.js")).explore(root, id)],
  [/^\/items\/(.+)$/, "explore", async (root, name) => (await import("./item.js")).itemView(root, name)],
  [/^\/datasets$/, "datasets", async (root) => (await import("./datasets.js")).datasetsView(root)],
  [/^\/datasets\/(.+)$/, "datasets", async (root, name) => (await import("./datasets.js")).datasetView(root, name)],
  [/^\/trash$/, "trash", async (root) => (await import("./trash.js")).trashView(root)],
  [/^\/jobs$/, "jobs", async (root) => (await import("./jobs.js")).jobsView(root)],
  [/^\/upload$/, "upload", async (root) => (await import("./upload.js")).uploadView(root)],
];

async function start() {
  const root = document.getElementById("view");
  document.getElementById("logout").addEventListener("click", async () => {
    await post("/auth/logout", {}, { base: "" }).catch(() => null);
    location.href = "/login";
  });
  for (const [pattern, nav, show] of ROUTES) {
    const found = location.pathname.match(pattern);
    if (!found) continue;
    document.querySelector(`[data-nav=${nav}]`)?.classList.add("active");
    try {
      await show(root, ...found.slice(1).map(decodeURIComponent));
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) return;
      root.replaceChildren(h("p.error.page-error", { "data-testid": "page-error" }, error.message));
    }
    return;
  }
  root.replaceChildren(h("p.error.page-error", {}, `no page at ${location.pathname}`));
}

start();
