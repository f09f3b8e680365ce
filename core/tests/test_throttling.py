"""Throttling: limit+1 requests get 429 with Retry-After; rotating X-Forwarded-For buys no new bucket."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import override_settings
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db


def rates(**changes: str) -> dict:
    current = dict(settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"])
    current.update(changes)
    return {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": current}


@override_settings(REST_FRAMEWORK=rates(anon="3/min"))
def test_anonymous_callers_are_limited_per_address() -> None:
    client = APIClient()
    statuses = [client.get("/").status_code for _ in range(3)]
    limited = client.get("/", HTTP_X_FORWARDED_FOR="203.0.113.9")
    assert statuses == [200, 200, 200]
    assert limited.status_code == 429
    assert limited.json()["code"] == "throttled"
    assert 0 < int(limited["Retry-After"]) <= 60


@override_settings(REST_FRAMEWORK=rates(anon="3/min"), NUM_PROXIES=1)
def test_behind_one_proxy_the_client_is_the_last_forwarded_address() -> None:
    client = APIClient()
    for _ in range(3):
        client.get("/", HTTP_X_FORWARDED_FOR="198.51.100.1, 192.0.2.10")
    # the client can forge the left part, but the proxy's own entry (rightmost) decides
    assert client.get("/", HTTP_X_FORWARDED_FOR="203.0.113.1, 192.0.2.10").status_code == 429
    assert client.get("/", HTTP_X_FORWARDED_FOR="192.0.2.11").status_code == 200


@override_settings(REST_FRAMEWORK=rates(principal="2/min"))
def test_signed_in_users_are_limited_per_user(client_as: object) -> None:
    monitor = client_as("monitor")
    auditor = client_as("auditor")
    assert [monitor.get("/api/v1/accounts/me/").status_code for _ in range(2)] == [200, 200]
    assert monitor.get("/api/v1/accounts/me/").status_code == 429
    assert auditor.get("/api/v1/accounts/me/").status_code == 200


@override_settings(REST_FRAMEWORK=rates(login="2/min"))
def test_login_has_its_own_tighter_limit(db: None) -> None:
    client = APIClient()
    body = {"username": "nobody", "password": "x"}
    assert [client.post("/api/login", body, format="json").status_code for _ in range(2)] == [401, 401]
    assert client.post("/api/login", body, format="json").status_code == 429


@pytest.mark.requires_redis
@override_settings(REST_FRAMEWORK=rates(anon="2/min"))
def test_counters_live_in_redis_so_every_process_shares_them() -> None:
    import redis

    client = APIClient()
    client.get("/")
    keys = redis.Redis.from_url(settings.REDIS_URL).keys("fairlens:*throttle_anon_*")
    assert keys, "the throttle counter should be a Redis key"
