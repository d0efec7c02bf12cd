"""The server's `Links`: URLs of its own signed routes, absolute with the URL the client used,
and the checks of the signatures they carry when they come back."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from metalake.lake.signing import UrlSigner
from metalake.server.protocol import blob_path, bundle_path, export_path, part_path


class SignedRoutes:
    """Signed URLs of this server's blob, part and export routes, for one request's base URL."""

    def __init__(self, signer: UrlSigner, base_url: str) -> None:
        self._signer = signer
        self._base = base_url.rstrip("/")

    @classmethod
    def of(cls, request: Request) -> SignedRoutes:
        return cls(request.app.state.lake.signer, str(request.base_url))

    def download(self, key: str, expires_in: float) -> str:
        return self._base + self._signer.sign("GET", blob_path(key), expires_in)

    def export(self, version_id: str, slug: str, name: str, expires_in: float) -> str:
        """A generated file (or folder zip) of a dataset export: made by this server whatever
        the storage, so never a presigned store URL."""
        path = export_path(version_id, slug, name)
        return self._base + self._signer.sign("GET", path, expires_in)

    def part(self, session_id: str, seq: int, part: int, expires_in: float) -> str:
        return self._base + self._signer.sign("PUT", part_path(session_id, seq, part), expires_in)

    def bundle(self, session_id: str, first: int, last: int, expires_in: float) -> str:
        path = bundle_path(session_id, first, last)
        return self._base + self._signer.sign("PUT", path, expires_in)


def check_signed(
    signer: UrlSigner, method: str, path: str, expires: str | None, signature: str | None
) -> None:
    """Raise `SignatureError` unless the URL of `method path` was signed here and is current."""
    signer.verify(method, path, expires, signature)


async def request_links(request: Request) -> SignedRoutes:
    """`SignedRoutes.of` as a dependency solved on the event loop (no thread-pool trip)."""
    return SignedRoutes.of(request)


LinksDep = Annotated[SignedRoutes, Depends(request_links)]
"""The links of the request's server, for routes that hand out URLs."""
