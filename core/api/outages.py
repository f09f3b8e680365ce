"""Telling a dependency outage from a bug, and the 503 every entry point answers with during one.

A request that fails because PostgreSQL or Redis cannot be reached is not the server's fault in the 500
sense: the client should retry after a pause, and load balancers and clients treat 503 + Retry-After that
way. Everything else an exception can mean (a constraint violation, a deadlock, SQLite's "database is
locked" after its busy timeout, a query cancelled by statement_timeout) stays an error of its own kind, so a
real bug is never disguised as an outage.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from typing import Any

from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template import loader

from core.api.errors import error_body, wants_json

logger = logging.getLogger("fairlens.outage")

DATABASE = "database"
CACHE = "cache"

# SQLSTATEs the server sends when it cannot serve a session at all: class 08 (connection exception),
# shutting down or crashed (57P01, 57P02), still starting (57P03), no connection slot left (53300).
_UNAVAILABLE_SQLSTATES = {"57P01", "57P02", "57P03", "53300"}

_MESSAGES = {
    DATABASE: "The database is unavailable. Retry after the number of seconds in Retry-After.",
    CACHE: "The cache is unavailable. Retry after the number of seconds in Retry-After.",
}


def unavailable_dependency(exc: BaseException | None) -> str | None:
    """``"database"`` or ``"cache"`` when ``exc`` means that service cannot be reached, else None."""
    if exc is None:
        return None
    if _is_redis_outage(exc):
        return CACHE
    if isinstance(exc, OperationalError | InterfaceError):
        cause = exc.__cause__
        if isinstance(cause, sqlite3.Error):
            # A local file: "database is locked" is contention after busy_timeout, not an outage.
            return None
        if isinstance(exc, InterfaceError):
            return DATABASE  # "connection already closed": the server went away under this connection
        code = getattr(cause, "pgcode", None) or getattr(cause, "sqlstate", None)
        # Without a SQLSTATE the driver itself failed to talk to the server (refused, reset, closed).
        if code is None or code.startswith("08") or code in _UNAVAILABLE_SQLSTATES:
            return DATABASE
    return None


def _is_redis_outage(exc: BaseException) -> bool:
    try:
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError
    except ImportError:  # pragma: no cover - redis is in requirements.txt
        return False
    return isinstance(exc, RedisConnectionError | RedisTimeoutError)


def retry_after_seconds() -> int:
    return int(settings.OUTAGE_RETRY_AFTER_SECONDS)


def outage_body(dependency: str) -> dict[str, Any]:
    return error_body("service_unavailable", _MESSAGES[dependency], {"dependency": dependency})


def outage_response(request: HttpRequest, dependency: str, exc: BaseException) -> HttpResponse:
    """503 with Retry-After: the JSON error shape for API clients, a plain page for people.

    The page is rendered without the request, so no context processor touches the session or the user,
    which would need the database that is down.
    """
    log_outage(request.path, dependency, exc)
    if wants_json(request):
        from django.http import JsonResponse

        response: HttpResponse = JsonResponse(outage_body(dependency), status=503)
    else:
        html = loader.render_to_string("503.html", {"dependency": dependency, "retry_after": retry_after_seconds()})
        response = HttpResponse(html, status=503)
    response["Retry-After"] = str(retry_after_seconds())
    return response


def log_outage(path: str, dependency: str, exc: BaseException) -> None:
    # One line without a traceback: during an outage every request fails the same way.
    logger.warning("dependency unavailable dependency=%s path=%s error=%s", dependency, path, type(exc).__name__)


class FailOpenCounter:
    """Requests served without their rate limit because the cache was down, per throttle scope (this process).

    The first failure and every 100th are logged with the running count, so an outage is visible in the log
    without a line per request.
    """

    log_every = 100

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, int] = {}

    def record(self, scope: str, exc: BaseException) -> int:
        with self._lock:
            count = self._counts.get(scope, 0) + 1
            self._counts[scope] = count
        if count == 1 or count % self.log_every == 0:
            logger.warning(
                "cache unavailable: %s throttle failed open (%d requests so far in this process) error=%s",
                scope,
                count,
                type(exc).__name__,
            )
        return count

    def counts(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)


throttle_fail_open = FailOpenCounter()
