"""``HasRole``: the one DRF permission class. Each view declares which roles may do what; anything else is denied.

A view sets ``required_roles``, a map from viewset action (``list``, ``create``, ``revoke``…) or HTTP method
(``GET``, ``POST``…) to the roles allowed::

    required_roles = {"GET": {Role.MONITOR, Role.AUDITOR, Role.ADMIN}, "POST": {Role.ADMIN}}

``ANYONE`` opens an entry to unauthenticated callers. A view without a map, or a method missing from it, is
denied: forgetting to declare access fails closed. HEAD and OPTIONS follow GET.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from rest_framework.permissions import BasePermission

from core.api.errors import ApplicationError
from core.roles import ANYONE, DEMO_VISITOR, Role, roles_of

# With FAIRLENS_REQUIRE_MFA, these roles act only on a sign-in that passed the second factor.
MFA_ROLES = frozenset({Role.ADMIN.value, Role.AUDITOR.value})
# Where a session records the time its sign-in passed the second factor (set by the sign-in page).
SESSION_MFA_KEY = "fairlens_mfa_at"


class SecondFactorRequired(ApplicationError):
    status_code = 403
    code = "mfa_enrolment_required"


_METHOD_FALLBACKS = {"HEAD": "GET", "OPTIONS": "GET"}


def allowed_roles(view: Any, request: Any) -> frozenset[str]:
    """The roles the view allows for this request; empty when the view does not say (deny by default)."""
    role_map: dict[str, Iterable[str]] | None = getattr(view, "required_roles", None)
    if not role_map:
        return frozenset()
    action = getattr(view, "action", None)
    if action and action in role_map:
        return frozenset(str(role) for role in role_map[action])
    method = request.method.upper()
    method = method if method in role_map else _METHOD_FALLBACKS.get(method, method)
    return frozenset(str(role) for role in role_map.get(method, ()))


def _handles_method(view: Any, request: Any) -> bool:
    method = request.method.lower()
    action_map = getattr(view, "action_map", None)
    if action_map is not None:
        return method in action_map or method == "options"
    return hasattr(view, method)


class HasRole(BasePermission):
    """Allow the request when the principal holds a role the view lists for this action or method."""

    message = "Your role does not allow this."

    def has_permission(self, request: Any, view: Any) -> bool:
        if not _handles_method(view, request):
            return True  # nothing would run; let DRF answer 405 rather than 401/403
        allowed = allowed_roles(view, request)
        if ANYONE in allowed:
            return True
        if DEMO_VISITOR in allowed and settings.FAIRLENS_DEMO_ENDPOINTS:
            return True
        roles = roles_of(request.user)
        if not allowed & roles:
            return False
        needs_second_factor = (
            settings.FAIRLENS_REQUIRE_MFA and roles & MFA_ROLES and not getattr(view, "mfa_enrolment", False)
        )
        if needs_second_factor and not signed_in_with_second_factor(request):
            raise SecondFactorRequired(
                "Admins and auditors need a second factor: enrol an authenticator "
                "(POST /api/v1/accounts/mfa/totp/), then sign in again with `otp`."
            )
        return True


def signed_in_with_second_factor(request: Any) -> bool:
    """Whether this request's sign-in passed the second factor: the JWT's ``mfa_at`` claim, or the session's."""
    token = getattr(request, "auth", None)
    if token is not None and hasattr(token, "get"):
        return bool(token.get("mfa_at"))
    session = getattr(getattr(request, "_request", request), "session", None)
    return bool(session is not None and session.get(SESSION_MFA_KEY))


class _PublicDocs(BasePermission):
    def has_permission(self, request: Any, view: Any) -> bool:
        return True


class _AnyRole(BasePermission):
    message = "Sign in to read the API documentation."

    def has_permission(self, request: Any, view: Any) -> bool:
        return bool(roles_of(request.user))


def api_docs_permission() -> type[BasePermission]:
    """Schema and Swagger UI are public only when FAIRLENS_API_DOCS_PUBLIC is on (default: DEBUG)."""
    return _PublicDocs if settings.API_DOCS_PUBLIC else _AnyRole
