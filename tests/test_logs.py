"""Logs never carry what lets someone else act: signed URLs' signatures, or SQL with its values."""

from __future__ import annotations

import contextlib
import logging
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from metalake import Client
from metalake.client.wire import redact_signed_urls
from tests.conftest import blob_files, upload_and_wait
from tests.media_factory import make_folder
from tests.servers import Server, serve

UNREDACTED = re.compile(
    r"(signature|X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token)=(?!REDACTED)",
    re.IGNORECASE,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "PUT http://h/api/v1/uploads/s/files/0/parts/1?expires=9&signature=ab12 200",
            "PUT http://h/api/v1/uploads/s/files/0/parts/1?expires=9&signature=REDACTED 200",
        ),
        (
            "GET https://s3/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F2024"
            "&X-Amz-Date=1&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=f00d",
            "GET https://s3/b/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=REDACTED"
            "&X-Amz-Date=1&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=REDACTED",
        ),
        ("url 'https://s3/k?x-amz-security-token=T0K'", "url 'https://s3/k?x-amz-security-token=REDACTED'"),
        ("a signature=abc outside a URL", "a signature=abc outside a URL"),
    ],
)  # fmt: skip
def test_secret_query_parameters_are_redacted(text: str, expected: str):
    assert redact_signed_urls(text) == expected


@pytest.mark.parametrize("storage", ["local", "s3"])
def test_a_remote_upload_logged_at_info_shows_no_signature(
    storage: str, request: pytest.FixtureRequest, tmp_path: Path, lake_home: Path,
    caplog: pytest.LogCaptureFixture,
):  # fmt: skip
    s3_storage, env = None, None
    if storage == "s3":
        s3_storage = request.getfixturevalue("s3_storage")
        env = request.getfixturevalue("s3").env
    images = make_folder(tmp_path / "images", 3)
    with (
        serve(lake_home, storage=s3_storage, env=env)
        if storage == "s3"
        else contextlib.nullcontext(request.getfixturevalue("fresh_server"))
    ) as server:
        caplog.set_level(logging.INFO)
        with Client(server.url, server.key, server.secret, show_progress=False) as client:
            result = upload_and_wait(client, str(images), "image", "c")
            url = client.get_downloadable_url("c_img_000.jpg")
            assert httpx.get(url).status_code == 200
            out = tmp_path / "out"
            client.download_collection(result["collection_id"], custom_download_path=str(out))
    logged = "\n".join(r.getMessage() for r in caplog.records)
    secret = "X-Amz-Signature=" if storage == "s3" else "signature="
    assert f"{secret}REDACTED" in logged, "the signed URLs were not logged"
    assert not UNREDACTED.search(logged), logged
    assert url.rpartition(secret)[2] not in logged
    assert len(list((out / "c" / "data").iterdir())) == 3


def test_a_failed_download_reports_no_signature(
    tmp_path: Path, fresh_server: Server, lake_home: Path, caplog: pytest.LogCaptureFixture
):
    images = make_folder(tmp_path / "images", 2)
    server = fresh_server
    with Client(server.url, server.key, server.secret, show_progress=False) as client:
        result = upload_and_wait(client, str(images), "image", "c")
        for blob in blob_files(lake_home):
            blob.unlink()
        caplog.set_level(logging.INFO)
        out = tmp_path / "out"
        answer = client.download_collection(result["collection_id"], custom_download_path=str(out))
    assert answer["is_success"] is False
    text = f"{answer}\n" + "\n".join(r.getMessage() for r in caplog.records)
    assert "HTTPStatusError" in str(answer) and "signature=REDACTED" in str(answer)
    assert not UNREDACTED.search(text), text


def test_verbose_cli_logs_no_sql(tmp_path: Path, lake_home: Path):
    images = make_folder(tmp_path / "images", 2)
    done = subprocess.run(
        [sys.executable, "-m", "metalake", "--home", str(lake_home), "-v", "upload", str(images),
         "--collection", "c", "--meta", "Camera=CAM_SECRET_0001"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "INFO" in done.stderr
    output = done.stdout + done.stderr
    assert "sqlalchemy" not in output
    assert not re.search(r"\b(SELECT|INSERT|UPDATE)\b", output), output
    assert "CAM_SECRET_0001" not in output
