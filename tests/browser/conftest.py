"""Browser fixtures: the system's headless Chromium driven by Playwright against pytest-django's live server.

Playwright is never asked to download a browser: it launches the Chromium at ``CHROMIUM_PATH`` (default
``/usr/bin/chromium``, Debian's ``chromium`` package, which .ci/run installs) or another ``chromium`` on PATH.
Without one the tests marked ``browser`` skip, unless ``FAIRLENS_REQUIRE_BROWSER=1`` (set by .ci/run), which
makes a missing browser a failure so CI cannot pass without having run them.

Each test gets a fresh browser context; a screenshot of its page is saved, pass or fail, to
``var/test-artifacts/browser/<test name>.png`` (``FAIRLENS_TEST_ARTIFACTS`` moves ``var/test-artifacts``).
"""

from __future__ import annotations

import io
import os
import re
import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FAIRLENS_TEST_ARTIFACTS") or ROOT / "var" / "test-artifacts") / "browser"
TIMEOUT_MS = 10_000
PASSWORD = "browser-Tests-pass-7"


def chromium_executable() -> str | None:
    """``CHROMIUM_PATH`` when set, else Debian's /usr/bin/chromium, else a ``chromium`` on PATH."""
    configured = os.environ.get("CHROMIUM_PATH")
    candidates = [configured] if configured else ["/usr/bin/chromium", "chromium", "chromium-browser"]
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def _unavailable(message: str) -> None:
    if os.environ.get("FAIRLENS_REQUIRE_BROWSER") == "1":
        pytest.fail(message + " and FAIRLENS_REQUIRE_BROWSER=1 forbids skipping", pytrace=False)
    pytest.skip(message)


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("browser") is None:
        return
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        _unavailable("browser: the playwright package is not installed (make install-dev)")
    if chromium_executable() is None:
        where = os.environ.get("CHROMIUM_PATH") or "/usr/bin/chromium or chromium on PATH"
        _unavailable(f"browser: no Chromium executable at {where} (apt-get install chromium, or set CHROMIUM_PATH)")


@pytest.fixture
def browser(_django_db_helper: None) -> Iterator[Browser]:
    """A headless Chromium per test, started after the test database is set up and stopped before it is reset.

    Playwright's sync API runs an asyncio event loop in this thread, and Django keeps database connections per
    context: a connection opened while the loop runs is not the one the test database was set up (and
    serialized) with, so database setup and teardown must happen outside it.
    """
    from playwright.sync_api import sync_playwright

    args = ["--disable-dev-shm-usage"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.append("--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)
    with pytest.MonkeyPatch.context() as patch:
        # Playwright's sync API keeps an asyncio event loop running in the test's thread while it is started, so
        # Django's async-safety guard would refuse the ORM calls of fixtures and tests. Nothing here is async.
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            launched = playwright.chromium.launch(executable_path=chromium_executable(), headless=True, args=args)
            yield launched
            launched.close()


def screenshot_path(request: pytest.FixtureRequest) -> Path:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
    return ARTIFACTS / f"{name}.png"


@pytest.fixture
def page(browser: Browser, live_server: Any, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A page in a fresh context (no cookies) whose relative URLs go to the live server. Uncaught JavaScript
    errors and Content-Security-Policy violations (Chromium reports each on the console) fail the test; a
    full-page screenshot is saved after it, pass or fail."""
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    opened = context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda error: errors.append(str(error)))
    violations: list[str] = []
    opened.on(
        "console",
        lambda message: violations.append(message.text) if "Content Security Policy" in message.text else None,
    )
    try:
        yield opened
    finally:
        path = screenshot_path(request)
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            opened.screenshot(path=str(path), full_page=True)
        finally:
            context.close()
    assert not errors, f"uncaught JavaScript errors: {errors}"
    assert not violations, f"Content-Security-Policy violations: {violations}"


@pytest.fixture
def login(page: Page) -> Callable[[str], Page]:
    """Sign ``username`` in through the login form and wait for the dashboard."""

    def sign_in(username: str, password: str = PASSWORD) -> Page:
        from django_otp.plugins.otp_totp.models import TOTPDevice

        from conftest import totp_code

        page.goto("/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        device = TOTPDevice.objects.filter(user__username=username, confirmed=True).first()
        if device is not None:  # auditors and admins sign in with their authenticator's code
            page.fill("#id_otp", totp_code(device.user))
        page.click("button[type=submit]")
        page.wait_for_url("**/dashboard/")
        return page

    return sign_in


def ingest_decisions(version: Any, *, n: int, drift: float, seed: int, start: Any, span: timedelta) -> int:
    """``n`` simulated loan decisions at ``drift``, spread evenly over ``[start, start + span)``."""
    from monitoring.fairness import generate_loan_data
    from monitoring.ingestion.parsing import frame_from_json_records
    from monitoring.ingestion.services import ingest_predictions

    data = generate_loan_data(n, drift_level=drift, seed=seed)
    items = [
        {
            "id": f"browser-{seed}-{row.application_id}",
            "timestamp": (start + span * index / n).isoformat(),
            "attributes": {"gender": row.gender},
            "y_pred": int(row.approved),
            "y_true": int(row.creditworthy),
            "score": round((int(row.credit_score) - 500) / 300, 4),
        }
        for index, row in enumerate(data.itertuples(index=False))
    ]
    raw = frame_from_json_records(items, ["gender"], max_rows=50_000)
    result = ingest_predictions(model_version=version, raw=raw, attributes=["gender"], principal="browser-tests")
    assert (result.accepted, result.rejected) == (n, 0), result.errors
    return result.accepted


@pytest.fixture
def monitored_model(transactional_db: None) -> Any:
    """The demo ``loan_model`` (trained on few samples) with unbiased decisions over the last three hours, three
    completed checks (a badge and a chart line) and a passing verification of the audit log."""
    from django.core.management import call_command
    from django.utils import timezone

    from compliance.verification import verify_log
    from demo.model import DEMO_MODEL_NAME
    from monitoring.checks.services import aligned_window_end, run_check
    from registry.models import ModelVersion
    from registry.services import current_policy

    call_command("train_demo_model", samples=400, stdout=io.StringIO())
    version = ModelVersion.objects.select_related("model").get(model__name=DEMO_MODEL_NAME, version="1")
    policy = current_policy(version.model)
    now = timezone.now()
    # Ends 20 minutes ago, so every decision lies in a whole hourly bucket before the latest window's end.
    ingest_decisions(version, n=900, drift=0.0, seed=7, start=now - timedelta(hours=3), span=timedelta(minutes=160))
    end = aligned_window_end(policy, now)
    for hours_back in (2, 1, 0):
        check = run_check(
            model_version=version,
            window_end=end - timedelta(hours=hours_back),
            trigger="manual",
            claim_token="browser-tests",
        )
        assert check.status == "completed", check.error
    run = verify_log()
    assert run.ok, run
    return version
