"""Two admin sites: /admin/ for the admin role, /auditor/ (read-only) for the auditor role.

Neither role can enter the other's site, so administering FairLens and auditing it stay with different
people.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.http import HttpRequest

from accounts.roles import Role, roles_of


class FairLensAdminSite(admin.AdminSite):
    site_header = "FairLens administration"
    site_title = "FairLens admin"
    index_title = "Administration"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        return bool(user.is_active and user.is_staff and Role.ADMIN.value in roles_of(user))


class AuditorAuthenticationForm(AdminAuthenticationForm):
    """Admits auditors, who are deliberately not staff and so could not use the regular admin login form."""

    def confirm_login_allowed(self, user: Any) -> None:
        if not user.is_active or Role.AUDITOR.value not in roles_of(user):
            raise forms.ValidationError(
                "Please enter the username and password of an auditor account.", code="invalid_login"
            )


class AuditorAdminSite(admin.AdminSite):
    site_header = "FairLens audit (read-only)"
    site_title = "FairLens audit"
    index_title = "Audit records"
    site_url = None
    login_form = AuditorAuthenticationForm

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
