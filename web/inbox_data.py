"""What the alert inbox shows: alerts of every model filtered and paged, and one alert's timeline (opened,
escalated, acknowledged, resolved, each with the deliveries that told people and systems, and their attempts).
The reads are the alerts app's selectors; this module turns rows into words. No writes, no HTTP."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, time, timedelta
from typing import Any

from django import forms
from django.core.paginator import Page, Paginator
from django.utils.http import urlencode

from monitoring.alerts.models import Alert, Delivery, OutboxEvent
from monitoring.alerts.selectors import UNRESOLVED, alert_events, alert_metrics, inbox_alerts
from registry.selectors import model_list

PAGE_SIZE = 25
UNRESOLVED_FILTER = "unresolved"
STATUS_BADGES = {"open": "badge-bad", "acknowledged": "badge-warn", "resolved": "badge-ok"}
EVENT_WORDS = {
    "alert.opened": "Opened",
    "alert.escalated": "Escalated",
    "alert.acknowledged": "Acknowledged",
    "alert.resolved": "Resolved",
}


class InboxFilterForm(forms.Form):
    """The inbox's filters; every field is optional and an empty one does not filter."""

    status = forms.ChoiceField(
        required=False,
        choices=[(UNRESOLVED_FILTER, "Unresolved (open or acknowledged)"), *Alert.Status.choices, ("", "Any status")],
    )
    model = forms.ChoiceField(required=False, choices=())
    metric = forms.ChoiceField(required=False, choices=())
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *Alert.Severity.choices])
    opened_from = forms.DateField(required=False, label="Opened on or after", widget=forms.DateInput({"type": "date"}))
    opened_to = forms.DateField(required=False, label="Opened on or before", widget=forms.DateInput({"type": "date"}))

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        super().__init__(data)
        self.fields["model"].choices = [("", "Any model")] + [(m.name, m.name) for m in model_list()]
        self.fields["metric"].choices = [("", "Any metric")] + [(m, m) for m in alert_metrics()]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        start, end = cleaned.get("opened_from"), cleaned.get("opened_to")
        if start and end and end < start:
            self.add_error("opened_to", "The end date is before the start date.")
        return cleaned


def _day_start(day: Any) -> datetime:
    """Midnight UTC of ``day``: the inbox's dates are UTC days, as every time on the pages."""
    return datetime.combine(day, time.min, tzinfo=UTC)


@dataclass(frozen=True)
class Inbox:
    form: InboxFilterForm
    page: Page
    rows: list[Alert]
    errors: list[str]
    query: str  # the filters as a query string, for the paging links


def inbox(params: Mapping[str, str]) -> Inbox:
    """Alerts matching the filters in ``params`` (by default the unresolved ones), a page of ``PAGE_SIZE``.

    A filter that does not validate is reported and ignored; the others still apply."""
    data = {name: params.get(name, "") for name in InboxFilterForm.base_fields}
    if "status" not in params:
        data["status"] = UNRESOLVED_FILTER
    form = InboxFilterForm(data)
    form.is_valid()
    cleaned = {name: value for name, value in form.cleaned_data.items() if name not in form.errors}
    errors = [
        f"{form.fields[name].label or name.capitalize()}: {' '.join(messages)}"
        for name, messages in form.errors.items()
    ]
    status = cleaned.get("status") or ""
    filters = {name: cleaned.get(name) or "" for name in ("model", "metric", "severity")}
    if status != UNRESOLVED_FILTER:
        filters["status"] = status
    alerts = inbox_alerts(
        filters,
        opened_from=_day_start(cleaned["opened_from"]) if cleaned.get("opened_from") else None,
        opened_before=_day_start(cleaned["opened_to"]) + timedelta(days=1) if cleaned.get("opened_to") else None,
    )
    if status == UNRESOLVED_FILTER:
        alerts = alerts.filter(status__in=UNRESOLVED)
    page = Paginator(alerts, PAGE_SIZE).get_page(params.get("page"))
    rows = list(page.object_list)
    query = urlencode({name: form.data[name] for name in InboxFilterForm.base_fields if form.data.get(name)})
    return Inbox(form=form, page=page, rows=rows, errors=errors, query=query)


# --- One alert's timeline -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AttemptLine:
    number: int
    started_at: datetime
    outcome: str
    latency_ms: float | None


@dataclass(frozen=True)
class DeliveryLine:
    destination: str
    status: str
    status_label: str
    badge: str
    attempts: list[AttemptLine]


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    what: str
    detail: str = ""
    deliveries: list[DeliveryLine] = field(default_factory=list)


DELIVERY_BADGES = {"delivered": "badge-ok", "pending": "badge-warn", "failed": "badge-bad", "cancelled": "badge-none"}


def _attempt_outcome(attempt: Any) -> str:
    if attempt.status_code:
        return f"HTTP {attempt.status_code}" + (f" ({attempt.error})" if attempt.error else "")
    return attempt.error_class or attempt.error or "no answer"


def _delivery_line(delivery: Delivery) -> DeliveryLine:
    if delivery.endpoint is not None:
        destination = f"webhook {delivery.endpoint.name}"
    else:
        destination = "e-mail to " + ", ".join(delivery.recipients)
    return DeliveryLine(
        destination=destination,
        status=delivery.status,
        status_label=delivery.get_status_display(),
        badge=DELIVERY_BADGES.get(delivery.status, "badge-none"),
        attempts=[
            AttemptLine(item.number, item.started_at, _attempt_outcome(item), item.latency_ms)
            for item in delivery.attempt_log.all()
        ],
    )


def _who(user: Any) -> str:
    return user.get_username() if user is not None else "a deleted user"


def _event_detail(alert: Alert, event: OutboxEvent) -> str:
    data = (event.payload or {}).get("data") or {}
    if event.type == "alert.opened":
        return f"severity {data.get('severity', alert.severity)}, by check {alert.first_check_id}"
    if event.type == "alert.escalated":
        change = f"{data.get('previous_severity', '?')} → {data.get('severity', '?')}"
        return f"severity {change}, by check {data.get('check_id')}"
    if event.type == "alert.acknowledged":
        return f"by {_who(alert.acknowledged_by)}: {alert.acknowledgement_note}" if alert.acknowledged_at else ""
    if event.type == "alert.resolved":
        if data.get("resolution") == "auto" or alert.resolution == "auto":
            return f"automatically, {alert.resolution_note}"
        return f"by {_who(alert.resolved_by)}: {alert.resolution_note}"
    return ""


def timeline(alert: Alert) -> list[TimelineEntry]:
    """The alert's life, oldest first: one entry per event it raised, with that event's deliveries; a change the
    alert records but no event reports (e.g. data from before events named the alert) is listed on its own."""
    entries = [
        TimelineEntry(
            at=event.created_at,
            what=EVENT_WORDS.get(event.type, event.type),
            detail=_event_detail(alert, event),
            deliveries=[_delivery_line(item) for item in event.deliveries.all()],
        )
        for event in alert_events(alert)
    ]
    seen = {entry.what for entry in entries}
    recorded = [
        ("Opened", alert.opened_at, f"severity {alert.severity}, by check {alert.first_check_id}"),
        ("Acknowledged", alert.acknowledged_at, f"by {_who(alert.acknowledged_by)}: {alert.acknowledgement_note}"),
        ("Resolved", alert.resolved_at, alert.resolution_note),
    ]
    entries += [TimelineEntry(at, what, detail) for what, at, detail in recorded if at is not None and what not in seen]
    entries.sort(key=lambda entry: entry.at)
    return entries
