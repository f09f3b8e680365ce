"""Project-level views: API index, health, and the answers for errors raised outside DRF: JSON, except on the
two admin sites, which people use in a browser and which get the admin's own HTML error page."""

from __future__ import annotations

import sys
import uuid

from django.conf import settings
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import redirect, render
from django.templatetags.static import static
from django.urls import NoReverseMatch, Resolver404, resolve, reverse
from django.views.decorators.http import require_safe
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.envelope import envelope, envelope_serializer
from core.api.errors import error_body, error_response
from core.api.outages import outage_response, unavailable_dependency
from core.health import run_probes
from core.request_context import current_request_id
from core.roles import ANYONE

API_INDEX = {
    "name": "FairLens",
    "description": "Fairness-drift monitoring for production ML models.",
    "documentation": {"openapi": "/api/schema/", "swagger_ui": "/api/docs/"},
    "endpoints": {
        "GET /api/health": "Database, cache and broker status (503 when one is down).",
        "POST /api/login": "{username, password, otp?} -> {access_token, refresh_token, role}.",
        "POST /api/refresh": "{refresh_token} -> new access token and rotated refresh token.",
        "POST /api/logout": "{refresh_token} -> the refresh token is revoked.",
        "GET /api/v1/accounts/me/": "Who the caller is and which roles it holds.",
        "/api/v1/accounts/users/": "User management (admin; auditors read); reset and two-person approve.",
        "/api/v1/accounts/mfa/": "The caller's second factor: TOTP enrolment and recovery codes.",
        "POST /api/v1/accounts/password-reset/complete": "{token, password} from a reset or invitation e-mail.",
        "/api/v1/accounts/api-keys/": "Model-client API keys (admin; auditors read).",
        "/admin/": "Django admin (admin role).",
        "/auditor/": "Read-only auditor admin (auditor role).",
    },
}


class ApiIndexView(APIView):
    """A brief machine-readable guide to the API for API clients."""

    required_roles = {"GET": {ANYONE}}
    authentication_classes: list = []

    @extend_schema(responses=envelope_serializer("ApiIndex", serializers.DictField()), tags=["meta"])
    def get(self, request: Request) -> Response:
        return envelope({**API_INDEX, "version": settings.FAIRLENS_VERSION}, "FairLens API")


def index(request: HttpRequest) -> HttpResponse:
    """``/``: browsers (asking for HTML first) go to the dashboard; API clients get the JSON index."""
    accept = request.headers.get("Accept", "")
    if accept.startswith("text/html") or ("text/html" in accept and "application/json" not in accept):
        return redirect("web-dashboard")
    return ApiIndexView.as_view()(request)


class HealthView(APIView):
    """Reports database, cache and broker health: 200 when all answer, 503 with the failing parts otherwise."""

    required_roles = {"GET": {ANYONE}}
    authentication_classes: list = []
    throttle_classes: list = []  # load balancers poll this

    @extend_schema(
        responses={
            200: envelope_serializer(
                "Health",
                inline_serializer(
                    name="HealthChecks",
                    fields={"version": serializers.CharField(), "checks": serializers.DictField()},
                ),
            ),
            503: OpenApiResponse(description="A dependency is down; `details.checks` says which."),
        },
        tags=["meta"],
    )
    def get(self, request: Request) -> Response:
        results = run_probes()
        checks = {result.name: result.as_dict() for result in results}
        down = [result.name for result in results if not result.ok]
        if down:
            return Response(
                error_body("service_unavailable", f"Unavailable: {', '.join(down)}.", {"checks": checks}),
                status=503,
            )
        return envelope({"version": settings.FAIRLENS_VERSION, "checks": checks}, "healthy")


def api_not_found(request: HttpRequest, unmatched: str = "") -> JsonResponse:
    """JSON 404 for any unknown /api/ path, whatever DEBUG says (Django's debug 404 page is HTML)."""
    message = f"No API endpoint at {request.path}."
    if not request.path.endswith("/"):
        try:
            resolved = resolve(request.path + "/")
        except Resolver404:
            resolved = None
        if resolved is not None and resolved.func is not api_not_found:
            message += f" Did you mean {request.path}/ ?"
    return error_response(404, "not_found", message)


def _admin_site_of(request: HttpRequest) -> AdminSite | None:
    """The admin site (``/admin/`` or the auditor's ``/auditor/``) ``request`` is for, or None outside both."""
    from django.contrib import admin

    from core.admin_sites import auditor_site

    for site in (admin.site, auditor_site):
        try:
            index_url = reverse(f"{site.name}:index")
        except NoReverseMatch:
            continue
        if request.path.startswith(index_url):
            return site
    return None


def _error(request: HttpRequest, status: int, code: str, message: str, title: str) -> HttpResponse:
    """The error as the admin's HTML page on the admin sites, as the JSON error shape everywhere else."""
    site = _admin_site_of(request)
    if site is None:
        return error_response(status, code, message)
    context = {
        **site.each_context(request),
        "title": title,
        "message": message,
        "site_index": reverse(f"{site.name}:index"),
    }
    return render(request, "admin/fairlens_error.html", context, status=status)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 400, "bad_request", "The request could not be understood.", "Bad request")


def permission_denied(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 403, "permission_denied", "You do not have permission to do this.", "Not allowed")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return _error(request, 404, "not_found", f"Nothing at {request.path}.", "Not found")


def server_error(request: HttpRequest) -> HttpResponse:
    """500 outside DRF. The error id is the request id, which Django's own error log line carries too.

    Django calls this while handling the exception, so ``sys.exc_info()`` still holds it: an unreachable
    database or cache raised in middleware (saving the session, say) answers 503 + Retry-After instead.
    """
    failure = sys.exc_info()[1]
    dependency = unavailable_dependency(failure)
    if dependency is not None and failure is not None:
        return outage_response(request, dependency, failure)
    request_id = current_request_id()
    error_id = request_id if request_id != "-" else uuid.uuid4().hex
    message = "An unexpected error occurred. Quote the error id when reporting it."
    if _admin_site_of(request) is not None:
        return _error(request, 500, "server_error", f"{message} Error id: {error_id}.", "Server error")
    return error_response(500, "server_error", message, error_id=error_id)


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    return _error(
        request, 403, "csrf_failed", "CSRF verification failed; reload the page and try again.", "Not allowed"
    )


def favicon(request: HttpRequest) -> HttpResponse:
    """/favicon.ico, which browsers ask for on pages that name no icon (the API's, the admin's): the pages' icon."""
    response = HttpResponseRedirect(static("web/favicon.svg"))
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus exposition, for a scraper holding ``Authorization: Bearer <METRICS_TOKEN>`` (not served
    without a token configured)."""
    import hmac

    from fairlens_site.metrics import metrics_payload

    token = settings.METRICS_TOKEN
    if not token:
        return error_response(404, "not_found", "Metrics are not enabled (set METRICS_TOKEN).")
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not hmac.compare_digest(given.encode(), token.encode()):
        response = error_response(401, "not_authenticated", "Send Authorization: Bearer <METRICS_TOKEN>.")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    body, content_type = metrics_payload()
    return HttpResponse(body, content_type=content_type)
