"""Sign-in and sign-out for the pages (Django sessions with CSRF), and choosing a password from an e-mailed link.

Sign-in goes through the same service as the API's /api/login: django-axes counts failures and locks out, an
enrolled account gives its authenticator code (or a recovery code), and every success, failure and lockout is
an audit entry.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods

from accounts.mfa import InvalidOtp, OtpRequired
from accounts.permissions import SESSION_MFA_KEY
from accounts.services import (
    ApprovalPending,
    InvalidCredentials,
    LockedOut,
    SignIn,
    authenticate_user,
    password_reset_complete,
)
from core.api.errors import ApplicationError


class AuditedAuthenticationForm(AuthenticationForm):
    otp = forms.CharField(required=False, max_length=32, strip=True)
    sign_in: SignIn | None = None

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username")
        password = self.cleaned_data.get("password")
        if username is not None and password:
            try:
                self.sign_in = authenticate_user(
                    request=self.request,
                    username=username,
                    password=password,
                    otp=self.cleaned_data.get("otp") or None,
                )
            except LockedOut:
                raise forms.ValidationError(
                    "Too many failed sign-in attempts. Try again later.", code="locked_out"
                ) from None
            except InvalidCredentials:
                raise self.get_invalid_login_error() from None
            except OtpRequired:
                raise forms.ValidationError(
                    "Enter the code from your authenticator app (or a recovery code).", code="otp_required"
                ) from None
            except InvalidOtp:
                raise forms.ValidationError(
                    "The one-time code is wrong, expired or already used.", code="invalid_otp"
                ) from None
            except ApprovalPending as exc:
                raise forms.ValidationError(exc.message, code="approval_pending") from None
            if self.sign_in.must_enrol:
                raise forms.ValidationError(
                    "This account needs an authenticator before it can sign in here: enrol one through the API "
                    "(POST /api/v1/accounts/mfa/totp/, see docs/security.md), then sign in with its code.",
                    code="mfa_enrolment_required",
                )
            self.user_cache = self.sign_in.user
            self.confirm_login_allowed(self.user_cache)
        return self.cleaned_data


class LoginView(auth_views.LoginView):
    template_name = "web/login.html"
    authentication_form = AuditedAuthenticationForm
    redirect_authenticated_user = True

    def form_valid(self, form: AuditedAuthenticationForm) -> HttpResponse:
        response = super().form_valid(form)
        # After login(), which gives the session a new key: the mark belongs to this sign-in only.
        if form.sign_in is not None and form.sign_in.mfa_at is not None:
            self.request.session[SESSION_MFA_KEY] = form.sign_in.mfa_at
        return response


class LogoutView(auth_views.LogoutView):
    next_page = "web-login"


@sensitive_post_parameters("password", "password2")
@never_cache
@require_http_methods(["GET", "POST"])
def password_reset(request: HttpRequest) -> HttpResponse:
    """Choose a password with the one-time token of a reset or invitation e-mail (the link's ``token``)."""
    token = str(request.POST.get("token") or request.GET.get("token") or "")[:200]
    context: dict[str, Any] = {"token": token, "done": False, "error": None}
    status = 200
    if request.method == "POST":
        password = str(request.POST.get("password", ""))
        if password != str(request.POST.get("password2", "")):
            context["error"] = "The two passwords differ."
            status = 400
        else:
            try:
                password_reset_complete(token=token, password=password)
            except ApplicationError as exc:
                messages = exc.details.get("password") or [exc.message]
                context["error"] = " ".join(str(message) for message in messages)
                status = exc.status_code
            else:
                context["done"] = True
    response = render(request, "web/password_reset.html", context, status=status)
    # The token is in this page's URL: keep it out of other sites' Referer headers.
    response["Referrer-Policy"] = "no-referrer"
    return response
