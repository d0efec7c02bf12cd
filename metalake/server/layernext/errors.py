"""Errors as the LayerNext client reads them: LoopBack's `{"error": {statusCode, name, message}}`.

The client shows `error.message` to the user where the status is 406 (validation), so every
request the lake refuses as invalid, or that names something missing, answers 406.
"""

from __future__ import annotations

from fastapi.responses import JSONResponse

LAYERNEXT_PREFIX = "/datalake"
VALIDATION_STATUSES = (400, 404)
NAMES = {
    401: "UnauthorizedError",
    403: "ForbiddenError",
    406: "NotAcceptableError",
    429: "TooManyRequestsError",
}


def layernext_error(
    status: int, code: str, message: str, refused: bool, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error as the client reads it; what the lake `refused` (400, 404) answers 406."""
    status = 406 if refused and status in VALIDATION_STATUSES else status
    name = NAMES.get(status, "Error")
    body = {"error": {"statusCode": status, "name": name, "code": code, "message": message}}
    return JSONResponse(body, status_code=status, headers=headers)
