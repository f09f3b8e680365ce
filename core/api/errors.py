"""The one error shape every API error uses, and the exception services raise for expected failures.

    {"status": "error", "code": "<machine code>", "message": "<what is wrong>", "details": {...}}

``details`` maps field names to messages for validation errors; 500s carry an ``error_id`` to quote to
operators instead of a traceback. The ``status``/``message`` keys match the seed endpoints' envelope, so a
client can read errors the same way on every path.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, JsonResponse


class ApplicationError(Exception):
    """An expected failure a service reports to its caller; the API turns it into a 4xx JSON error."""

    status_code = 400
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.details = details or {}


def error_body(code: str, message: str, details: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"status": "error", "code": code, "message": message, "details": details or {}}
    body.update(extra)
    return body


def error_response(
    status: int, code: str, message: str, details: dict[str, Any] | None = None, **extra: Any
) -> JsonResponse:
    """A plain Django JSON error response, for code that runs outside DRF (middleware, URL-level handlers)."""
    return JsonResponse(error_body(code, message, details, **extra), status=status)


def wants_json(request: HttpRequest) -> bool:
    """Whether an error for this request should be JSON: every /api/ path, and any client that asks for JSON
    rather than HTML. Browsers (``text/html`` first) get pages; a client naming no type gets JSON."""
    if request.path.startswith("/api/"):
        return True
    accept = request.headers.get("Accept", "")
    if accept.startswith("text/html"):
        return False
    return "text/html" not in accept or "application/json" in accept
