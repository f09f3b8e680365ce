"""Request rates and latencies for Prometheus: one histogram by method, URL route and status code.

The route is the URL pattern (``api/v1/models/<str:name>/...``), never the path, so the number of series is
bounded by the URL configuration. Under gunicorn each worker is a process: ``fairlens_site/gunicorn_conf.py``
sets ``PROMETHEUS_MULTIPROC_DIR`` before the workers start, so every worker's samples land in files there and
``/metrics`` adds them up (prometheus_client's multiprocess mode).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from prometheus_client import Histogram

REQUEST_SECONDS = Histogram(
    "fairlens_http_request_duration_seconds",
    "Time to answer an HTTP request, by method, URL route and status code.",
    ["method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class RequestMetricsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        response = self.get_response(request)
        match = getattr(request, "resolver_match", None)
        route = match.route if match is not None and match.route else "unmatched"
        method = request.method if request.method in KNOWN_METHODS else "other"
        REQUEST_SECONDS.labels(method, route, str(response.status_code)).observe(time.perf_counter() - started)
        return response
