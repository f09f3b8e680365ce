"""Evidence downloads: a bundle as indented, sorted JSON or a table as CSV, as a never-cached attachment."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers


def evidence_attachment(*, kind: str, bundle: dict[str, Any], csv_text: str, stem: str) -> HttpResponse:
    """``bundle`` as ``<stem>.json``, or ``csv_text`` as ``<stem>.csv`` when ``kind`` is csv."""
    if kind == "json":
        body, content_type = json.dumps(bundle, sort_keys=True, indent=2, ensure_ascii=False) + "\n", "application/json"
    else:
        body, content_type = csv_text, "text/csv"
    response = HttpResponse(body, content_type=f"{content_type}; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{stem}.{kind}"'
    add_never_cache_headers(response)
    return response
