"""Shared fixtures: role personas, API clients per principal, and the rule for tests that need real services.

Tests marked ``requires_redis`` / ``requires_postgres`` skip when that service is not configured, unless
``FAIRLENS_REQUIRE_SERVICES=1`` (set by .ci/run), which turns the skip into a failure so CI cannot pass
without having exercised them. Tests marked ``outage`` start their own PostgreSQL and Redis servers, so they
need the server programs (initdb/pg_ctl, redis-server) rather than running services; the same rule applies.
"""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

TEST_PASSWORD = "correct-Horse-battery-9"  # noqa: S105 - a test fixture's password

SERVICE_MARKERS = {
    "requires_redis": ("REDIS_URL", lambda value: value.startswith("redis")),
    "requires_postgres": ("DATABASE_URL", lambda value: value.startswith(("postgres", "postgresql", "pgsql"))),
}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Every transactional test must restore the migrated data (roles, audit head) it flushes.

    A transactional test empties the tables when it ends. Without ``serialized_rollback`` Django then re-runs
    post_migrate, which recreates the role groups, and the next serialized test fails to restore them over the
    top: one such test breaks unrelated tests much later in the run.
    """
    offenders = []
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            offenders.append(item.nodeid)
    if offenders:
        raise pytest.UsageError(
            "django_db(transaction=True) needs serialized_rollback=True: " + ", ".join(offenders[:10])
        )


def _outage_programs_missing() -> str:
    from tests.processes import postgres_bin

    missing = [] if postgres_bin() is not None else ["pg_ctl (postgresql)"]
    if shutil.which("redis-server") is None:
        missing.append("redis-server")
    return ", ".join(missing)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("outage") is not None and (missing := _outage_programs_missing()):
        message = f"outage: {missing} not installed"
        if os.environ.get("FAIRLENS_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and FAIRLENS_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    for marker, (variable, usable) in SERVICE_MARKERS.items():
        if item.get_closest_marker(marker) is None:
            continue
        if usable(os.environ.get(variable, "")):
            continue
        message = f"{marker}: {variable} is not set to a usable service"
        if os.environ.get("FAIRLENS_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and FAIRLENS_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Throttle counters live in the cache; each test starts with none."""
    cache.clear()


@pytest.fixture
def make_user(db: None) -> Callable[..., object]:
    """Create a user with the role granted at once (``approved=True``, as the server commands do; the API
    always asks a second person), with an e-mail address, and an enrolled authenticator if ``totp``."""
    from accounts.services import user_create

    def make(username: str, role: str | None, password: str = TEST_PASSWORD, totp: bool = False) -> object:
        user = user_create(
            username=username,
            password=password,
            role=role,
            email=f"{username}@example.com",
            validate=False,
            approved=True,
        )
        if totp:
            enrol_totp(user)
        return user

    return make


def enrol_totp(user: object) -> object:
    """Give ``user`` a confirmed TOTP device, as finishing enrolment does."""
    from django_otp.plugins.otp_totp.models import TOTPDevice

    return TOTPDevice.objects.create(user=user, name="authenticator", confirmed=True)


def totp_code(user: object) -> str:
    """A code the user's authenticator would show that the server has not accepted yet.

    django-otp accepts the current time step and its neighbours (tolerance 1), each step once: the current
    step's code, or the next step's when the current one was used (what a person gets by waiting).
    """
    import time

    from django_otp.oath import TOTP, hotp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.get(user=user, confirmed=True)
    clock = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    clock.time = time.time()
    step = max(clock.t(), device.last_t + 1)
    assert step <= clock.t() + device.tolerance, "no unused code left in this time step; wait or travel in time"
    return f"{hotp(device.bin_key, step, digits=device.digits):0{device.digits}d}"


@pytest.fixture
def admin_user(make_user: Callable[..., object]) -> object:
    return make_user("alice-admin", "admin", totp=True)


@pytest.fixture
def auditor_user(make_user: Callable[..., object]) -> object:
    return make_user("bob-auditor", "auditor", totp=True)


@pytest.fixture
def monitor_user(make_user: Callable[..., object]) -> object:
    return make_user("carol-monitor", "monitor")


@pytest.fixture
def ml_model(db: None) -> object:
    from registry.services import ml_model_create

    return ml_model_create(name="loan_model", description="demo loan approval model")


@pytest.fixture
def model_key(ml_model: object) -> tuple[object, str]:
    """A model-client key for ``ml_model``: (row, the key as the client holds it)."""
    from accounts.services import model_client_key_create

    return model_client_key_create(model=ml_model, name="scoring-service", created_by=None)


def bearer(user: object) -> str:
    """An access token of a sign-in that passed the second factor (what /api/login gives with a right ``otp``)."""
    import time

    from accounts.services import issue_tokens

    return f"Bearer {issue_tokens(user, mfa_at=int(time.time()))['access_token']}"


@pytest.fixture
def client_as(
    admin_user: object, auditor_user: object, monitor_user: object, model_key: tuple[object, str]
) -> Callable[[str], APIClient]:
    """An API client authenticated as a principal: anonymous, monitor, auditor, admin or api_key."""

    def make(principal: str) -> APIClient:
        client = APIClient()
        credentials = {
            "anonymous": None,
            "monitor": lambda: bearer(monitor_user),
            "auditor": lambda: bearer(auditor_user),
            "admin": lambda: bearer(admin_user),
            "api_key": lambda: f"Api-Key {model_key[1]}",
        }[principal]
        if credentials is not None:
            client.credentials(HTTP_AUTHORIZATION=credentials())
        return client

    return make


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> None:
    """On PostgreSQL, let test teardown empty the append-only audit tables.

    The append-only triggers pass the tables' owner (the test connection, which ran the migrations) when
    ``fairlens.audit_maintenance = on``; only the *test* database sets it by default (the application never does,
    and its runtime role is refused even with it). Tests that check the triggers turn it off in their session.
    """
    from django.db import connection

    from accounts.role_permissions import sync_role_permissions
    from compliance.models import AuditHead

    with django_db_blocker.unblock():
        # A reused test database may have been emptied by the last run's final transactional test.
        sync_role_permissions()
        AuditHead.objects.get_or_create(pk=1, defaults={"seq": 0, "entry_hash": "0" * 64})
        if connection.vendor == "postgresql":
            name = connection.ops.quote_name(connection.settings_dict["NAME"])
            with connection.cursor() as cursor:
                cursor.execute(f"ALTER DATABASE {name} SET fairlens.audit_maintenance = 'on'")
                cursor.execute("SET fairlens.audit_maintenance = 'on'")


@pytest.fixture(autouse=True)
def _isolated_files(settings: Any, tmp_path: Any) -> None:
    """Key ring, audit mirror and anchor file per test, so files never outlive the database they describe."""
    settings.FERNET_KEYRING_PATH = tmp_path / "keys" / "fernet-keyring.json"
    settings.AUDIT_MIRROR_PATH = tmp_path / "compliance_audit_log.jsonl"
    settings.ANCHOR_FILE_PATH = tmp_path / "blockchain_anchors.jsonl"


@pytest.fixture
def eager_tasks() -> Iterator[None]:
    """Enqueued tasks run at once, in this process, as a worker would run them (errors propagate)."""
    from fairlens_site.celery import app as celery_app

    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    try:
        yield
    finally:
        celery_app.conf.task_always_eager = False
        celery_app.conf.task_eager_propagates = False


@pytest.fixture
def receiver(settings: Any) -> Iterator[Any]:
    """A real HTTP server on a loopback port that webhooks may be delivered to; it records every POST
    (``monitoring.alerts.tests.builders.LoopbackReceiver``). Delivery settings allow plain HTTP to it only."""
    from monitoring.alerts.tests.builders import LoopbackReceiver

    server = LoopbackReceiver()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.WEBHOOK_ALLOW_INSECURE_HTTP = True
    settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{server.server_port}"]
    settings.WEBHOOK_RETRY_JITTER = 0.0
    settings.ALERT_EMAIL_TO = []
    yield server
    server.shutdown()
    server.server_close()
