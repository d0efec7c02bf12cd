// Upload: files or a folder dropped (or picked) into a new or existing collection, with
// collection metadata and tags, sent by the SDK's resumable protocol: an upload session names
// the parts still missing (a reload and the same files resume it), each part goes with its
// SHA-256, files already in the collection are skipped, and the upload job is followed live.

import { get, post, withQuery } from "./api.js";
import { bytes, h, metadataFromText, number, showError } from "./dom.js";
import { jobRow } from "./jobs.js";
import { Sha256, base64, hex } from "./sha256.js";

const PART_SIZE = 16 << 20;
const PARALLEL_FILES = 3;
const PENDING_KEY = "metalake-pending-upload";
const JOB_POLL_MS = 500;

/** Every file under the dropped entries (folders read recursively; hidden files left out). */
async function droppedFiles(dataTransfer) {
  const entries = [...dataTransfer.items].map((item) => item.webkitGetAsEntry && item.webkitGetAsEntry()).filter(Boolean);
  if (!entries.length) return [...dataTransfer.files];
  const files = [];
  async function walk(entry) {
    if (entry.name.startsWith(".")) return;
    if (entry.isFile) {
      files.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
      return;
    }
    const reader = entry.createReader();
    for (;;) {
      const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
      if (!batch.length) break;
      for (const child of batch) await walk(child);
    }
  }
  for (const entry of entries) await walk(entry);
  return files;
}

function guessType(files) {
  const kinds = new Set(files.map((f) => (f.type.startsWith("image/") ? "image" : f.type.startsWith("video/") ? "video" : "other")));
  return kinds.size === 1 ? [...kinds][0] : "other";
}

async function sha256Of(buffer) {
  if (globalThis.crypto && crypto.subtle) return new Uint8Array(await crypto.subtle.digest("SHA-256", buffer));
  return new Sha256().update(new Uint8Array(buffer)).digest();
}

async function put(url, body, headers) {
  const response = await fetch(url, { method: "PUT", body, headers, credentials: "same-origin" });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(answer.message || `a part was refused (${response.status})`);
  return { etag: answer.etag || (response.headers.get("etag") || "").replaceAll('"', ""), state: answer.state || "awaiting" };
}

export async function uploadView(root) {
  let files = [];
  const list = h("tbody");
  const error = h("p.error", { "data-testid": "upload-error", hidden: true });
  const status = h("div", { "data-testid": "upload-status" });
  const collection = h("input", { name: "collection_name", list: "upload-collections", placeholder: "collection (new or existing)", required: true });
  const names = h("datalist", { id: "upload-collections" });
  const type = h("select", { name: "content_type" }, ["image", "video", "other"].map((t) => h("option", { value: t }, t)));
  const metadata = h("input", { name: "upload_metadata", placeholder: "metadata: field=value, field2=value2" });
  const tags = h("input", { name: "upload_tags", placeholder: "tags, comma-separated" });
  const picker = h("input", { type: "file", name: "files", multiple: true });
  const folderPicker = h("input", { type: "file", name: "folder", webkitdirectory: true, multiple: true });
  const start = h("button", { type: "button", "data-testid": "start-upload", disabled: true }, "Upload");
  const drop = h("div.dropzone", { "data-testid": "dropzone" }, h("p", {}, "Drop files or a folder here, or pick them: "), picker, " or a folder ", folderPicker);

  function choose(chosen) {
    files = chosen.filter((f) => !f.name.startsWith("."));
    type.value = guessType(files);
    list.replaceChildren(...files.map((f) => h("tr", { "data-testid": "upload-file", dataset: { name: f.name } }, h("td", {}, f.name), h("td.num", {}, bytes(f.size)), h("td", {}, h("progress", { max: String(f.size || 1), value: "0" })), h("td.state", {}, "waiting"))));
    start.disabled = files.length === 0;
    status.textContent = `${number(files.length)} files, ${bytes(files.reduce((n, f) => n + f.size, 0))}`;
  }
  drop.addEventListener("dragover", (event) => {
    event.preventDefault();
    drop.classList.add("over");
  });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", async (event) => {
    event.preventDefault();
    drop.classList.remove("over");
    choose(await droppedFiles(event.dataTransfer));
  });
  picker.addEventListener("change", () => choose([...picker.files]));
  folderPicker.addEventListener("change", () => choose([...folderPicker.files]));
  start.addEventListener("click", async () => {
    start.disabled = true;
    showError(error, "");
    try {
      await send(files, { collection: collection.value.trim(), type: type.value, metadata: metadataFromText(metadata.value, tags.value) }, list, status);
    } catch (failure) {
      showError(error, failure.message);
    } finally {
      start.disabled = false;
    }
  });
  const pending = JSON.parse(localStorage.getItem(PENDING_KEY) || "null");
  const note = pending ? h("p.note", { "data-testid": "pending-upload" }, `An upload of ${number(pending.files)} files to "${pending.collection}" did not finish: choose the same files and collection to resume it (parts already sent are not sent again).`) : null;
  root.replaceChildren(
    h(
      "section.page",
      {},
      h("h2", {}, "Upload"),
      note,
      drop,
      h("div.row", {}, collection, names, type, metadata, tags, start),
      error,
      status,
      h("table.list", {}, h("tbody", {}), list),
    ),
  );
  get("/collections").then((found) => names.replaceChildren(...found.map((c) => h("option", { value: c.name }))));
}

async function send(files, { collection, type, metadata }, list, status) {
  if (!collection) throw new Error("name the collection to upload to");
  const request = { collection_name: collection, content_type: type, metadata, files: files.map((f) => ({ file_name: f.name, size: f.size })) };
  const described = JSON.stringify({ request, stamps: files.map((f) => f.lastModified), part: PART_SIZE });
  const fingerprint = hex(new Sha256().update(new TextEncoder().encode(described)).digest());
  const { checksum } = await get("/uploads/protocol");
  if (checksum !== "sha256") {
    throw new Error("this server's store takes uploaded bytes straight into S3; upload from the SDK or `metalake upload` instead");
  }
  const session = await post("/uploads", { request, fingerprint, part_size: PART_SIZE });
  localStorage.setItem(PENDING_KEY, JSON.stringify({ collection, files: files.length }));
  const rows = [...list.children];
  const mark = (seq, text, sent) => {
    const row = rows[seq];
    row.querySelector(".state").textContent = text;
    if (sent !== undefined) row.querySelector("progress").value = String(sent);
  };
  for (const f of session.files) if (f.state !== "awaiting") mark(f.seq, f.state === "skip" ? "already in the collection" : "already sent", files[f.seq].size);
  const work = [
    ...session.bundles.map((bundle) => () => sendBundle(bundle, files, mark)),
    ...session.files.filter((f) => f.parts).map((f) => () => sendFile(session.session_id, f, files[f.seq], mark)),
  ];
  let next = 0;
  const workers = Array.from({ length: Math.min(PARALLEL_FILES, work.length) }, async () => {
    while (next < work.length) await work[next++]();
  });
  await Promise.all(workers);
  const started = await post(`/uploads/${session.session_id}/complete`);
  localStorage.removeItem(PENDING_KEY);
  await follow(started.job_id, status);
}

async function sendBundle(bundle, files, mark) {
  const members = bundle.seqs.map((seq) => files[seq]);
  const buffers = await Promise.all(members.map((f) => f.arrayBuffer()));
  const checksums = await Promise.all(buffers.map(async (b) => base64(await sha256Of(b))));
  await put(bundle.url, new Blob(buffers), { "x-metalake-files": bundle.seqs.join(","), "x-amz-checksum-sha256": checksums.join(",") });
  bundle.seqs.forEach((seq) => mark(seq, "sent", files[seq].size));
}

async function sendFile(sessionId, entry, file, mark) {
  // A file of one part is hashed once (natively where the browser can); the whole-file hash of
  // a file of several parts is computed as its parts are read.
  const whole = new Sha256();
  let wholeDigest = null;
  const etags = [];
  let state = "awaiting";
  let sent = 0;
  for (const part of entry.parts) {
    const buffer = await file.slice(part.offset, part.offset + part.size).arrayBuffer();
    if (buffer.byteLength !== part.size) throw new Error(`${file.name} changed while it was being uploaded`);
    const partDigest = entry.parts.length === 1 ? await sha256Of(buffer) : null;
    if (partDigest) wholeDigest = partDigest;
    else whole.update(new Uint8Array(buffer));
    sent += part.size;
    if (part.url === null) {
      etags.push(part.etag);
      mark(entry.seq, "resuming", sent);
      continue;
    }
    const checksum = base64(partDigest || (await sha256Of(buffer)));
    const answer = await put(part.url, buffer, { "x-amz-checksum-sha256": checksum });
    etags.push(answer.etag);
    state = answer.state;
    mark(entry.seq, `part ${part.part} of ${entry.parts.length}`, sent);
  }
  if (state === "awaiting") {
    await post(`/uploads/${sessionId}/files/${entry.seq}/done`, { etags, sha256: hex(wholeDigest || whole.digest()) });
  }
  mark(entry.seq, "sent", file.size);
}

async function follow(jobId, status) {
  for (;;) {
    const job = await get(withQuery(`/jobs/${jobId}`, {}));
    status.replaceChildren(h("table.list", { "data-testid": "upload-job" }, h("tbody", {}, jobRow(job))));
    if (job.status === "completed" || job.status === "failed") {
      if (job.collection_id) status.append(h("p", {}, h("a", { href: `/collections/${job.collection_id}` }, "Open the collection")));
      return job;
    }
    await new Promise((resolve) => setTimeout(resolve, JOB_POLL_MS));
  }
}
