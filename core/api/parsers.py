"""The API's JSON parser: DRF's, with the strict decoding of ``json_input`` (depth, NaN, NUL, surrogates)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from rest_framework.parsers import JSONParser

from core.api.json_input import decode_json


class StrictJSONParser(JSONParser):
    """JSON bodies for every view that reads ``request.data`` (login, registry, alerts, ...)."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        if stream is None:
            return {}
        # Django's global body limit, as request.body would apply it; ingestion has its own, larger one.
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        content = stream.read() if limit is None else stream.read(limit + 1)
        if limit is not None and len(content) > limit:
            raise RequestDataTooBig(f"The body is larger than {limit} bytes.")
        return decode_json(content)
