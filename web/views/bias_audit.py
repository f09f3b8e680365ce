"""A model's NYC LL144 bias audit over a period (auditors and admins read it; auditors download its bundle).

The auditor may exclude a category under 2% of a table's data, with a written justification, from the form on
the page; the exclusions travel in the query, so the page and its download show the same audit.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from core.api.errors import error_response
from core.roles import Role
from monitoring.audit_report.build import report_version
from monitoring.audit_report.ll144 import (
    BiasAudit,
    NotConfigured,
    bias_audit_csv,
    build_bias_audit,
    eligible_exclusions,
    requested_exclusions,
)
from monitoring.audit_report.period import parse_period
from monitoring.fairness.ll144 import DIMENSION_NAMES
from registry.models import MLModel
from registry.services import current_policy
from web.access import can, page_roles
from web.downloads import document_download

READERS = (Role.AUDITOR, Role.ADMIN)


def _audit(request: HttpRequest, name: str) -> tuple[MLModel, BiasAudit | None, dict[str, Any]]:
    model = get_object_or_404(MLModel, name=name)
    choice = parse_period(request.GET)
    version = report_version(model, choice.version_text)
    context: dict[str, Any] = {"model": model, "choice": choice, "version": version, "errors": dict(choice.errors)}
    if choice.version_text and version is None:
        context["errors"]["version"] = f"{model.name} has no version {choice.version_text!r}."
    if context["errors"] or version is None or choice.period is None:
        return model, None, context
    exclusions = requested_exclusions(request.GET)
    try:
        audit = build_bias_audit(
            model,
            version,
            choice.period,
            policy=current_policy(model),
            audit_date=timezone.now().date(),
            exclusions=exclusions,
        )
    except NotConfigured as exc:
        context["not_configured"] = str(exc)
        return model, None, context
    except ValueError as exc:
        context["errors"]["exclusions"] = str(exc)
        return model, None, context
    context["exclusions"] = exclusions
    return model, audit, context


@page_roles(*READERS)
@require_safe
def bias_audit_page(request: HttpRequest, name: str) -> HttpResponse:
    model, audit, context = _audit(request, name)
    if audit is not None:
        eligible = eligible_exclusions(audit.tables)
        context.update(
            {
                "audit": audit,
                "bundle": audit.as_dict(),
                "dimension_names": DIMENSION_NAMES,
                "eligible": [
                    {
                        "value": f"{dimension}|{category}",
                        "dimension": DIMENSION_NAMES[dimension],
                        "category": category,
                        "checked": category in context["exclusions"].get(dimension, {}),
                        "reason": context["exclusions"].get(dimension, {}).get(category, ""),
                    }
                    for dimension, categories in eligible.items()
                    for category in categories
                ],
                "can_download": can(request, Role.AUDITOR),
                "query": request.GET.urlencode(),
            }
        )
    status = 400 if context["errors"] else 200
    response = render(request, "web/bias_audit.html", context, status=status)
    add_never_cache_headers(response)
    return response


def _download(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    """The audit as a ``json`` bundle, its tables as ``csv`` or a signed ``pdf``; the export is recorded with the
    bundle's digest (and the PDF's)."""
    model, audit, context = _audit(request, name)
    if context.get("not_configured"):
        return error_response(409, "not_configured", context["not_configured"])
    if audit is None:
        return error_response(400, "invalid_audit", "Invalid period, version or exclusions.", context["errors"])
    bundle = audit.as_dict()
    period = audit.period
    stem = f"fairlens-ll144-{model.name}-{audit.version.version}-{period.start_date:%Y%m%d}-{period.end_date:%Y%m%d}"
    return document_download(
        actor=request.user,
        kind=kind,
        bundle=bundle,
        object_type="model_version",
        object_id=f"{model.name}:{audit.version.version}",
        stem=stem,
        csv_text=bias_audit_csv(bundle) if kind == "csv" else "",
    )


@page_roles(Role.AUDITOR)
@require_safe
def bias_audit_json(request: HttpRequest, name: str) -> HttpResponse:
    return _download(request, name, "json")


@page_roles(Role.AUDITOR)
@require_safe
def bias_audit_csv_download(request: HttpRequest, name: str) -> HttpResponse:
    return _download(request, name, "csv")


@page_roles(Role.AUDITOR)
@require_safe
def bias_audit_pdf(request: HttpRequest, name: str) -> HttpResponse:
    return _download(request, name, "pdf")
