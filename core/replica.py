"""Reads from a PostgreSQL streaming replica (DATABASE_REPLICA_URL), with read-your-writes.

What goes to the replica: queries of the monitoring, registry and compliance apps (dashboards, reports, lists:
the heavy reads) made while serving a GET, HEAD or OPTIONS request. Everything else reads the primary:

* requests that write (POST, PUT, PATCH, DELETE), so a request reads what it wrote;
* the rest of a GET request once it has written anything (an audit entry for opening stored predictions, say);
* queries inside a transaction (they must see the transaction's own rows and locks);
* accounts, sessions, API keys, lockouts and everything else that decides who may do what, so a revoked key or
  a changed role takes effect at once, whatever the replica's lag;
* Celery tasks and management commands (no request);
* for ``REPLICA_PIN_SECONDS`` after a browser's or client's write, that client's reads (a cookie), so a page
  shown after a form posts sees its result.

When the replica cannot be reached, reads go to the primary for ``REPLICA_RETRY_SECONDS`` before the replica is
tried again: a replica down is slower pages, not errors.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connections
from django.http import HttpRequest, HttpResponse

logger = logging.getLogger("fairlens.replica")

REPLICA = "replica"
PRIMARY = "default"
REPLICA_APPS = frozenset({"monitoring", "registry", "compliance"})
PIN_COOKIE = "fairlens_read_primary_until"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# Whether this request's reads may go to the replica; False outside requests.
_reads_from_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("reads_from_replica", default=False)
_wrote: contextvars.ContextVar[bool] = contextvars.ContextVar("wrote", default=False)
_replica_down_until = 0.0


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


class ReplicaRouter:
    """Django's database router for the rules above (DATABASE_ROUTERS, set only with a replica)."""

    def db_for_read(self, model: type, **hints: Any) -> str:
        if (
            _reads_from_replica.get()
            and model._meta.app_label in REPLICA_APPS
            and not connections[PRIMARY].in_atomic_block
            and replica_configured()
        ):
            return REPLICA
        return PRIMARY

    def db_for_write(self, model: type, **hints: Any) -> str:
        # Whatever this request reads from now on must see the write.
        _reads_from_replica.set(False)
        _wrote.set(True)
        return PRIMARY

    def allow_relation(self, obj1: Any, obj2: Any, **hints: Any) -> bool:
        return True  # one database: the replica is a copy of the primary

    def allow_migrate(self, db: str, app_label: str, **hints: Any) -> bool:
        return db == PRIMARY


def _pinned(request: HttpRequest) -> bool:
    try:
        return float(request.COOKIES.get(PIN_COOKIE, "0")) > time.time()
    except ValueError:
        return False


def _replica_reachable() -> bool:
    """Connect (or check the kept connection); after a failure, skip the replica for a while."""
    global _replica_down_until
    if time.monotonic() < _replica_down_until:
        return False
    replica = connections[REPLICA]
    try:
        # A kept connection to a replica that has since gone away is found here (CONN_HEALTH_CHECKS' once-per-
        # request check, done early), not by the view's first query.
        replica.close_if_health_check_failed()
        replica.ensure_connection()
    except DatabaseError as exc:
        _replica_down_until = time.monotonic() + settings.REPLICA_RETRY_SECONDS
        logger.warning("replica unreachable, reading from the primary for %ss: %s", settings.REPLICA_RETRY_SECONDS, exc)
        return False
    return True


class ReplicaReadsMiddleware:
    """Decides per request whether its reads may go to the replica, and pins a writer's next reads."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not replica_configured():
            return self.get_response(request)
        use_replica = request.method in SAFE_METHODS and not _pinned(request) and _replica_reachable()
        reads = _reads_from_replica.set(use_replica)
        wrote = _wrote.set(False)
        try:
            response = self.get_response(request)
            if _wrote.get() and response.status_code < 400 and request.method not in SAFE_METHODS:
                pin = settings.REPLICA_PIN_SECONDS
                response.set_cookie(
                    PIN_COOKIE,
                    f"{time.time() + pin:.3f}",
                    max_age=pin,
                    httponly=True,
                    samesite="Lax",
                    secure=request.is_secure(),
                )
            return response
        finally:
            _reads_from_replica.reset(reads)
            _wrote.reset(wrote)
