"""The pages in a real browser (headless Chromium): sign-in, the dashboard with its DIR badge, chart, what-if
scenario and auto-refresh, the audit report's integrity status, the 403 page, and a keyboard-only sign-in.

Screenshots: var/test-artifacts/browser/<test name>.png (see conftest.py).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # conftest.py skips the tests (or fails them under FAIRLENS_REQUIRE_BROWSER=1)
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MONITOR = "mona-monitor"
AUDITOR = "otto-auditor"
BADGE_CLASS = re.compile(r"\bbadge-(ok|warn|bad|none)\b")
DIR_NUMBER = re.compile(r"\d+\.\d+")


@pytest.fixture
def people(make_user: Callable[..., Any]) -> None:
    make_user(MONITOR, "monitor", password=PASSWORD)
    make_user(AUDITOR, "auditor", password=PASSWORD, totp=True)


def set_range(page: Page, selector: str, value: str) -> None:
    """Move a range input as a user would: the value changes and ``input``/``change`` fire."""
    page.locator(selector).fill(value)
    assert page.locator(selector).input_value() == value


def test_sign_in_lands_on_the_dashboard(page: Page, people: None, login: Callable[[str], Page]) -> None:
    login(MONITOR)
    assert page.url.endswith("/dashboard/")


def test_dashboard_lists_the_model_and_links_to_its_page(
    page: Page, people: None, monitored_model: Any, login: Callable[[str], Page]
) -> None:
    login(MONITOR)
    link = page.locator('a[href$="/dashboard/loan_model/"]').first
    expect(link).to_be_visible()
    expect(page.locator("main")).to_contain_text("loan_model")
    link.click()
    page.wait_for_url("**/dashboard/loan_model/")


def test_model_page_shows_the_dir_badge_and_the_chart(
    page: Page, people: None, monitored_model: Any, login: Callable[[str], Page]
) -> None:
    login(MONITOR)
    page.goto("/dashboard/loan_model/")
    badge = page.locator("#dir-badge")
    expect(badge).to_be_visible()
    expect(badge).to_have_class(BADGE_CLASS)
    expect(badge).to_have_text(DIR_NUMBER)
    expect(page.locator("svg#metric-chart")).to_be_visible()


def test_drift_slider_turns_the_scenario_badge_red(
    page: Page, people: None, monitored_model: Any, login: Callable[[str], Page]
) -> None:
    login(MONITOR)
    page.goto("/dashboard/loan_model/")
    form = page.locator("#scenario-form")
    expect(form).to_be_visible()
    drift = form.locator("input[name=drift_level]")
    assert (drift.get_attribute("type"), float(drift.get_attribute("min")), float(drift.get_attribute("max"))) == (
        "range",
        0.0,
        1.0,
    )
    assert form.locator("input[name=n_samples]").get_attribute("type") == "range"
    badge = page.locator("#scenario-badge")

    # Unbiased first, then biased: the badge turns from green to red (the screenshot shows the red one).
    for level, expected in (("0", "badge-ok"), ("0.9", "badge-bad")):
        set_range(page, "#scenario-form input[name=drift_level]", level)
        page.click("#scenario-refresh")
        expect(badge).to_have_class(re.compile(rf"\b{expected}\b"))
        expect(badge).to_be_visible()


def test_live_panel_refreshes_without_reloading_the_page(
    page: Page, people: None, monitored_model: Any, login: Callable[[str], Page]
) -> None:
    login(MONITOR)
    page.goto("/dashboard/loan_model/")
    expect(page.locator("#live")).to_be_visible()
    page.evaluate("window.__marker = 1")
    with page.expect_response(lambda response: "partial=1" in response.url, timeout=8_000) as refreshed:
        pass  # the panel refreshes every 5 s
    response = refreshed.value
    assert response.ok, response.status
    assert response.request.resource_type in {"fetch", "xhr"}
    assert page.evaluate("window.__marker") == 1, "the page was reloaded instead of the panel"
    expect(page.locator("#live")).to_be_visible()


def test_auditor_sees_the_verified_integrity_status(
    page: Page, people: None, monitored_model: Any, login: Callable[[str], Page]
) -> None:
    login(AUDITOR)
    page.goto("/reports/loan_model/")
    status = page.locator("#integrity-status")
    expect(status).to_be_visible()
    expect(status).to_have_class(re.compile(r"\bintegrity-ok\b"))
    expect(status).to_contain_text(re.compile("verified", re.IGNORECASE))


def test_monitor_gets_the_403_page_for_the_audit_report(page: Page, people: None, login: Callable[[str], Page]) -> None:
    login(MONITOR)
    response = page.goto("/reports/loan_model/")
    assert response is not None
    assert response.status == 403
    expect(page.locator("h1")).to_have_text("Not allowed")
    expect(page.locator("main")).to_contain_text("auditor")


def test_sign_in_with_the_keyboard_only(page: Page, people: None) -> None:
    page.goto("/login/")
    for _ in range(10):  # the username field has autofocus; otherwise Tab until it is reached
        if page.evaluate("document.activeElement && document.activeElement.id") == "id_username":
            break
        page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_username"
    page.keyboard.type(MONITOR)
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "id_password"
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/")


def test_model_page_runs_its_script_under_the_strict_policy_and_is_not_stored(
    page: Page, people: None, monitored_model: Any, login: Callable[[str], Page]
) -> None:
    from core.middleware import STRICT_CSP

    login(MONITOR)
    response = page.goto("/dashboard/loan_model/")
    assert response is not None
    assert response.headers["content-security-policy"] == STRICT_CSP
    assert "no-store" in response.headers["cache-control"]
    # dashboard.js (same origin, allowed) updates the read-out as the slider moves; the fixture fails the test on
    # any CSP violation the page causes.
    set_range(page, "#scenario-form input[name=drift_level]", "0.85")
    expect(page.locator("#drift_level-value")).to_have_text("0.85")
