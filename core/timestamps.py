"""The one spelling of an instant that the API, webhooks, reports and evidence write: RFC 3339 in UTC with a
literal ``Z`` (``2026-10-01T00:00:00Z``; microseconds only when there are any).

Audit entries are the exception, on purpose: their ``time`` is part of the signed canonical entry and always has
six fraction digits (``compliance.crypto.canonical.format_rfc3339_utc``)."""

from __future__ import annotations

from datetime import UTC, datetime


def rfc3339_utc(moment: datetime) -> str:
    """``moment`` (timezone-aware) in UTC, RFC 3339 with ``Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("timestamps must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def rfc3339_utc_or_none(moment: datetime | None) -> str | None:
    return rfc3339_utc(moment) if moment is not None else None
