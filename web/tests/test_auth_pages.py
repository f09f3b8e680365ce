"""Sign-in, sign-out, the browser redirect at / and the 403 page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from compliance.models import AuditEntry
from conftest import TEST_PASSWORD

pytestmark = pytest.mark.django_db


def test_browsers_asking_for_html_at_the_root_go_to_the_dashboard() -> None:
    response = Client().get("/", HTTP_ACCEPT="text/html,application/xhtml+xml,*/*;q=0.8")
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"


def test_api_clients_at_the_root_keep_the_json_index() -> None:
    response = Client().get("/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    assert response.json()["status"] == "success"


def test_pages_send_anonymous_visitors_to_the_login_page() -> None:
    response = Client().get("/dashboard/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/dashboard/"


def test_login_page_has_labelled_fields_and_a_csrf_token() -> None:
    response = Client(enforce_csrf_checks=True).get("/login/")
    body = response.content.decode()
    assert response.status_code == 200
    assert '<label for="id_username">' in body
    assert '<label for="id_password">' in body
    assert "csrfmiddlewaretoken" in body


def test_signing_in_with_the_right_password_lands_on_the_dashboard(make_user: Any) -> None:
    make_user("mona", "monitor", password="correct horse battery")
    client = Client()
    response = client.post("/login/", {"username": "mona", "password": "correct horse battery"})
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/"
    assert client.get("/dashboard/").status_code == 200


def test_a_wrong_password_shows_an_error_and_signs_nobody_in(make_user: Any) -> None:
    make_user("mona", "monitor", password="correct horse battery")
    client = Client()
    response = client.post("/login/", {"username": "mona", "password": "wrong"})
    assert response.status_code == 200
    assert 'role="alert"' in response.content.decode()
    assert client.get("/dashboard/").status_code == 302


def test_a_login_post_without_csrf_token_is_refused(make_user: Any) -> None:
    make_user("mona", "monitor", password="correct horse battery")
    response = Client(enforce_csrf_checks=True).post(
        "/login/", {"username": "mona", "password": "correct horse battery"}
    )
    assert response.status_code == 403


def test_signing_out_ends_the_session(monitor_user: Any) -> None:
    client = Client()
    client.force_login(monitor_user)
    response = client.post("/logout/")
    assert response.status_code == 302
    assert response["Location"] == "/login/"
    assert client.get("/dashboard/").status_code == 302


def test_a_user_without_a_role_sees_the_403_page(make_user: Any) -> None:
    client = Client()
    client.force_login(make_user("norole", None))
    response = client.get("/dashboard/")
    assert response.status_code == 403
    assert "Not allowed" in response.content.decode()


def test_page_sign_ins_are_audited_like_api_logins(make_user: Any) -> None:
    make_user("mona", "monitor", password="correct horse battery")
    Client().post("/login/", {"username": "mona", "password": "wrong"})
    Client().post("/login/", {"username": "mona", "password": "correct horse battery"})
    actions = list(AuditEntry.objects.order_by("seq").values_list("action", flat=True))
    assert actions[-2:] == ["auth.login_failed", "auth.login"]


def test_repeated_failures_lock_the_page_sign_in_with_an_html_429(make_user: Any, settings: Any) -> None:
    settings.AXES_FAILURE_LIMIT = 2
    make_user("mona", "monitor", password="correct horse battery")
    client = Client()
    for _ in range(2):
        client.post("/login/", {"username": "mona", "password": "wrong"})
    response = client.post("/login/", {"username": "mona", "password": "correct horse battery"})
    assert response.status_code == 429
    assert response["Retry-After"]
    assert "Too many failed sign-in attempts" in response.content.decode()
    assert AuditEntry.objects.filter(action="auth.locked_out").exists()


def test_the_browsable_apis_sign_in_is_the_pages_and_returns_to_the_api_page(monitor_user: Any) -> None:
    client = Client()
    api_page = "/api/v1/models/"
    answer = client.get(api_page, HTTP_ACCEPT="text/html")
    assert f"href='/api-auth/login/?next={api_page}'" in answer.content.decode()  # DRF's "Log in" link
    form = client.get(f"/api-auth/login/?next={api_page}").content.decode()
    assert 'name="otp"' in form  # the audited sign-in, with the authenticator code
    signed_in = client.post(
        f"/api-auth/login/?next={api_page}",
        {"username": monitor_user.username, "password": TEST_PASSWORD, "next": api_page},
    )
    assert signed_in.status_code == 302
    assert signed_in["Location"] == api_page
    assert AuditEntry.objects.filter(action="auth.login", actor=monitor_user.username).exists()


def test_every_page_names_the_icon_and_favicon_ico_leads_to_it(db: None) -> None:
    page = Client().get("/login/").content.decode()
    assert '<link rel="icon" href="/static/web/favicon.svg" type="image/svg+xml">' in page
    icon = Client().get("/favicon.ico")
    assert icon.status_code == 302
    assert icon["Location"] == "/static/web/favicon.svg"
