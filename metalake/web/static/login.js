// The login form: an API key and secret open a session, then back to the page asked for.
const form = document.getElementById("login");
const error = form.querySelector("[data-testid=login-error]");
const params = new URLSearchParams(location.search);

function showError(message) {
  error.textContent = message;
  error.hidden = false;
}

if (params.get("error")) showError(params.get("error"));

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
    const next = params.get("next") || "/";
    location.href = next.startsWith("/") && !next.startsWith("//") ? next : "/";
    return;
  }
  const answer = await response.json().catch(() => ({}));
  showError(answer.message || `login failed (${response.status})`);
});
