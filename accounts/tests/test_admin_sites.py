"""Segregated admin sites: /admin/ for admins, /auditor/ (read-only) for auditors, neither for the other."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User
from conftest import TEST_PASSWORD as PASSWORD
from conftest import totp_code

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("persona", "admin_status", "auditor_status"),
    [("admin_user", 200, 302), ("auditor_user", 302, 200), ("monitor_user", 302, 302)],
)
def test_each_role_enters_only_its_own_site(
    request: pytest.FixtureRequest, persona: str, admin_status: int, auditor_status: int
) -> None:
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    assert client.get("/admin/").status_code == admin_status
    assert client.get("/auditor/").status_code == auditor_status


def test_the_auditor_site_lists_users_read_only(auditor_user: User, monitor_user: User) -> None:
    client = Client()
    client.force_login(auditor_user)
    listing = client.get("/auditor/accounts/user/")
    assert listing.status_code == 200
    assert b"carol-monitor" in listing.content
    detail = client.get(f"/auditor/accounts/user/{monitor_user.pk}/change/")
    assert detail.status_code == 200
    assert b'name="_save"' not in detail.content
    # a forged change is refused
    forged = client.post(f"/auditor/accounts/user/{monitor_user.pk}/change/", {"username": "renamed"})
    assert forged.status_code == 403
    monitor_user.refresh_from_db()
    assert monitor_user.username == "carol-monitor"
    assert client.get("/auditor/accounts/user/add/").status_code == 403


def test_an_auditor_signs_in_to_the_auditor_site_with_password_and_code(auditor_user: User) -> None:
    client = Client()
    # the admin sites' own login form is not used: it knows no second factor
    assert client.get("/auditor/login/?next=/auditor/")["Location"] == "/login/?next=/auditor/"
    without_code = client.post("/login/?next=/auditor/", {"username": "bob-auditor", "password": PASSWORD})
    assert without_code.status_code == 200
    assert b"authenticator" in without_code.content
    assert client.get("/auditor/").status_code == 302
    response = client.post(
        "/login/?next=/auditor/",
        {"username": "bob-auditor", "password": PASSWORD, "otp": totp_code(auditor_user), "next": "/auditor/"},
    )
    assert response.status_code == 302
    assert response["Location"] == "/auditor/"
    assert client.get("/auditor/").status_code == 200


def test_an_admin_cannot_enter_the_auditor_site(admin_user: User) -> None:
    client = Client()
    response = client.post("/login/", {"username": "alice-admin", "password": PASSWORD, "otp": totp_code(admin_user)})
    assert response.status_code == 302
    assert client.get("/auditor/").status_code == 302
    refused = client.get("/auditor/login/?next=/auditor/")
    assert refused.status_code == 403
    assert b"auditor" in refused.content


@pytest.mark.parametrize(
    "url",
    [
        "/admin/registry/modelversion/",
        "/admin/registry/monitoringpolicy/",
        "/admin/monitoring/prediction/",
        "/admin/monitoring/ingestionrecord/",
        "/admin/monitoring/predictionrollup/",
    ],
)
def test_registry_and_monitoring_pages_open_for_admins_and_auditors(
    admin_user: User, auditor_user: User, url: str
) -> None:
    from monitoring.tests.factories import make_version

    make_version()
    for user, prefix in ((admin_user, "/admin/"), (auditor_user, "/auditor/")):
        client = Client()
        client.force_login(user)
        assert client.get(url.replace("/admin/", prefix)).status_code == 200


def test_nobody_adds_predictions_through_the_admin_and_the_refusal_is_an_html_page(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    response = client.get("/admin/monitoring/prediction/add/")
    assert response.status_code == 403
    assert response["Content-Type"].startswith("text/html")
    assert b"You do not have permission to do this." in response.content
    assert b"FairLens administration" in response.content


def test_admin_site_errors_are_html_and_api_errors_stay_json(admin_user: User, auditor_user: User) -> None:
    admin_client, auditor_client = Client(), Client()
    admin_client.force_login(admin_user)
    auditor_client.force_login(auditor_user)
    for response in (
        admin_client.get("/admin/registry/monitoringpolicy/999999/delete/"),
        admin_client.get("/admin/no-such-page/"),
        auditor_client.get("/auditor/registry/monitoringpolicy/add/"),
    ):
        assert response.status_code in (403, 404)
        assert response["Content-Type"].startswith("text/html")
        assert b'"status": "error"' not in response.content
    api = admin_client.get("/api/v1/no-such-thing/")
    assert api.status_code == 404
    assert api.json()["code"] == "not_found"


def test_an_admin_adds_a_policy_version_through_the_registry_service(admin_user: User) -> None:
    from compliance.models import AuditEntry
    from monitoring.tests.factories import make_version
    from registry.models import MonitoringPolicy

    # given a model with a policy in force
    version = make_version()
    model = version.model
    before = model.policies.count()
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/registry/monitoringpolicy/add/").status_code == 200
    # when an admin adds a policy on the admin site
    response = client.post(
        "/admin/registry/monitoringpolicy/add/",
        {
            "model": model.pk,
            "protected_attributes": '["gender", "race"]',
            "privileged": '{"gender": "Male", "race": "White"}',
            "favorable_label": 1,
            "metric_bands": '{"DIR": {"min": 0.8, "max": null}}',
            "min_group_size": 50,
            "confidence_level": 0.95,
            "window_hours": 24,
            "check_interval_minutes": 60,
            "label_lag_hours": 12,
            "channels": '["webhook"]',
        },
    )
    # then it is the next version, written by the service (numbered, attributed and audited)
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = MonitoringPolicy.objects.get(model=model, version=before + 1)
    assert policy.protected_attributes == ["gender", "race"]
    assert policy.min_group_size == 50
    assert policy.label_lag_hours == 12
    assert policy.created_by == admin_user
    entry = AuditEntry.objects.get(action="policy.create", object_id=f"{model.name}:{before + 1}")
    assert entry.actor == "alice-admin"
    assert model.policies.count() == before + 1


def test_an_invalid_policy_is_shown_on_the_form_and_nothing_is_written(admin_user: User) -> None:
    from monitoring.tests.factories import make_version

    model = make_version().model
    before = model.policies.count()
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/registry/monitoringpolicy/add/",
        {
            "model": model.pk,
            "protected_attributes": '["gender"]',
            "privileged": '{"race": "White"}',
            "favorable_label": 1,
            "metric_bands": '{"XYZ": {"min": 0.8}}',
            "min_group_size": 30,
            "confidence_level": 0.95,
            "window_hours": 24,
            "check_interval_minutes": 60,
            "channels": "[]",
        },
    )
    body = response.content.decode()
    assert response.status_code == 200
    assert "give a privileged value for exactly these attributes: gender" in body
    assert "XYZ: unknown" in body
    assert model.policies.count() == before


def test_an_admin_issues_an_api_key_that_is_shown_once_and_works(admin_user: User, ml_model: object) -> None:
    from rest_framework.test import APIClient

    from accounts.models import ModelClientKey
    from compliance.models import AuditEntry

    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/accounts/modelclientkey/add/").status_code == 200
    # when an admin issues a key on the admin site
    response = client.post(
        "/admin/accounts/modelclientkey/add/", {"model": ml_model.pk, "name": "batch-scorer"}, follow=True
    )
    # then the key is shown once, in a message, and works for the model client
    assert response.status_code == 200
    shown = [str(message) for message in response.context["messages"] if "shown once" in str(message)]
    assert len(shown) == 1
    key = ModelClientKey.objects.get(name="batch-scorer")
    raw_key = shown[0].split(": ", 1)[1].split()[0]
    assert raw_key.startswith(f"{key.prefix}.")
    assert key.created_by == admin_user
    assert AuditEntry.objects.filter(action="api_key.create", object_id=key.prefix, actor="alice-admin").exists()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
    assert api.get("/api/v1/accounts/me/").status_code == 200
    # and never again
    again = client.get(f"/admin/accounts/modelclientkey/{key.pk}/change/")
    assert raw_key not in again.content.decode()


def test_an_api_key_expiring_in_the_past_is_refused_on_the_form(admin_user: User, ml_model: object) -> None:
    from accounts.models import ModelClientKey

    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/accounts/modelclientkey/add/",
        {"model": ml_model.pk, "name": "late", "expiry_date_0": "2001-01-01", "expiry_date_1": "00:00:00"},
    )
    assert response.status_code == 200
    assert "The expiry time is in the past" in response.content.decode()
    assert not ModelClientKey.objects.filter(name="late").exists()


def test_a_label_lag_past_its_bound_is_shown_on_the_admin_form(admin_user: User) -> None:
    from monitoring.tests.factories import make_version

    model = make_version().model
    before = model.policies.count()
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/registry/monitoringpolicy/add/",
        {
            "model": model.pk,
            "protected_attributes": '["gender"]',
            "privileged": '{"gender": "Male"}',
            "favorable_label": 1,
            "metric_bands": '{"DIR": {"min": 0.8, "max": null}}',
            "min_group_size": 30,
            "confidence_level": 0.95,
            "window_hours": 24,
            "check_interval_minutes": 60,
            "label_lag_hours": 24 * 90 + 1,
            "channels": "[]",
        },
    )
    assert response.status_code == 200
    assert "label_lag_hours" in response.context["adminform"].form.errors
    assert model.policies.count() == before
