"""The day-to-day flows in a real browser (headless Chromium): onboarding a model through the pages to its first
check, the alert inbox's filters and an alert's lifecycle with the keyboard only, the per-group table against the
API, version comparison with promotion, every page at a 390 px viewport, and an axe-core scan of every page.

Screenshots: var/test-artifacts/browser/<test name>.png, and one per page under var/test-artifacts/browser/pages/
(see conftest.py); the README's page section shows the latter.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.conftest import ARTIFACTS, PASSWORD

try:
    from playwright.sync_api import expect
except ImportError:  # conftest.py skips the tests (or fails them under FAIRLENS_REQUIRE_BROWSER=1)
    expect = None

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

MONITOR = "mona-monitor"
ADMIN = "ada-admin"
AUDITOR = "aud-auditor"
PAGES = ARTIFACTS / "pages"
NARROW = {"width": 390, "height": 844}


@pytest.fixture
def people(make_user: Callable[..., Any]) -> None:
    make_user(MONITOR, "monitor", password=PASSWORD)
    make_user(ADMIN, "admin", password=PASSWORD, totp=True)
    make_user(AUDITOR, "auditor", password=PASSWORD, totp=True)


@pytest.fixture
def alerting_model(transactional_db: None) -> Any:
    """``loan_model`` v1 with DIR and SPD banded: a compliant hour, then three drifted ones (DIR and SPD alerts
    open), and a v2 with training metrics and a compliant check, to compare."""
    from monitoring.checks.tests.builders import loan_version
    from registry.models import ModelVersion
    from web.tests.pages import SPD_BAND, checked

    first = loan_version(metric_bands=SPD_BAND)
    checked(first, [0.0, 0.9, 0.9, 0.9], n=1500)
    second = loan_version(version="2")
    checked(second, [0.0], n=1500)
    ModelVersion.objects.filter(pk=first.pk).update(training_metrics={"auc": 0.79})
    ModelVersion.objects.filter(pk=second.pk).update(training_metrics={"auc": 0.78})
    return first


def tab_to(page: Page, selector: str, presses: int = 120) -> None:
    """Press Tab until the focused element matches ``selector``, as a keyboard user moves through a page."""
    for _ in range(presses):
        if page.evaluate("(s) => !!document.activeElement && document.activeElement.matches(s)", selector):
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def keep(page: Page, name: str) -> None:
    """A full-page screenshot of this page for the README (var/test-artifacts/browser/pages/<name>.png)."""
    PAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(PAGES / f"{name}.png"), full_page=True)


# --- Onboarding -------------------------------------------------------------------------------------------------


def test_onboard_a_model_through_the_pages_to_its_first_check(
    page: Page, people: None, login: Callable[[str], Page], tmp_path: Path
) -> None:
    login(ADMIN)
    page.get_by_role("link", name="Onboarding").click()
    page.wait_for_url("**/onboarding/")
    form = page.locator("#register-form")
    form.get_by_label("Model name").fill("credit_scoring")
    form.get_by_label("Protected attributes").fill("gender, age_band")
    form.get_by_label("Privileged (reference) values").fill("gender=Male")  # one missing: a message, nothing stored
    form.locator("#register-submit").click()
    expect(page.locator("#register-errors")).to_be_visible()
    expect(page.locator("#id_privileged_error")).to_contain_text("exactly these attributes")
    page.locator("#register-form").get_by_label("Privileged (reference) values").fill("gender=Male, age_band=25-60")
    page.locator("#register-submit").click()
    page.wait_for_url("**/onboarding/credit_scoring/")
    expect(page.locator(".messages")).to_contain_text("credit_scoring v1 is registered")

    page.locator("#key-form").get_by_label("Key name").fill("scoring-service")
    page.locator("#key-submit").click()
    key = page.locator("#issued-key-value")
    expect(key).to_be_visible()
    expect(page.locator("#issued-curl")).to_contain_text(key.inner_text())

    with page.expect_download() as downloaded:
        page.locator("#template-link").click()
    template = tmp_path / "template.csv"
    downloaded.value.save_as(template)
    assert template.read_text().splitlines()[0] == "id,timestamp,gender,age_band,y_pred,y_true,score"
    page.locator("#id_file").set_input_files(str(template))
    page.locator("#id_store").check()
    page.locator("#upload-submit").click()
    expect(page.locator("#upload-result")).to_contain_text("2 of 2 rows are valid")
    expect(page.locator("#upload-result")).to_contain_text("Stored for v1: 2 new")
    keep(page, "onboarding-model")

    page.locator("#check-submit").click()
    page.wait_for_url("**/dashboard/credit_scoring/")
    expect(page.locator(".messages")).to_contain_text("completed")
    expect(page.locator("#dir-badge")).to_be_visible()
    expect(page.locator("#status-line")).to_contain_text("insufficient data")  # two rows: too few for a verdict


def test_onboard_a_model_with_the_keyboard_only(page: Page, people: None, login: Callable[[str], Page]) -> None:
    login(ADMIN)
    page.goto("/onboarding/")
    for selector, text in (
        ("#id_name", "keyboard_model"),
        ("#id_protected_attributes", "gender"),
        ("#id_privileged", "gender=Male"),
    ):
        tab_to(page, selector)
        page.keyboard.type(text)
    tab_to(page, "#register-submit")
    page.keyboard.press("Enter")
    page.wait_for_url("**/onboarding/keyboard_model/")
    tab_to(page, "#id_key-name")
    page.keyboard.type("keyboard-client")
    tab_to(page, "#key-submit")
    page.keyboard.press("Enter")
    expect(page.locator("#issued-key-value")).to_be_visible()
    tab_to(page, "#check-submit")
    page.keyboard.press("Enter")
    page.wait_for_url("**/dashboard/keyboard_model/")
    expect(page.locator("#status-line")).to_be_visible()


# --- The inbox with the keyboard only -------------------------------------------------------------------------------


def test_inbox_filters_and_an_alerts_lifecycle_with_the_keyboard_only(
    page: Page, people: None, alerting_model: Any, login: Callable[[str], Page]
) -> None:
    from monitoring.alerts.models import Alert

    spd = Alert.objects.get(metric="SPD")
    login(MONITOR)
    page.goto("/alerts/")
    expect(page.locator("#inbox-table tbody tr")).to_have_count(2)
    tab_to(page, "#id_metric")
    page.keyboard.press("ArrowDown")  # Any metric -> DIR
    page.keyboard.press("ArrowDown")  # DIR -> SPD
    assert page.locator("#id_metric").input_value() == "SPD"
    tab_to(page, "#inbox-apply")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"metric=SPD"))
    expect(page.locator("#inbox-table tbody tr")).to_have_count(1)
    keep(page, "alert-inbox")

    tab_to(page, f'a[href="/alerts/{spd.pk}/"]')
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/alerts/{spd.pk}/")
    tab_to(page, f"#act-{spd.pk} > summary")
    page.keyboard.press("Enter")  # opens the dialog
    tab_to(page, f"#note-{spd.pk}")
    page.keyboard.type("Dana is checking the SPD drift")
    tab_to(page, "button[formaction$='/acknowledge']")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/alerts/{spd.pk}/")
    expect(page.locator(".messages")).to_contain_text("acknowledged")
    expect(page.locator("#alert-status")).to_have_text("Acknowledged")

    tab_to(page, f"#act-{spd.pk} > summary")
    page.keyboard.press("Enter")
    tab_to(page, f"#note-{spd.pk}")
    page.keyboard.type("Retrained on reweighed data")
    tab_to(page, f"#resolve-anyway-{spd.pk}")  # the latest check still finds it: confirm
    page.keyboard.press("Space")
    tab_to(page, f"#act-{spd.pk} button:not([formaction])")
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/alerts/{spd.pk}/")
    expect(page.locator("#alert-status")).to_have_text("Resolved")
    timeline = page.locator("#alert-timeline")
    for step in ("Opened", "Acknowledged", "Resolved"):
        expect(timeline).to_contain_text(step)
    keep(page, "alert-page")
    page.goto("/alerts/?status=resolved")
    expect(page.locator(f"#inbox-alert-{spd.pk}")).to_be_visible()


# --- The per-group table and version comparison -----------------------------------------------------------------


def test_the_per_group_table_shows_the_apis_values(
    page: Page, people: None, alerting_model: Any, login: Callable[[str], Page]
) -> None:
    from django.contrib.auth import get_user_model
    from rest_framework.test import APIClient

    from conftest import bearer
    from monitoring.models import FairnessCheck

    latest = FairnessCheck.objects.filter(model_version=alerting_model).order_by("-window_end").first()
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=bearer(get_user_model().objects.get(username=MONITOR)))
    reports = api.get(f"/api/v1/checks/{latest.pk}/").json()["result"]["reports"]
    login(MONITOR)
    page.goto("/dashboard/loan_model/?version=1")
    compared = 0
    for attribute, report in reports.items():
        table = page.locator(f'#groups-title ~ .table-scroll table.verdict-table[data-attribute="{attribute}"]')
        for group, comparison in report["comparisons"].items():
            row = table.locator(f'tr[data-group="{group}"]')
            for metric in ("DIR", "SPD", "EOD", "AOD"):
                cell = row.locator(f'td[data-metric="{metric}"]')
                assert float(cell.get_attribute("data-value")) == comparison[metric]
                shown = float(re.match(r"\s*(-?\d+\.\d+)", cell.inner_text()).group(1))
                assert abs(shown - comparison[metric]) <= 0.0005
                compared += 1
        for group, summary in report["groups"].items():
            cell = table.locator(f'tr[data-group="{group}"] td[data-metric="tpr"]')
            assert float(cell.get_attribute("data-value")) == summary["tpr"]
    assert compared >= 4
    expect(page.locator("#group-charts svg")).to_have_count(
        sum(len(report["comparisons"]) for report in reports.values())
    )
    keep(page, "model-page")


def test_compare_two_versions_and_promote_one(
    page: Page, people: None, alerting_model: Any, login: Callable[[str], Page]
) -> None:
    from registry.models import ModelVersion

    login(ADMIN)
    page.goto("/dashboard/loan_model/")
    page.locator("#compare-link").click()
    page.wait_for_url("**/compare/")
    expect(page.locator("#training-table")).to_contain_text("0.79")
    expect(page.locator("#compare-fairness")).to_contain_text("gender=Female")
    keep(page, "version-comparison")
    page.get_by_role("button", name="Promote v2 to production").click()
    expect(page.locator(".messages")).to_contain_text("v2 is now in production")
    assert ModelVersion.objects.get(model__name="loan_model", version="2").stage == "production"


# --- Every page: 390 px and accessibility ----------------------------------------------------------------------------


def page_paths(alert_id: int) -> dict[str, str]:
    return {
        "dashboard": "/dashboard/",
        "model": "/dashboard/loan_model/?version=1",
        "inbox": "/alerts/?status=",
        "alert": f"/alerts/{alert_id}/",
        "compare": "/dashboard/loan_model/compare/?a=1&b=2",
        "onboarding": "/onboarding/",
        "setup": "/onboarding/loan_model/",
        "predictions": "/dashboard/loan_model/predictions/?version=1",
        "report": "/reports/loan_model/?start=2026-10-01&end=2026-10-01",
        "bias-audit": "/reports/loan_model/ll144/?start=2026-10-01&end=2026-10-01",
        "monitoring-plan": "/reports/loan_model/monitoring-plan/",
    }


# The documents only auditors read.
AUDITOR_PATHS = {
    "log-report": "/records/log/",
    "self-test": "/reports/loan_model/reg-b/?start=2026-10-01&end=2026-10-01",
    "auditor-report": "/reports/loan_model/?start=2026-10-01&end=2026-10-01",
}


@pytest.fixture
def admin_page(page: Page, people: None, alerting_model: Any, login: Callable[[str], Page]) -> Page:
    login(ADMIN)
    return page


def test_every_page_fits_a_390px_viewport(admin_page: Page) -> None:
    from monitoring.alerts.models import Alert

    paths = page_paths(Alert.objects.get(metric="DIR").pk)
    for name, path in paths.items():  # first as on a desktop, for the README
        admin_page.goto(path)
        keep(admin_page, f"desktop-{name}")
    admin_page.set_viewport_size(NARROW)
    too_wide = {}
    for name, path in paths.items():
        admin_page.goto(path)
        width = admin_page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW["width"]:
            too_wide[f"{name} ({path})"] = width
        keep(admin_page, f"narrow-{name}")
    assert not too_wide, f"pages wider than {NARROW['width']} px: {too_wide}"


def test_no_serious_accessibility_violations_on_any_page(admin_page: Page) -> None:
    from axe_playwright_python.sync_playwright import Axe

    from monitoring.alerts.models import Alert

    axe = Axe()
    found = {}
    for scheme in ("light", "dark"):  # the pages follow the system's colour scheme
        admin_page.emulate_media(color_scheme=scheme)
        for name, path in page_paths(Alert.objects.get(metric="DIR").pk).items():
            admin_page.goto(path)
            violations = axe.run(admin_page).response["violations"]
            serious = [
                f"{item['id']} ({item['impact']}): {[node['target'] for node in item['nodes'][:3]]}"
                for item in violations
                if item["impact"] in ("serious", "critical")
            ]
            if serious:
                found[f"{name} ({scheme})"] = serious
        if scheme == "dark":
            keep(admin_page, "dark-report")
    assert not found, found


def test_the_auditors_documents_fit_390px_and_have_no_serious_accessibility_violations(
    page: Page, people: None, alerting_model: Any, login: Callable[[str], Page]
) -> None:
    from axe_playwright_python.sync_playwright import Axe

    login(AUDITOR)
    axe, found, too_wide = Axe(), {}, {}
    for name, path in AUDITOR_PATHS.items():
        page.goto(path)
        assert page.locator("h1").count() == 1, f"{path} did not render"
        keep(page, f"desktop-{name}")
        violations = axe.run(page).response["violations"]
        serious = [item["id"] for item in violations if item["impact"] in ("serious", "critical")]
        if serious:
            found[name] = serious
    page.set_viewport_size(NARROW)
    for name, path in AUDITOR_PATHS.items():
        page.goto(path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > NARROW["width"]:
            too_wide[name] = width
    assert not found, found
    assert not too_wide, too_wide


def test_verdict_tables_show_every_column_at_1280px(admin_page: Page) -> None:
    """The model page's and the report's per-group tables fit a 1280 px window: no column is cut off."""
    clipped = {}
    for path in ("/dashboard/loan_model/?version=1", "/reports/loan_model/?version=1&start=2026-10-01&end=2026-10-01"):
        admin_page.goto(path)
        boxes = admin_page.locator(".table-scroll:has(table.verdict-table)")
        assert boxes.count() >= 1, path
        for index in range(boxes.count()):
            overflow = boxes.nth(index).evaluate("box => box.scrollWidth - box.clientWidth")
            if overflow > 1:
                clipped[f"{path} table {index}"] = overflow
    assert not clipped, f"tables wider than their box at 1280 px (px): {clipped}"
