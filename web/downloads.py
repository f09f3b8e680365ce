"""Evidence downloads: a bundle as indented, sorted JSON, a table as CSV, or the document as a signed PDF, as a
never-cached attachment."""

from __future__ import annotations

import json
from typing import Any

from django.http import HttpResponse
from django.utils.cache import add_never_cache_headers

from compliance.pdf_signing import SigningMaterialError
from compliance.report_signing import ReportSigningUnavailable
from core.api.errors import error_response
from monitoring.audit_report.export import issue_pdf, record_document_export


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


def document_download(
    *, actor: Any, kind: str, bundle: dict[str, Any], object_type: str, object_id: str, stem: str, csv_text: str = ""
) -> HttpResponse:
    """A document as ``kind`` (json, csv or a signed pdf), its export recorded with the bundle's digest."""
    if kind == "pdf":
        return signed_pdf_attachment(
            actor=actor, bundle=bundle, object_type=object_type, object_id=object_id, stem=stem
        )
    record_document_export(actor=actor, bundle=bundle, fmt=kind, object_type=object_type, object_id=object_id)
    return evidence_attachment(kind=kind, bundle=bundle, csv_text=csv_text, stem=stem)


def signed_pdf_attachment(
    *, actor: Any, bundle: dict[str, Any], object_type: str, object_id: str, stem: str
) -> HttpResponse:
    """The bundle's document as a signed PDF attachment (its export recorded), or a 503 JSON error when the
    deployment cannot sign documents."""
    try:
        pdf = issue_pdf(actor=actor, bundle=bundle, object_type=object_type, object_id=object_id)
    except (ReportSigningUnavailable, SigningMaterialError) as exc:
        return error_response(503, "report_signing_unavailable", str(exc))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{stem}.pdf"'
    add_never_cache_headers(response)
    return response
