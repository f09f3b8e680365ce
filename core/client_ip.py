"""Who is the client? One answer for throttling, lockout and the request log."""

from __future__ import annotations

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _valid_ip(value: str) -> str | None:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        return None


def client_ip(request: HttpRequest) -> str | None:
    """Return the client address, trusting X-Forwarded-For only as far as ``NUM_PROXIES`` proxies vouch for.

    Each trusted proxy appends the address it saw, so the client is the entry ``NUM_PROXIES`` from the right.
    Anything further left was written by the client and is ignored. Only a well-formed IP address is ever
    returned (None when there is none), because it is stored in IP-typed columns.
    """
    remote_addr = _valid_ip(request.META.get("REMOTE_ADDR", "") or "")
    proxies = settings.NUM_PROXIES
    if proxies <= 0:
        return remote_addr
    forwarded = [part for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    if len(forwarded) < proxies:
        return remote_addr
    return _valid_ip(forwarded[-proxies]) or remote_addr


def client_ident(request: HttpRequest) -> str:
    """``client_ip`` as a throttle key; requests with no usable address share one bucket."""
    return client_ip(request) or "unknown-address"
