"""Start-up refuses production-unsafe defaults; `check --deploy` is clean under production values."""

from __future__ import annotations

import base64
import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

from core.env import _new_ed25519_pem, _new_p256_pem

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **overrides: str) -> dict[str, str]:
    keep = {name: value for name, value in os.environ.items() if name in {"PATH", "HOME", "LANG", "PYTHONPATH"}}
    env = {
        **keep,
        "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.base",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "JWT_SECRET": secrets.token_urlsafe(50),
        "FERNET_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "FAIRLENS_ID_PEPPER": secrets.token_urlsafe(32),
        "AUDIT_SIGNING_KEY": _new_ed25519_pem(),
        "REPORT_SIGNING_KEY": _new_p256_pem(),
        "DJANGO_ALLOWED_HOSTS": "fairlens.example.com",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'prod.sqlite3'}",
        "FAIRLENS_VAR_DIR": str(tmp_path / "var"),
    }
    env.update(overrides)
    return {name: value for name, value in env.items() if value != "<unset>"}


def manage(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_is_clean_under_production_values(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path), "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    "missing", ["DJANGO_SECRET_KEY", "JWT_SECRET", "FERNET_KEYS", "FAIRLENS_ID_PEPPER", "AUDIT_SIGNING_KEY"]
)
def test_a_missing_secret_stops_start_up_when_debug_is_off(tmp_path: Path, missing: str) -> None:
    result = manage(production_env(tmp_path, **{missing: "<unset>"}), "check")
    assert result.returncode != 0
    assert f"{missing} is not set" in result.stderr
    assert not (tmp_path / "var" / "dev-secrets.json").exists()


def test_without_a_report_signing_key_start_up_warns_and_a_bad_key_fails_the_check(tmp_path: Path) -> None:
    missing = manage(production_env(tmp_path, REPORT_SIGNING_KEY="<unset>"), "check")
    assert missing.returncode == 0, missing.stderr
    assert "fairlens.W030" in missing.stderr + missing.stdout
    ed25519 = manage(production_env(tmp_path, REPORT_SIGNING_KEY=_new_ed25519_pem()), "check")
    assert ed25519.returncode != 0
    assert "fairlens.E030" in ed25519.stderr + ed25519.stdout


def test_a_log_retention_under_six_months_is_refused(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, AUDIT_LOG_RETENTION_DAYS="90"), "check")
    assert result.returncode != 0
    assert "AUDIT_LOG_RETENTION_DAYS must be at least 183" in result.stderr


def test_a_secret_can_come_from_a_file(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt_secret"
    secret_file.write_text(secrets.token_urlsafe(50) + "\n")
    env = production_env(tmp_path, JWT_SECRET="<unset>", JWT_SECRET_FILE=str(secret_file))
    assert manage(env, "check").returncode == 0


def test_jwt_secret_equal_to_secret_key_is_refused(tmp_path: Path) -> None:
    shared = secrets.token_urlsafe(50)
    result = manage(production_env(tmp_path, DJANGO_SECRET_KEY=shared, JWT_SECRET=shared), "check")
    assert result.returncode != 0
    assert "JWT_SECRET must differ" in result.stderr


@pytest.mark.parametrize("algorithm", ["none", "RS256", "hs256"])
def test_only_hmac_jwt_algorithms_are_accepted(tmp_path: Path, algorithm: str) -> None:
    result = manage(production_env(tmp_path, JWT_ALGORITHM=algorithm), "check")
    assert result.returncode != 0
    assert "JWT_ALGORITHM must be one of" in result.stderr


def test_an_invalid_fernet_key_fails_the_system_check(tmp_path: Path) -> None:
    result = manage(production_env(tmp_path, FERNET_KEYS="not-a-key"), "check")
    assert result.returncode != 0
    assert "fairlens.E002" in result.stderr


def test_a_development_run_generates_its_secrets_once(tmp_path: Path) -> None:
    env = production_env(
        tmp_path,
        DJANGO_DEBUG="true",
        DJANGO_SECRET_KEY="<unset>",
        JWT_SECRET="<unset>",
        FERNET_KEYS="<unset>",
        FAIRLENS_ID_PEPPER="<unset>",
        AUDIT_SIGNING_KEY="<unset>",
    )
    assert manage(env, "check").returncode == 0
    generated = (tmp_path / "var" / "dev-secrets.json").read_text()
    assert manage(env, "check").returncode == 0
    assert (tmp_path / "var" / "dev-secrets.json").read_text() == generated
    assert oct((tmp_path / "var" / "dev-secrets.json").stat().st_mode & 0o777) == "0o600"


def test_compose_file_runs_the_production_shape_with_health_checks_and_volumes() -> None:
    import yaml

    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    services = compose["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    for name in ("postgres", "redis", "web", "worker"):
        assert "healthcheck" in services[name], name
    assert "gunicorn" not in str(services["worker"]["command"])
    assert {"postgres-data", "redis-data"} <= set(compose["volumes"])
    assert "noeviction" in services["redis"]["command"]


def test_sqlite_runs_in_wal_mode_with_immediate_transactions(tmp_path: Path) -> None:
    code = (
        "from django.db import connection\n"
        "cursor = connection.cursor()\n"
        "cursor.execute('PRAGMA journal_mode')\n"
        "print(cursor.fetchone()[0], connection.settings_dict['OPTIONS']['transaction_mode'])\n"
    )
    result = manage(production_env(tmp_path), "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[-2:] == ["wal", "IMMEDIATE"]


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("WEBHOOK_ALLOWED_PRIVATE_TARGETS", "127.0.0.1:8765", "fairlens.E010"),
        ("WEBHOOK_ALLOW_INSECURE_HTTP", "true", "fairlens.E011"),
        ("FAIRLENS_DEMO_ENDPOINTS", "true", "fairlens.E012"),
    ],
)
def test_check_deploy_refuses_webhook_holes_and_demo_settings(
    tmp_path: Path, name: str, value: str, error: str
) -> None:
    result = manage({**production_env(tmp_path), name: value}, "check", "--deploy")
    assert result.returncode != 0
    assert error in result.stderr + result.stdout


def test_redis_redelivers_a_lost_message_a_minute_after_the_longest_task_could_have_run(tmp_path: Path) -> None:
    # given the production settings on a Redis broker (nothing connects while settings load)
    code = (
        "import json\n"
        "from django.conf import settings\n"
        "from monitoring.tasks import run_check_task\n"
        "print(json.dumps([settings.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'],"
        " settings.CELERY_TASK_TIME_LIMIT, run_check_task.retry_backoff_max]))\n"
    )
    env = {**production_env(tmp_path), "REDIS_URL": "redis://127.0.0.1:1/0", "CELERY_TASK_TIME_LIMIT": "120"}
    result = manage(env, "shell", "--no-imports", "-c", code)
    assert result.returncode == 0, result.stderr
    visibility, time_limit, backoff_max = json.loads(result.stdout.splitlines()[-1])
    # then an unacknowledged message comes back a minute after the task would have been killed, not after an
    # hour; and a check's retry countdown is shorter, so a waiting retry is not redelivered early
    assert (visibility, time_limit) == (180, 120)
    assert backoff_max < visibility
