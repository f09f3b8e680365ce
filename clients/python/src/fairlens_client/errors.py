"""Typed errors: what a FairLens server answered, or that it could not be reached.

A 4xx means the request itself is wrong (a bad key, an unknown model, a malformed batch) and is never retried;
429, 5xx and connection failures are retried with backoff until the retry time runs out.
"""

from __future__ import annotations

from typing import Any


class FairLensError(Exception):
    """Anything the client reports."""


class TransportError(FairLensError):
    """The server could not be reached (or kept failing) for the whole retry time."""


class APIError(FairLensError):
    """The server answered with an error: its status, error code, message and details."""

    def __init__(self, status: int, code: str, message: str, details: Any = None) -> None:
        super().__init__(f"HTTP {status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = details if details is not None else {}


class BadRequest(APIError):
    """400: the batch is malformed (not JSON, a missing column, a column of the wrong type)."""


class AuthenticationFailed(APIError):
    """401: no key, or a revoked or wrong one."""


class PermissionDenied(APIError):
    """403: the key may not write to this model."""


class NotFound(APIError):
    """404: no such model or version."""


class PayloadTooLarge(APIError):
    """413: more rows or bytes than the server accepts per request."""


class UnsupportedMediaType(APIError):
    """415: a body type or encoding the server does not read."""


class Unprocessable(APIError):
    """422: an atomic batch with invalid rows, or an idempotency key reused for another body."""


class RateLimited(APIError):
    """429: retried, honouring Retry-After; raised only when the retry time runs out."""


class ServerError(APIError):
    """5xx: retried; raised only when the retry time runs out."""


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: AuthenticationFailed,
    403: PermissionDenied,
    404: NotFound,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: Unprocessable,
    429: RateLimited,
}


def error_for(status: int, body: Any) -> APIError:
    """The typed error for an error response (FairLens bodies carry ``code``, ``message`` and ``details``)."""
    if isinstance(body, dict):
        code, message, details = str(body.get("code", "error")), str(body.get("message", "")), body.get("details")
    else:
        code, message, details = "error", str(body)[:500], None
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else APIError)
    return kind(status, code, message, details)
