"""The ASGI app: one Lake per server process, our REST API, health, and signed-URL routes.

`metalake serve` runs it under uvicorn with its settings in `METALAKE_*` variables, so each
worker process builds the same app (`create_app` is uvicorn's factory).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from metalake import __version__
from metalake.lake.lake import Lake
from metalake.server.api import PartBounds, api, signed
from metalake.server.bodies import BodyLimit
from metalake.server.docs import install_docs
from metalake.server.errors import UnexpectedErrors, install_error_handlers
from metalake.server.layernext.routes import layernext
from metalake.server.middleware import HttpMiddleware, WatchedSend
from metalake.server.web import static_files, static_prefix, web
from metalake.settings import lake_home

log = logging.getLogger("metalake.server")


KEY_ID = re.compile(r"mlk_[0-9a-f]{24}")
"""How every API key id looks: anything else in the Basic user name (a secret pasted in the
wrong field, a forged line break) is never logged."""


def basic_key_id(scope: Scope) -> str:
    """The key id of the request's Basic credentials, `-` if none, `?` if it is not a key id."""
    header = dict(scope["headers"]).get(b"authorization", b"")
    scheme, _, encoded = header.partition(b" ")
    if scheme.lower() != b"basic":
        return "-"
    try:
        user = base64.b64decode(encoded, validate=True).partition(b":")[0].decode("ascii")
    except (binascii.Error, UnicodeDecodeError):
        return "?"
    return user if KEY_ID.fullmatch(user) else "?"


def printable(text: str) -> str:
    """`text` with control characters escaped, so a path cannot forge a line of the log."""
    return text if text.isprintable() else text.encode("unicode_escape").decode("ascii")


class AccessLog(HttpMiddleware):
    """Logs method, path, status, time, client address and API key id of each request; never
    query strings, secrets or other headers, which carry signatures and credentials."""

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        start = time.perf_counter()
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        finally:
            client = scope.get("client")
            log.info(
                "%s %s %d %.1fms from %s key %s",
                scope["method"],
                printable(scope["path"]),
                watched.status,
                1000 * (time.perf_counter() - start),
                client[0] if client else "-",
                basic_key_id(scope),
            )


def create_app(lake: Lake | None = None) -> FastAPI:
    """The app over `lake`, or over the lake the `METALAKE_*` variables describe."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = lake is None
        app.state.lake = lake or Lake(
            lake_home(None),
            os.environ.get("METALAKE_DATABASE_URL") or None,
            os.environ.get("METALAKE_STORAGE") or None,
        )
        try:
            yield
        finally:
            if owned:
                app.state.lake.close()

    app = FastAPI(
        title="MetaLake",
        version=__version__,
        description="A self-hosted data lake for computer-vision data.",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.part_bounds = PartBounds()
    install_docs(app)
    install_error_handlers(app)
    app.include_router(api)
    app.include_router(signed)
    app.include_router(layernext)
    app.include_router(web)
    app.mount(static_prefix(), static_files(), name="static")

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        """Unauthenticated liveness check."""
        return {"status": "ok", "version": __version__}

    app.add_middleware(UnexpectedErrors)
    app.add_middleware(BodyLimit)
    app.add_middleware(AccessLog)
    return app
