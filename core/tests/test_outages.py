"""Outages answer 503 + Retry-After, never 500: which failures count as an outage, the API and page answers,
and what keeps serving with the cache (Redis) down. tests/test_outage.py does the same against real servers
that it stops and restarts."""

from __future__ import annotations

import json
import sqlite3

import pytest
from django.conf import settings
from django.db import InterfaceError, OperationalError
from django.db.backends.postgresql.base import DatabaseWrapper
from django.test import Client, RequestFactory, override_settings
from rest_framework.test import APIClient

from core.api.outages import CACHE, DATABASE, unavailable_dependency

pytestmark = pytest.mark.django_db
CLOSED_PORT_REDIS = "redis://127.0.0.1:9/0"  # port 9 (discard) has no listener here
REDIS_DOWN = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": CLOSED_PORT_REDIS,
        "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
    }
}
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def postgres_refused() -> OperationalError:
    """The error Django raises when PostgreSQL refuses the connection: a real one, from the real driver."""
    wrapper = DatabaseWrapper(
        {
            **settings.DATABASES["default"],
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "fairlens",
            "HOST": "127.0.0.1",
            "PORT": 9,
            "USER": "postgres",
            "PASSWORD": "",
            "OPTIONS": {"connect_timeout": 1},
            "CONN_HEALTH_CHECKS": False,
            "CONN_MAX_AGE": 0,
        }
    )
    with pytest.raises(OperationalError) as raised:
        wrapper.ensure_connection()
    return raised.value


def wrapped(error: Exception, kind: type[Exception]) -> Exception:
    """``error`` re-raised as Django's ``kind`` the way Django's DatabaseErrorWrapper does (``from``)."""
    try:
        try:
            raise error
        except Exception as cause:
            raise kind(*cause.args) from cause
    except kind as result:
        return result


def assert_outage(response: object, dependency: str) -> None:
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert int(response["Retry-After"]) == settings.OUTAGE_RETRY_AFTER_SECONDS
    body = json.loads(response.content)
    assert (body["status"], body["code"]) == ("error", "service_unavailable")
    assert body["details"] == {"dependency": dependency}
    assert "Retry-After" in body["message"]


# --- Which failures are outages ---------------------------------------------------------------------------


def test_a_refused_postgresql_connection_is_a_database_outage() -> None:
    assert unavailable_dependency(postgres_refused()) == DATABASE


def test_a_closed_connection_is_a_database_outage() -> None:
    import psycopg2

    assert unavailable_dependency(wrapped(psycopg2.InterfaceError("connection already closed"), InterfaceError)) == (
        DATABASE
    )


def test_sqlite_contention_and_other_database_errors_are_not_outages(tmp_path: object) -> None:
    path = f"{tmp_path}/locked.sqlite3"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("CREATE TABLE t (x)")
    holder.execute("BEGIN IMMEDIATE")
    waiter = sqlite3.connect(path, timeout=0)
    with pytest.raises(sqlite3.OperationalError) as locked:
        waiter.execute("INSERT INTO t VALUES (1)")
    holder.rollback()
    assert "locked" in str(locked.value)
    assert unavailable_dependency(wrapped(locked.value, OperationalError)) is None
    assert unavailable_dependency(ValueError("not a dependency")) is None


@pytest.mark.requires_postgres
def test_a_query_cancelled_by_statement_timeout_is_not_an_outage() -> None:
    from django.db import connection, transaction

    def sleep_past_the_timeout() -> None:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute("SET LOCAL statement_timeout = 1")
            cursor.execute("SELECT pg_sleep(1)")

    with pytest.raises(OperationalError) as cancelled:
        sleep_past_the_timeout()
    assert cancelled.value.__cause__.pgcode == "57014"
    assert unavailable_dependency(cancelled.value) is None


def test_an_unreachable_redis_is_a_cache_outage() -> None:
    import redis

    with pytest.raises(redis.ConnectionError) as refused:
        redis.Redis.from_url(CLOSED_PORT_REDIS, socket_connect_timeout=1).ping()
    assert unavailable_dependency(refused.value) == CACHE
    assert unavailable_dependency(redis.TimeoutError("Timeout reading from socket")) == CACHE


# --- Database down ----------------------------------------------------------------------------------------


def test_an_api_view_that_cannot_reach_the_database_answers_503_json(monkeypatch: pytest.MonkeyPatch) -> None:
    error = postgres_refused()

    def refused() -> list:
        raise error

    monkeypatch.setattr("fairlens_site.views.run_probes", refused)
    assert_outage(APIClient().get("/api/health"), DATABASE)


def test_a_page_that_cannot_reach_the_database_answers_an_html_503(
    monkeypatch: pytest.MonkeyPatch, monitor_user: object
) -> None:
    error = postgres_refused()

    def refused() -> list:
        raise error

    monkeypatch.setattr("web.dashboard_data.model_rows", refused)
    client = Client()
    client.force_login(monitor_user)
    response = client.get("/dashboard/", HTTP_ACCEPT=BROWSER_ACCEPT)
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")
    assert int(response["Retry-After"]) == settings.OUTAGE_RETRY_AFTER_SECONDS
    assert b"temporarily unavailable" in response.content
    # The same page asked for by an API client is the JSON error.
    assert_outage(client.get("/dashboard/", HTTP_ACCEPT="application/json"), DATABASE)


def test_a_failure_outside_the_view_answers_503_from_the_500_handler() -> None:
    from fairlens_site.views import server_error

    error = postgres_refused()
    request = RequestFactory().get("/api/v1/accounts/me/")
    try:
        raise error
    except OperationalError:
        response = server_error(request)
    assert_outage(response, DATABASE)


# --- Redis down: what does not need it keeps serving ------------------------------------------------------


@override_settings(CACHES=REDIS_DOWN)
def test_with_the_cache_down_signed_in_principals_are_served_without_their_rate_limit(
    client_as: object, caplog: pytest.LogCaptureFixture
) -> None:
    from core.api.outages import throttle_fail_open

    before = throttle_fail_open.counts().get("principal", 0)
    assert client_as("monitor").get("/api/v1/accounts/me/").status_code == 200
    assert client_as("api_key").get("/api/v1/accounts/me/").status_code in {200, 403}
    assert throttle_fail_open.counts()["principal"] >= before + 1


@override_settings(CACHES=REDIS_DOWN)
def test_with_the_cache_down_sign_in_still_works_because_lockout_is_in_the_database(monitor_user: object) -> None:
    from conftest import TEST_PASSWORD

    client = APIClient()
    assert client.post("/api/login", {"username": "carol-monitor", "password": "wrong"}, format="json").status_code == (
        401
    )
    response = client.post("/api/login", {"username": "carol-monitor", "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200
    assert response.json()["data"]["access_token"]


@override_settings(CACHES=REDIS_DOWN)
def test_with_the_cache_down_other_anonymous_requests_fail_closed_with_503() -> None:
    assert_outage(APIClient().get("/"), CACHE)
