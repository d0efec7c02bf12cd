"""Errors as the LayerNext client reads them: LoopBack's `{"error": {statusCode, name, message}}`.

The client shows `error.message` to the user where the status is 406 (validation), so every
request the lake refuses as invalid, names something missing, or asks for what MetaLake does not
support, answers 406.
"""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

LAYERNEXT_PREFIX = "/datalake"
DATASET_PREFIX = "/dataset"
"""The client's dataset service: its own base URL, with the same error form."""
PREFIXES = (LAYERNEXT_PREFIX, DATASET_PREFIX)
VALIDATION_STATUSES = (400, 404, 501)
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


def is_layernext_path(path: str) -> bool:
    """Whether a request path is one of the client's, which gets this error form."""
    return any(path.startswith(prefix + "/") for prefix in PREFIXES)


def layernext_error(
    status: int, code: str, message: str, refused: bool, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error as the client reads it; what the lake `refused` (400, 404, 501) answers 406."""
    status = 406 if refused and status in VALIDATION_STATUSES else status
    name = NAMES.get(status, "Error")
    body = {"error": {"statusCode": status, "name": name, "code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)
