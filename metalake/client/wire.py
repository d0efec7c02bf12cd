"""HTTP answers to exceptions, retries with exponential back-off on transient failures, and
signed-URL redaction in logs.

An error answer of a MetaLake server is `{"error": code, "message": ...}`; the code names the
exception class the embedded lake would have raised.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable

import httpx

from metalake.errors import (
    ChecksumMismatchError,
    InvalidArgumentError,
    MetaLakeError,
    NotFoundError,
    ServerUnavailableError,
    SignatureError,
    TooManyRequestsError,
    error_class,
)

log = logging.getLogger(__name__)

RETRY_STATUS = {502, 503, 504}

SECRET_QUERY_PARAMETERS = (
    "signature",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "X-Amz-Security-Token",
)
"""Query parameters of signed URLs (ours and S3's) that let anyone who reads them use the URL."""
_SECRET_VALUE = re.compile(
    r"([?&](?:" + "|".join(SECRET_QUERY_PARAMETERS) + r")=)[^&#\s'\"]*", re.IGNORECASE
)
REDACTED = "REDACTED"
HTTP_LOGGERS = (
    "httpx",
    "httpcore",
    "httpcore.connection",
    "httpcore.http11",
    "httpcore.http2",
    "httpcore.proxy",
)
"""httpx logs every request URL at INFO; a filter acts only on its own logger, so each is named."""


def redact_signed_urls(text: str) -> str:
    """`text` with the values of signed URLs' secret query parameters replaced by REDACTED."""
    return _SECRET_VALUE.sub(r"\1" + REDACTED, text)


class SignedUrlFilter(logging.Filter):
    """Rewrites a log record so signed URLs in it (valid for hours) cannot be replayed."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_signed_urls(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_FILTER = SignedUrlFilter()


def redact_http_logs() -> None:
    """Install the filter on the HTTP libraries' loggers (once), for library users too."""
    for name in HTTP_LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)


def raise_for_error(response: httpx.Response) -> None:
    """Raise the MetaLake exception an error response stands for."""
    if response.status_code < 400:
        return
    try:
        body = response.json()
        code, message = body["error"], body["message"]
    except (ValueError, KeyError, TypeError):
        # Not our server's answer: S3's XML, or a proxy's page.
        cls: type[MetaLakeError] = {
            403: SignatureError,
            404: NotFoundError,
            429: TooManyRequestsError,
        }.get(response.status_code, MetaLakeError)
        if "<Code>BadDigest</Code>" in response.text:
            cls = ChecksumMismatchError
        message = (
            f"{response.request.method} {response.request.url.path} answered "
            f"{response.status_code}: {response.text[:300]}"
        )
    else:
        cls = error_class(code)
    if issubclass(cls, TooManyRequestsError):
        wait = response.headers.get("retry-after", "")
        raise cls(message, retry_after=int(wait) if wait.isdigit() else None) from None
    raise cls(message) from None


DEFAULT_RETRY_BUDGET_S = 30.0
"""How long a call goes on retrying failures before it gives up (`METALAKE_RETRY_BUDGET`)."""


class RetryBudget:
    """The time one call may spend failing, shared by all its requests and threads.

    The clock runs from the first failure after the last success, of any request of the call:
    a long upload survives short outages, and a dead store or server ends the call once it has
    failed for `seconds`. `stop()` makes every request of the call give up at its next step.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._lock = threading.Lock()
        self._failing_since: float | None = None
        self._stopped = threading.Event()

    def succeeded(self) -> None:
        with self._lock:
            self._failing_since = None

    def failed(self) -> float:
        """Record a failure; how long the call has been failing, in seconds."""
        now = time.monotonic()
        with self._lock:
            if self._failing_since is None:
                self._failing_since = now
            return now - self._failing_since

    def stop(self) -> None:
        self._stopped.set()

    def check(self, what: str) -> None:
        """Raise ServerUnavailableError if the call was stopped."""
        if self._stopped.is_set():
            raise ServerUnavailableError(f"{what} was not sent: another request of the call failed")

    def sleep(self, seconds: float, what: str) -> None:
        """Wait `seconds`, or less if the call is stopped meanwhile (then raise)."""
        self._stopped.wait(seconds)
        self.check(what)


def with_retries(
    send: Callable[[], httpx.Response],
    what: str,
    retries: int,
    backoff_s: float = 0.25,
    budget: RetryBudget | None = None,
) -> httpx.Response:
    """Call `send()` until it answers something other than a network error or a 5xx gateway,
    at most `retries` more times and within the call's retry `budget` (its own if None).

    Every request may be sent again: reads and uploads are idempotent, and calls that change
    something carry a request id (REQUEST_ID_HEADER) that the server answers once.
    """
    budget = budget or RetryBudget(DEFAULT_RETRY_BUDGET_S)
    for attempt in range(retries + 1):
        budget.check(what)
        try:
            response = send()
        except httpx.TransportError as exc:
            problem = f"{type(exc).__name__}: {exc}"
        else:
            if response.status_code not in RETRY_STATUS:
                budget.succeeded()
                return response
            problem = f"HTTP {response.status_code}"
        failing = budget.failed()
        if attempt == retries:
            break
        delay = min(8.0, backoff_s * 2**attempt)
        if failing + delay > budget.seconds:
            raise ServerUnavailableError(
                f"{what} failed {attempt + 1} times in {failing:.1f} s (last: {problem}); gave "
                f"up at the retry budget of {budget.seconds:g} s (Client(retry_budget_s=...) "
                "or METALAKE_RETRY_BUDGET)"
            )
        log.warning("%s failed (%s); retrying in %.1f s", what, problem, delay)
        budget.sleep(delay, what)
    raise ServerUnavailableError(f"{what} failed {retries + 1} times; last: {problem}")


def check_server_url(url: str) -> str:
    """`url` without a trailing `/` if it is an http(s) URL with a host, else raise at once
    (rather than retrying a connection that can never be made)."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as exc:
        raise InvalidArgumentError(f"{url!r} is not a server URL: {exc}") from exc
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidArgumentError(
            f"{url!r} is not a server URL; give one like http://127.0.0.1:8642"
        )
    return url.rstrip("/")
