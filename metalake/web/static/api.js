// Calls of the JSON API with the session's cookie and CSRF token; errors carry the Lake's words.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function csrfToken() {
  const found = document.cookie.match(/(?:^|;\s*)metalake_csrf=([^;]*)/);
  return found ? decodeURIComponent(found[1]) : "";
}

export function webHeaders(method) {
  const headers = { "x-metalake-web": "1" };
  if (method !== "GET" && method !== "HEAD") headers["x-csrf-token"] = csrfToken();
  return headers;
}

export function toLogin() {
  const here = location.pathname + location.search;
  location.href = `/login?next=${encodeURIComponent(here)}`;
}

/** The answer of `method path` (under /api/v1) as JSON; ApiError with the Lake's message. */
export async function api(method, path, body, { signal, base = "/api/v1" } = {}) {
  const headers = webHeaders(method);
  if (body !== undefined) headers["content-type"] = "application/json";
  const response = await fetch(base + path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
    signal,
    credentials: "same-origin",
  });
  if (response.status === 401) {
    toLogin();
    throw new ApiError(401, "unauthenticated", "your session has ended: log in again");
  }
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, answer.error, answer.message || response.statusText);
  }
  return answer;
}

export const get = (path, options) => api("GET", path, undefined, options);
export const post = (path, body, options) => api("POST", path, body, options);
export const del = (path, options) => api("DELETE", path, undefined, options);

/** `path?key=value&...` with the values that are set. */
export function withQuery(path, params) {
  const query = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (Array.isArray(value)) value.forEach((v) => query.append(key, v));
    else if (value !== undefined && value !== null && value !== "") query.set(key, value);
  }
  const text = query.toString();
  return text ? `${path}?${text}` : path;
}
