"""Body parsers for ingestion: the raw bytes (bounded), parsed later by the ingestion code.

Keeping the bytes lets the Idempotency-Key fingerprint cover exactly what was sent, and lets CSV go straight
into pandas and Arrow or Parquet into pyarrow. The size limit is INGEST_MAX_BODY_BYTES, separate from
Django's smaller global limit; it holds for the body as sent and, with ``Content-Encoding: gzip``, once decoded.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import BaseParser

from monitoring.ingestion.columnar import ARROW_STREAM, PARQUET


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


def decode_content(content: bytes, encoding: str, limit: int) -> bytes:
    """The body without its ``Content-Encoding`` (identity or gzip), at most ``limit`` bytes once decoded.

    Decompression stops one byte past the limit, so a small gzip body that expands to gigabytes costs no more
    than the limit: 413, like a body sent that large. A body that is not gzip is a 400; another coding, 415.
    """
    coding = encoding.strip().lower()
    if coding in ("", "identity"):
        return content
    if coding not in ("gzip", "x-gzip"):
        raise UnsupportedMediaType(
            f"Content-Encoding {encoding!r}", detail=f"Content-Encoding {encoding!r} is not supported; use gzip."
        )
    decompressor = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        decoded = decompressor.decompress(content, limit + 1)
    except zlib.error as exc:
        raise ParseError(f"The body is not valid gzip ({exc}).") from exc
    if len(decoded) > limit:
        raise RequestDataTooBig(f"The body is larger than {limit} bytes once decompressed.")
    if not decompressor.eof:
        raise ParseError("The gzip body is truncated.")
    return decoded


class _RawParser(BaseParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> RawBody:
        limit = settings.INGEST_MAX_BODY_BYTES
        request = (parser_context or {}).get("request")
        encoding = request.META.get("HTTP_CONTENT_ENCODING", "") if request is not None else ""
        return RawBody(decode_content(read_bounded(stream, limit), encoding, limit), self.media_type)


class RawJSONParser(_RawParser):
    media_type = "application/json"


class RawCSVParser(_RawParser):
    media_type = "text/csv"


class RawArrowStreamParser(_RawParser):
    media_type = ARROW_STREAM


class RawParquetParser(_RawParser):
    media_type = PARQUET


INGESTION_PARSERS = [RawJSONParser, RawCSVParser, RawArrowStreamParser, RawParquetParser]
