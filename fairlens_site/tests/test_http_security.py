"""Security headers, CORS allowlist, request ids and the request log line."""

from __future__ import annotations

import logging

import pytest
from django.test import Client, override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("path", ["/api/health", "/api/v1/nothing/", "/admin/login/"])
def test_security_headers_on_api_error_and_admin_pages(path: str) -> None:
    response = Client().get(path)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "same-origin"


def test_cors_preflight_from_an_unlisted_origin_gets_no_allow_origin() -> None:
    response = Client().options(
        "/api/health", HTTP_ORIGIN="https://evil.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert "Access-Control-Allow-Origin" not in response


@override_settings(CORS_ALLOWED_ORIGINS=["https://dashboard.example"])
def test_cors_preflight_from_a_listed_origin_is_allowed_without_credentials() -> None:
    response = Client().options(
        "/api/health", HTTP_ORIGIN="https://dashboard.example", HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET"
    )
    assert response["Access-Control-Allow-Origin"] == "https://dashboard.example"
    assert "Access-Control-Allow-Credentials" not in response


def test_every_response_carries_a_request_id_and_a_well_formed_one_is_echoed() -> None:
    generated = Client().get("/api/health")["X-Request-ID"]
    assert len(generated) == 32
    assert Client().get("/api/health", HTTP_X_REQUEST_ID="trace-1234-abcd")["X-Request-ID"] == "trace-1234-abcd"
    injected = Client().get("/api/health", HTTP_X_REQUEST_ID="bad id\nwith newline")["X-Request-ID"]
    assert "\n" not in injected
    assert injected != "bad id\nwith newline"


def test_each_request_is_logged_with_method_path_user_role_status_duration_and_id(
    client_as: object, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="fairlens.request"):
        response = client_as("auditor").get("/api/v1/accounts/users/", HTTP_X_REQUEST_ID="req-abcdef12")
    record = next(r for r in caplog.records if r.name == "fairlens.request")
    line = record.getMessage()
    assert response.status_code == 200
    assert "method=GET path=/api/v1/accounts/users/ user=bob-auditor role=auditor status=200" in line
    assert "duration_ms=" in line
    assert record.request_id == "req-abcdef12"


@override_settings(SECURE_SSL_REDIRECT=True)
def test_api_over_plain_http_is_refused_not_redirected_when_https_is_enforced() -> None:
    response = APIClient().get("/api/v1/accounts/me/")
    assert response.status_code == 403
    assert response.json()["code"] == "https_required"
    assert APIClient().get("/api/health").status_code == 200
    assert Client().get("/admin/login/").status_code == 301


@pytest.mark.parametrize(
    ("remote_addr", "forwarded", "proxies", "expected"),
    [
        ("192.0.2.1", "", 0, "192.0.2.1"),
        ("192.0.2.1", "203.0.113.5", 0, "192.0.2.1"),
        ("192.0.2.1", "203.0.113.5", 1, "203.0.113.5"),
        ("192.0.2.1", "spoofed, 203.0.113.5", 1, "203.0.113.5"),
        ("192.0.2.1", "203.0.113.5, not-an-ip", 1, "192.0.2.1"),
        ("", "", 0, None),
        ("garbage", "", 0, None),
        ("::1", "", 0, "::1"),
    ],
)
def test_client_ip_returns_only_well_formed_addresses(
    remote_addr: str, forwarded: str, proxies: int, expected: str | None
) -> None:
    from django.test import RequestFactory

    from core.client_ip import client_ip

    request = RequestFactory().get("/", REMOTE_ADDR=remote_addr, HTTP_X_FORWARDED_FOR=forwarded)
    with override_settings(NUM_PROXIES=proxies):
        assert client_ip(request) == expected


def test_login_without_a_client_address_is_not_a_server_error(monitor_user: object) -> None:
    response = APIClient(REMOTE_ADDR="").post(
        "/api/login", {"username": "carol-monitor", "password": "bad"}, format="json"
    )
    assert response.status_code == 401


BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def test_pages_get_a_strict_content_security_policy_and_signed_in_pages_are_not_stored(monitor_user: object) -> None:
    from core.middleware import STRICT_CSP

    client = Client()
    sign_in_page = client.get("/login/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert sign_in_page["Content-Security-Policy"] == STRICT_CSP
    client.force_login(monitor_user)
    dashboard = client.get("/dashboard/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert dashboard.status_code == 200
    assert dashboard["Content-Security-Policy"] == STRICT_CSP
    assert "script-src 'self';" in STRICT_CSP
    assert "unsafe-inline" not in STRICT_CSP
    assert "no-store" in dashboard["Cache-Control"]


def test_api_answers_for_a_signed_in_principal_are_not_stored(client_as: object) -> None:
    response = client_as("monitor").get("/api/v1/accounts/me/")
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    assert "no-store" not in APIClient().get("/api/health").get("Cache-Control", "")


@override_settings(DEBUG=True)
@pytest.mark.parametrize("accept", ["application/json", "*/*"])
def test_with_debug_on_an_unknown_url_is_json_for_api_clients(accept: str) -> None:
    response = Client().get("/nothing-here", HTTP_ACCEPT=accept)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["code"] == "not_found"
    assert b"URLconf" not in response.content


@override_settings(DEBUG=True)
def test_with_debug_on_browsers_still_get_the_debug_404_page() -> None:
    response = Client().get("/nothing-here", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")
