"""What every LayerNext route shares: JSON bodies (also on GET), success and refusal shapes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request

from metalake.errors import InvalidArgumentError, MetaLakeError
from metalake.server.layernext.errors import ERRORS, LAYERNEXT_PREFIX

JOB_WAIT_S = 600.0
"""How long `complete` and annotation updates wait for their job: the client polls a job that
is not finished only every 30 s, so answering once it is done saves its users that wait."""


def router(prefix: str = LAYERNEXT_PREFIX) -> APIRouter:
    """A router for a family of the client's routes, under `<prefix>/api` (`/datalake/api`, or
    `/dataset/api` for its dataset service)."""
    return APIRouter(prefix=prefix + "/api", tags=["layernext"], responses=ERRORS)


async def body_of(request: Request) -> dict[str, Any]:
    """The JSON object in a request body; GETs may carry one too, and empty means `{}`.

    A dependency, read on the event loop, so that the routes themselves can be plain
    functions run in the thread pool (the Lake's calls block on the database)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidArgumentError(f"the request body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise InvalidArgumentError("the request body must be a JSON object")
    return body


Body = Annotated[dict[str, Any], Depends(body_of)]


def ok(**fields: Any) -> dict[str, Any]:
    """The client's shape of a call that succeeded: `{"isSuccess": true, ...fields}`."""
    return {"isSuccess": True, **fields}


def refused(message: str) -> dict[str, Any]:
    """The client's shape of a call answered without success: `{"isSuccess": false, message}`
    (the client turns it into its own `is_success` answer)."""
    return {"isSuccess": False, "message": message}


def download_page(
    identifier: str,
    raw_file_name: str,
    format_name: str,
    group: str,
    directories: list[str],
    resources: list[dict[str, Any]],
    has_next: bool,
) -> dict[str, Any]:
    """One page of a client download (collections and dataset versions): the client writes
    each resource under `<group>/`, after making `directories` there, and asks for the next
    page while `nextPage` is true."""
    return {
        "data": {
            "identifier": identifier,
            "rawFileName": raw_file_name,
            "format": format_name,
            "groupUniqueName": group,
            "creatableDirectories": directories,
            "nextPage": has_next,
            "resourceArray": resources,
        }
    }


def warning_on_refusal(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Refusals as `200 {"isSuccess": false, "warningMsg"}`: the only failure the selection
    call's client handles."""
    try:
        return call()
    except MetaLakeError as exc:
        return {"isSuccess": False, "warningMsg": str(exc)}
