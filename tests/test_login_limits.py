"""Failed logins are limited per client address and per key id from it, with 429 and Retry-After;
nobody is locked out from another address, and the access log names key ids, never secrets."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from metalake import AuthenticationError, Client, InvalidArgumentError, TooManyRequestsError
from metalake.lake.keys import create_key
from metalake.lake.lake import Lake, lake_database
from tests.servers import Server, serve

WINDOW_S = 3
LIMITS = {
    "METALAKE_AUTH_FAILURES_PER_ADDRESS": "20",
    "METALAKE_AUTH_FAILURES_PER_KEY": "10",
    "METALAKE_AUTH_FAILURE_WINDOW": str(WINDOW_S),
}
COUNT = "/api/v1/items/count"
BODY = {"selection": {"content_type": "image"}}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the module; each test calls it from its own loopback address."""
    with serve(tmp_path_factory.mktemp("logins") / "lake", env=LIMITS) as running:
        yield running


def from_address(address: str) -> httpx.Client:
    """An HTTP client whose requests come from `address` (any of 127.0.0.0/8 reaches us)."""
    return httpx.Client(transport=httpx.HTTPTransport(local_address=address))


def count(http: httpx.Client, server: Server, key: str, secret: str) -> httpx.Response:
    return http.post(f"{server.url}{COUNT}", json=BODY, auth=(key, secret))


def another_key(server: Server) -> tuple[str, str]:
    with lake_database(server.log.parent) as db:
        made = create_key(db, "another")
    return made.key, made.secret


def test_25_wrong_secrets_answer_429_with_retry_after(server: Server):
    other_key, other_secret = another_key(server)
    with from_address("127.0.0.1") as http:
        answers = [count(http, server, server.key, f"wrong-{n}") for n in range(25)]
        assert [a.status_code for a in answers] == [401] * 10 + [429] * 15
        refused = answers[-1]
        assert 1 <= int(refused.headers["retry-after"]) <= WINDOW_S
        assert refused.json()["error"] == "too_many_requests"
        assert "too many failed logins from 127.0.0.1" in refused.json()["message"]
        # Past the limit the secret is not even checked: the right one is refused too ...
        assert count(http, server, server.key, server.secret).status_code == 429
        # ... but another key from the same address still works,
        assert count(http, server, other_key, other_secret).status_code == 200
    # and the same key from any other address.
    with from_address("127.0.0.2") as http:
        assert count(http, server, server.key, server.secret).status_code == 200


def test_the_address_limit_counts_every_key_id_and_expires(server: Server):
    with from_address("127.0.0.3") as http:
        for _ in range(20):
            unknown = "mlk_" + uuid.uuid4().hex[:24]
            assert count(http, server, unknown, "guess").status_code == 401
        refused = count(http, server, server.key, server.secret)
        assert refused.status_code == 429
        with from_address("127.0.0.4") as elsewhere:
            assert count(elsewhere, server, server.key, server.secret).status_code == 200
        time.sleep(int(refused.headers["retry-after"]))
        assert count(http, server, server.key, server.secret).status_code == 200


def test_layernext_routes_answer_429_in_their_own_error_shape(server: Server):
    url = f"{server.url}/datalake/api/client/sdk/compatibility/2.3.4"
    with from_address("127.0.0.5") as http:
        statuses = [http.get(url, auth=(server.key, "wrong")).status_code for _ in range(11)]
        assert statuses == [401] * 10 + [429]
        answer = http.get(url, auth=(server.key, "wrong"))
    assert answer.status_code == 429 and int(answer.headers["retry-after"]) >= 1
    error = answer.json()["error"]
    assert error["statusCode"] == 429 and error["code"] == "too_many_requests"
    assert error["name"] == "TooManyRequestsError"


def test_the_remote_client_raises_too_many_requests_without_retrying(server: Server):
    key, _ = another_key(server)
    with Client(server.url, key, "wrong-secret", show_progress=False) as client:
        for _ in range(10):
            with pytest.raises(AuthenticationError):
                client.get_item_count_from_metalake("image")
        with pytest.raises(TooManyRequestsError, match="too many failed logins") as caught:
            client.get_item_count_from_metalake("image")
    assert caught.value.retry_after is not None and 1 <= caught.value.retry_after <= WINDOW_S
    deadline = time.monotonic() + 10  # the line is written just after the answer
    while f"POST {COUNT} 429" not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    assert log.count(f"key {key}") == 11  # one request per call: no retry loop


def test_the_access_log_names_the_key_id_and_address_never_the_secret(server: Server):
    pasted = "mlk_" + "0" * 24
    with from_address("127.0.0.6") as http:
        assert count(http, server, server.key, server.secret).status_code == 200
        assert count(http, server, server.key, "wrong-secret-in-log").status_code == 401
        # A secret pasted as the key id is not a key id: it is not logged either.
        assert count(http, server, server.secret, pasted).status_code == 401
        assert http.get(f"{server.url}/api/v1/x%0AINFO forged").status_code == 404
    expected = f"POST {COUNT} 401"
    deadline = time.monotonic() + 10
    while "forged" not in (log := server.log.read_text()):
        assert time.monotonic() < deadline, log
        time.sleep(0.05)
    lines = [line for line in log.splitlines() if "from 127.0.0.6" in line]
    assert any(f"{COUNT} 200" in line and f"key {server.key}" in line for line in lines), lines
    assert any(expected in line and f"key {server.key}" in line for line in lines), lines
    assert any(expected in line and line.endswith("key ?") for line in lines), lines
    assert server.secret not in log and "wrong-secret-in-log" not in log and pasted not in log
    assert "\nINFO forged" not in log


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("METALAKE_AUTH_FAILURES_PER_ADDRESS", "0"),
        ("METALAKE_AUTH_FAILURES_PER_KEY", "2.5"),
        ("METALAKE_AUTH_FAILURE_WINDOW", "soon"),
        ("METALAKE_AUTH_FAILURE_WINDOW", "inf"),
    ],
)
def test_bad_limit_settings_are_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
):
    monkeypatch.setenv(name, value)
    with pytest.raises(InvalidArgumentError, match=f"{name} must be a"):
        Lake(tmp_path / "lake")
