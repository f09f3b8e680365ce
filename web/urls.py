from django.urls import path

from web.views import alerts, auth, compare, dashboard, onboarding, predictions, reports

urlpatterns = [
    path("login/", auth.LoginView.as_view(), name="web-login"),
    path("logout/", auth.LogoutView.as_view(), name="web-logout"),
    path("password-reset/", auth.password_reset, name="web-password-reset"),
    path("dashboard/", dashboard.model_list, name="web-dashboard"),
    path("dashboard/<str:name>/", dashboard.model_page, name="web-model"),
    path("dashboard/<str:name>/compare/", compare.compare, name="web-compare"),
    path("dashboard/<str:name>/predictions/", predictions.predictions, name="web-predictions"),
    path("dashboard/<str:name>/versions/<str:version>/stage", compare.set_stage, name="web-version-stage"),
    path("alerts/", alerts.inbox, name="web-inbox"),
    path("alerts/<int:alert_id>/", alerts.alert_page, name="web-alert"),
    path("dashboard/alerts/<int:alert_id>/acknowledge", alerts.acknowledge, name="web-alert-acknowledge"),
    path("dashboard/alerts/<int:alert_id>/resolve", alerts.resolve, name="web-alert-resolve"),
    path("onboarding/", onboarding.start, name="web-onboarding"),
    path("onboarding/<str:name>/", onboarding.model_setup, name="web-onboarding-model"),
    path("onboarding/<str:name>/policy", onboarding.change_policy, name="web-onboarding-policy"),
    path("onboarding/<str:name>/versions", onboarding.add_version, name="web-onboarding-version"),
    path("onboarding/<str:name>/keys", onboarding.issue_key, name="web-onboarding-key"),
    path("onboarding/<str:name>/template.csv", onboarding.template_csv, name="web-onboarding-template"),
    path("onboarding/<str:name>/upload", onboarding.upload, name="web-onboarding-upload"),
    path("onboarding/<str:name>/endpoints", onboarding.add_endpoint, name="web-onboarding-endpoint"),
    path(
        "onboarding/<str:name>/endpoints/<int:endpoint_id>/test",
        onboarding.test_endpoint,
        name="web-onboarding-endpoint-test",
    ),
    path("onboarding/<str:name>/check", onboarding.check_now, name="web-onboarding-check"),
    path("reports/", reports.report_index, name="web-report-index"),
    path("reports/<str:name>/", reports.report_page, name="web-report"),
    path("reports/<str:name>/evidence.json", reports.evidence_json, name="web-report-evidence-json"),
    path("reports/<str:name>/evidence.csv", reports.evidence_csv, name="web-report-evidence-csv"),
    path("reports/<str:name>/alerts/<int:alert_id>/decrypt", reports.decrypt_alert, name="web-report-decrypt"),
    path("reports/<str:name>/verify", reports.verify_now, name="web-report-verify"),
]
