"""Two admin sites: /admin/ for the admin role, /auditor/ (read-only) for the auditor role.

Neither role can enter the other's site, so administering FairLens and auditing it stay with different
people. Both sign in through the pages' sign-in, with the second factor.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from core.roles import Role, roles_of


class _SignInThroughThePages:
    """Both sites sign people in on the pages' sign-in (/login/), which asks enrolled accounts for their second
    factor; Django's own admin login form knows nothing of it and is never shown."""

    allowed_role: str = ""

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        if request.user.is_authenticated:
            # Signed in with another role: going to the sign-in page would only bounce back here.
            return render(request, "web/forbidden.html", {"allowed": [self.allowed_role]}, status=403)
        next_url = request.GET.get("next") or reverse(f"{self.name}:index")  # type: ignore[attr-defined]
        return redirect_to_login(next_url, reverse("web-login"))


class FairLensAdminSite(_SignInThroughThePages, admin.AdminSite):
    site_header = "FairLens administration"
    site_title = "FairLens admin"
    index_title = "Administration"
    allowed_role = Role.ADMIN.value

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and Role.ADMIN.value in roles_of(user))


class AuditorAdminSite(_SignInThroughThePages, admin.AdminSite):
    site_header = "FairLens audit (read-only)"
    site_title = "FairLens audit"
    index_title = "Audit records"
    site_url = None
    allowed_role = Role.AUDITOR.value

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and Role.AUDITOR.value in roles_of(user))


auditor_site = AuditorAdminSite(name="auditor")


class ReadOnlyAdmin(admin.ModelAdmin):
    """A model admin for the auditor site: every auditor may view, nobody may add, change or delete."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self.admin_site.has_permission(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.admin_site.has_permission(request)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
