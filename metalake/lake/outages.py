"""Short outages of the object store or the database: which errors pass, and how long to wait.

An error is transient if trying again later may succeed: the store could not be reached, the
database dropped the connection or stayed locked. Jobs and requests retry those with back-off
for a bounded time (`METALAKE_OUTAGE_BUDGET`, in seconds) and only then give up.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import sqlalchemy as sa

from metalake.errors import (
    DatabaseUnavailableError,
    InvalidArgumentError,
    MetaLakeError,
    StorageUnavailableError,
)
from metalake.store.database import is_unreachable

BUDGET_ENV = "METALAKE_OUTAGE_BUDGET"
DEFAULT_BUDGET_S = 120.0
FIRST_DELAY_S = 0.25
MAX_DELAY_S = 8.0


def outage_budget() -> float:
    """Seconds a job or request keeps retrying through an outage before it reports it."""
    raw = os.environ.get(BUDGET_ENV)
    if raw is None or raw == "":
        return DEFAULT_BUDGET_S
    try:
        budget = float(raw)
    except ValueError:
        budget = -1.0
    if not 0 <= budget <= 86400:
        raise InvalidArgumentError(f"{BUDGET_ENV} must be seconds from 0 to 86400, not {raw!r}")
    return budget


def is_transient(exc: BaseException) -> bool:
    """True for an error that trying again later may cure (never for a bad request)."""
    if isinstance(exc, StorageUnavailableError | DatabaseUnavailableError):
        return True
    if isinstance(exc, MetaLakeError):
        return False
    if isinstance(exc, sa.exc.DBAPIError):
        return is_unreachable(exc)
    return isinstance(exc, ConnectionError | TimeoutError)


@dataclass
class Outage:
    """The state of one streak of transient errors: when it began, and the next delay."""

    budget: float = field(default_factory=outage_budget)
    clock: Callable[[], float] = time.monotonic
    started: float | None = None
    _delays: Iterator[float] | None = None

    def next_delay(self) -> float | None:
        """Seconds to wait before the next try, or None once the budget is spent."""
        now = self.clock()
        if self.started is None:
            self.started = now
            self._delays = _backoff()
        assert self._delays is not None
        delay = next(self._delays)
        remaining = self.started + self.budget - now
        if remaining <= 0:
            return None
        return min(delay, remaining)

    def recovered(self) -> None:
        """Work went through: a later error starts a new streak with a full budget."""
        self.started = None
        self._delays = None

    @property
    def lasted(self) -> float:
        return 0.0 if self.started is None else self.clock() - self.started


def _backoff() -> Iterator[float]:
    delay = FIRST_DELAY_S
    while True:
        yield delay
        delay = min(MAX_DELAY_S, delay * 2)
