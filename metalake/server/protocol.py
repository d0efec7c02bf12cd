"""The server's wire protocol beyond JSON bodies: route paths and header names that the
server serves and the remote client sends. Small and import-free, so the client shares it."""

from __future__ import annotations

UPLOAD_ROUTE = "/api/v1/uploads"
BLOB_ROUTE = "/blobs"
BUNDLE_FILES_HEADER = "x-metalake-files"
"""Header of a bundle: the numbers of the files in its body, comma-separated."""
CHECKSUM_HEADER = "x-amz-checksum-sha256"
"""Header of a part's (or bundle's) base64 SHA-256s for the server's own part routes; S3 URLs
get Content-MD5 instead."""

REQUEST_ID_HEADER = "Idempotency-Key"
"""One id per call that changes something, the same on each of its retries: the server answers
a retry with the first answer instead of applying the call again."""
MAX_REQUEST_ID_HEADER = 128
CHECKSUM_NAME = f"{CHECKSUM_HEADER} header"
"""How the lake's messages name the checksum a part came (or should have come) with."""


def part_path(session_id: str, seq: int | str, part: int | str) -> str:
    return f"{UPLOAD_ROUTE}/{session_id}/files/{seq}/parts/{part}"


def bundle_path(session_id: str, first: int | str, last: int | str) -> str:
    return f"{UPLOAD_ROUTE}/{session_id}/bundles/{first}-{last}"


def blob_path(key: str) -> str:
    return f"{BLOB_ROUTE}/{key}"


EXPORT_ROUTE = "/dataset/exports"
"""Signed downloads of a dataset version's generated files (LayerNext's `download_dataset`)."""


def export_path(version_id: str, slug: str, name: str) -> str:
    return f"{EXPORT_ROUTE}/{version_id}/{slug}/{name}"


SESSION_COOKIE = "metalake_session"
"""The web app's session cookie (HttpOnly, SameSite=Strict): the token of a web session."""
CSRF_COOKIE = "metalake_csrf"
"""The session's CSRF token, readable by the web app's scripts, which send it back in
CSRF_HEADER with every request that changes something."""
CSRF_HEADER = "x-csrf-token"
WEB_HEADER = "x-metalake-web"
"""Sent by the web app with each request: a 401 then carries no Basic challenge, which would
make the browser ask for a password in a dialog."""
