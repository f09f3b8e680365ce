"""Where a webhook may be sent: a URL checked under the configured SSRF rules, pinned to the address it resolved
to. Both the endpoint services (refusing a URL at creation) and delivery (sending) ask here."""

from __future__ import annotations

from django.conf import settings

from monitoring.alerts.webhooks.ssrf import Destination, check_url


def destination_for(url: str) -> Destination:
    """The validated, address-pinned destination of ``url`` under the configured SSRF rules."""
    return check_url(
        url,
        allow_http=settings.WEBHOOK_ALLOW_INSECURE_HTTP,
        allowed_ports=settings.WEBHOOK_ALLOWED_PORTS,
        allowed_private=settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS,
    )
