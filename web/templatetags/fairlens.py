"""Template filters the pages share, so that one status looks the same on every page."""

from __future__ import annotations

from django import template

from web.dashboard_data import SEVERITY_BADGES
from web.inbox_data import STATUS_BADGES

register = template.Library()


@register.filter
def severity_badge(severity: str) -> str:
    """The badge class of an alert severity: critical and high red, medium amber, as on the dashboard."""
    return SEVERITY_BADGES.get(str(severity), "badge-none")


@register.filter
def alert_status_badge(status: str) -> str:
    """The badge class of an alert's status: open red, acknowledged amber, resolved green."""
    return STATUS_BADGES.get(str(status), "badge-none")
