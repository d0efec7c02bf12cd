"""API-key authentication: key and secret as HTTP Basic, checked against the lake's key table."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from metalake.errors import AuthenticationError
from metalake.lake.lake import Lake

basic = HTTPBasic(auto_error=False, realm="metalake", description="API key and secret")


def get_lake(request: Request) -> Lake:
    return request.app.state.lake


def api_key(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]
) -> str:
    """The caller's API key; 401 without valid, unrevoked credentials, 429 after too many
    failures from the caller's address."""
    if credentials is None:
        raise AuthenticationError(
            "this route needs an API key: send the key and secret as HTTP Basic auth (the "
            "server's administrator makes one with `metalake keys create`; `metalake serve` "
            "prints the exact command for the lake it serves)"
        )
    lake = get_lake(request)
    address = request.client.host if request.client else "unknown"
    return lake.authenticate(credentials.username, credentials.password, address)


LakeDep = Annotated[Lake, Depends(get_lake)]
KeyDep = Annotated[str, Depends(api_key)]
