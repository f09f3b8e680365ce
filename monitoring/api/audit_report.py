"""The audit report over the API: the same evidence bundle the report page's ``evidence.json`` download carries,
for the same model, version and period (``monitoring.audit_report`` builds both)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from core.api.errors import ApplicationError
from core.roles import Role
from monitoring.audit_report.build import build_report
from monitoring.audit_report.bundle import evidence_bundle
from monitoring.audit_report.export import record_export
from monitoring.audit_report.period import parse_period
from registry.selectors import version_by_name

PERIOD_PARAMETERS = [
    OpenApiParameter("start", OpenApiTypes.DATE, description="First UTC day of the period (default: 7 days ago)."),
    OpenApiParameter("end", OpenApiTypes.DATE, description="Last UTC day of the period, inclusive (default: today)."),
]


class AuditReportView(APIView):
    """A version's audit report over whole UTC days as its evidence bundle (auditors, as on the page). The export
    is recorded in the audit trail, with the bundle's digest."""

    required_roles = {"GET": {Role.AUDITOR}}

    @extend_schema(parameters=PERIOD_PARAMETERS, responses=OpenApiTypes.OBJECT, tags=["reports"])
    def get(self, request: Request, name: str, version: str) -> Response:
        model_version = version_by_name(name, version)
        choice = parse_period(request.query_params)
        if choice.period is None:
            raise ApplicationError(
                "Invalid report period.", code="invalid_period", status_code=400, details=choice.errors
            )
        report = build_report(model_version.model, model_version, choice.period)
        bundle = evidence_bundle(report)
        record_export(actor=request.user, report=report, bundle=bundle, fmt="api")
        return Response(bundle, headers={"Cache-Control": "no-store"})
