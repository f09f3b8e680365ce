"""Rate limits backed by the shared cache (Redis in production).

Rates are read from settings on each request rather than frozen at import, so deployments and tests can
change them. Clients are identified by ``client_ip`` (which honours ``NUM_PROXIES``), users by id and model
clients by key, so rotating X-Forwarded-For buys no fresh bucket. Throttles are not the brute-force defence
(DRF's counters are not atomic); django-axes lockout is.
"""

from __future__ import annotations

from typing import Any

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from fairlens_site.client_ip import client_ident


class _SettingsRateThrottle(SimpleRateThrottle):
    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def _key(self, ident: str) -> str:
        return self.cache_format % {"scope": self.scope, "ident": ident}


class AnonymousRateThrottle(_SettingsRateThrottle):
    """Requests without credentials, per client address."""

    scope = "anon"

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
