"""Onboarding a model in the pages (admins only): registration with its policy and the validation messages, the
API key shown once with its curl line, the CSV template that the API accepts, the test upload's row errors, webhook
endpoints with a test event to a real loopback receiver, the first check; and version comparison with promote
and retire."""

from __future__ import annotations

import io
import json
import re
from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.models import ModelClientKey
from compliance.models import AuditEntry
from monitoring.alerts.models import Delivery, WebhookEndpoint
from monitoring.alerts.tests.builders import LoopbackReceiver
from monitoring.checks.tests.builders import loan_version
from monitoring.ingestion.selectors import predictions_received
from monitoring.models import FairnessCheck
from registry.models import MLModel, ModelVersion
from registry.services import current_policy
from web.tests.pages import checked, client_for

pytestmark = pytest.mark.django_db

REGISTRATION = {
    "name": "credit_scoring",
    "description": "Consumer credit decisions",
    "version": "1",
    "stage": "production",
    "protected_attributes": "gender, age_band",
    "privileged": "gender=Male, age_band=25-60",
    "dir_min": "0.8",
    "spd_min": "-0.1",
    "spd_max": "0.1",
    "min_group_size": "30",
    "confidence_level": "0.95",
    "window_hours": "24",
    "check_interval_minutes": "60",
    "alpha": "0.05",
    "review_period_days": "91",
    "label_lag_hours": "0",
    "channels": ["webhook"],
    "features": "income:numeric, region:categorical",
}


def field_errors(html: str, field: str) -> str:
    """The error list rendered with ``field`` (Django's field group), or ''."""
    match = re.search(rf'<ul class="errorlist" id="id_{field}_error">(.*?)</ul>', html, re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", match.group(1)).split()) if match else ""


@pytest.fixture
def admin(admin_user: Any) -> Client:
    return client_for(admin_user)


@pytest.fixture
def registered(admin: Client) -> MLModel:
    response = admin.post("/onboarding/", REGISTRATION)
    assert response.status_code == 302, response.content.decode()[:2000]
    return MLModel.objects.get(name="credit_scoring")


def test_only_admins_onboard(monitor_user: Any, auditor_user: Any, db: None) -> None:
    for user in (monitor_user, auditor_user):
        assert client_for(user).get("/onboarding/").status_code == 403
        assert client_for(user).post("/onboarding/", REGISTRATION).status_code == 403
    assert Client().get("/onboarding/").status_code == 302
    assert not MLModel.objects.exists()


def test_registration_creates_the_model_version_and_policy(admin: Client, registered: MLModel) -> None:
    version = ModelVersion.objects.get(model=registered)
    policy = current_policy(registered)
    assert (version.version, version.stage) == ("1", "production")
    assert policy.protected_attributes == ["gender", "age_band"]
    assert policy.privileged == {"gender": "Male", "age_band": "25-60"}
    assert policy.metric_bands == {"DIR": {"min": 0.8, "max": None}, "SPD": {"min": -0.1, "max": 0.1}}
    assert policy.channels == ["webhook"]
    assert [item["name"] for item in policy.features] == ["income", "region"]
    assert AuditEntry.objects.filter(action="model.register", object_id="credit_scoring:1").exists()
    page = admin.get("/onboarding/credit_scoring/").content.decode()
    assert "Policy v1 is in force" in page
    assert page.count('data-done="no"') == 3  # key, predictions, check


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"privileged": "gender=Male"}, "privileged", "give a privileged value for exactly these attributes"),
        ({"privileged": "gender"}, "privileged", "is not attribute=value"),
        ({"protected_attributes": "gender, gender"}, "protected_attributes", "names must be unique"),
        ({"alpha": "0.9"}, "alpha", "a number in [0.0001, 0.5]"),
        ({"features": "income:money"}, "features", "the type is one of numeric, categorical"),
        ({"name": "Credit Scoring"}, "name", "lowercase letters"),
        ({"window_hours": "0"}, "window_hours", "greater than or equal to 1"),
    ],
)
def test_a_bad_registration_says_what_is_wrong_and_writes_nothing(
    admin: Client, changes: dict[str, str], field: str, message: str
) -> None:
    response = admin.post("/onboarding/", {**REGISTRATION, **changes})
    html = response.content.decode()
    assert response.status_code == 400
    assert message in field_errors(html, field), field_errors(html, field)
    assert 'id="register-errors"' in html
    assert not MLModel.objects.exists()


def test_bands_that_do_not_make_a_band_are_refused(admin: Client) -> None:
    response = admin.post("/onboarding/", {**REGISTRATION, "spd_min": "0.2", "spd_max": "0.1"})
    assert response.status_code == 400
    assert "SPD: min is above max" in response.content.decode()
    assert not MLModel.objects.exists()


def test_a_taken_name_is_refused(admin: Client, registered: MLModel) -> None:
    response = admin.post("/onboarding/", REGISTRATION)
    assert response.status_code == 400
    assert "A model named credit_scoring exists already" in field_errors(response.content.decode(), "name")
    assert ModelVersion.objects.filter(model=registered).count() == 1


def test_the_key_is_shown_once_with_a_curl_line_and_the_template_is_accepted_by_the_api(
    admin: Client, registered: MLModel
) -> None:
    response = admin.post(
        "/onboarding/credit_scoring/keys", {"key-name": "scoring-service", "key-expires_in_days": "30"}
    )
    html = response.content.decode()
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    raw_key = re.search(r'id="issued-key-value">([^<]+)<', html).group(1)
    key = ModelClientKey.objects.get(model=registered)
    assert raw_key.startswith(key.prefix)
    assert key.expiry_date is not None
    curl = html[html.index('id="issued-curl"') :]
    assert "/api/v1/models/credit_scoring/versions/1/predictions" in curl
    assert f"Authorization: Api-Key {raw_key}" in curl
    assert raw_key not in admin.get("/onboarding/credit_scoring/").content.decode()  # shown only once
    template = admin.get("/onboarding/credit_scoring/template.csv")
    assert template["Content-Disposition"] == 'attachment; filename="credit_scoring-predictions-template.csv"'
    body = template.content.decode()
    assert body.splitlines()[0] == "id,timestamp,gender,age_band,y_pred,y_true,score,income,region"
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    sent = api.post("/api/v1/models/credit_scoring/versions/1/predictions", body.encode(), content_type="text/csv")
    assert sent.status_code == 201, sent.content
    assert sent.json()["accepted"] == 2


def test_a_key_form_error_is_a_400_and_issues_nothing(admin: Client, registered: MLModel) -> None:
    response = admin.post("/onboarding/credit_scoring/keys", {"key-name": "", "key-expires_in_days": "-3"})
    assert response.status_code == 400
    assert field_errors(response.content.decode(), "key-name")
    assert not ModelClientKey.objects.exists()


def upload(admin: Client, body: str, store: bool) -> str:
    data: dict[str, Any] = {"file": io.BytesIO(body.encode())}
    data["file"].name = "predictions.csv"
    if store:
        data["store"] = "on"
    response = admin.post("/onboarding/credit_scoring/upload", data)
    assert response.status_code in (200, 400), response.status_code
    return response.content.decode()


def test_a_test_upload_shows_the_row_errors_and_stores_only_when_asked(admin: Client, registered: MLModel) -> None:
    header = "id,timestamp,gender,age_band,y_pred,y_true,score\n"
    rows = (
        "a1,2026-12-01T10:00:00Z,Male,25-60,1,1,0.8\n"
        "a2,yesterday,Female,25-60,1,,0.4\n"  # row 2: no usable timestamp
        "a3,2026-12-01T10:05:00Z,Female,18-24,7,,\n"  # row 3: y_pred is not 0 or 1
    )
    checked_only = upload(admin, header + rows, store=False)
    result = checked_only[checked_only.index('id="upload-result"') :]
    assert "1 of 3 rows are valid" in result
    assert "Nothing was stored." in result
    errors = result[result.index('id="upload-errors"') :]
    assert "<td>2</td><td>timestamp</td>" in errors
    assert "<td>3</td><td>y_pred</td>" in errors
    version = ModelVersion.objects.get(model=registered)
    assert predictions_received(version) == 0
    stored = upload(admin, header + rows, store=True)
    assert "Stored for v1: 1 new, 0 already stored." in stored
    assert predictions_received(version) == 1


def test_an_upload_that_cannot_be_read_is_a_400_with_the_reason(admin: Client, registered: MLModel) -> None:
    html = upload(admin, "id,timestamp,y_pred\nx,2026-12-01T10:00:00Z,1\n", store=True)
    assert "The CSV is missing required column(s): gender, age_band." in field_errors(html, "file")
    assert predictions_received(ModelVersion.objects.get(model=registered)) == 0


def test_an_endpoint_gets_a_signed_test_event_and_the_page_says_how_it_went(
    admin: Client, registered: MLModel, receiver: LoopbackReceiver
) -> None:
    response = admin.post(
        "/onboarding/credit_scoring/endpoints",
        {
            "endpoint-name": "risk-ops",
            "endpoint-url": receiver.url("/fairlens"),
            "endpoint-format": "standard",
            "endpoint-only_this_model": "on",
        },
    )
    html = response.content.decode()
    assert response.status_code == 201
    secret = re.search(r'id="endpoint-secret">([^<]+)<', html).group(1)
    endpoint = WebhookEndpoint.objects.get(name="risk-ops")
    assert endpoint.model == registered
    from standardwebhooks.webhooks import Webhook

    tested = admin.post(f"/onboarding/credit_scoring/endpoints/{endpoint.pk}/test", follow=True)
    assert "Test event delivered to risk-ops: HTTP 200" in tested.content.decode()
    (request,) = receiver.received
    payload = Webhook(secret).verify(request.body, request.headers)
    assert payload["type"] == "endpoint.test"
    assert Delivery.objects.get(endpoint=endpoint).status == "delivered"


def test_a_failing_test_event_says_so(admin: Client, registered: MLModel, receiver: LoopbackReceiver) -> None:
    from monitoring.alerts.tests.builders import Reply

    receiver.replies["/down"] = Reply(status=503)
    admin.post(
        "/onboarding/credit_scoring/endpoints",
        {
            "endpoint-name": "flaky",
            "endpoint-url": receiver.url("/down"),
            "endpoint-format": "standard",
            "endpoint-only_this_model": "on",
        },
    )
    endpoint = WebhookEndpoint.objects.get(name="flaky")
    tested = admin.post(f"/onboarding/credit_scoring/endpoints/{endpoint.pk}/test", follow=True).content.decode()
    assert "Test event to flaky was not delivered: HTTP 503" in tested
    assert "It is retried from" in tested


def test_an_endpoint_url_the_sender_refuses_is_a_400(admin: Client, registered: MLModel) -> None:
    response = admin.post(
        "/onboarding/credit_scoring/endpoints",
        {"endpoint-name": "internal", "endpoint-url": "http://10.1.2.3/hook", "endpoint-format": "standard"},
    )
    assert response.status_code == 400
    assert "This webhook URL is not allowed" in field_errors(response.content.decode(), "endpoint-url")
    assert not WebhookEndpoint.objects.filter(name="internal").exists()


def test_the_policy_changes_as_a_new_version_and_a_bad_change_keeps_the_old(admin: Client, registered: MLModel) -> None:
    refused = admin.post("/onboarding/credit_scoring/policy", {**REGISTRATION, "confidence_level": "1.5"})
    assert refused.status_code == 400
    assert "a number in [0.5, 1)" in field_errors(refused.content.decode(), "confidence_level")
    assert current_policy(registered).version == 1
    changed = admin.post("/onboarding/credit_scoring/policy", {**REGISTRATION, "dir_min": "0.85", "spd_min": ""})
    assert changed.status_code == 302
    policy = current_policy(registered)
    assert policy.version == 2
    assert policy.metric_bands == {"DIR": {"min": 0.85, "max": None}, "SPD": {"min": None, "max": 0.1}}


def test_versions_are_added_with_training_metrics_and_checked_on_demand(admin: Client, registered: MLModel) -> None:
    bad = admin.post(
        "/onboarding/credit_scoring/versions", {"version": "2", "stage": "staging", "training_metrics": "{"}
    )
    assert bad.status_code == 400
    assert "Not JSON" in field_errors(bad.content.decode(), "training_metrics")
    duplicate = admin.post("/onboarding/credit_scoring/versions", {"version": "1", "stage": "staging"})
    assert "already registered" in field_errors(duplicate.content.decode(), "version")
    added = admin.post(
        "/onboarding/credit_scoring/versions",
        {"version": "2", "stage": "staging", "training_metrics": json.dumps({"auc": 0.81})},
    )
    assert added.status_code == 302
    assert ModelVersion.objects.get(model=registered, version="2").training_metrics == {"auc": 0.81}
    ran = admin.post("/onboarding/credit_scoring/check")
    assert ran.status_code == 302
    assert ran["Location"] == "/dashboard/credit_scoring/"
    assert FairnessCheck.objects.filter(model_version__model=registered).count() == 1


# --- Version comparison ---------------------------------------------------------------------------------------------


@pytest.fixture
def two_versions(db: None) -> tuple[ModelVersion, ModelVersion]:
    first = loan_version()
    second = loan_version(version="2")
    ModelVersion.objects.filter(pk=first.pk).update(training_metrics={"auc": 0.79, "accuracy": 0.74})
    ModelVersion.objects.filter(pk=second.pk).update(training_metrics={"auc": 0.78})
    checked(first, [0.8], n=1500)
    checked(second, [0.0], n=1500)
    return first, second


def test_two_versions_side_by_side(monitor_user: Any, two_versions: tuple[ModelVersion, ModelVersion]) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/compare/?a=1&b=2").content.decode()
    training = html[html.index('id="training-table"') : html.index("</table>", html.index('id="training-table"'))]
    assert "<td>0.79</td><td>0.78</td>" in training.replace("\n", "")
    assert "accuracy" in training
    assert "n/a" in training  # v2 has no accuracy
    fairness = html[html.index('id="compare-fairness"') :]
    assert "gender=Female" in fairness
    assert fairness.count('data-version-metric="DIR"') == 4  # two groups in each version
    assert "Promote" not in html  # monitors compare; admins promote


def test_an_admin_promotes_and_retires_through_the_registry(
    admin_user: Any, monitor_user: Any, two_versions: tuple[ModelVersion, ModelVersion]
) -> None:
    first, second = two_versions
    admin = client_for(admin_user)
    assert "Promote v2 to production" in admin.get("/dashboard/loan_model/compare/?a=1&b=2").content.decode()
    assert (
        client_for(monitor_user).post("/dashboard/loan_model/versions/2/stage", {"action": "promote"}).status_code
        == 403
    )
    response = admin.post(
        "/dashboard/loan_model/versions/2/stage",
        {"action": "promote", "next": "/dashboard/loan_model/compare/?a=1&b=2"},
    )
    assert response["Location"] == "/dashboard/loan_model/compare/?a=1&b=2"
    admin.post("/dashboard/loan_model/versions/1/stage", {"action": "retire"})
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.stage, second.stage) == ("retired", "production")
    assert AuditEntry.objects.filter(action="model.stage_change").count() == 2
    unknown = admin.post("/dashboard/loan_model/versions/9/stage", {"action": "promote"}, follow=True)
    assert "no version “9”" in unknown.content.decode()


def test_comparing_a_missing_version_is_a_404(monitor_user: Any, two_versions: Any) -> None:
    response = client_for(monitor_user).get("/dashboard/loan_model/compare/?a=1&b=7")
    assert response.status_code == 404
    assert "has no version “7”" in response.content.decode()
