"""The server itself: health, docs, API-key auth, error answers, signed URLs, the keys CLI."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from metalake import AuthenticationError, Client, ItemNotFoundError, ServerUnavailableError
from metalake.lake.keys import authenticate, create_key, revoke_key
from metalake.lake.lake import lake_database
from metalake.lake.signing import UrlSigner, load_secret
from tests.conftest import upload_and_wait
from tests.servers import Server, free_port, serve
from tests.test_cli import metalake


@pytest.fixture
def server(fresh_server: Server) -> Server:
    """The shared server over an empty lake (`lake_home` is its folder)."""
    return fresh_server


@pytest.fixture
def served_image(server: Server, images: Path) -> str:
    """A served lake holding images/img_000.jpg .. img_004.jpg in collection `col`."""
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        upload_and_wait(client, str(images), "image", "col")
    return "col_img_001.jpg"


def test_health_and_docs_need_no_key(server: Server):
    assert httpx.get(f"{server.url}/healthz").json()["status"] == "ok"
    spec = httpx.get(f"{server.url}/openapi.json").json()
    assert "/api/v1/uploads" in spec["paths"] and "/api/v1/items/list" in spec["paths"]
    assert "swagger" in httpx.get(f"{server.url}/docs").text.lower()


@pytest.mark.parametrize(
    "auth",
    [None, ("mlk_000000000000000000000000", "x"), "wrong-secret"],
    ids=["no-key", "unknown-key", "wrong-secret"],
)
def test_api_routes_refuse_bad_credentials(server: Server, auth):
    if auth == "wrong-secret":
        auth = (server.key, server.secret + "x")
    body = {"selection": {"content_type": "image"}}
    response = httpx.post(f"{server.url}/api/v1/items/count", json=body, auth=auth)
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"
    assert response.headers["www-authenticate"].startswith("Basic")
    with (
        Client(server.url, *(auth or (None, None)), show_progress=False) as client,
        pytest.raises(AuthenticationError),
    ):
        client.get_item_count_from_metalake("image")


def test_a_revoked_key_stops_working_at_once(server: Server, lake_home: Path):
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        assert client.get_item_count_from_metalake("image") == 0
        with lake_database(lake_home) as db:
            revoke_key(db, server.key)
        with pytest.raises(AuthenticationError, match="revoked"):
            client.get_item_count_from_metalake("image")


def test_errors_are_json_with_a_stable_code(server: Server):
    auth = (server.key, server.secret)
    answer = httpx.get(f"{server.url}/api/v1/files/details?unique_name=nope", auth=auth)
    assert answer.status_code == 404
    assert answer.json() == {
        "error": "item_not_found",
        "message": "no file with unique name or storage key 'nope'",
    }
    body = {"selection": {"content_type": "image"}, "page_size": "x"}
    answer = httpx.post(f"{server.url}/api/v1/items/list", json=body, auth=auth)
    assert answer.status_code == 400 and answer.json()["error"] == "invalid_argument"
    body = {"selection": {"content_type": "image", "query": "width >= wide"}}
    answer = httpx.post(f"{server.url}/api/v1/items/count", json=body, auth=auth)
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_query",
        "message": "query error at column 10: width is a number; expected a number, found 'wide'",
    }
    with (
        Client(server.url, server.key, server.secret, show_progress=False) as client,
        pytest.raises(ItemNotFoundError, match="storage key 'nope'"),
    ):
        client.get_file_details("nope")


def test_signed_urls_work_without_credentials_and_support_range(
    server: Server, served_image: str, images: Path
):
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        url = client.get_downloadable_url(served_image)
    original = (images / "img_001.jpg").read_bytes()
    assert httpx.get(url).content == original
    part = httpx.get(url, headers={"Range": "bytes=10-19"})
    assert part.status_code == 206 and part.content == original[10:20]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda u: u.replace("signature=", "signature=0"),
        lambda u: u.replace("img_001", "img_002"),
        lambda u: u.replace("expires=", "expires=9"),
        lambda u: u.split("?")[0],
    ],
    ids=["signature", "path", "expiry", "unsigned"],
)
def test_tampered_signed_urls_are_refused(server: Server, served_image: str, tamper):
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        url = client.get_downloadable_url(served_image)
    answer = httpx.get(tamper(url))
    assert answer.status_code == 403 and answer.json()["error"] == "bad_signature"


def test_signed_urls_expire(server: Server, served_image: str, lake_home: Path):
    auth = (server.key, server.secret)
    asked = time.time()
    answer = httpx.get(
        f"{server.url}/api/v1/files/url",
        params={"file_key": served_image, "expires_in": 1},
        auth=auth,
    )
    url = answer.json()["url"]
    expires = int(parse_qs(urlparse(url).query)["expires"][0])
    assert asked + 1 <= expires <= time.time() + 2
    assert httpx.get(url).status_code == 200
    # A one-second URL of the same file, signed with the lake's key 2.1 s ago: expired now.
    earlier = UrlSigner(load_secret(lake_home), clock=lambda: time.time() - 2.1)
    answer = httpx.get(server.url + earlier.sign("GET", urlparse(url).path, expires_in=1))
    assert answer.status_code == 403 and "expired" in answer.json()["message"]


def test_no_secret_or_signature_reaches_the_log(server: Server, served_image: str):
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        url = client.get_downloadable_url(served_image)
        httpx.get(url)
    deadline = time.monotonic() + 10  # the line is written just after the answer
    while "GET /blobs/col/img_001.jpg 200" not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    signature = url.split("signature=")[1]
    assert server.secret not in log and signature not in log


def test_keys_cli_creates_lists_and_revokes(lake_home: Path):
    created = metalake("keys", "create", "--name", "laptop", home=lake_home)
    assert created.returncode == 0, created.stderr
    key, secret = (line.split()[1] for line in created.stdout.splitlines()[:2])
    assert key.startswith("mlk_") and len(secret) >= 40
    listed = metalake("keys", "list", home=lake_home).stdout
    assert key in listed and "laptop" in listed and "active" in listed
    assert secret not in (lake_home / "lake.db").read_bytes().decode("latin-1")
    assert metalake("keys", "revoke", key, home=lake_home).returncode == 0
    assert "revoked" in metalake("keys", "list", home=lake_home).stdout
    again = metalake("keys", "revoke", key, home=lake_home)
    assert again.returncode == 2 and "no active API key" in again.stderr


def test_keys_are_checked_against_salted_hashes(lake_home: Path):
    with lake_database(lake_home) as db:
        one, two = create_key(db, "a"), create_key(db, "b")
        assert authenticate(db, one.key, one.secret) == one.key
        with pytest.raises(AuthenticationError):
            authenticate(db, one.key, two.secret)


def test_the_client_retries_until_the_server_answers(lake_home: Path):
    port = free_port()
    with lake_database(lake_home) as db:
        key = create_key(db, "early")
    answers: list[object] = []
    with Client(f"http://127.0.0.1:{port}", key.key, key.secret, show_progress=False) as client:
        caller = threading.Thread(
            target=lambda: answers.append(client.get_item_count_from_metalake("image"))
        )
        caller.start()
        time.sleep(0.5)  # the first attempts find nothing listening
        with serve(lake_home, port=port):
            caller.join(30)
    assert answers == [0]


def test_an_unreachable_server_is_reported_after_retries(lake_home: Path):
    url = f"http://127.0.0.1:{free_port()}"
    with (
        Client(url, "mlk_x", "y", show_progress=False) as client,
        pytest.raises(ServerUnavailableError, match="failed 6 times"),
    ):
        client.get_item_count_from_metalake("image")
