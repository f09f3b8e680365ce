"""One POST to FairLens, retried: gzip, an Idempotency-Key per batch, backoff with jitter, Retry-After.

A batch keeps its Idempotency-Key over every attempt, so a request that reached the server but whose answer
was lost (the server restarted, the connection dropped) is answered from the server's record on the retry and
never stored twice.
"""

from __future__ import annotations

import gzip
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import requests

from fairlens_client.errors import APIError, FairLensError, TransportError, error_for

# Answers worth another try: the server is busy, restarting or briefly broken. Any other 4xx is final.
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
USER_AGENT = "fairlens-client/0.1"


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with full jitter: attempt n waits a uniform time in [0, min(cap, base * 2**n)].

    A Retry-After header replaces the drawn wait (at most ``cap_retry_after``). Retries stop once
    ``retry_for`` seconds have passed since the first attempt.
    """

    base: float = 0.5
    cap: float = 30.0
    retry_for: float = 600.0
    cap_retry_after: float = 300.0

    def wait(self, attempt: int, retry_after: float | None, draw: Callable[[], float] = random.random) -> float:
        if retry_after is not None:
            return min(max(retry_after, 0.0), self.cap_retry_after)
        return draw() * min(self.cap, self.base * 2**attempt)


def retry_after_seconds(value: str | None, now: float | None = None) -> float | None:
    """Seconds from a Retry-After value (delay-seconds or an HTTP date); None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - (time.time() if now is None else now))


@dataclass
class Answer:
    status: int
    body: Any
    attempts: int


class Transport:
    """POSTs bodies to one FairLens server with a model-client API key."""

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        compress: bool = True,
        session: requests.Session | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.retry = retry or RetryPolicy()
        self.compress = compress
        self.session = session or requests.Session()
        self.session.headers.update({"Authorization": f"Api-Key {api_key}", "User-Agent": USER_AGENT})
        # Set when the client is closed with a deadline: a retry wait ends early and the batch is reported failed.
        self.stop = stop or threading.Event()
        self.retries = 0

    def post(self, path: str, body: bytes, content_type: str, idempotency_key: str) -> Answer:
        """The server's answer to a successful request; a typed error for a final 4xx or when retries run out."""
        headers = {"Content-Type": content_type, "Idempotency-Key": idempotency_key}
        if self.compress:
            body = gzip.compress(body, compresslevel=5)
            headers["Content-Encoding"] = "gzip"
        started = time.monotonic()
        attempt = 0
        while True:
            if self.stop.is_set():
                raise TransportError("the client was closed before this batch could be delivered")
            attempt += 1
            retry_after: float | None = None
            try:
                response = self.session.post(f"{self.url}{path}", data=body, headers=headers, timeout=self.timeout)
            except requests.RequestException as exc:
                failure: FairLensError = TransportError(f"{type(exc).__name__}: {exc}")
            else:
                parsed = _json(response)
                if response.status_code < 400:
                    return Answer(response.status_code, parsed, attempt)
                failure = error_for(response.status_code, parsed)
                if response.status_code not in RETRYABLE_STATUSES:
                    raise failure
                retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            wait = self.retry.wait(attempt - 1, retry_after)
            if time.monotonic() - started + wait > self.retry.retry_for or self.stop.is_set():
                raise failure
            self.retries += 1
            if self.stop.wait(wait):
                raise failure


def _json(response: requests.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return response.text[:500]


__all__ = ["APIError", "Answer", "RetryPolicy", "Transport", "retry_after_seconds"]
