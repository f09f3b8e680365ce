"""Request logging and the HTTPS rule for API paths."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from fairlens_site.api.errors import error_response
from fairlens_site.request_context import new_request_id, reset_request_id, set_request_id

logger = logging.getLogger("fairlens.request")


class RequestLogMiddleware:
    """Gives each request an id (echoed as X-Request-ID) and logs one INFO line when it completes.

    The line has method, path, user, role, status, duration and request id. The user is read after the view
    ran, because DRF authenticates inside the view and then sets it on the Django request.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = new_request_id(request.headers.get("X-Request-ID"))
        token = set_request_id(request_id)
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            user, role = _principal(request)
            logger.info(
                "method=%s path=%s user=%s role=%s status=%s duration_ms=%.1f",
                request.method,
                request.path,
                user,
                role,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            return response
        finally:
            reset_request_id(token)


def _principal(request: HttpRequest) -> tuple[str, str]:
    from accounts.roles import principal_label

    return principal_label(getattr(request, "user", None), getattr(request, "auth", None))


class ApiHttpsOnlyMiddleware:
    """When HTTPS is enforced, API calls over plain HTTP are refused (403), not redirected.

    A redirect would make a misconfigured client send its token in clear and then quietly succeed; a refusal
    makes the mistake visible. /api/health stays reachable for load balancers and container health checks.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if (
            settings.SECURE_SSL_REDIRECT
            and request.path.startswith("/api/")
            and request.path != "/api/health"
            and not request.is_secure()
        ):
            return error_response(403, "https_required", "The API is served over HTTPS only.")
        return self.get_response(request)


class RejectNulQueryMiddleware:
    """A NUL character in the path or a query parameter is a 400 for every API path.

    No stored name holds one, and PostgreSQL refuses NUL inside a string literal, so letting it reach a
    filter would turn bad input into a 500.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith("/api/"):
            if "\x00" in request.path:
                return error_response(
                    400,
                    "invalid",
                    "The path must not contain NUL characters.",
                    {"path": ["must not contain NUL characters"]},
                )
            bad = sorted({name for name, value in request.GET.lists() if any("\x00" in item for item in value)})
            if bad:
                return error_response(
                    400,
                    "invalid",
                    "Query parameters must not contain NUL characters.",
                    {name: ["must not contain NUL characters"] for name in bad},
                )
        return self.get_response(request)
