from django.urls import path

from web.views import alerts, auth, dashboard, reports

urlpatterns = [
    path("login/", auth.LoginView.as_view(), name="web-login"),
    path("logout/", auth.LogoutView.as_view(), name="web-logout"),
    path("password-reset/", auth.password_reset, name="web-password-reset"),
    path("dashboard/", dashboard.model_list, name="web-dashboard"),
    path("dashboard/<str:name>/", dashboard.model_page, name="web-model"),
    path("alerts/", alerts.inbox, name="web-inbox"),
    path("alerts/<int:alert_id>/", alerts.alert_page, name="web-alert"),
    path("dashboard/alerts/<int:alert_id>/acknowledge", alerts.acknowledge, name="web-alert-acknowledge"),
    path("dashboard/alerts/<int:alert_id>/resolve", alerts.resolve, name="web-alert-resolve"),
    path("reports/", reports.report_index, name="web-report-index"),
    path("reports/<str:name>/", reports.report_page, name="web-report"),
    path("reports/<str:name>/evidence.json", reports.evidence_json, name="web-report-evidence-json"),
    path("reports/<str:name>/evidence.csv", reports.evidence_csv, name="web-report-evidence-csv"),
    path("reports/<str:name>/alerts/<int:alert_id>/decrypt", reports.decrypt_alert, name="web-report-decrypt"),
    path("reports/<str:name>/verify", reports.verify_now, name="web-report-verify"),
]
