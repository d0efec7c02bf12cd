"""Signed download URLs: whole-second expiries, never shorter than asked, and HEAD like GET."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from metalake import Client, InvalidArgumentError, SignatureError
from metalake.lake.lake import Lake
from metalake.lake.signing import UrlSigner
from tests.conftest import upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server, serve

IMAGE = "col_img_001.jpg"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path]]:
    """One server for the module, over a lake holding images/img_000.jpg .. img_002.jpg."""
    root = tmp_path_factory.mktemp("signed")
    images = make_folder(root / "images", 3)
    with serve(root / "lake") as server:
        with Client(server.url, server.key, server.secret, show_progress=False) as client:
            upload_and_wait(client, str(images), "image", "col")
        yield server, images


@pytest.fixture(scope="module")
def remote(served: tuple[Server, Path]) -> Iterator[Client]:
    server, _ = served
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        yield client


@pytest.fixture(scope="module")
def embedded(served: tuple[Server, Path]) -> Iterator[Client]:
    with Client(home=served[0].log.parent, show_progress=False) as client:
        yield client


BAD_EXPIRIES = [
    (0, "not 0"),
    (-1, "not -1"),
    (0.5, "not 0.5"),
    (1.5, "not 1.5"),
    (float("nan"), "not nan"),
    (float("inf"), "not inf"),
    (604801, "not 604801"),
    (1e300, "not 1e+300"),
]


@pytest.mark.parametrize("way", ["embedded", "remote"])
@pytest.mark.parametrize(("expires_in", "shown"), BAD_EXPIRIES)
def test_expiries_that_are_not_whole_seconds_in_range_are_refused(
    request: pytest.FixtureRequest, way: str, expires_in: float, shown: str
):
    client: Client = request.getfixturevalue(way)
    message = re.escape(f"expires_in must be a whole number of seconds from 1 to 604800, {shown}")
    with pytest.raises(InvalidArgumentError, match=message) as caught:
        client.get_downloadable_url(IMAGE, expires_in=expires_in)
    assert str(caught.value).endswith(shown)


@pytest.mark.parametrize(
    ("way", "expires_in", "shown"),
    [("embedded", True, "True"), ("remote", True, "'true'"), ("embedded", 10**5000, "a number")],
    ids=["embedded-bool", "remote-bool", "embedded-huge"],
)
def test_booleans_and_huge_numbers_are_refused(
    request: pytest.FixtureRequest, way: str, expires_in: int, shown: str
):
    client: Client = request.getfixturevalue(way)
    with pytest.raises(InvalidArgumentError, match=f"604800, not {shown}"):
        client.get_downloadable_url(IMAGE, expires_in=expires_in)


@pytest.mark.parametrize("text", ["0.5", "abc", "", "1e400", "true"])
def test_rest_expiry_text_is_refused_as_invalid_argument(served: tuple[Server, Path], text: str):
    server, _ = served
    answer = httpx.get(
        f"{server.url}/api/v1/files/url",
        params={"file_key": IMAGE, "expires_in": text},
        auth=(server.key, server.secret),
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "invalid_argument"
    assert "whole number of seconds from 1 to 604800" in answer.json()["message"]


def test_the_url_expiry_variable_follows_the_same_rule(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("METALAKE_URL_EXPIRY", "0.5")
    with pytest.raises(InvalidArgumentError, match="METALAKE_URL_EXPIRY must be a whole number"):
        Lake(tmp_path / "lake")


def test_a_one_second_url_works_for_at_least_one_second(remote: Client):
    asked = time.time()
    url = remote.get_downloadable_url(IMAGE, expires_in=1)
    expires = int(parse_qs(urlparse(url).query)["expires"][0])
    assert expires >= asked + 1
    time.sleep(max(0.0, asked + 0.9 - time.time()))
    assert httpx.get(url).status_code == 200


def test_head_on_a_signed_url_answers_the_headers_of_get(
    served: tuple[Server, Path], remote: Client
):
    _, images = served
    url = remote.get_downloadable_url(IMAGE)
    head, get = httpx.head(url), httpx.get(url)
    assert head.status_code == 200, head.text
    assert head.content == b""
    size = str((images / "img_001.jpg").stat().st_size)
    assert head.headers["content-length"] == get.headers["content-length"] == size
    assert head.headers["accept-ranges"] == "bytes"
    for name in ("etag", "last-modified", "content-type"):
        assert head.headers[name] == get.headers[name]
    bad = httpx.head(url.replace("signature=", "signature=0"))
    assert bad.status_code == 403 and bad.content == b""


def test_a_signed_url_expires_by_the_signers_clock():
    now = [1000.2]
    signer = UrlSigner(b"k" * 32, clock=lambda: now[0])
    url = signer.sign("GET", "/blobs/a.jpg", expires_in=1)
    query = parse_qs(urlparse(url).query)
    expires, signature = query["expires"][0], query["signature"][0]
    assert expires == "1002"  # rounded up: at least the second asked for
    for now[0] in (1001.2, 1002.0):
        signer.verify("GET", "/blobs/a.jpg", expires, signature)
    now[0] = 1002.01
    with pytest.raises(SignatureError, match="expired"):
        signer.verify("GET", "/blobs/a.jpg", expires, signature)
    with pytest.raises(SignatureError, match="does not match"):
        signer.verify("GET", "/blobs/b.jpg", expires, signature)
