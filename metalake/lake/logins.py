"""A limit on failed logins: past it, a client address is refused before its secret is checked.

Failures are counted in a sliding window per client address and per (key id, address), never per
key id alone, so nobody can lock a user out from another address. The counters live in the
memory of each server process: with `--workers N` the limits apply to each worker, so a client
spread over all of them gets at most N times as many tries. Secrets are 256 random bits, so the
limit is not what keeps them from being guessed; it keeps a guesser from using the server's time
and makes the attempt visible (429s in the access log), without a database write per failure.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass

from metalake.errors import AuthenticationError, TooManyRequestsError
from metalake.lake.keys import authenticate
from metalake.settings import env_number
from metalake.store.database import Database

PER_ADDRESS_ENV = "METALAKE_AUTH_FAILURES_PER_ADDRESS"
PER_KEY_ENV = "METALAKE_AUTH_FAILURES_PER_KEY"
WINDOW_ENV = "METALAKE_AUTH_FAILURE_WINDOW"
DEFAULT_PER_ADDRESS = 20
DEFAULT_PER_KEY = 10
DEFAULT_WINDOW_S = 60
MAX_TRACKED = 100_000
"""Counters kept at most (addresses plus key-address pairs); the oldest go first past it."""


@dataclass(frozen=True)
class LoginLimits:
    per_address: int = DEFAULT_PER_ADDRESS
    per_key: int = DEFAULT_PER_KEY
    window_s: float = DEFAULT_WINDOW_S

    @classmethod
    def from_environment(cls) -> LoginLimits:
        """The limits `$METALAKE_AUTH_FAILURES_PER_ADDRESS`, `..._PER_KEY` (failures allowed in
        the window) and `$METALAKE_AUTH_FAILURE_WINDOW` (seconds) set, else the defaults."""
        return cls(
            int(env_number(PER_ADDRESS_ENV, DEFAULT_PER_ADDRESS, whole=True)),
            int(env_number(PER_KEY_ENV, DEFAULT_PER_KEY, whole=True)),
            env_number(WINDOW_ENV, DEFAULT_WINDOW_S),
        )


class LoginLimiter:
    """Checks API keys for one server process, refusing addresses with too many recent failures."""

    def __init__(self, limits: LoginLimits) -> None:
        self.limits = limits
        self._lock = threading.Lock()
        self._failures: dict[tuple[str, ...], deque[float]] = {}

    def authenticate(self, db: Database, key: str, secret: str, address: str) -> str:
        """The key if `secret` is its secret; TooManyRequestsError, without looking at the
        secret, while `address` is over a limit; AuthenticationError (counted) otherwise."""
        counters = ((address,), (address, key))
        limits = (self.limits.per_address, self.limits.per_key)
        with self._lock:
            now = time.monotonic()
            waits = [
                self._wait(counter, limit, now)
                for counter, limit in zip(counters, limits, strict=True)
            ]
        if wait := max(waits):
            raise TooManyRequestsError(
                f"too many failed logins from {address} in the last "
                f"{self.limits.window_s:g} seconds; try again in {wait} seconds",
                retry_after=wait,
            )
        try:
            return authenticate(db, key, secret)
        except AuthenticationError:
            self._record(counters)
            raise

    def _wait(self, counter: tuple[str, ...], limit: int, now: float) -> int:
        """Seconds until `counter` is under `limit` again (0 if it is); drops expired failures."""
        failures = self._failures.get(counter)
        if failures is None:
            return 0
        while failures and failures[0] <= now - self.limits.window_s:
            failures.popleft()
        if not failures:
            del self._failures[counter]
            return 0
        if len(failures) < limit:
            return 0
        return max(1, math.ceil(failures[-limit] + self.limits.window_s - now))

    def _record(self, counters: tuple[tuple[str, ...], ...]) -> None:
        with self._lock:
            now = time.monotonic()
            for counter in counters:
                self._failures.setdefault(counter, deque()).append(now)
            while len(self._failures) > MAX_TRACKED:
                del self._failures[next(iter(self._failures))]
