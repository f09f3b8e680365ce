"""GET /api/health: 200 when database, cache and broker answer; 503 with details when one does not."""

from __future__ import annotations

import pytest
from django.test import override_settings
from rest_framework.test import APIClient

from fairlens_site.celery import app as celery_app

pytestmark = pytest.mark.django_db
CLOSED_PORT_REDIS = "redis://127.0.0.1:9/0"  # port 9 (discard) has no listener here


def test_healthy_when_everything_answers() -> None:
    response = APIClient().get("/api/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "success"
    assert {name for name, check in body["data"]["checks"].items() if check["ok"]} == {"database", "cache", "broker"}


def test_503_when_the_broker_is_unreachable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(celery_app.conf, "broker_url", CLOSED_PORT_REDIS)
    monkeypatch.setitem(celery_app.conf, "broker_transport_options", {"socket_connect_timeout": 1})
    response = APIClient().get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert body["details"]["checks"]["broker"]["ok"] is False
    assert body["details"]["checks"]["broker"]["error"]
    assert body["details"]["checks"]["database"]["ok"] is True
    assert "broker" in body["message"]


@override_settings(
    CACHES={
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": CLOSED_PORT_REDIS,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
)
def test_503_when_the_cache_is_unreachable() -> None:
    response = APIClient().get("/api/health")
    assert response.status_code == 503
    assert response.json()["details"]["checks"]["cache"]["ok"] is False


@pytest.mark.requires_redis
def test_redis_is_the_cache_and_broker_when_redis_url_is_set() -> None:
    body = APIClient().get("/api/health").json()
    assert body["data"]["checks"]["cache"]["backend"] == "RedisCache"
    assert body["data"]["checks"]["broker"]["backend"] == "redis"


@pytest.mark.requires_postgres
def test_postgresql_is_the_database_when_database_url_says_so() -> None:
    assert APIClient().get("/api/health").json()["data"]["checks"]["database"]["backend"] == "postgresql"
