"""Rate limits backed by the shared cache (Redis in production).

Rates are read from settings on each request rather than frozen at import, so deployments and tests can
change them. Clients are identified by ``client_ip`` (which honours ``NUM_PROXIES``), users by id and model
clients by key, so rotating X-Forwarded-For buys no fresh bucket. Throttles are not the brute-force defence
(DRF's counters are not atomic); django-axes lockout is.

When the cache cannot be reached, a throttle either fails open (serves the request, logs and counts it) or
fails closed (the request answers 503 + Retry-After):

* signed-in users and model clients fail open: they are known principals, and ingestion and reads need only
  the database, so a Redis outage must not take the API down with it;
* sign-in and token refresh fail open: guessing passwords is stopped by django-axes, whose lockout state is
  in the database, and refreshing needs a valid refresh token;
* other anonymous requests fail closed: their rate limit is the only bound on what anyone may ask of the
  public (and, in demo mode, CPU-heavy) endpoints.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from core.api.outages import CACHE, throttle_fail_open, unavailable_dependency
from core.client_ip import client_ident


class _SettingsRateThrottle(SimpleRateThrottle):
    #: Serve the request when the cache is down (True), or let the outage answer 503 (False).
    fail_open = True

    def allow_request(self, request: Any, view: Any) -> bool:
        try:
            return super().allow_request(request, view)
        except Exception as exc:
            if unavailable_dependency(exc) != CACHE or not self._fails_open(view):
                raise
            throttle_fail_open.record(self.scope, exc)
            return True

    def _fails_open(self, view: Any) -> bool:
        return self.fail_open or bool(getattr(view, "throttle_fail_open", False))

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def _key(self, ident: str) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"
    # Fails closed, except on views that declare ``throttle_fail_open`` (sign-in, whose guard is axes).
    fail_open = False

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        if request.user and request.user.is_authenticated:
            return None
        return self._key(client_ident(request))


class PrincipalRateThrottle(_SettingsRateThrottle):
    """Authenticated requests, per user or per model-client key."""

    scope = "principal"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        user = request.user
        if not (user and user.is_authenticated):
            return None
        key = getattr(user, "throttle_ident", None) or f"user:{user.pk}"
        return self._key(key)


class LoginRateThrottle(_SettingsRateThrottle):
    """Login and token refresh attempts, per client address."""

    scope = "login"

    def get_cache_key(self, request: Any, view: Any) -> str | None:
        return self._key(client_ident(request))
