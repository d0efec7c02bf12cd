"""Errors as JSON: `{"error": <stable code>, "message": <what to do>}` with a fitting status.

The remote client turns the code back into the same exception class the embedded lake raises.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from metalake.errors import (
    AuthenticationError,
    InvalidArgumentError,
    MetaLakeError,
    NotFoundError,
    NotSupportedError,
    SignatureError,
    StorageError,
    TooManyRequestsError,
)
from metalake.server.layernext.errors import LAYERNEXT_PREFIX, layernext_error

log = logging.getLogger(__name__)

STATUS = [
    (AuthenticationError, 401),
    (SignatureError, 403),
    (TooManyRequestsError, 429),
    (NotFoundError, 404),
    (InvalidArgumentError, 400),
    (NotSupportedError, 501),
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
    if request.url.path.startswith(LAYERNEXT_PREFIX + "/"):
        return layernext_error(status, code, message, refused, headers)
    if status == 401:
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
        code = HTTP_CODES.get(exc.status_code, "http_error")
        return error_response(request, exc.status_code, code, str(exc.detail), refused=False)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        message = f"the server failed: {exc!r}"
        return error_response(request, 500, "internal_error", message, refused=False)
