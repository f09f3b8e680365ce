"""Rerunning a write transaction that SQLite refused because another process held its write lock.

SQLite has one write lock per database. A writer waits up to SQLITE_BUSY_TIMEOUT_SECONDS for it, then fails
with ``OperationalError("database is locked")``. Such a failure happens before or instead of the commit, so the
transaction left nothing behind, and every write it reruns is safe to repeat: predictions are keyed by their
unique (version, pseudonymised id) and the rerun looks the stored keys up again, so no row is stored or counted
twice. Only the code that opens the outermost transaction can rerun it; inside an enclosing ``atomic`` block the
error goes up to whoever opened that one.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.db import OperationalError, connection

logger = logging.getLogger("fairlens.ingestion")
Result = TypeVar("Result")
_FIRST_DELAY_S = 0.05
_MAX_DELAY_S = 2.0
_LOCK_MESSAGES = ("database is locked", "database table is locked")


def is_lock_error(error: BaseException) -> bool:
    return isinstance(error, OperationalError) and any(message in str(error) for message in _LOCK_MESSAGES)


def retry_when_locked(write: Callable[[], Result], *, what: str = "write") -> Result:
    """Run ``write`` (which opens its own transaction); rerun it with jittered exponential backoff while the
    database is locked, at most DATABASE_LOCK_RETRIES more times."""
    retries = settings.DATABASE_LOCK_RETRIES
    for attempt in range(retries + 1):
        try:
            return write()
        except OperationalError as error:
            if attempt == retries or connection.in_atomic_block or not is_lock_error(error):
                raise
            delay = min(_MAX_DELAY_S, _FIRST_DELAY_S * 2**attempt) * random.uniform(0.5, 1.0)  # noqa: S311
            logger.warning("%s: database locked, retry %d of %d in %.2fs", what, attempt + 1, retries, delay)
            time.sleep(delay)
    raise AssertionError("unreachable")  # the loop returns or raises
