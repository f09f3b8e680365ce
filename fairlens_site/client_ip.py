"""Who is the client? One answer for throttling, lockout and the request log."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def client_ip(request: HttpRequest) -> str:
    """Return the client address, trusting X-Forwarded-For only as far as ``NUM_PROXIES`` proxies vouch for.

    Each trusted proxy appends the address it saw, so the client is the entry ``NUM_PROXIES`` from the right.
    Anything further left was written by the client and is ignored.
    """
    remote_addr = request.META.get("REMOTE_ADDR", "") or "unknown"
    proxies = settings.NUM_PROXIES
    if proxies <= 0:
        return remote_addr
    forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote_addr
    return forwarded[-proxies]
