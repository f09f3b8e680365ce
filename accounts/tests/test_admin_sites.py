"""Segregated admin sites: /admin/ for admins, /auditor/ (read-only) for auditors, neither for the other."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User

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


def test_an_auditor_logs_in_to_the_auditor_site_with_a_password(auditor_user: User) -> None:
    client = Client()
    response = client.post(
        "/auditor/login/?next=/auditor/", {"username": "bob-auditor", "password": "correct-Horse-battery-9"}
    )
    assert response.status_code == 302
    assert client.get("/auditor/").status_code == 200


def test_an_admin_cannot_log_in_to_the_auditor_site(admin_user: User) -> None:
    client = Client()
    response = client.post("/auditor/login/", {"username": "alice-admin", "password": "correct-Horse-battery-9"})
    assert response.status_code == 200  # the form again, with an error
    assert b"auditor account" in response.content
    assert client.get("/auditor/").status_code == 302


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


def test_nobody_adds_policies_or_predictions_through_the_admin(admin_user: User) -> None:
    client = Client()
    client.force_login(admin_user)
    assert client.get("/admin/registry/monitoringpolicy/add/").status_code == 403
    assert client.get("/admin/monitoring/prediction/add/").status_code == 403
