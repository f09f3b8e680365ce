"""DRF exception handler: every error becomes the shape in ``core.api.errors``."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.serializers import as_serializer_error

from core.api.errors import ApplicationError, error_body
from core.api.outages import log_outage, outage_body, retry_after_seconds, unavailable_dependency

logger = logging.getLogger("fairlens.api")

# Exception types of lower-level libraries that describe bad client input (an engine's invalid column, say):
# answered 400 with their ``code``, ``message`` and ``column``. The app that owns such a type registers it in
# its AppConfig.ready, so this handler names no app above it.
_BAD_INPUT_TYPES: list[type[Exception]] = []


def answer_as_bad_input(exception_type: type[Exception]) -> None:
    """Treat ``exception_type`` (with ``code``, ``message`` and optional ``column`` attributes) as a 400."""
    if exception_type not in _BAD_INPUT_TYPES:
        _BAD_INPUT_TYPES.append(exception_type)


_DEFAULT_MESSAGES = {
    "parse_error": "The request body could not be parsed.",
    "not_authenticated": "Authentication credentials were not provided.",
    "authentication_failed": "Authentication failed.",
}


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response:
    """Map any exception raised in an API view to a JSON error response; never a traceback."""
    dependency = unavailable_dependency(exc)
    if dependency is not None:
        request = context.get("request")
        log_outage(request.path if request is not None else "-", dependency, exc)
        return Response(
            outage_body(dependency),
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(retry_after_seconds())},
        )
    if isinstance(exc, ApplicationError):
        return Response(error_body(exc.code, exc.message, exc.details), status=exc.status_code)
    if isinstance(exc, tuple(_BAD_INPUT_TYPES)):
        column = getattr(exc, "column", None)
        message = getattr(exc, "message", str(exc))
        details = {column: [message]} if column else {}
        return Response(error_body(exc.code, message, details), status=status.HTTP_400_BAD_REQUEST)
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("request_too_large", "The request body is larger than this server accepts."),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(as_serializer_error(exc))

    if isinstance(exc, exceptions.APIException):
        return _api_exception_response(exc)

    error_id = uuid.uuid4().hex
    view = context.get("view")
    logger.exception("unhandled error error_id=%s view=%s", error_id, type(view).__name__ if view else "-")
    return Response(
        error_body(
            "server_error", "An unexpected error occurred. Quote the error id when reporting it.", error_id=error_id
        ),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def _api_exception_response(exc: exceptions.APIException) -> Response:
    headers: dict[str, str] = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None) is not None:
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]

    if isinstance(exc, exceptions.ValidationError):
        details = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
        message = _first_message(details) or "The request is invalid."
        code = "invalid"
    else:
        code = _code_of(exc)
        # A plain sentence, never ``str()`` of a dict or list detail (a Python repr full of ``ErrorDetail(``):
        # simplejwt's InvalidToken, for one, carries ``{"detail": ..., "code": ..., "messages": [...]}``.
        detail = exc.detail.get("detail", exc.detail) if isinstance(exc.detail, dict) else exc.detail
        message = _first_message(detail) or _DEFAULT_MESSAGES.get(code, "The request failed.")
        details = {}
    return Response(error_body(code, message, _plain(details)), status=exc.status_code, headers=headers)


def _code_of(exc: exceptions.APIException) -> str:
    """The machine code: the exception's own, or the ``code`` inside a dict detail (simplejwt's InvalidToken
    raises ``{"detail": ..., "code": ..., "messages": [...]}``)."""
    codes = exc.get_codes()
    if isinstance(codes, str):
        return codes
    if isinstance(codes, dict) and isinstance(exc.detail, dict) and isinstance(exc.detail.get("code"), str):
        return str(exc.detail["code"])
    return exc.default_code


def _first_message(details: Any, path: str = "") -> str:
    """The first validation message, prefixed with the field it concerns, for the one-line ``message``."""
    if isinstance(details, dict):
        for key, value in details.items():
            found = _first_message(value, f"{path}.{key}" if path else str(key))
            if found:
                return found
    elif isinstance(details, list):
        for index, value in enumerate(details):
            nested_path = path if not isinstance(value, dict | list) else f"{path}[{index}]"
            found = _first_message(value, nested_path)
            if found:
                return found
    elif details:
        return f"{path}: {details}" if path and path != "non_field_errors" else str(details)
    return ""


def _plain(value: Any) -> Any:
    """ErrorDetail strings and lists to plain JSON values."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return str(value)
