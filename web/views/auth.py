"""Sign-in and sign-out for the pages (Django sessions with CSRF).

Sign-in goes through the same service as the API's /api/login: django-axes counts failures and locks out,
and every success, failure and lockout is an audit entry.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm

from accounts.services import InvalidCredentials, LockedOut, authenticate_user


class AuditedAuthenticationForm(AuthenticationForm):
    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.user_cache = authenticate_user(request=self.request, username=username, password=password)
            except LockedOut:
                raise forms.ValidationError(
                    "Too many failed sign-in attempts. Try again later.", code="locked_out"
                ) from None
            except InvalidCredentials:
                raise self.get_invalid_login_error() from None
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = AuditedAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "web-login"
