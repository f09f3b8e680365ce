"""The alert inbox across models, one alert's page (its facts, timeline and action dialog), and the two
actions people take on an alert: acknowledge (open -> acknowledged) and resolve (-> resolved).

Resolving an alert whose violation the latest check still finds is refused until the person confirms it
("resolve anyway"); the audit entry then names that check.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.api.errors import ApplicationError
from monitoring.alerts.models import Alert
from monitoring.alerts.selectors import alert_list, violation_still_found
from monitoring.alerts.services import acknowledge_alert, resolve_alert
from web import inbox_data
from web.access import OPERATORS, READERS, can, page_roles, redirect_back

NOTE_MAX_LENGTH = 2000


@page_roles(*READERS)
def inbox(request: HttpRequest) -> HttpResponse:
    found = inbox_data.inbox(request.GET)
    return render(
        request,
        "web/inbox.html",
        {"inbox": found, "can_operate": can(request, *OPERATORS), "page_url": request.get_full_path()},
        status=400 if found.errors else 200,
    )


@page_roles(*READERS)
def alert_page(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = alert_list({}).filter(pk=alert_id).select_related("first_check", "last_check").first()
    if alert is None:
        return render(request, "web/alert.html", {"not_found": f"There is no alert {alert_id}."}, status=404)
    return render(
        request,
        "web/alert.html",
        {
            "alert": alert,
            "timeline": inbox_data.timeline(alert),
            "persisting": violation_still_found(alert) if alert.status != Alert.Status.RESOLVED else None,
            "can_operate": can(request, *OPERATORS),
            "page_url": request.get_full_path(),
            "note_max_length": NOTE_MAX_LENGTH,
        },
    )


def _back(request: HttpRequest, alert: Alert | None) -> HttpResponse:
    return redirect_back(request, reverse("web-model", args=[alert.model.name]) if alert else reverse("web-inbox"))


def _subject(alert: Alert) -> str:
    return f"Alert {alert.pk} ({alert.metric} {alert.attribute}={alert.group})"


def _alert_action(request: HttpRequest, alert_id: int, action: Any, done: str, **extra: Any) -> HttpResponse:
    alert = Alert.objects.select_related("model").filter(pk=alert_id).first()
    if alert is None:
        messages.error(request, f"There is no alert {alert_id}.")
        return _back(request, None)
    note = request.POST.get("note", "")[:NOTE_MAX_LENGTH]
    try:
        action(alert_id=alert_id, user=request.user, note=note, **extra)
    except ApplicationError as exc:
        messages.error(request, f"{_subject(alert)}: {exc.message}")
    else:
        messages.success(request, f"{_subject(alert)} {done}.")
    return _back(request, alert)


@page_roles(*OPERATORS)
@require_POST
def acknowledge(request: HttpRequest, alert_id: int) -> HttpResponse:
    return _alert_action(request, alert_id, acknowledge_alert, "acknowledged")


@page_roles(*OPERATORS)
@require_POST
def resolve(request: HttpRequest, alert_id: int) -> HttpResponse:
    alert = Alert.objects.select_related("model").filter(pk=alert_id).first()
    noted = bool(request.POST.get("note", "").strip())  # without a note the service's own message comes first
    persisting = None
    if alert is not None and noted and alert.status != Alert.Status.RESOLVED:
        persisting = violation_still_found(alert)
    if persisting is not None and request.POST.get("resolve_anyway") != "yes":
        messages.warning(
            request,
            f"{_subject(alert)} was not resolved: the latest check ({persisting.pk}, window ending "
            f"{persisting.window_end:%Y-%m-%d %H:%M} UTC) still finds the violation. Tick “Resolve anyway” to "
            "resolve it while the violation persists; the audit trail will say so.",
        )
        return _back(request, alert)
    extra = {"persisting_check_id": persisting.pk} if persisting is not None else {}
    return _alert_action(request, alert_id, resolve_alert, "resolved", **extra)
