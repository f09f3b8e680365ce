"""Who may open which page: the same roles as the API, checked on the signed-in session."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import wraps
from typing import Any

from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme

from core.roles import Role, roles_of

READERS = (Role.MONITOR, Role.AUDITOR, Role.ADMIN)
OPERATORS = (Role.MONITOR, Role.ADMIN)


def page_roles(*allowed: Iterable[str] | str) -> Callable:
    """Let a view run for signed-in users holding one of ``allowed``; send others to the login page (not signed
    in) or show a 403 page that says which roles may enter (signed in, wrong role)."""
    names = frozenset(str(role) for role in allowed)

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            if not names & roles_of(request.user):
                return render(
                    request,
                    "web/forbidden.html",
                    {"allowed": sorted(names)},
                    status=403,
                )
            return view(request, *args, **kwargs)

        return guarded

    return decorate


def can(request: HttpRequest, *roles: str) -> bool:
    return bool(frozenset(str(role) for role in roles) & roles_of(request.user))


def redirect_back(request: HttpRequest, fallback: str) -> HttpResponse:
    """Redirect to the form's ``next`` when it is a page of this site, else to ``fallback`` (a URL)."""
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return redirect(target)
    return redirect(fallback)
