"""The client's per-file upload routes, which check the key and do their work in one trip
through the thread pool, answer byte for byte what they answered declared the plain way (the
key, the lake and the route each a FastAPI dependency or plain function), on the same lake and
the same requests: good calls, every refusal of the key (none, malformed, wrong secret,
unknown, revoked at once), bad bodies, unknown uploads and files, wrong ETags and sizes.

So does the part route, which reads a session's later parts within the session's part size
before it looks up their own limit together with the part: bad signatures, expired URLs, wrong
sizes and checksums, bodies past their limit (declared or sent in chunks), completed sessions.

The plain declarations below are the routes as they were; the reference server puts them in
front of the app's own, so it answers with them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Header, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from metalake.errors import InvalidArgumentError
from metalake.lake.ingest import UploadFile, UploadRequest
from metalake.lake.keys import NewApiKey, create_key, revoke_key
from metalake.lake.lake import Lake
from metalake.lake.logins import PER_ADDRESS_ENV, PER_KEY_ENV
from metalake.lake.signing import UrlSigner
from metalake.lake.upload_sessions import SKIP
from metalake.server.app import create_app
from metalake.server.auth import KeyDep, LakeDep, get_lake
from metalake.server.bodies import capped_body
from metalake.server.layernext import uploads
from metalake.server.layernext.bodies import Body, ok, router
from metalake.server.links import SignedRoutes, check_signed
from metalake.server.protocol import CHECKSUM_HEADER, CHECKSUM_NAME, part_path
from tests.media_factory import make_image
from tests.servers import app_in_thread

HOST = "lake.test"
"""Sent as the Host of every request, so that both servers sign URLs of the same base."""
ROUTE = "/datalake/api/client/fileUpload"
reference = router()
signed_reference = APIRouter()
served_by_reference: list[str] = []


@reference.post("/client/fileUpload/initializeMultipartUpload")
def start_file(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    served_by_reference.append("initialize")
    upload_id = str(body.get("uploadId"))
    f = lake.uploads.file_by_name(upload_id, str(body.get("fileName")))
    return {
        "fileId": uploads._file_id(upload_id, f["seq"]),
        "fileKey": f["file_name"],
        "isExisting": f["state"] == SKIP,
    }


@reference.post("/client/fileUpload/getMultipartPreSignedUrls")
def part_urls(body: Body, request: Request, lake: LakeDep, _key: KeyDep) -> dict:
    served_by_reference.append("presign")
    upload_id, seq = uploads._session_file(body.get("fileId"))
    urls = lake.uploads.part_urls(upload_id, seq, body.get("parts"), SignedRoutes.of(request))
    return {"parts": [{"PartNumber": n, "signedUrl": url} for n, url in enumerate(urls, start=1)]}


@reference.post("/client/fileUpload/finalizeMultipartUpload")
def finish_file(body: Body, lake: LakeDep, _key: KeyDep) -> dict:
    served_by_reference.append("finalize")
    upload_id, seq = uploads._session_file(body.get("fileId"))
    try:
        etags = {int(p["PartNumber"]): str(p["ETag"]) for p in body.get("parts") or []}
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidArgumentError(f"parts must be [{{PartNumber, ETag}}]: {exc!r}") from exc
    return ok(**lake.uploads.finish_parts(upload_id, seq, etags))


@signed_reference.put(part_path("{session_id}", "{seq}", "{part}"))
async def put_part(
    session_id: str,
    seq: int,
    part: int,
    request: Request,
    expires: str | None = None,
    signature: str | None = None,
    checksum: Annotated[str | None, Header(alias=CHECKSUM_HEADER)] = None,
) -> JSONResponse:
    served_by_reference.append("part")
    lake: Lake = get_lake(request)
    check_signed(lake.signer, "PUT", part_path(session_id, seq, part), expires, signature)
    limit = await run_in_threadpool(lake.uploads.part_limit, session_id, seq, part)
    async with capped_body(request, limit, f"part {part} of file {seq}") as body:
        result = await run_in_threadpool(
            lake.uploads.receive_part, session_id, seq, part, body, checksum, CHECKSUM_NAME
        )
    return JSONResponse(result, headers={"ETag": f'"{result["etag"]}"'})


@dataclass
class Servers:
    lake: Lake
    key: NewApiKey
    old: httpx.Client
    new: httpx.Client

    def both(self, method: str, path: str, **kwargs: Any) -> tuple[httpx.Response, ...]:
        """The same request to the reference server, then to the app."""
        return tuple(c.request(method, path, **kwargs) for c in (self.old, self.new))

    def same(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Ask both and check that they answer alike; the app's answer."""
        old, new = self.both(method, path, **kwargs)
        assert_same(old, new)
        return new


def assert_same(
    old: httpx.Response, new: httpx.Response, swap: dict[str, str] | None = None
) -> None:
    body = old.content
    for old_text, new_text in (swap or {}).items():
        body = body.replace(old_text.encode(), new_text.encode())
    assert (new.status_code, new.content) == (old.status_code, body)
    headers = ("content-type", "content-length", "www-authenticate", "etag")
    assert {h: new.headers.get(h) for h in headers} == {h: old.headers.get(h) for h in headers}


@pytest.fixture
def servers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Servers]:
    monkeypatch.setenv(PER_ADDRESS_ENV, "100000")
    monkeypatch.setenv(PER_KEY_ENV, "100000")
    lake = Lake(tmp_path / "lake")
    lake.signer = UrlSigner(b"a fixed secret", clock=lambda: 1_900_000_000.0)
    key = create_key(lake.db, "test")
    old_app = create_app(lake)
    for routes in (reference, signed_reference):
        old_app.include_router(routes)
        old_app.router.routes.insert(0, old_app.router.routes.pop())
    with app_in_thread(old_app) as old_url, app_in_thread(create_app(lake)) as new_url:
        options: dict[str, Any] = {"auth": (key.key, key.secret), "headers": {"host": HOST}}
        with (
            httpx.Client(base_url=old_url, **options) as old,
            httpx.Client(base_url=new_url, **options) as new,
        ):
            yield Servers(lake, key, old, new)
    lake.close()


def open_upload(servers: Servers, names: list[str], collection: str = "fast") -> str:
    answer = servers.new.post(
        "/datalake/api/client/uploadMetadataInCollection",
        json={"collectionType": 5, "collectionName": collection, "objectKeyList": names},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()["uploadId"]


def basic(text: bytes) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(text).decode()}


def test_every_refusal_of_the_key_is_the_same(servers: Servers) -> None:
    served_by_reference.clear()
    upload_id = open_upload(servers, ["a.jpg"])
    body = {"uploadId": upload_id, "fileName": "a.jpg", "fileId": f"{upload_id}:0", "parts": 1}
    other = create_key(servers.lake.db, "revoked soon")
    for path in ("initializeMultipartUpload", "getMultipartPreSignedUrls"):
        url = f"{ROUTE}/{path}"
        servers.same("POST", url, json=body)
        servers.same("POST", url, json=body, auth=None)
        servers.same("POST", url, json=body, auth=(servers.key.key, "wrong secret"))
        servers.same("POST", url, json=body, auth=("mlk_" + "0" * 24, servers.key.secret))
        servers.same("POST", url, json=body, auth=None, headers={"host": HOST, **basic(b"x")})
        servers.same(
            "POST", url, json=body, auth=None, headers={"host": HOST, "authorization": "Basic %%%"}
        )
        servers.same(
            "POST", url, json=body, auth=None, headers={"host": HOST, "authorization": "Bearer x"}
        )
        servers.same("POST", url, json=body, auth=(other.key, other.secret))
    revoke_key(servers.lake.db, other.key)
    for path in (
        "initializeMultipartUpload",
        "getMultipartPreSignedUrls",
        "finalizeMultipartUpload",
    ):
        old, new = servers.both(
            "POST", f"{ROUTE}/{path}", json=body, auth=(other.key, other.secret)
        )
        assert new.status_code == 401
        assert_same(old, new)
    assert served_by_reference.count("initialize") == served_by_reference.count("presign") == 2


def test_initialize_and_presign_answer_the_same(servers: Servers) -> None:
    served_by_reference.clear()
    names = ["a.jpg", "b.jpg", "c d.jpg"]
    upload_id = open_upload(servers, names)
    init = f"{ROUTE}/initializeMultipartUpload"
    presign = f"{ROUTE}/getMultipartPreSignedUrls"
    for name in [*names, "missing.jpg", ""]:
        servers.same("POST", init, json={"uploadId": upload_id, "fileName": name})
    servers.same("POST", init, json={"uploadId": "no-such-upload", "fileName": "a.jpg"})
    servers.same("POST", init, json={})
    servers.same("POST", init, content=b"not json", headers={"host": HOST})
    servers.same("POST", init, content=b"[1, 2]", headers={"host": HOST})
    servers.same("POST", init, content=b"", headers={"host": HOST})
    servers.same("POST", init, content=b"not json", auth=None, headers={"host": HOST})
    for parts in (1, 3, 0, -1, "1", None, 10_001, True):
        answer = servers.same("POST", presign, json={"fileId": f"{upload_id}:1", "parts": parts})
    assert answer.status_code == 406
    good = servers.same("POST", presign, json={"fileId": f"{upload_id}:2", "parts": 2})
    assert [p["PartNumber"] for p in good.json()["parts"]] == [1, 2]
    for file_id in (f"{upload_id}:9", f"{upload_id}:x", "nocolon", None, 7, f"other:{0}"):
        servers.same("POST", presign, json={"fileId": file_id, "parts": 1})
    assert served_by_reference.count("initialize") == 8
    assert served_by_reference.count("presign") == 15


def test_an_existing_file_is_skipped_alike(servers: Servers, tmp_path: Path) -> None:
    make_image(tmp_path / "kept.jpg", (32, 24))
    first = open_upload(servers, ["kept.jpg"], "existing")
    url = servers.new.post(
        f"{ROUTE}/getMultipartPreSignedUrls", json={"fileId": f"{first}:0", "parts": 1}
    ).json()["parts"][0]["signedUrl"]
    etag = httpx.put(
        url.replace(HOST, servers.new.base_url.netloc.decode()),
        content=(tmp_path / "kept.jpg").read_bytes(),
    )
    servers.new.post(
        f"{ROUTE}/finalizeMultipartUpload",
        json={"fileId": f"{first}:0", "parts": [{"PartNumber": 1, "ETag": etag.headers["ETag"]}]},
    )
    job = servers.lake.wait_for_job(servers.lake.complete_upload(first)["job_id"], 60)
    assert job["status"] == "completed"
    again = open_upload(servers, ["kept.jpg", "new.jpg"], "existing")
    for name in ("kept.jpg", "new.jpg"):
        answer = servers.same(
            "POST", f"{ROUTE}/initializeMultipartUpload", json={"uploadId": again, "fileName": name}
        )
        assert answer.json()["isExisting"] is (name == "kept.jpg")


def test_finalize_answers_the_same_on_twin_uploads(servers: Servers) -> None:
    """The same steps on two uploads of the same files, one through each server."""
    served_by_reference.clear()
    names = [f"f{i}.jpg" for i in range(7)]
    twins = {c: open_upload(servers, names, "twins") for c in ("old", "new")}
    swap = {twins["old"]: twins["new"]}

    def part(client: str, seq: int, n: int, data: bytes, parts: int = 1) -> str:
        """PUT part `n` of file `seq` of the twin's upload: its ETag."""
        c = servers.new
        url = c.post(
            f"{ROUTE}/getMultipartPreSignedUrls",
            json={"fileId": f"{twins[client]}:{seq}", "parts": parts},
        ).json()["parts"][n - 1]["signedUrl"]
        answer = httpx.put(url.replace(HOST, c.base_url.netloc.decode()), content=data)
        assert answer.status_code == 200, answer.text
        return answer.headers["ETag"]

    def finalize(seq: int | str, parts: Any, **kwargs: Any) -> httpx.Response:
        answers = []
        for name, c in (("old", servers.old), ("new", servers.new)):
            body = {"fileId": f"{twins[name]}:{seq}", "uploadId": twins[name], "parts": parts}
            if callable(parts):
                body["parts"] = parts(name)
            answers.append(c.post(f"{ROUTE}/finalizeMultipartUpload", json=body, **kwargs))
        assert_same(answers[0], answers[1], swap)
        return answers[1]

    etags = {c: part(c, 0, 1, b"zero" * 100) for c in twins}
    finalize(0, lambda c: [{"PartNumber": 1, "ETag": '"' + "0" * 64 + '"'}])  # wrong ETag
    finalize(0, [])
    finalize(0, None)
    finalize(0, [{"PartNumber": 2, "ETag": "x"}])
    finalize(0, [{"PartNumber": "one", "ETag": "x"}])
    finalize(0, [{"ETag": "x"}])
    finalize(0, [{"PartNumber": 1}])
    finalize(0, ["x"])
    finalize(0, lambda c: [{"PartNumber": 1, "ETag": etags[c]}], auth=None)
    finalize(0, lambda c: [{"PartNumber": 1, "ETag": etags[c]}], auth=(servers.key.key, "no"))
    good = finalize(0, lambda c: [{"PartNumber": 1, "ETag": etags[c]}])
    assert good.json() == {"isSuccess": True, "state": "received", "size": 400}
    finalize(0, lambda c: [{"PartNumber": 1, "ETag": etags[c]}])  # again: already received
    finalize(1, [{"PartNumber": 1, "ETag": "x"}])  # nothing sent
    finalize(99, [{"PartNumber": 1, "ETag": "x"}])
    finalize("x", [{"PartNumber": 1, "ETag": "x"}])
    # Two parts, the first one short: every part but the last must be whole.
    short = {c: [part(c, 2, 1, b"a" * 10, 2), part(c, 2, 2, b"b" * 10, 2)] for c in twins}
    finalize(2, lambda c: [{"PartNumber": n, "ETag": e} for n, e in enumerate(short[c], 1)])
    for c in twins:
        servers.lake.complete_upload(twins[c], drop_unsent=True)
    finalize(0, lambda c: [{"PartNumber": 1, "ETag": etags[c]}])  # the upload is complete
    assert served_by_reference.count("finalize") == 15


def test_parts_answer_the_same_on_twin_sessions(servers: Servers) -> None:
    """Sized sessions of small parts (so that bodies past a limit are cheap to send), opened
    twice; each step is sent to the reference server for one, to the app for the other."""
    served_by_reference.clear()
    part_size = 64 << 10
    sizes = [part_size + 100, 10, 5, 7]
    files = [UploadFile(f"p{i}.bin", "", size=size) for i, size in enumerate(sizes)]
    request = UploadRequest(collection_name="parts", content_type="other", files=files)
    links = SignedRoutes(servers.lake.signer, f"http://{HOST}")
    twins = {
        c: servers.lake.uploads.open(request, f"twin {c}", None, part_size, links)
        for c in ("old", "new")
    }
    swap = {twins["old"]["session_id"]: twins["new"]["session_id"]}
    clients = {"old": servers.old, "new": servers.new}
    expired = UrlSigner(b"a fixed secret", clock=lambda: 1_900_000_000.0 - 86_400)

    def put(seq: int, n: int, data: Any, url: Any = None, **headers: str) -> httpx.Response:
        answers = []
        for c, client in clients.items():
            sid = twins[c]["session_id"]
            path = url(sid) if url else servers.lake.signer.sign("PUT", part_path(sid, seq, n))
            answers.append(
                client.put(path, content=data() if callable(data) else data, headers=headers)
            )
        assert_same(answers[0], answers[1], swap)
        return answers[1]

    def sha(data: bytes) -> str:
        return base64.b64encode(hashlib.sha256(data).digest()).decode()

    whole, rest = b"w" * part_size, b"r" * 100
    first = put(0, 1, whole, **{CHECKSUM_HEADER: sha(whole)})  # the app learns the bound
    assert first.status_code == 200, first.text
    put(0, 2, rest, url=lambda sid: part_path(sid, 0, 2))  # not signed
    put(0, 2, rest, url=lambda sid: servers.lake.signer.sign("PUT", part_path(sid, 0, 1)))
    put(0, 2, rest, url=lambda sid: expired.sign("PUT", part_path(sid, 0, 2), 60))
    put(0, 2, rest)  # no checksum
    put(0, 2, rest, **{CHECKSUM_HEADER: "not base64!"})
    put(0, 2, rest, **{CHECKSUM_HEADER: sha(b"other bytes")})
    put(0, 2, rest[:-1], **{CHECKSUM_HEADER: sha(rest[:-1])})  # one byte short
    put(0, 2, rest + b"x", **{CHECKSUM_HEADER: sha(rest + b"x")})  # past its limit
    put(0, 2, b"x" * (part_size + 1))  # past the session's part size
    put(0, 2, lambda: iter([rest, b"x"]), **{CHECKSUM_HEADER: sha(rest + b"x")})  # chunks
    put(0, 2, lambda: iter([whole, b"x"]))  # chunks past the session's part size
    put(0, 3, rest, **{CHECKSUM_HEADER: sha(rest)})  # no such part
    put(0, 0, rest, **{CHECKSUM_HEADER: sha(rest)})
    put(9, 1, rest, **{CHECKSUM_HEADER: sha(rest)})  # no such file
    assert put(0, 2, rest, **{CHECKSUM_HEADER: sha(rest)}).status_code == 200
    assert put(1, 1, b"0123456789", **{CHECKSUM_HEADER: sha(b"0123456789")}).json() == {
        "etag": hashlib.sha256(b"0123456789").hexdigest(),
        "state": "received",
    }
    put(1, 1, b"0123456789", **{CHECKSUM_HEADER: sha(b"0123456789")})  # again: received
    put(2, 1, b"", **{CHECKSUM_HEADER: sha(b"")})
    for c in twins:
        servers.lake.uploads.complete(twins[c]["session_id"], drop_unsent=True)
    put(3, 1, b"1234567", **{CHECKSUM_HEADER: sha(b"1234567")})  # the session is complete
    put(3, 1, b"x" * (part_size + 1))
    other = twins["new"]["session_id"][::-1]
    put(0, 1, rest, url=lambda sid: servers.lake.signer.sign("PUT", part_path(other, 0, 1)))
    assert served_by_reference.count("part") == 22
