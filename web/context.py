"""Template context for every page: the signed-in user's role and which sections they may open."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from core.roles import Role, primary_role, roles_of


def navigation(request: HttpRequest) -> dict[str, Any]:
    roles = roles_of(getattr(request, "user", None))
    return {
        "role": primary_role(roles),
        "is_admin": Role.ADMIN.value in roles,
        "is_auditor": Role.AUDITOR.value in roles,
        "can_operate": bool({Role.MONITOR.value, Role.ADMIN.value} & roles),
        "can_read_reports": bool({Role.AUDITOR.value, Role.ADMIN.value} & roles),
    }
