"""The audit report over the API: the same evidence bundle the report page's ``evidence.json`` download carries,
for the same model, version and period (``monitoring.audit_report`` builds both); and the LL144 bias audit's
bundle, as the bias-audit page's download."""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApplicationError
from core.roles import Role
from monitoring.audit_report.build import build_report
from monitoring.audit_report.bundle import evidence_bundle
from monitoring.audit_report.export import record_bias_audit_export, record_export
from monitoring.audit_report.ll144 import NotConfigured, build_bias_audit, requested_exclusions
from monitoring.audit_report.period import Period, parse_period
from registry.selectors import version_by_name
from registry.services import current_policy

PERIOD_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First UTC day of the period (default: 7 days ago)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last UTC day of the period, inclusive (default: today)."),
]


def _version_and_period(request: Request, name: str, version: str) -> tuple[Any, Period]:
    """The version named in the URL and the period of the query; an invalid period is a 400 naming the field."""
    model_version = version_by_name(name, version)
    choice = parse_period(request.query_params)
    if choice.period is None:
        raise ApplicationError("Invalid report period.", code="invalid_period", status_code=400, details=choice.errors)
    return model_version, choice.period


class AuditReportView(APIView):
    """A version's audit report over whole UTC days as its evidence bundle (auditors, as on the page). The export
    is recorded in the audit trail, with the bundle's digest."""

    required_roles = {"GET": {Role.AUDITOR}}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=OpenApiTypes.OBJECT, tags=["reports"])
    def get(self, request: Request, name: str, version: str) -> Response:
        model_version, period = _version_and_period(request, name, version)
        report = build_report(model_version.model, model_version, period)
        bundle = evidence_bundle(report)
        record_export(actor=request.user, report=report, bundle=bundle, fmt="api")
        return Response(bundle, headers={"Cache-Control": "no-store"})


class BiasAuditView(APIView):
    """A version's NYC LL144 bias audit over whole UTC days, as the page's bundle (auditors). Exclusions of
    categories under 2% are ``exclude=<dimension>|<category>`` with ``why|<dimension>|<category>=<reason>``.
    The export is recorded in the audit trail, with the bundle's digest."""

    required_roles = {"GET": {Role.AUDITOR}}

    @extend_schema(
        parameters=[
            *PERIOD_PARAMETERS,
            OpenApiParameter("exclude", OpenApiTypes.STR, many=True, description="<dimension>|<category> to exclude."),
        ],
        responses=OpenApiTypes.OBJECT,
        tags=["reports"],
    )
    def get(self, request: Request, name: str, version: str) -> Response:
        model_version, period = _version_and_period(request, name, version)
        try:
            audit = build_bias_audit(
                model_version.model,
                model_version,
                period,
                policy=current_policy(model_version.model),
                audit_date=timezone.now().date(),
                exclusions=requested_exclusions(request.query_params),
            )
        except NotConfigured as exc:
            raise ApplicationError(str(exc), code="not_configured", status_code=409) from None
        except ValueError as exc:
            raise ApplicationError(str(exc), code="invalid_exclusion", status_code=400) from None
        bundle = audit.as_dict()
        record_bias_audit_export(actor=request.user, bundle=bundle, fmt="api")
        return Response(bundle, headers={"Cache-Control": "no-store"})
