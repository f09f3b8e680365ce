"""The EU AI Act documents: a model's post-market monitoring plan (Art. 72) and the record-keeping report of
the audit log over a period (Art. 12, 19, 26(6)), each as a page, a JSON bundle and a signed PDF; and the
certificate the PDFs are signed with.

Auditors read and download every document; admins read the monitoring plan (they configure what it states) but
download nothing, as with the audit report; monitors see none of them.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe

from compliance.pdf_signing import SigningMaterialError
from compliance.report_signing import ReportSigningUnavailable, signing_certificate_pem
from core.api.errors import error_response
from core.roles import Role
from monitoring.audit_report.log_report import build_log_report
from monitoring.audit_report.monitoring_plan import build_monitoring_plan
from monitoring.audit_report.period import parse_period
from registry.models import MLModel
from web.access import can, page_roles
from web.downloads import document_download

LOG_OBJECT = ("audit_log", "log")


def _never_cached(response: HttpResponse) -> HttpResponse:
    add_never_cache_headers(response)
    return response


@page_roles(Role.AUDITOR, Role.ADMIN)
@require_safe
def monitoring_plan_page(request: HttpRequest, name: str) -> HttpResponse:
    model = get_object_or_404(MLModel, name=name)
    bundle = build_monitoring_plan(model, generated_at=timezone.now())
    context = {"model": model, "plan": bundle, "can_download": can(request, Role.AUDITOR)}
    return _never_cached(render(request, "web/monitoring_plan.html", context))


def _plan_download(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    model = get_object_or_404(MLModel, name=name)
    bundle = build_monitoring_plan(model, generated_at=timezone.now())
    stem = f"fairlens-art72-plan-{model.name}-policy-v{bundle['policy_version']}"
    return document_download(
        actor=request.user, kind=kind, bundle=bundle, object_type="model", object_id=model.name, stem=stem
    )


@page_roles(Role.AUDITOR)
@require_safe
def monitoring_plan_json(request: HttpRequest, name: str) -> HttpResponse:
    return _plan_download(request, name, "json")


@page_roles(Role.AUDITOR)
@require_safe
def monitoring_plan_pdf(request: HttpRequest, name: str) -> HttpResponse:
    return _plan_download(request, name, "pdf")


@page_roles(Role.AUDITOR)
@require_safe
def log_report_page(request: HttpRequest) -> HttpResponse:
    choice = parse_period(request.GET)
    context = {"choice": choice, "errors": choice.errors}
    if choice.period is not None:
        context["report"] = build_log_report(choice.period, generated_at=timezone.now())
        context["query"] = request.GET.urlencode()
    return _never_cached(render(request, "web/log_report.html", context, status=400 if choice.errors else 200))


def _log_download(request: HttpRequest, kind: str) -> HttpResponse:
    choice = parse_period(request.GET)
    if choice.period is None:
        return error_response(400, "invalid_period", "Invalid period.", choice.errors)
    bundle = build_log_report(choice.period, generated_at=timezone.now())
    stem = f"fairlens-art12-log-report-{choice.period.start_date:%Y%m%d}-{choice.period.end_date:%Y%m%d}"
    object_type, object_id = LOG_OBJECT
    return document_download(
        actor=request.user, kind=kind, bundle=bundle, object_type=object_type, object_id=object_id, stem=stem
    )


@page_roles(Role.AUDITOR)
@require_safe
def log_report_json(request: HttpRequest) -> HttpResponse:
    return _log_download(request, "json")


@page_roles(Role.AUDITOR)
@require_safe
def log_report_pdf(request: HttpRequest) -> HttpResponse:
    return _log_download(request, "pdf")


@page_roles(Role.AUDITOR, Role.ADMIN)
@require_safe
def signing_certificate(request: HttpRequest) -> HttpResponse:
    """The report-signing certificate (chain), to pin once and validate every PDF against."""
    try:
        pem = signing_certificate_pem()
    except (ReportSigningUnavailable, SigningMaterialError) as exc:
        return error_response(503, "report_signing_unavailable", str(exc))
    response = HttpResponse(pem, content_type="application/x-pem-file")
    response["Content-Disposition"] = 'attachment; filename="fairlens-report-signing.pem"'
    return response
