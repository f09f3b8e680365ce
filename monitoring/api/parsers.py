"""Body parsers for ingestion: the raw bytes (bounded), parsed later by the ingestion code.

Keeping the bytes lets the Idempotency-Key fingerprint cover exactly what was sent, and lets CSV go straight
into pandas. The size limit is INGEST_MAX_BODY_BYTES, separate from Django's smaller global limit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.parsers import BaseParser


@dataclass(frozen=True)
class RawBody:
    content: bytes
    media_type: str


def read_bounded(stream: Any, limit: int) -> bytes:
    if stream is None:
        return b""
    content = stream.read(limit + 1)
    if len(content) > limit:
        raise RequestDataTooBig(f"The body is larger than {limit} bytes.")
    return content


class _RawParser(BaseParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> RawBody:
        return RawBody(read_bounded(stream, settings.INGEST_MAX_BODY_BYTES), self.media_type)


class RawJSONParser(_RawParser):
    media_type = "application/json"


class RawCSVParser(_RawParser):
    media_type = "text/csv"
