"""Request bodies read within limits: parts spooled to disk as they arrive, never whole in memory.

A body larger than its limit is refused as soon as it is known to be: from its Content-Length
before any byte is read, else when the bytes received pass the limit.
"""

from __future__ import annotations

import contextlib
import re
import tempfile
from collections.abc import AsyncIterator
from typing import IO

from fastapi import Request
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from metalake.errors import PayloadTooLargeError
from metalake.lake.limits import MAX_REQUEST_BYTES
from metalake.server.errors import plain_error_response
from metalake.server.middleware import HttpMiddleware
from metalake.server.protocol import UPLOAD_ROUTE

SPOOL_BYTES = 8 << 20
"""Bytes of a body kept in memory before the rest goes to a temp file."""
STREAMED_ROUTES = re.compile(
    re.escape(UPLOAD_ROUTE) + r"/[^/]+/(files/\d+/parts/\d+|bundles/\d+-\d+)"
)
"""The routes that read their bodies themselves, with limits of their own (upload parts and
bundles)."""


def _too_large(what: str, size: int | str, limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(f"{what} has {size} bytes; at most {limit} are allowed here")


def _declared_length(headers: Headers) -> int | None:
    text = headers.get("content-length", "")
    return int(text) if text.strip().isdigit() else None


async def _chunks(request: Request, limit: int, what: str) -> AsyncIterator[bytes]:
    """The body's chunks as they arrive, refused as soon as they are known to pass `limit`."""
    declared = _declared_length(request.headers)
    if declared is not None and declared > limit:
        raise _too_large(what, declared, limit)
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(what, f"more than {limit}", limit)
        yield chunk


def refusal_past(
    request: Request, limit: int, what: str = "the request body"
) -> PayloadTooLargeError:
    """What `capped_body` with `limit` refuses a body longer than `limit` with: its declared
    length, if it declared one, else that it had more."""
    declared = _declared_length(request.headers)
    if declared is not None and declared > limit:
        return _too_large(what, declared, limit)
    return _too_large(what, f"more than {limit}", limit)


async def capped_chunks(
    request: Request, limit: int, what: str = "the request body"
) -> list[bytes]:
    """The whole body of a small request (a bundle) as the chunks it arrived in, refused past
    `limit` bytes: not joined, since that copy cost a bundle's receiver a fifth of its time."""
    return [chunk async for chunk in _chunks(request, limit, what)]


@contextlib.asynccontextmanager
async def capped_body(
    request: Request, limit: int, what: str = "the request body"
) -> AsyncIterator[IO[bytes]]:
    """The body in a spooled temp file (rewound), refused past `limit` bytes."""
    with tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES) as spool:
        async for chunk in _chunks(request, limit, what):
            spool.write(chunk)
        spool.seek(0)
        yield spool


class BodyLimit(HttpMiddleware):
    """Refuses request bodies over MAX_REQUEST_BYTES (413) on every route but the part routes,
    which read and limit their own bodies."""

    def __init__(self, app: ASGIApp, limit: int = MAX_REQUEST_BYTES) -> None:
        super().__init__(app)
        self.limit = limit

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        if STREAMED_ROUTES.fullmatch(scope["path"]):
            await self.app(scope, receive, send)
            return
        declared = _declared_length(Headers(scope=scope))
        if declared is not None and declared > self.limit:
            error = _too_large("the request body", declared, self.limit)
            await plain_error_response(scope, error)(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise _too_large("the request body", f"more than {self.limit}", self.limit)
            return message

        await self.app(scope, counted, send)
