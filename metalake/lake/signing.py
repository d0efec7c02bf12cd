"""Signed URLs: HMAC-SHA256 over the method, path and expiry, with a secret kept by the lake.

A signed URL grants one method on one path until it expires, to anyone who has it; nothing else
is needed to use it, and changing any part of it (path, expiry, signature) makes it fail.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import time
from pathlib import Path
from urllib.parse import quote

from metalake.errors import SignatureError

SECRET_ENV = "METALAKE_SIGNING_SECRET"
SECRET_FILE = "signing.key"
DEFAULT_EXPIRY_S = 3600


def load_secret(home: Path) -> bytes:
    """`$METALAKE_SIGNING_SECRET`, else the lake's own secret file (created on first use)."""
    if env := os.environ.get(SECRET_ENV):
        return env.encode()
    path = home / SECRET_FILE
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
    return path.read_text().strip().encode()


class UrlSigner:
    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def _signature(self, method: str, path: str, expires: int) -> str:
        message = f"{method}\n{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, expires_in: float = DEFAULT_EXPIRY_S) -> str:
        """`path` with `expires` and `signature` query parameters added."""
        expires = int(time.time() + expires_in)
        signature = self._signature(method, path, expires)
        return f"{quote(path)}?expires={expires}&signature={signature}"

    def verify(self, method: str, path: str, expires: str | None, signature: str | None) -> None:
        """Raise SignatureError unless the signature matches and has not expired."""
        if not expires or not signature or not expires.isdigit():
            raise SignatureError("this URL is not signed; ask for a new one")
        expected = self._signature(method, path, int(expires))
        if not hmac.compare_digest(expected, signature):
            raise SignatureError("the URL's signature does not match; ask for a new one")
        if int(expires) < time.time():
            raise SignatureError("the signed URL has expired; ask for a new one")
