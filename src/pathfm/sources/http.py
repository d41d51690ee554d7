"""Retry policy and request helpers shared by the GDC client, downloads and dataset fetches.

Every remote call here is a bounded loop: at most ``max_attempts`` tries, with
exponential backoff between them, and the server's ``Retry-After`` honoured on
429/503 (capped, so a hostile header cannot park a job for a day). A loop may also
carry an overall ``deadline`` (a ``time.monotonic()`` instant): no attempt starts
after it, and no backoff wait begins that would end after it. Tokens travel only in request
headers and never appear in a message this module builds.
"""

from __future__ import annotations

import email.utils
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import urllib3

log = logging.getLogger(__name__)

# Status codes worth another try: rate limiting and server-side trouble.
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
# Network failures worth another try (dropped connection, truncated body, timeout).
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    urllib3.exceptions.HTTPError,  # raw body reads raise these unwrapped (IncompleteRead, timeouts)
    ConnectionResetError,
    BrokenPipeError,
)


class TransientError(Exception):
    """A failure that another attempt may fix; ``retry_after`` is the server's wish, if any."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


class RemoteError(RuntimeError):
    """A failure no retry will fix (4xx other than 408/429, exhausted attempts)."""


class DeadlineExceeded(RemoteError):
    """The overall time allowed for one remote operation (all attempts together) ran out."""


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 8
    backoff_base: float = 1.0  # seconds before the 2nd attempt; doubles each time
    backoff_max: float = 120.0
    retry_after_max: float = 600.0
    timeout: float = 60.0  # connect/read timeout per request

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, self.retry_after_max))
        return min(self.backoff_base * (2 ** (attempt - 1)), self.backoff_max)


DEFAULT_POLICY = RetryPolicy()


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: either delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def token_from_env(variable: str) -> str | None:
    """A secret from the environment, or None when unset or blank."""
    value = os.environ.get(variable, "").strip()
    return value or None


def raise_for_retry(response: requests.Response, what: str) -> None:
    """Turn a retryable status into TransientError and any other error status into RemoteError."""
    if response.status_code in RETRY_STATUS:
        raise TransientError(
            f"{what}: HTTP {response.status_code}",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
        )
    if response.status_code >= 400:
        hint = ""
        if response.status_code in (401, 403):
            hint = " (controlled-access data needs a valid token in the environment)"
        raise RemoteError(f"{what}: HTTP {response.status_code}{hint}")


def with_retries(
    call: Callable[[int], Any],
    policy: RetryPolicy,
    what: str,
    sleep: Callable[[float], None] = time.sleep,
    *,
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    """Run ``call(attempt)`` until it returns, retrying TransientError and network errors.

    With ``deadline`` (a ``clock()`` instant) the loop raises DeadlineExceeded instead of
    starting an attempt, or a backoff wait, that would end after it. ``call`` itself may
    raise DeadlineExceeded (a RemoteError: not retried) when it notices the deadline.
    """
    last: BaseException | None = None
    for attempt in range(1, policy.max_attempts + 1):
        if deadline is not None and clock() >= deadline:
            raise DeadlineExceeded(f"{what}: overall deadline passed before attempt {attempt}; "
                                   f"last error: {_describe(last)}")
        try:
            return call(attempt)
        except TransientError as err:
            last, retry_after = err, err.retry_after
        except TRANSIENT_ERRORS as err:
            last, retry_after = err, None
        if attempt == policy.max_attempts:
            break
        wait = policy.delay(attempt, retry_after)
        if deadline is not None and clock() + wait >= deadline:
            raise DeadlineExceeded(f"{what}: overall deadline would pass during the {wait:.2f}s wait "
                                   f"after attempt {attempt}; last error: {_describe(last)}")
        log.warning("%s: attempt %d/%d failed (%s); retrying in %.2fs",
                    what, attempt, policy.max_attempts, _describe(last), wait)
        sleep(wait)
    raise RemoteError(f"{what}: gave up after {policy.max_attempts} attempts; last error: {_describe(last)}")


def _describe(err: BaseException | None) -> str:
    # Exception text from requests can quote the URL but never headers; keep it short.
    return f"{type(err).__name__}: {str(err)[:200]}" if err else "unknown"


def same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def get_following_redirects(
    session: requests.Session,
    url: str,
    headers: dict[str, str],
    secret_headers: dict[str, str],
    timeout: float,
    max_redirects: int = 5,
) -> requests.Response:
    """GET with redirects followed by hand so secret headers never reach another host.

    requests strips ``Authorization`` on a cross-host redirect but not custom
    headers such as ``X-Auth-Token``; the GDC may redirect to storage.
    """
    current = url
    for _ in range(max_redirects + 1):
        send = dict(headers)
        if same_origin(current, url):
            send.update(secret_headers)
        response = session.get(current, headers=send, stream=True, timeout=timeout, allow_redirects=False)
        if response.is_redirect:
            location = response.headers["Location"]
            response.close()
            current = requests.compat.urljoin(current, location)
            continue
        return response
    raise RemoteError(f"{url}: more than {max_redirects} redirects")
