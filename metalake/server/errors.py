"""Errors as JSON: `{"error": <stable code>, "message": <what to do>}` with a fitting status.

The remote client turns the code back into the same exception class the embedded lake raises.
"""

from __future__ import annotations

import logging
import secrets

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import Receive, Scope, Send

from metalake.errors import (
    AuthenticationError,
    CsrfError,
    DatabaseUnavailableError,
    InvalidArgumentError,
    MetaLakeError,
    NotFoundError,
    NotSupportedError,
    PayloadTooLargeError,
    SignatureError,
    StorageError,
    StorageFullError,
    StorageUnavailableError,
    TooManyRequestsError,
)
from metalake.server.layernext.errors import is_layernext_path, layernext_error
from metalake.server.middleware import HttpMiddleware, WatchedSend
from metalake.server.protocol import SESSION_COOKIE, WEB_HEADER

log = logging.getLogger(__name__)

STATUS = [
    (AuthenticationError, 401),
    (SignatureError, 403),
    (CsrfError, 403),
    (TooManyRequestsError, 429),
    (NotFoundError, 404),
    (PayloadTooLargeError, 413),
    (InvalidArgumentError, 400),
    (NotSupportedError, 501),
    (StorageUnavailableError, 503),
    (DatabaseUnavailableError, 503),
    (StorageFullError, 507),
    (StorageError, 502),
    (MetaLakeError, 400),
]
HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


def status_of(exc: MetaLakeError) -> int:
    return next(status for cls, status in STATUS if isinstance(exc, cls))


def error_response(
    request: Request,
    status: int,
    code: str,
    message: str,
    refused: bool = True,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    """The error in the form the caller's protocol reads: ours, or LayerNext's under its prefix
    (where a request the lake `refused` as invalid or naming something missing answers 406)."""
    from_browser = WEB_HEADER in request.headers or SESSION_COOKIE in request.cookies
    return _error_for_path(
        request.url.path, status, code, message, refused, headers, challenge=not from_browser
    )


def plain_error_response(scope: Scope, exc: MetaLakeError) -> JSONResponse:
    """`error_response` for middleware, which has the ASGI scope rather than a Request."""
    return _error_for_path(scope["path"], status_of(exc), exc.code, str(exc), True)


def _error_for_path(
    path: str,
    status: int,
    code: str,
    message: str,
    refused: bool,
    headers: dict[str, str] | None = None,
    challenge: bool = True,
) -> JSONResponse:
    if is_layernext_path(path):
        return layernext_error(status, code, message, refused, headers)
    if status == 401 and challenge:
        headers = {**(headers or {}), "WWW-Authenticate": 'Basic realm="metalake"'}
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(MetaLakeError)
    async def _metalake_error(request: Request, exc: MetaLakeError) -> JSONResponse:
        headers = None
        if isinstance(exc, TooManyRequestsError) and exc.retry_after is not None:
            headers = {"Retry-After": str(exc.retry_after)}
        return error_response(request, status_of(exc), exc.code, str(exc), headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
        )
        return error_response(request, 400, InvalidArgumentError.code, problems)

    @app.exception_handler(HTTPException)
    async def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
        if isinstance(exc.__cause__, MetaLakeError):  # raised while FastAPI read the body
            cause = exc.__cause__
            return error_response(request, status_of(cause), cause.code, str(cause))
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail), refused=False)


class UnexpectedErrors(HttpMiddleware):
    """Answers an exception no handler expected with a JSON 500 and keeps the connection open.

    Starlette's own last-resort handler re-raises after answering, which makes the server drop
    the keep-alive connection; here the exception ends with the answer. The message names an
    error id to find in the server's log, never the exception's text (it may hold paths or SQL).
    """

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        watched = WatchedSend(send)
        try:
            await self.app(scope, receive, watched)
        except Exception:
            error_id = secrets.token_hex(6)
            log.exception("unexpected error %s in %s %s", error_id, scope["method"], scope["path"])
            if watched.status:
                raise
            message = f"the server failed unexpectedly (error {error_id} in its log)"
            response = _error_for_path(scope["path"], 500, "internal_error", message, False)
            await response(scope, receive, send)
