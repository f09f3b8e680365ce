from django.urls import path

from monitoring.api import views
from monitoring.api.audit_report import AuditReportView, BiasAuditView

# Mounted under /api/v1/models/ next to the registry's routes.
urlpatterns = [
    path("<str:name>/versions/<str:version>/predictions", views.PredictionsView.as_view(), name="predictions"),
    path("<str:name>/versions/<str:version>/labels", views.LabelsView.as_view(), name="labels"),
    path("<str:name>/versions/<str:version>/audit-report", AuditReportView.as_view(), name="audit-report"),
    path("<str:name>/versions/<str:version>/bias-audit", BiasAuditView.as_view(), name="bias-audit"),
]
