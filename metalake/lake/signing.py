"""Signed URLs: HMAC-SHA256 over the method, path and expiry, with a secret kept by the lake.

A signed URL grants one method on one path until it expires, to anyone who has it; nothing else
is needed to use it, and changing any part of it (path, expiry, signature) makes it fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import math
import os
import secrets
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

from metalake.errors import InvalidArgumentError, SignatureError

SECRET_ENV = "METALAKE_SIGNING_SECRET"
SECRET_FILE = "signing.key"
DEFAULT_EXPIRY_S = 3600
MAX_EXPIRY_S = 7 * 24 * 3600  # S3 refuses presigned URLs that live longer


def expiry_seconds(value: object, name: str = "expires_in") -> int:
    """`value` as a whole number of seconds from 1 to MAX_EXPIRY_S; InvalidArgumentError for
    anything else (a bool, a fraction, nan, inf, a string), so no URL lives shorter than asked."""
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and 1 <= value <= MAX_EXPIRY_S  # before int(): nan and inf are outside
        and value == int(value)
    ):
        return int(value)
    huge = isinstance(value, int) and abs(value) > MAX_EXPIRY_S * 1000  # repr() may refuse it
    shown = "a number that large" if huge else repr(value)
    raise InvalidArgumentError(
        f"{name} must be a whole number of seconds from 1 to {MAX_EXPIRY_S}, not {shown}"
    )


def expiry_from_text(text: str, name: str) -> int:
    """`expiry_seconds` of a number written as text (a query parameter, a variable)."""
    value: object = text
    for number in (int, float):
        with contextlib.suppress(ValueError):
            value = number(text)
            break
    return expiry_seconds(value, name)


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
    """Signs and checks URLs with one secret; `clock` (seconds since the epoch) tells the time
    that expiries count from and are checked against."""

    def __init__(self, secret: bytes, clock: Callable[[], float] = time.time) -> None:
        self._secret = secret
        self._clock = clock

    def _signature(self, method: str, path: str, expires: int) -> str:
        message = f"{method}\n{path}\n{expires}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()

    def sign(self, method: str, path: str, expires_in: float = DEFAULT_EXPIRY_S) -> str:
        """`path` with `expires` and `signature` query parameters added; the expiry is rounded up
        to a whole second, so the URL works for at least `expires_in` seconds."""
        expires = math.ceil(self._clock() + expires_in)
        signature = self._signature(method, path, expires)
        return f"{quote(path)}?expires={expires}&signature={signature}"

    def verify(self, method: str, path: str, expires: str | None, signature: str | None) -> None:
        """Raise SignatureError unless the signature matches and has not expired."""
        if not expires or not signature or not expires.isdigit():
            raise SignatureError("this URL is not signed; ask for a new one")
        expected = self._signature(method, path, int(expires))
        if not hmac.compare_digest(expected, signature):
            raise SignatureError("the URL's signature does not match; ask for a new one")
        if int(expires) < self._clock():
            raise SignatureError("the signed URL has expired; ask for a new one")
