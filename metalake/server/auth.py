"""API-key authentication: key and secret as HTTP Basic, checked against the lake's key table."""

from __future__ import annotations

import hmac
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from starlette.concurrency import run_in_threadpool

from metalake.errors import AuthenticationError, CsrfError
from metalake.lake.lake import Lake
from metalake.server.protocol import CSRF_HEADER, SESSION_COOKIE

basic = HTTPBasic(auto_error=False, realm="metalake", description="API key and secret")
Credentials = Annotated[HTTPBasicCredentials | None, Depends(basic)]
T = TypeVar("T")


def get_lake(request: Request) -> Lake:
    return request.app.state.lake


async def request_lake(request: Request) -> Lake:
    """`get_lake` as a dependency solved on the event loop: FastAPI runs a plain function's
    dependency in the thread pool, a trip per request that costs more than the lookup."""
    return get_lake(request)


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SESSION_ROUTES = "/api/v1/"
"""The only routes a session cookie opens: the ones the web app calls. Elsewhere (the LayerNext
routes, some of which change things on a GET) a request needs HTTP Basic, so that no page of
another origin on the same site (SameSite ignores ports) can use the cookie there."""


def api_key(request: Request, credentials: Credentials) -> str:
    """The caller's API key, from HTTP Basic credentials or the web app's session cookie; 401
    without valid, unrevoked credentials or a live session, 429 after too many failures from
    the caller's address, 403 for a session's request that changes something without its
    CSRF token. The cookie counts only on the web app's routes (SESSION_ROUTES)."""
    token = request.cookies.get(SESSION_COOKIE)
    if credentials is None and token and request.url.path.startswith(SESSION_ROUTES):
        return session_key(request, token)
    if credentials is None:
        raise AuthenticationError(
            "this route needs an API key: send the key and secret as HTTP Basic auth (the "
            "server's administrator makes one with `metalake keys create`; `metalake serve` "
            "prints the exact command for the lake it serves)"
        )
    lake = get_lake(request)
    address = request.client.host if request.client else "unknown"
    return lake.authenticate(credentials.username, credentials.password, address)


LakeDep = Annotated[Lake, Depends(request_lake)]
KeyDep = Annotated[str, Depends(api_key)]


async def as_caller(
    request: Request, credentials: HTTPBasicCredentials | None, call: Callable[[str], T]
) -> T:
    """`call(key)` for the caller's key, checked exactly as `KeyDep` checks it (against the
    database, on every request), in one trip through the thread pool for both: a plain
    function route with `KeyDep` takes three (the key, the route, the check of its answer),
    which cost more than the work of the client's small per-file upload calls."""
    return await run_in_threadpool(lambda: call(api_key(request, credentials)))


def session_key(request: Request, token: str) -> str:
    """The API key of the web session `token`, checking the CSRF token of unsafe requests."""
    session = get_lake(request).web_session(token)
    sent = request.headers.get(CSRF_HEADER, "").encode("latin-1")  # as it came: never a 500
    if request.method not in SAFE_METHODS and not hmac.compare_digest(sent, session.csrf.encode()):
        raise CsrfError(
            f"this request changes something but carries no valid {CSRF_HEADER} header: "
            "reload the page (the web app sends it), or use an API key"
        )
    return session.key
