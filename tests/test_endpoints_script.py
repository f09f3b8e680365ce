"""Seed 001's tests/test_endpoints.sh, run as a user would: against a real gunicorn process serving FairLens on
the test database, with the demo users and model created by the commands `make run` uses."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import pytest
from django.core.management import call_command

from tests.processes import ROOT, start_web, stop

pytestmark = [
    pytest.mark.skipif(shutil.which("curl") is None, reason="test_endpoints.sh needs curl"),
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SCRIPT = ROOT / "tests" / "test_endpoints.sh"
STEPS = (
    "ok: health",
    "ok: login admin (admin)",
    "ok: evaluate_model demo (record_id ",
    "ok: fairness_trend (",
    "ok: monitor_fairness drifted (DIR 0.",
    "ok: login auditor (auditor)",
    "ok: audit_history (auditor, 5 entries",
    "ok: audit_history refused to admin",
    "all steps passed",
)


@pytest.fixture
def passwords(settings: Any) -> dict[str, str]:
    """Fresh demo passwords (not the default), as seed_demo requires outside DEBUG."""
    chosen = {name: secrets.token_urlsafe(12) for name in ("admin", "auditor", "monitor")}
    settings.FAIRLENS_DEMO_PASSWORDS = chosen
    return chosen


@pytest.fixture
def server(passwords: dict[str, str], settings: Any, tmp_path: Path) -> Iterator[str]:
    call_command("seed_demo", stdout=StringIO())
    call_command("train_demo_model", "--samples", "1000", stdout=StringIO())
    # The server shares this test's key ring, audit mirror and anchor file (see conftest's _isolated_files).
    env = {
        "FERNET_KEYRING_PATH": str(settings.FERNET_KEYRING_PATH),
        "AUDIT_MIRROR_PATH": str(settings.AUDIT_MIRROR_PATH),
        "ANCHOR_FILE_PATH": str(settings.ANCHOR_FILE_PATH),
        "FAIRLENS_DEMO_ENDPOINTS": "false",
        # The seed's curl flow signs the demo users in with a password only, as `make run` (DEBUG) allows.
        "FAIRLENS_REQUIRE_MFA": "false",
    }
    process, url = start_web(log_path=tmp_path / "web.log", env=env)
    try:
        yield url
    finally:
        stop(process)


def run_script(url: str, passwords: dict[str, str], **extra: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BASE_URL": url,
        "ADMIN_PASSWORD": passwords["admin"],
        "AUDITOR_PASSWORD": passwords["auditor"],
        "PYTHON": sys.executable,
        **extra,
    }
    return subprocess.run(
        ["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=180, check=False, cwd=ROOT
    )


def test_the_seed_flow_runs_against_a_live_server(server: str, passwords: dict[str, str]) -> None:
    # a step that fails stops the script with a non-zero exit, naming the step and the answer
    refused = run_script(server, passwords, AUDITOR_PASSWORD="not-the-password")
    assert refused.returncode == 1
    assert refused.stdout.splitlines()[-1].startswith("ok: monitor_fairness drifted")
    assert "FAIL: login auditor: expected HTTP 200" in refused.stderr
    assert "HTTP 401" in refused.stderr
    assert "all steps passed" not in refused.stdout
    # with the right credentials every step passes
    result = run_script(server, passwords)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == f"FairLens endpoint flow against {server}"
    assert len(lines) == len(STEPS) + 1
    for line, step in zip(lines[1:], STEPS, strict=True):
        assert line.startswith(step), (line, step)
