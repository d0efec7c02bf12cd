// Jobs: running and recent jobs with progress, counts and per-file errors, updating live.

import { get } from "./api.js";
import { date, h, number, showError } from "./dom.js";

const POLL_MS = 1000;

export function jobRow(job) {
  return h(
    "tr",
    { "data-testid": "job", "data-job-id": job.job_id, "data-status": job.status, id: job.job_id },
    h("td", {}, h("code", {}, job.job_id)),
    h("td", {}, job.type),
    h("td", {}, job.status),
    h("td", {}, h("progress", { max: "100", value: String(job.progress) }), ` ${job.progress}%`),
    h("td.num", {}, `${number(job.done)} done, ${number(job.skipped)} skipped, ${number(job.failed)} failed of ${number(job.total)}`),
    h("td", {}, date(job.created)),
    h(
      "td",
      {},
      job.message,
      job.errors.length
        ? h("details", {}, h("summary", {}, `${job.errors.length} errors`), h("ul", {}, job.errors.map((e) => h("li", {}, typeof e === "string" ? e : JSON.stringify(e)))))
        : null,
    ),
  );
}

export async function jobsView(root) {
  const body = h("tbody");
  root.replaceChildren(
    h(
      "section.page",
      {},
      h("h2", {}, "Jobs"),
      h("table.list", { "data-testid": "jobs" }, h("thead", {}, h("tr", {}, ["job", "type", "status", "progress", "files", "created", "message"].map((t) => h("th", {}, t)))), body),
    ),
  );
  const error = h("p.error", { "data-testid": "jobs-error", hidden: true });
  body.closest("section").append(error);
  async function refresh() {
    let running = false;
    try {
      const jobs = await get("/jobs?limit=50");
      body.replaceChildren(...jobs.map(jobRow));
      if (!jobs.length) body.append(h("tr", {}, h("td", { colspan: "7" }, "No jobs yet.")));
      running = jobs.some((j) => j.status !== "completed" && j.status !== "failed");
      showError(error, "");
    } catch (failure) {
      showError(error, `${failure.message} (trying again)`);
    }
    if (document.body.contains(body)) setTimeout(refresh, running ? POLL_MS : POLL_MS * 5);
  }
  await refresh();
}
