"""API property tests: schemathesis against the `/openapi.json` of one live `metalake serve`.

With a valid key no operation answers 5xx and every answer matches the schema it documents;
without a key (or with a wrong one) every protected operation answers 401, and the signed-URL
routes answer 403 to unsigned requests. `METALAKE_SCHEMATHESIS_EXAMPLES` bounds the examples
per operation (default small, so the file stays well under a minute on two cores).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    response_schema_conformance,
    status_code_conformance,
)

from metalake import Client
from metalake.server.app import create_app
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server, serve

EXAMPLES = int(os.environ.get("METALAKE_SCHEMATHESIS_EXAMPLES", "8"))
JSON = {"Content-Type": "application/json"}
CHECKS = [not_a_server_error, response_schema_conformance, status_code_conformance]
SIGNED_PATHS = (
    "/api/v1/uploads/{session_id}/files/{seq}/parts/{part}",
    "/api/v1/uploads/{session_id}/bundles/{first}-{last}",
    "/blobs/{key}",
    "/dataset/exports/{version_id}/{slug}/{name}",
)
OPEN_PATHS = ("/healthz", *SIGNED_PATHS)
BAD_CREDENTIALS = {
    "no-key": None,
    "unknown-key": ("mlk_000000000000000000000000", "secret"),
    "wrong-secret": "wrong-secret",
}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One served lake with a few images in collection `col`, so routes have something to find."""
    root = tmp_path_factory.mktemp("schemathesis")
    images = make_folder(root / "images", 3)
    # Every operation is called with bad credentials: more failed logins than a client may have.
    unlimited = {
        "METALAKE_AUTH_FAILURES_PER_ADDRESS": "100000",
        "METALAKE_AUTH_FAILURES_PER_KEY": "100000",
    }
    with serve(root / "lake", env=unlimited) as s:
        with Client(s.url, s.key, s.secret, show_progress=False) as client:
            upload_and_wait(client, str(images), "image", "col")
        yield s


@pytest.fixture(scope="module")
def session(server: Server) -> Iterator[requests.Session]:
    with requests.Session() as s:
        s.auth = (server.key, server.secret)
        yield s


schema = schemathesis.openapi.from_dict(create_app().openapi())
"""The document the server serves (a test below checks they are equal), read at collection
time so that each operation is its own test."""


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_answers_match_schema(case: schemathesis.Case, server, session):
    case.call_and_validate(base_url=server.url, session=session, checks=CHECKS, timeout=30)


FOUND = [
    # (method, path, JSON body, status): answers schemathesis once found to be 500s.
    ("POST", "/api/v1/trash/empty", {"older_than_days": 4.714104508927342e16}, 400),
    ("POST", "/api/v1/trash/empty", {"older_than_days": float("nan")}, 400),
    ("POST", "/api/v1/trash/empty", {"older_than_days": float("inf")}, 400),
    (
        "GET",
        "/datalake/api/client/getAnnotations/x/collection?pageNo=913134&pageSize=-43020"
        "&operationIdList=8",
        {},
        406,
    ),
    ("GET", "/datalake/api/client/getAnnotations/x/collection?operationIdList=8", {}, 406),
    ("GET", "/datalake/api/client/getAnnotations/x/collection?pageNo=-1", {}, 406),
]


@pytest.mark.parametrize(("method", "path", "body", "status"), FOUND)
def test_inputs_schemathesis_found(server: Server, session, method, path, body, status):
    response = session.request(
        method, server.url + path, data=json.dumps(body), headers=JSON, timeout=30
    )
    assert response.status_code == status, response.text


def _operations(spec: dict) -> list[tuple[str, str]]:
    return [
        (method.upper(), path)
        for path, methods in spec["paths"].items()
        for method in methods
        if method in {"get", "post", "put", "delete", "patch"}
    ]


def _concrete(path: str) -> str:
    """A path with every `{parameter}` filled in (ids that exist nowhere)."""
    parts = path.replace("{first}-{last}", "1-2").split("/")
    return "/".join("0" * 24 if p.startswith("{") else p for p in parts)


@pytest.fixture(scope="module")
def spec(server: Server) -> dict:
    return requests.get(f"{server.url}/openapi.json", timeout=30).json()


@pytest.mark.parametrize("credentials", BAD_CREDENTIALS.values(), ids=BAD_CREDENTIALS.keys())
def test_protected_operations_answer_401_without_valid_credentials(
    server: Server, spec: dict, credentials
):
    if credentials == "wrong-secret":
        credentials = (server.key, server.secret + "x")
    protected = [op for op in _operations(spec) if op[1] not in OPEN_PATHS]
    assert len(protected) > 40, protected
    answers = {
        f"{method} {path}": requests.request(
            method, server.url + _concrete(path), auth=credentials, json={}, timeout=30
        ).status_code
        for method, path in protected
    }
    assert {op: status for op, status in answers.items() if status != 401} == {}


@pytest.mark.parametrize("path", SIGNED_PATHS)
def test_signed_routes_answer_403_unsigned(server: Server, spec: dict, path: str):
    (method,) = [m for m, p in _operations(spec) if p == path]
    headers = {"x-metalake-files": "1,2", "x-amz-checksum-sha256": "a,b"}
    for query in ({}, {"expires": "1", "signature": "x"}, {"expires": "9" * 40, "signature": ""}):
        response = requests.request(
            method, server.url + _concrete(path), params=query, headers=headers, timeout=30
        )
        assert response.status_code == 403, (query, response.text)


def test_the_live_server_serves_the_schema_tested(spec: dict):
    """The operations tested above are those the live server documents, all of them."""
    assert spec == schema.raw_schema
    assert len(_operations(spec)) >= 50
