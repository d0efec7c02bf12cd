"""API-key authentication: key and secret as HTTP Basic, checked against the lake's key table."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBasic, HTTPBasicCredentials

from metalake.errors import AuthenticationError
from metalake.lake.keys import authenticate, keys_command
from metalake.lake.lake import Lake

basic = HTTPBasic(auto_error=False, realm="metalake", description="API key and secret")


def get_lake(request: Request) -> Lake:
    return request.app.state.lake


def api_key(
    request: Request, credentials: Annotated[HTTPBasicCredentials | None, Depends(basic)]
) -> str:
    """The caller's API key; 401 without valid, unrevoked credentials."""
    if credentials is None:
        lake = get_lake(request)
        command = keys_command(lake.home, lake.db.url, "create --name NAME")
        raise AuthenticationError(
            "this route needs an API key: send the key and secret as HTTP Basic auth "
            f"(`{command}` on the server makes one)"
        )
    return authenticate(get_lake(request).db, credentials.username, credentials.password)


LakeDep = Annotated[Lake, Depends(get_lake)]
KeyDep = Annotated[str, Depends(api_key)]
