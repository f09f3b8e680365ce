"""The current request id, shared by the request log, error responses and every log line of a request."""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

_request_id: ContextVar[str] = ContextVar("request_id", default="-")
# A caller-supplied id is echoed only when it is short and plain, so it cannot inject text into logs.
_ACCEPTABLE_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def new_request_id(supplied: str | None) -> str:
    """Use the caller's X-Request-ID when it is well-formed, otherwise a fresh UUID."""
    if supplied and _ACCEPTABLE_ID.match(supplied):
        return supplied
    return uuid.uuid4().hex


def set_request_id(value: str) -> object:
    return _request_id.set(value)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]


def current_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    """Adds ``request_id`` to every log record so the formatter can print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id()
        return True
