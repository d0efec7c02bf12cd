"""The web app's routes: its pages (one shell page; the scripts draw each view), its static
files, and logging in and out.

A page view needs a live session: without one it is sent to `/login?next=<the page>`, which
comes back to the same view after logging in. `/?token=...` (the link `metalake serve` prints)
opens a session once. The pages call the JSON API under `/api/v1` with the session's cookie.
"""

from __future__ import annotations

import functools
import hashlib
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict

from metalake.errors import AuthenticationError, InvalidArgumentError
from metalake.lake.clock import utcnow
from metalake.lake.web_sessions import WebSession
from metalake.server.auth import get_lake, session_key
from metalake.server.protocol import CSRF_COOKIE, SESSION_COOKIE

WEB_ROOT = Path(__file__).resolve().parent.parent / "web"
PAGES = (
    "/",
    "/collections",
    "/collections/{collection_id}",
    "/items/{unique_name:path}",
    "/datasets",
    "/datasets/{dataset_name:path}",
    "/trash",
    "/jobs",
    "/upload",
)
NO_STORE = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
}
"""Headers of every page: never cached, never framed by another page."""
LOGIN_ERROR_COOKIE = "metalake_login_error"
"""Why a login link was refused, for the login page to show (a cookie, not the URL, so that no
link can put words of its own on the page)."""

web = APIRouter(include_in_schema=False)


STATIC = WEB_ROOT / "static"
IMMUTABLE = "public, max-age=31536000, immutable"


@functools.cache
def static_version() -> str:
    """A hash of the web app's files: their URLs hold it, so browsers keep each file until the
    package changes and never ask whether it did."""
    digest = hashlib.sha256()
    for path in sorted(STATIC.iterdir()):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def static_prefix() -> str:
    return f"/static/{static_version()}"


class StaticFilesForever(StaticFiles):
    """Static files under a versioned path, cached by browsers without revalidation."""

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers["Cache-Control"] = IMMUTABLE
        return response


def static_files() -> StaticFiles:
    """The scripts, styles and icons of the web app (no data: served without a session)."""
    return StaticFilesForever(directory=STATIC)


def shell(name: str) -> HTMLResponse:
    return HTMLResponse(shell_text(name), headers=NO_STORE)


@functools.cache
def shell_text(name: str) -> str:
    """A page's HTML with its static URLs versioned; the app's shell also preloads every module,
    so the browser fetches them at once instead of one import after another."""
    text = (WEB_ROOT / name).read_text().replace("/static/", static_prefix() + "/")
    if name == "index.html":
        preloads = "".join(
            f'<link rel="modulepreload" href="{static_prefix()}/{path.name}">\n'
            for path in sorted(STATIC.glob("*.js"))
            if path.name != "login.js"
        )
        text = text.replace("</head>", preloads + "</head>")
    return text


def _set_session(response: Response, request: Request, session: WebSession) -> None:
    max_age = int((session.expires - utcnow()).total_seconds())
    secure = request.url.scheme == "https"
    for name, value, http_only in (
        (SESSION_COOKIE, session.token, True),
        (CSRF_COOKIE, session.csrf, False),
    ):
        response.set_cookie(
            name,
            value,
            max_age=max_age,
            expires=_http_date(session.expires),
            path="/",
            secure=secure,
            httponly=http_only,
            samesite="strict",
        )


def _http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


def _clear_session(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path="/", samesite="strict")


async def page(request: Request, token: str | None = None) -> Response:
    """The app's shell for any of its views, for a live session; else the login page."""
    lake = get_lake(request)
    if token is not None:
        try:
            session = await run_in_threadpool(lake.open_web_session_from_link, token)
        except AuthenticationError as exc:
            refused = RedirectResponse("/login", 303, NO_STORE)
            refused.set_cookie(
                LOGIN_ERROR_COOKIE, quote(str(exc)), max_age=60, path="/login", samesite="strict"
            )
            return refused
        response = RedirectResponse(request.url.path, 303, NO_STORE)
        _set_session(response, request, session)
        return response
    cookie = request.cookies.get(SESSION_COOKIE)
    try:
        if cookie is None:
            raise AuthenticationError("no session")
        await run_in_threadpool(lake.web_session, cookie)
    except AuthenticationError:
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"/login?next={quote(here, safe='')}", 303, NO_STORE)
        if cookie is not None:
            _clear_session(response)
        return response
    return shell("index.html")


for path in PAGES:
    web.add_api_route(path, page, methods=["GET"])


@web.get("/login")
def login_page() -> HTMLResponse:
    return shell("login.html")


class LoginBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    api_key: str
    secret: str


@web.post("/auth/login")
def login(
    body: LoginBody,
    request: Request,
    response: Response,
    content_type: Annotated[str, Header()] = "",
) -> dict:
    """Open a session with an API key and secret (JSON only, so no other site's form can)."""
    if not content_type.startswith("application/json"):
        raise InvalidArgumentError("log in with a JSON body {api_key, secret}")
    address = request.client.host if request.client else "unknown"
    lake = get_lake(request)
    session = lake.open_web_session(body.api_key.strip(), body.secret, address)
    if previous := request.cookies.get(SESSION_COOKIE):
        lake.end_web_session(previous)
    _set_session(response, request, session)
    return {"key": session.key}


@web.post("/auth/logout")
def logout(request: Request, response: Response) -> dict:
    """End the caller's session (its CSRF token is required, as for every change)."""
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        session_key(request, token)
        get_lake(request).end_web_session(token)
    _clear_session(response)
    return {"logged_out": True}
