"""Request logging, the HTTPS rule for API paths, 503s during outages, CSP and caching headers, JSON 404s."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.cache import add_never_cache_headers

from core.api.errors import error_response, wants_json
from core.api.outages import outage_response, unavailable_dependency
from core.request_context import new_request_id, reset_request_id, set_request_id

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
    from core.roles import principal_label

    try:
        return principal_label(getattr(request, "user", None), getattr(request, "auth", None))
    except Exception as exc:
        # The user is loaded lazily from the session; with the database down the request is still logged.
        if unavailable_dependency(exc) is None:
            raise
        return "unknown", "-"


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


class DependencyOutageMiddleware:
    """A view outside DRF that fails because PostgreSQL or Redis is unreachable answers 503 + Retry-After.

    DRF views get the same answer from the API exception handler, and failures in other middleware (the
    session saved after the view) from ``handler500``; this covers pages, the admin sites and the rest.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        dependency = unavailable_dependency(exception)
        if dependency is None:
            return None
        return outage_response(request, dependency, exception)


# Our pages load only their own script and stylesheet: no inline script, style or handler anywhere.
STRICT_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
# Swagger UI and DRF's browsable API (HTML under /api/ and /api-auth/) are third-party templates with inline
# script and style; they still load nothing from another origin.
THIRD_PARTY_UI_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_THIRD_PARTY_UI_PREFIXES = ("/api/", "/api-auth/")


class ContentSecurityMiddleware:
    """A Content-Security-Policy on every response, and ``Cache-Control: no-store`` on what a signed-in
    principal gets, so a shared or back-button cache never keeps another person's page or data."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if "Content-Security-Policy" not in response:
            third_party = request.path.startswith(_THIRD_PARTY_UI_PREFIXES) and response.get(
                "Content-Type", ""
            ).startswith("text/html")
            response["Content-Security-Policy"] = THIRD_PARTY_UI_CSP if third_party else STRICT_CSP
        if "no-store" not in response.get("Cache-Control", "") and _signed_in(request):
            add_never_cache_headers(response)
        return response


def _signed_in(request: HttpRequest) -> bool:
    user = getattr(request, "user", None)
    try:
        return bool(user is not None and user.is_authenticated)
    except Exception as exc:
        # The session could not be read (database down): the answer is not cached either way.
        if unavailable_dependency(exc) is None:
            raise
        return True


class JsonNotFoundMiddleware:
    """An HTML 404 for an API client becomes the JSON error: with DEBUG on, Django answers an unmatched URL
    with its HTML debug page (listing every URL pattern), which ``handler404`` never sees.

    Only with DEBUG on (otherwise ``handler404`` answers JSON already, and pages' own HTML 404s stay pages);
    DRF's own responses are left alone: their renderer was negotiated with the client.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            settings.DEBUG
            and response.status_code == 404
            and response.get("Content-Type", "").startswith("text/html")
            and not hasattr(response, "accepted_renderer")
            and wants_json(request)
        ):
            return error_response(404, "not_found", f"Nothing at {request.path}.")
        return response
