"""Request ids: the answer a call that changes something gave, kept for a while, so that a call
retried with the same id is answered again instead of being applied twice.

A remote client sends one id per call and the same id with every retry of it. The answer is
written in the same transaction as the call's effect: a crash loses both (the retry applies the
call) or keeps both (the retry gets the first answer); there is no instant between the two.
An id is kept `keep_for` (default 24 h, `METALAKE_REQUEST_ID_HOURS`); older ones are deleted by
the keyed calls that follow.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from metalake.errors import InvalidArgumentError
from metalake.lake.clock import utcnow
from metalake.settings import env_number
from metalake.store.database import Database
from metalake.store.schema import request_results

MAX_REQUEST_ID = 200
KEEP_FOR_ENV = "METALAKE_REQUEST_ID_HOURS"
DEFAULT_KEEP_FOR_HOURS = 24.0

Answer = dict[str, Any]
Keep = Callable[[Connection, Answer], None]
"""Writes a call's answer in the transaction that commits the call's last effect."""


@dataclass(frozen=True)
class KeyedCall:
    """One call under a request id: what it does, and a hash of its arguments."""

    request_id: str
    operation: str
    fingerprint: str


def keyed_call(request_id: str, operation: str, arguments: Any) -> KeyedCall:
    """The call `operation(arguments)` under `request_id` (printable ASCII, at most 200)."""
    if (
        not isinstance(request_id, str)
        or not 0 < len(request_id) <= MAX_REQUEST_ID
        or not (request_id.isascii() and request_id.isprintable())
    ):
        raise InvalidArgumentError(
            f"a request id must be 1 to {MAX_REQUEST_ID} printable ASCII characters"
        )
    document = orjson.dumps([operation, arguments], option=orjson.OPT_SORT_KEYS)
    return KeyedCall(request_id, operation, hashlib.sha256(document).hexdigest())


class RequestResults:
    """The answers given to request ids, and the rule that replays them."""

    def __init__(self, db: Database, keep_for: timedelta | None = None) -> None:
        self._db = db
        self._keep_for = keep_for or timedelta(
            hours=env_number(KEEP_FOR_ENV, DEFAULT_KEEP_FOR_HOURS)
        )

    def _answered(self, call: KeyedCall) -> Answer | None:
        """The answer given before to this call's request id, if any (a quick read first)."""
        with self._db.read() as conn:
            return self._given(conn, call)

    def once(
        self, request_id: str | None, operation: str, arguments: Any, run: Callable[[], Answer]
    ) -> Answer:
        """`run()`'s answer, or the answer given before to this request id.

        `run` and the record of its answer share one transaction: its writes join it.
        """
        if request_id is None:
            return run()
        call = keyed_call(request_id, operation, arguments)
        if (given := self._answered(call)) is not None:
            return given
        try:
            with self._db.transaction() as conn:
                given = self._given(conn, call)
                if given is not None:
                    return given
                # Claimed first: a concurrent retry of the call waits here for this one's end.
                self._insert(conn, call, None)
                answer = run()
                conn.execute(
                    request_results.update()
                    .where(request_results.c.id == call.request_id)
                    .values(answer=answer)
                )
        except sa.exc.IntegrityError as exc:
            return self._given_after_conflict(call, exc)
        return answer

    def once_keeping(
        self,
        request_id: str | None,
        operation: str,
        arguments: Any,
        run: Callable[[Keep | None], Answer],
    ) -> Answer:
        """As `once`, for a call of several transactions (with effects outside the database
        between them): `run(keep)` must call `keep(conn, answer)` in its last transaction.

        A crash before that last transaction leaves the call partly applied and its id
        unknown, so a retry applies the rest.
        """
        if request_id is None:
            return run(None)
        call = keyed_call(request_id, operation, arguments)
        if (given := self._answered(call)) is not None:
            return given
        try:
            return run(lambda conn, answer: self._insert(conn, call, answer))
        except sa.exc.IntegrityError as exc:
            return self._given_after_conflict(call, exc)

    def _given(self, conn: Connection, call: KeyedCall) -> Answer | None:
        """The answer given to this call's id, None if none was; refuse an id that was given
        to another call."""
        row = conn.execute(
            sa.select(
                request_results.c.operation,
                request_results.c.fingerprint,
                request_results.c.answer,
            ).where(request_results.c.id == call.request_id)
        ).first()
        if row is None:
            return None
        if (row.operation, row.fingerprint) != (call.operation, call.fingerprint):
            raise InvalidArgumentError(
                f"this request id was already used for another call ({row.operation}); send "
                "each call with its own request id, and the same one only with its retries"
            )
        return row.answer

    def _given_after_conflict(self, call: KeyedCall, error: sa.exc.IntegrityError) -> Answer:
        """The answer of a concurrent call with the same id, which committed first (else
        `error` was not about the request id, and is raised again)."""
        with self._db.read() as conn:
            given = self._given(conn, call)
        if given is None:
            raise error
        return given

    def _insert(self, conn: Connection, call: KeyedCall, answer: Answer | None) -> None:
        now = utcnow()
        conn.execute(
            request_results.delete().where(request_results.c.created < now - self._keep_for)
        )
        conn.execute(
            request_results.insert().values(
                id=call.request_id,
                operation=call.operation,
                fingerprint=call.fingerprint,
                answer=answer,
                created=now,
            )
        )
