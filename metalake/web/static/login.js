// The login form: an API key and secret open a session, then back to the page asked for.
const form = document.getElementById("login");
const error = form.querySelector("[data-testid=login-error]");
const params = new URLSearchParams(location.search);

/** A page of this server to go back to after logging in: `next` as the browser itself reads it
 * (it drops tabs and line breaks and reads "\\" as "/"), if it stays on this origin; else "/". */
function sameOrigin(next) {
  try {
    const target = new URL(next || "/", location.origin);
    return target.origin === location.origin ? target.pathname + target.search + target.hash : "/";
  } catch {
    return "/";
  }
}

function showError(message) {
  error.textContent = message;
  error.hidden = false;
}

const refused = document.cookie.match(/(?:^|;\s*)metalake_login_error=([^;]*)/);
if (refused) {
  showError(decodeURIComponent(refused[1]));
  document.cookie = "metalake_login_error=; Max-Age=0; Path=/login; SameSite=Strict";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const body = { api_key: form.api_key.value, secret: form.secret.value };
  const response = await fetch("/auth/login", {
    method: "POST",
    headers: { "content-type": "application/json", "x-metalake-web": "1" },
    body: JSON.stringify(body),
  });
  if (response.ok) {
    location.href = sameOrigin(params.get("next"));
    return;
  }
  const answer = await response.json().catch(() => ({}));
  showError(answer.message || `login failed (${response.status})`);
});
