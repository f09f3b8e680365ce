"""Roles: the three user roles (Django groups) and the model-client principal of API keys.

| role         | may                                                        |
|--------------|------------------------------------------------------------|
| monitor      | read models, checks, trends, dashboards; ingest            |
| auditor      | read the audit log, verify, decrypt alerts, read-only rest |
| admin        | manage users, models, policies, keys, webhooks             |
| model_client | (API key) ingest for its own model                         |

No user may hold both admin and auditor (separation of duties, NIST SP 800-53 AC-5).
"""

from __future__ import annotations

from typing import Any

from django.db import models


class Role(models.TextChoices):
    MONITOR = "monitor", "Monitor"
    AUDITOR = "auditor", "Auditor"
    ADMIN = "admin", "Admin"


MODEL_CLIENT = "model_client"
# Marker for endpoints anyone may call, credentials or not (health, login, the API index).
ANYONE = "anyone"
# Marker for the seed's demo endpoints: anonymous callers are let in only while FAIRLENS_DEMO_ENDPOINTS is on.
DEMO_VISITOR = "demo_visitor"

USER_ROLES = frozenset(role.value for role in Role)
# When a user holds several roles, the login answer names the most powerful one.
_PRECEDENCE = (Role.ADMIN, Role.AUDITOR, Role.MONITOR)
INCOMPATIBLE_ROLES = frozenset({Role.ADMIN.value, Role.AUDITOR.value})


def roles_of(user: Any) -> frozenset[str]:
    """The roles a principal holds: group names for users (superusers count as admin), model_client for keys.

    Cached on the user object for the request, since permission checks ask repeatedly.
    """
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if getattr(user, "is_model_client", False):
        return frozenset({MODEL_CLIENT})
    if not user.is_active:
        return frozenset()
    cached = getattr(user, "_fairlens_roles", None)
    if cached is None:
        names = set(user.groups.filter(name__in=USER_ROLES).values_list("name", flat=True))
        if user.is_superuser:
            names.add(Role.ADMIN.value)
        cached = frozenset(names)
        user._fairlens_roles = cached
    return cached


def assigned_role(user: Any) -> str | None:
    """The role group a user was given (superuser status aside), or None; users hold at most one."""
    names = sorted(user.groups.filter(name__in=USER_ROLES).values_list("name", flat=True))
    return names[0] if names else None


def primary_role(roles: frozenset[str]) -> str | None:
    for role in _PRECEDENCE:
        if role.value in roles:
            return role.value
    return MODEL_CLIENT if MODEL_CLIENT in roles else None


def principal_label(user: Any, auth: Any = None) -> tuple[str, str]:
    """(who, role) for the request log: username or key prefix, and the primary role ('-' when none)."""
    if user is None or not getattr(user, "is_authenticated", False):
        return "anonymous", "-"
    return str(user.get_username()), primary_role(roles_of(user)) or "-"
