"""Browser sessions: opened with an API key and secret, or with a one-time login link.

A session acts as the API key it was opened with, and every check joins the key table, so
revoking the key ends its sessions on their next request, in every server process. Only hashes
of session tokens and link tokens are stored: a copy of the database opens no session.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from metalake.errors import AuthenticationError
from metalake.lake.clock import as_utc, utcnow
from metalake.lake.keys import create_key
from metalake.settings import env_number
from metalake.store.database import Database
from metalake.store.schema import api_keys, login_links, web_sessions

SESSION_HOURS_ENV = "METALAKE_SESSION_HOURS"
DEFAULT_SESSION_HOURS = 12
LINK_HOURS = 24
LINK_KEY_NAME = "login links (metalake serve)"
"""The API key sessions opened from a login link act as: revoke it to end all of them."""
ENDED = "your session has expired or was ended (logged out, or its API key revoked): log in again"


@dataclass(frozen=True)
class WebSession:
    """A session: the cookie's token (known only when opened), its API key and CSRF token."""

    token: str
    key: str
    csrf: str
    expires: datetime


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def session_hours() -> float:
    """How long a session lasts: `$METALAKE_SESSION_HOURS`, else 12."""
    return env_number(SESSION_HOURS_ENV, DEFAULT_SESSION_HOURS)


def open_session(db: Database, key: str) -> WebSession:
    """A new session acting as `key` (already authenticated); drops expired sessions."""
    now = utcnow()
    session = WebSession(
        secrets.token_urlsafe(32),
        key,
        secrets.token_urlsafe(32),
        now + timedelta(hours=session_hours()),
    )
    with db.write() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.expires < now))
        conn.execute(
            web_sessions.insert().values(
                token_hash=_hash(session.token),
                key=key,
                csrf=session.csrf,
                created=now,
                expires=session.expires,
            )
        )
    return session


def find_session(db: Database, token: str) -> WebSession:
    """The live session of `token`; AuthenticationError if it expired, ended or its key was
    revoked."""
    query = (
        sa.select(web_sessions.c.key, web_sessions.c.csrf, web_sessions.c.expires)
        .join(api_keys, api_keys.c.key == web_sessions.c.key)
        .where(web_sessions.c.token_hash == _hash(token), api_keys.c.revoked_at.is_(None))
    )
    with db.read() as conn:
        row = conn.execute(query).first()
    if row is None or as_utc(row.expires) <= utcnow():
        raise AuthenticationError(ENDED)
    return WebSession("", row.key, row.csrf, as_utc(row.expires))


def end_session(db: Database, token: str) -> None:
    with db.write() as conn:
        conn.execute(web_sessions.delete().where(web_sessions.c.token_hash == _hash(token)))


def create_login_link(db: Database) -> str:
    """The token of a new one-time login link, acting as the lake's login-link key (made on
    first use); valid for 24 hours."""
    with db.read() as conn:
        key = conn.execute(
            sa.select(api_keys.c.key).where(
                api_keys.c.name == LINK_KEY_NAME, api_keys.c.revoked_at.is_(None)
            )
        ).scalar()
    if key is None:
        key = create_key(db, LINK_KEY_NAME).key
    token = secrets.token_urlsafe(32)
    now = utcnow()
    with db.write() as conn:
        conn.execute(login_links.delete().where(login_links.c.expires < now))
        conn.execute(
            login_links.insert().values(
                token_hash=_hash(token), key=key, expires=now + timedelta(hours=LINK_HOURS)
            )
        )
    return token


def redeem_login_link(db: Database, token: str) -> str:
    """The API key of the login link `token`, which is used up; AuthenticationError if it was
    used already, expired, or its key was revoked."""
    with db.write() as conn:  # the DELETE decides: of two redeeming at once, one gets the row
        row = conn.execute(
            login_links.delete()
            .where(login_links.c.token_hash == _hash(token))
            .returning(login_links.c.key, login_links.c.expires)
        ).first()
        revoked = row is None or (
            conn.execute(
                sa.select(api_keys.c.key).where(
                    api_keys.c.key == row.key, api_keys.c.revoked_at.is_(None)
                )
            ).first()
            is None
        )
    if row is None or revoked or as_utc(row.expires) <= utcnow():
        raise AuthenticationError(
            "this login link was used already or has expired: restart `metalake serve` for a "
            "new one, or log in with an API key and secret"
        )
    return row.key
