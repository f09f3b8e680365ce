"""The start-up summary: active modules, infrastructure and endpoints."""

from __future__ import annotations

import re

from django.apps import apps
from django.conf import settings
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver

FAIRLENS_APPS = ("accounts", "registry", "monitoring", "compliance", "alerts", "web")


_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>[^)]*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


def _readable(pattern: str) -> str:
    """Router regexes (``^users/(?P<pk>[^/.]+)/$``) as paths (``users/{pk}/``)."""
    return (
        _CONVERTER.sub(r"{\1}", _NAMED_GROUP.sub(r"{\1}", pattern)).replace("^", "").replace("$", "").replace("\\", "")
    )


def _walk(patterns: list, prefix: str = "") -> list[str]:
    routes: list[str] = []
    for entry in patterns:
        if isinstance(entry, URLResolver):
            routes.extend(_walk(entry.url_patterns, prefix + _readable(str(entry.pattern))))
        elif isinstance(entry, URLPattern):
            routes.append("/" + prefix + _readable(str(entry.pattern)))
    return routes


def endpoints() -> list[str]:
    """API routes (seed and /api/v1/), without format-suffix variants or the JSON-404 catch-all."""
    routes = _walk(get_resolver().url_patterns)
    return sorted(
        {
            route
            for route in routes
            if route.startswith("/api") and "{unmatched}" not in route and "{format}" not in route
        }
    )


def startup_summary(bind: str = "") -> str:
    from fairlens_site.celery import app as celery_app

    modules = [f"{label} ({apps.get_app_config(label).verbose_name})" for label in FAIRLENS_APPS]
    lines = [
        f"FairLens {settings.FAIRLENS_VERSION} listening on http://{bind}"
        if bind
        else f"FairLens {settings.FAIRLENS_VERSION}",
        f"  debug: {settings.DEBUG}",
        f"  database: {connection.vendor}   cache: {settings.CACHES['default']['BACKEND'].rsplit('.', 1)[-1]}   "
        f"broker: {(celery_app.conf.broker_url or '').split('://', 1)[0]}",
        "  modules: " + ", ".join(modules),
        "  endpoints:",
        *[f"    {route}" for route in endpoints()],
        "  people: /login/, /dashboard/ (all roles), /reports/ (auditor; admin summary), /admin/ (admin),",
        "          /auditor/ (auditor, read-only), /api/docs/ (Swagger UI)",
    ]
    return "\n".join(lines)
