"""API keys: a public key id and a secret shown once; only a salted hash of the secret is kept.

Secrets are 256 random bits, so a salted SHA-256 is as strong as a slow password hash would be
and costs microseconds per request. Lookups go to the database every time, so a revoked key
stops working at once in every server process.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metalake.errors import ApiKeyNotFoundError, AuthenticationError, InvalidArgumentError
from metalake.ids import new_id
from metalake.lake.clock import iso, utcnow
from metalake.store.database import Database, sqlite_url
from metalake.store.schema import api_keys


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: the only time its secret is known."""

    name: str
    key: str
    secret: str


def keys_command(home: Path, database_url: str | None, action: str) -> str:
    """`metalake ... keys <action>` with the options that name this lake (a password in the
    database URL shown as ***), for hints that must work for whoever reads them."""
    words = ["metalake", "--home", str(home.resolve())]
    if database_url and database_url != sqlite_url(home / "lake.db"):
        words += ["--database-url", sa.engine.make_url(database_url).render_as_string()]
    return " ".join(shlex.quote(w) for w in words) + f" keys {action}"


def _hash(salt: str, secret: str) -> str:
    return hashlib.sha256(f"{salt}:{secret}".encode()).hexdigest()


def create_key(db: Database, name: str) -> NewApiKey:
    name = name.strip()
    if not name or len(name) > 255:
        raise InvalidArgumentError("an API key needs a name of 1 to 255 characters")
    key = "mlk_" + secrets.token_hex(12)
    secret = secrets.token_urlsafe(32)
    salt = secrets.token_hex(16)
    with db.write() as conn:
        conn.execute(
            api_keys.insert().values(
                id=new_id(),
                name=name,
                key=key,
                salt=salt,
                secret_hash=_hash(salt, secret),
                created=utcnow(),
            )
        )
    return NewApiKey(name, key, secret)


def list_keys(db: Database) -> list[dict[str, Any]]:
    """Every key with its name and dates; never a secret or its hash."""
    with db.read() as conn:
        rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.created)).mappings().all()
    return [
        {
            "key": r["key"],
            "name": r["name"],
            "created": iso(r["created"]),
            "revoked": iso(r["revoked_at"]),
        }
        for r in rows
    ]


def revoke_key(db: Database, key: str) -> None:
    with db.write() as conn:
        result = conn.execute(
            api_keys.update()
            .where(api_keys.c.key == key, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
    if result.rowcount != 1:
        raise ApiKeyNotFoundError(f"no active API key {key!r}; `metalake keys list` shows them")


_KEY_ROW = sa.select(api_keys.c.salt, api_keys.c.secret_hash, api_keys.c.revoked_at).where(
    api_keys.c.key == sa.bindparam("key_id")
)
"""Built once: a statement built per request costs more than running it (every request runs it)."""


def authenticate(db: Database, key: str, secret: str) -> str:
    """The key if `secret` is its secret and it is not revoked; else AuthenticationError."""
    with db.read() as conn:
        row = conn.execute(_KEY_ROW, {"key_id": key}).mappings().first()
    # Hash even for unknown keys so timing does not tell which keys exist.
    salt, expected = (row["salt"], row["secret_hash"]) if row else ("", "0" * 64)
    valid = hmac.compare_digest(_hash(salt, secret), expected)
    if row is None or not valid or row["revoked_at"] is not None:
        raise AuthenticationError("invalid or revoked API key or secret")
    return key
