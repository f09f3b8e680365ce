"""The period a report covers, parsed from ``?start=YYYY-MM-DD&end=YYYY-MM-DD`` (the page's form and the API)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.utils import timezone

from core.timestamps import rfc3339_utc

DEFAULT_DAYS = 7
MAX_DAYS = 366
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


@dataclass(frozen=True)
class Period:
    """Whole UTC days from ``start_date`` through ``end_date`` (inclusive): ``[start, end)`` as instants."""

    start_date: date
    end_date: date

    @property
    def start(self) -> datetime:
        return datetime.combine(self.start_date, time.min, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        return datetime.combine(self.end_date, time.min, tzinfo=UTC) + timedelta(days=1)

    def as_dict(self) -> dict[str, str]:
        return {
            "start_date": self.start_date.isoformat(),
            "end_date": self.end_date.isoformat(),
            "start": rfc3339_utc(self.start),
            "end": rfc3339_utc(self.end),
        }


@dataclass
class PeriodChoice:
    """What the request asked for: the period (None when invalid) and a message per bad field."""

    period: Period | None
    start_text: str
    end_text: str
    version_text: str
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def query(self) -> dict[str, str]:
        """The request's values, for links and hidden fields that keep the same report."""
        values = {"start": self.start_text, "end": self.end_text}
        if self.version_text:
            values["version"] = self.version_text
        return values


def _parse_date(text: str) -> date | None:
    if not _DATE.match(text):
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        return None


def parse_period(params: Mapping[str, Any], now: datetime | None = None) -> PeriodChoice:
    """The period of ``?start=YYYY-MM-DD&end=YYYY-MM-DD``; by default the last 7 days up to today (UTC)."""
    today = (now or timezone.now()).astimezone(UTC).date()
    start_text = str(params.get("start") or "").strip() or (today - timedelta(days=DEFAULT_DAYS)).isoformat()
    end_text = str(params.get("end") or "").strip() or today.isoformat()
    version_text = str(params.get("version") or "").strip()
    errors: dict[str, str] = {}
    start, end = _parse_date(start_text), _parse_date(end_text)
    if start is None:
        errors["start"] = "Enter the start as a date, YYYY-MM-DD (for example 2026-10-01)."
    if end is None:
        errors["end"] = "Enter the end as a date, YYYY-MM-DD (for example 2026-10-07)."
    elif end >= date.max:
        errors["end"] = "Enter an end date before 9999-12-31."
        end = None
    if start is not None and end is not None:
        if start > end:
            errors["start"] = "The start date is after the end date."
        elif (end - start).days + 1 > MAX_DAYS:
            errors["end"] = f"A report covers at most {MAX_DAYS} days."
    period = Period(start, end) if not errors and start is not None and end is not None else None
    return PeriodChoice(period, start_text[:40], end_text[:40], version_text[:50], errors)
