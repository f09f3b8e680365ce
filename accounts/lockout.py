"""The JSON answer django-axes gives once a username/address pair is locked out."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from core.api.errors import error_body


def lockout_response(
    request: HttpRequest, original_response: Any = None, credentials: dict[str, Any] | None = None
) -> HttpResponse:
    """429 with Retry-After: the cool-off ends the lockout by itself; no admin is needed to unlock.

    JSON for the API, the sign-in page again (with the message) for people using the pages.
    """
    seconds = int(settings.AXES_COOLOFF_TIME.total_seconds())
    minutes = max(1, round(seconds / 60))
    if not request.path.startswith("/api/"):
        response = render(request, "web/locked_out.html", {"minutes": minutes}, status=429)
        response["Retry-After"] = str(seconds)
        return response
    response = JsonResponse(
        error_body(
            "locked_out",
            f"Too many failed login attempts. Try again in {minutes} minutes.",
            {"retry_after_seconds": seconds},
        ),
        status=429,
    )
    response["Retry-After"] = str(seconds)
    return response
