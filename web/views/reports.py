"""Audit report pages: a model version's fairness over a period, with evidence downloads.

Auditors get the full report (chart, alerts with their lifecycle, audited decryption of explanations, a
"Verify now" button, the evidence downloads); admins a read-only summary. The evidence bundle carries the full
report, so only auditors may download it (docs/security.md, Roles). The report's reads and bytes are
``monitoring.audit_report`` (the API serves the same ones); ``web.report_tables`` is how the page shows it.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.db.models import Count
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import add_never_cache_headers
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_POST, require_safe

from compliance.field_encryption import REDISPLAY_SECONDS, decrypt_for, redisplay_decrypted
from compliance.verification import verify_log
from core.api.errors import ApplicationError, error_response
from core.roles import Role
from monitoring.alerts.models import Alert
from monitoring.audit_report.build import Report, build_report, report_version
from monitoring.audit_report.bundle import evidence_bundle, evidence_csv_text
from monitoring.audit_report.export import record_export
from monitoring.audit_report.period import PeriodChoice, parse_period
from monitoring.audit_report.reg_b import build_self_test
from registry.models import MLModel, ModelVersion
from registry.selectors import current_version
from web.access import can, page_roles
from web.charts import Point, line_chart, time_labels
from web.downloads import document_download, evidence_attachment
from web.report_tables import band_text, confidence_percent, html_metrics, verdict_tables

REPORT_READERS = (Role.AUDITOR, Role.ADMIN)

# A decryption is audited when the auditor posts the form; the report page that the POST redirects to shows the
# plaintext once. What the session holds is the grant (which alert, until when), never the plaintext.
GRANT_KEY = "fairlens.decryption_grant"
GRANT_SECONDS = REDISPLAY_SECONDS
FIELD = "encrypted_explanation"


@page_roles(*REPORT_READERS)
@require_safe
def report_index(request: HttpRequest) -> HttpResponse:
    models = list(MLModel.objects.annotate(version_count=Count("versions")).order_by("name"))
    rows = [{"model": model, "version": current_version(model) if model.version_count else None} for model in models]
    return render(request, "web/report_index.html", {"rows": rows, "is_auditor": can(request, Role.AUDITOR)})


@page_roles(*REPORT_READERS)
@require_safe
def report_page(request: HttpRequest, name: str) -> HttpResponse:
    model = get_object_or_404(MLModel, name=name)
    choice = parse_period(request.GET)
    granted = _take_decryption_grant(request, model)
    plaintext = redisplay_decrypted(user=request.user, obj=granted, field=FIELD) if granted is not None else None
    if plaintext is not None:
        return _render_report(request, model, choice, focus_alert=granted, plaintext=plaintext)
    return _render_report(request, model, choice)


def _grant_decryption(request: HttpRequest, alert: Alert) -> None:
    request.session[GRANT_KEY] = {"alert": alert.pk, "until": time.time() + GRANT_SECONDS}


def _take_decryption_grant(request: HttpRequest, model: MLModel) -> Alert | None:
    """The alert whose decryption was just audited for this session, once; None when there is none or it is stale."""
    grant = request.session.pop(GRANT_KEY, None)
    if not isinstance(grant, dict) or not can(request, Role.AUDITOR) or grant.get("until", 0) < time.time():
        return None
    return (
        Alert.objects.select_related("acknowledged_by", "resolved_by")
        .filter(pk=grant.get("alert"), model=model)
        .first()
    )


def _evidence_download(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    """The evidence bundle of the requested report as a ``json`` or ``csv`` attachment; the export is audited."""
    report = _report_or_error(request, name)
    if isinstance(report, HttpResponse):
        return report
    bundle = evidence_bundle(report)
    record_export(actor=request.user, report=report, bundle=bundle, fmt=kind)
    csv_text = evidence_csv_text(bundle) if kind == "csv" else ""
    return evidence_attachment(kind=kind, bundle=bundle, csv_text=csv_text, stem=_file_stem(report))


@page_roles(Role.AUDITOR)
@require_safe
def evidence_json(request: HttpRequest, name: str) -> HttpResponse:
    return _evidence_download(request, name, "json")


@page_roles(Role.AUDITOR)
@require_safe
def evidence_csv(request: HttpRequest, name: str) -> HttpResponse:
    return _evidence_download(request, name, "csv")


@page_roles(Role.AUDITOR)
@require_POST
def decrypt_alert(request: HttpRequest, name: str, alert_id: int) -> HttpResponse:
    """Decrypt one alert's explanation for the signed-in auditor (a reason is required; the access is audited)
    and redirect to the report, which shows the plaintext once (a reload does not post the form again). The
    plaintext is never put in a URL or the session."""
    model = get_object_or_404(MLModel, name=name)
    alert = get_object_or_404(Alert.objects.select_related("acknowledged_by", "resolved_by"), pk=alert_id, model=model)
    choice = parse_period(request.POST)
    reason = str(request.POST.get("reason", ""))[:500]
    otp = str(request.POST.get("otp", ""))[:32]
    if choice.errors:
        return _render_report(request, model, choice)
    try:
        decrypt_for(user=request.user, obj=alert, field=FIELD, reason=reason, otp=otp)
    except ApplicationError as exc:
        return _render_report(
            request,
            model,
            choice,
            focus_alert=alert,
            decrypt_error=exc.message,
            reason=reason,
            status=exc.status_code,
        )
    _grant_decryption(request, alert)
    target = f"{reverse('web-report', args=[model.name])}?{urlencode(choice.query)}#alert-{alert.pk}-explanation"
    return redirect(target)


@page_roles(Role.AUDITOR)
@require_POST
def verify_now(request: HttpRequest, name: str) -> HttpResponse:
    """Verify the whole audit log now and go back to the report with the outcome as a message."""
    model = get_object_or_404(MLModel, name=name)
    run = verify_log()
    if run.ok:
        messages.success(request, f"Audit log verified: {run.checked_entries} entries checked.")
    else:
        where = f" at seq {run.first_bad_seq}" if run.first_bad_seq is not None else ""
        messages.error(request, f"Audit log verification FAILED{where}: {run.problem or 'no detail'}")
    choice = parse_period(request.POST)
    return redirect(f"{reverse('web-report', args=[model.name])}?{urlencode(choice.query)}")


# --- Helpers ---------------------------------------------------------------------------------------------------


def _resolve(model: MLModel, choice: PeriodChoice) -> ModelVersion | None:
    """The version the form asks for (default: the model's current version); records an error on the form when
    a named version does not exist."""
    version = report_version(model, choice.version_text)
    if choice.version_text and version is None:
        choice.errors["version"] = f"{model.name} has no version {choice.version_text!r}."
    return version


def _render_report(
    request: HttpRequest,
    model: MLModel,
    choice: PeriodChoice,
    *,
    focus_alert: Alert | None = None,
    plaintext: str | None = None,
    decrypt_error: str | None = None,
    reason: str = "",
    status: int = 200,
) -> HttpResponse:
    version = _resolve(model, choice)
    full = can(request, Role.AUDITOR)
    context: dict[str, Any] = {
        "model": model,
        "version": version,
        "versions": list(model.versions.order_by("-created_at", "-id")),
        "choice": choice,
        "full": full,
        "report": None,
    }
    if choice.errors:
        status = 400
    elif version is not None and choice.period is not None:
        report = build_report(model, version, choice.period)
        alerts = list(report.alerts)
        if focus_alert is not None and focus_alert.pk not in {alert.pk for alert in alerts}:
            alerts.append(focus_alert)
        context.update(
            {
                "report": report,
                "tables": verdict_tables(report.reports, html_metrics(report), report.labels),
                "metrics": html_metrics(report),
                "confidence_percent": confidence_percent(report),
                "bands": [(metric, band_text(band)) for metric, band in (report.policy.metric_bands or {}).items()]
                if report.policy
                else [],
                "chart": _chart(report) if full else "",
                "alerts": alerts,
                "in_period": {alert.pk for alert in report.alerts},
                "focus_alert_id": focus_alert.pk if focus_alert is not None else None,
                "plaintext": plaintext,
                "decrypt_error": decrypt_error,
                "reason": reason,
                "query": urlencode(choice.query),
            }
        )
    response = render(request, "web/report.html", context, status=status)
    add_never_cache_headers(response)
    return response


def _chart(report: Report) -> str:
    checks = report.completed_checks
    labels = time_labels([check.window_end for check in checks])
    points = []
    for label, check in zip(labels, checks, strict=True):
        interval = ((check.result or {}).get("headline") or {}).get("interval") or (None, None)
        points.append(Point(label=label, value=check.headline_dir, lower=interval[0], upper=interval[1]))
    thresholds = [report.threshold] if report.threshold is not None else []
    svg = line_chart(
        points,
        title=f"Headline DIR of {report.model.name} v{report.version.version} checks, "
        f"{report.period.start_date} to {report.period.end_date}",
        metric="DIR",
        thresholds=thresholds,
        chart_id="report-chart",
    )
    return mark_safe(svg)  # noqa: S308 - line_chart escapes every text it embeds


def _report_or_error(request: HttpRequest, name: str) -> Report | HttpResponse:
    model = MLModel.objects.filter(name=name).first()
    if model is None:
        raise Http404(f"No model {name!r}.")
    choice = parse_period(request.GET)
    version = _resolve(model, choice)
    if choice.errors:
        return error_response(400, "invalid_period", "Invalid report period or version.", choice.errors)
    if version is None or choice.period is None:
        return error_response(404, "not_found", f"{model.name} has no registered version.")
    return build_report(model, version, choice.period)


def _file_stem(report: Report) -> str:
    return (
        f"fairlens-report-{report.model.name}-{report.version.version}-"
        f"{report.period.start_date:%Y%m%d}-{report.period.end_date:%Y%m%d}"
    )


# --- The Reg B / ECOA self-test record of the same period (auditors) --------------------------------------------


def _self_test(request: HttpRequest, name: str) -> tuple[Report, dict[str, Any]] | HttpResponse:
    report = _report_or_error(request, name)
    if isinstance(report, HttpResponse):
        return report
    return report, build_self_test(report, generated_at=timezone.now())


@page_roles(Role.AUDITOR)
@require_safe
def self_test_page(request: HttpRequest, name: str) -> HttpResponse:
    built = _self_test(request, name)
    if isinstance(built, HttpResponse):
        return built
    report, bundle = built
    context = {"model": report.model, "report": report, "dossier": bundle, "query": request.GET.urlencode()}
    response = render(request, "web/self_test.html", context)
    add_never_cache_headers(response)
    return response


def _self_test_download(request: HttpRequest, name: str, kind: str) -> HttpResponse:
    built = _self_test(request, name)
    if isinstance(built, HttpResponse):
        return built
    report, bundle = built
    stem = _file_stem(report).replace("fairlens-report-", "fairlens-reg-b-self-test-")
    object_id = f"{report.model.name}:{report.version.version}"
    return document_download(
        actor=request.user, kind=kind, bundle=bundle, object_type="model_version", object_id=object_id, stem=stem
    )


@page_roles(Role.AUDITOR)
@require_safe
def self_test_json(request: HttpRequest, name: str) -> HttpResponse:
    return _self_test_download(request, name, "json")


@page_roles(Role.AUDITOR)
@require_safe
def self_test_pdf(request: HttpRequest, name: str) -> HttpResponse:
    return _self_test_download(request, name, "pdf")
