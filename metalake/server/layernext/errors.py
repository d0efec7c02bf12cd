"""Errors as the LayerNext client reads them: LoopBack's `{"error": {statusCode, name, message}}`.

The client shows `error.message` to the user where the status is 406 (validation), so every
request the lake refuses as invalid, or that names something missing, answers 406.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

LAYERNEXT_PREFIX = "/datalake"
VALIDATION_STATUSES = (400, 404)
NAMES = {
    401: "UnauthorizedError",
    403: "ForbiddenError",
    406: "NotAcceptableError",
    429: "TooManyRequestsError",
}


class LoopBackError(BaseModel):
    statusCode: int
    name: str
    code: str
    message: str


class LoopBackErrorBody(BaseModel):
    """A refusal as the client reads it."""

    error: LoopBackError


ERRORS: dict[int | str, dict[str, Any]] = {
    "4XX": {
        "model": LoopBackErrorBody,
        "description": "Refused: 401 missing or wrong API key, 406 invalid or naming "
        "something missing (error.message says what), 413 past a size limit, 429 too many "
        "failed logins (Retry-After)",
    }
}
"""The error answers, documented on every route of the client's."""


def layernext_error(
    status: int, code: str, message: str, refused: bool, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error as the client reads it; what the lake `refused` (400, 404) answers 406."""
    status = 406 if refused and status in VALIDATION_STATUSES else status
    name = NAMES.get(status, "Error")
    body = {"error": {"statusCode": status, "name": name, "code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)
