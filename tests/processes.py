"""Start FairLens processes (Celery worker, beat) for tests, pointed at the test database."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url_for_subprocesses() -> str:
    """A DATABASE_URL for the database this test run uses (the test_ database, not the configured one)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings.get("USER") or "", safe="")
    password = quote(settings.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{credentials}{settings.get('HOST') or '127.0.0.1'}{port}/{settings['NAME']}"


def start_celery(*args: str, log_path: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``celery -A fairlens_site <args>`` with this run's settings and secrets, logging to ``log_path``.

    ``env`` adds or overrides environment variables (settings are env-driven, e.g. CHECK_DISPATCH_SECONDS).
    """
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(),
        **(env or {}),
    }
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fairlens_site", *args],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)
