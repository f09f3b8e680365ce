"""URL configuration. Seed endpoints keep their seed paths; resources live under /api/v1/<app>/."""

from django.contrib import admin
from django.urls import include, path, re_path

from accounts.api import auth_views
from compliance.api import views as compliance_views
from core.admin_sites import auditor_site
from fairlens_site import views
from fairlens_site.api.docs import SchemaView, SwaggerView
from monitoring.api import records as record_views
from monitoring.api import views as monitoring_views
from registry.api import views as registry_views
from web.views import auth as web_auth

urlpatterns = [
    path("", views.index, name="api-index"),
    # Seed endpoints ({status, data, message} envelope).
    path("api/health", views.HealthView.as_view(), name="health"),
    path("metrics", views.metrics, name="metrics"),
    path("api/login", auth_views.LoginView.as_view(), name="login"),
    path("api/refresh", auth_views.RefreshView.as_view(), name="refresh"),
    path("api/logout", auth_views.LogoutView.as_view(), name="logout"),
    path("api/models", registry_views.SeedModelsView.as_view(), name="seed-models"),
    path("api/models/register", registry_views.SeedRegisterView.as_view(), name="seed-register"),
    path("api/submit_predictions", monitoring_views.SubmitPredictionsView.as_view(), name="seed-submit"),
    path("", include("demo.urls")),
    path("api/audit_history", compliance_views.AuditHistoryView.as_view(), name="seed-audit-history"),
    path("api/verify_alert/<str:record_id>", record_views.VerifyRecordView.as_view(), name="seed-verify-alert"),
    path("api/admin/reset_key", compliance_views.ResetKeyView.as_view(), name="seed-reset-key"),
    path("api/get_anchor/<str:digest>", compliance_views.AnchorView.as_view(), name="seed-get-anchor"),
    # Versioned resources.
    path("api/v1/accounts/", include("accounts.api.urls")),
    path("api/v1/accounts/", include("registry.api.api_keys")),  # keys are issued for a registered model
    path("api/v1/models/", include("registry.api.urls")),
    path("api/v1/models/", include("monitoring.api.urls")),
    # Read from monitoring's records, so served by monitoring's API, under the audit trail's prefix.
    path(
        "api/v1/compliance/records/<str:record_id>/decrypt",
        record_views.DecryptRecordAlertView.as_view(),
        name="record-decrypt",
    ),
    path("api/v1/compliance/", include("compliance.api.urls")),
    path("api/v1/", include("monitoring.api.checks")),
    path("api/v1/", include("monitoring.alerts.api.urls")),
    # Schema and docs (Swagger UI from the sidecar package, no CDN).
    path("api/schema/", SchemaView.as_view(), name="schema"),
    path("api/docs/", SwaggerView.as_view(), name="swagger-ui"),
    path("favicon.ico", views.favicon),
    # Pages for people: sign-in, dashboard, audit reports.
    path("", include("web.urls")),
    # People: the browsable API's sign-in is the pages' own (authenticator code, audit entries, lockout), named
    # as DRF's templates expect, so its "Log in" link comes back to the API page it was clicked on; the admin
    # site and the read-only auditor site.
    path(
        "api-auth/",
        include(
            (
                [
                    path("login/", web_auth.LoginView.as_view(), name="login"),
                    path("logout/", web_auth.LogoutView.as_view(), name="logout"),
                ],
                "rest_framework",
            )
        ),
    ),
    path("admin/", admin.site.urls),
    path("auditor/", auditor_site.urls),
    # Anything else under /api/ is a JSON 404, even with DEBUG on.
    re_path(r"^api/(?P<unmatched>.*)$", views.api_not_found),
]

handler400 = "fairlens_site.views.bad_request"
handler403 = "fairlens_site.views.permission_denied"
handler404 = "fairlens_site.views.page_not_found"
handler500 = "fairlens_site.views.server_error"
