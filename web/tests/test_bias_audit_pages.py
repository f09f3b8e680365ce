"""The LL144 bias audit page and its bundle: who may read and download them, the same numbers as the builder,
exclusions from the form, the refusals that say why, and the download's audit entry."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from compliance.models import AuditEntry
from monitoring.audit_report.ll144 import build_bias_audit
from monitoring.tests.test_ll144_audit import DAY, PERIOD, hiring_version, ingest_cells
from registry.models import ModelVersion
from registry.services import register_model
from web.tests.pages import client_for

pytestmark = pytest.mark.django_db

PAGE = "/reports/hiring_screen/ll144/?start=2026-10-01&end=2026-10-01"
FORM = "/reports/hiring_screen/ll144/"
DAY_QUERY = {"start": "2026-10-01", "end": "2026-10-01"}
BUNDLE = "/reports/hiring_screen/ll144.json?start=2026-10-01&end=2026-10-01"


@pytest.fixture
def audited() -> ModelVersion:
    version = hiring_version()
    ingest_cells(version)
    return version


def cell(html: str, dimension: str, category: str, column: int) -> str:
    table = html[html.index(f'data-dimension="{dimension}"') :]
    row = table[table.index(f'<tr data-category="{category}">') :]
    values = re.findall(r'<td data-value="([^"]*)"', row[: row.index("</tr>")])
    return values[column]


def test_auditors_and_admins_read_the_audit_and_monitors_do_not(
    auditor_user: Any, admin_user: Any, monitor_user: Any, audited: ModelVersion
) -> None:
    html = client_for(auditor_user).get(PAGE).content.decode()
    assert 'id="audit-summary"' in html
    assert 'id="audit-download"' in html
    assert "valid for one year: until 2027-" in html
    admin = client_for(admin_user).get(PAGE)
    assert admin.status_code == 200
    assert 'id="audit-download"' not in admin.content.decode()
    assert client_for(admin_user).get(BUNDLE).status_code == 403
    assert client_for(monitor_user).get(PAGE).status_code == 403
    assert client_for(monitor_user).get(BUNDLE).status_code == 403


def test_the_page_and_the_bundle_show_the_builders_numbers(auditor_user: Any, audited: ModelVersion) -> None:
    client = client_for(auditor_user)
    html = client.get(PAGE).content.decode()
    expected = build_bias_audit(
        audited.model, audited, PERIOD, policy=audited.model.policies.get(), audit_date=DAY
    ).tables
    female = next(row for row in expected["sex"].rows if row.category == "Female")
    assert float(cell(html, "sex", "Female", 0)) == female.rate
    assert float(cell(html, "sex", "Female", 1)) == female.impact_ratio
    assert 'data-unknown="12"' in html  # the intersectional table's unknown count
    response = client.get(BUNDLE)
    assert response.status_code == 200
    assert (
        response["Content-Disposition"]
        == 'attachment; filename="fairlens-ll144-hiring_screen-1-20261001-20261001.json"'
    )
    bundle = json.loads(response.content)
    assert bundle["kind"] == "nyc_ll144_bias_audit"
    assert bundle["tables"]["race_ethnicity"]["unknown"] == 7
    entry = AuditEntry.objects.get(action="report.export", payload__document="nyc_ll144_bias_audit")
    assert entry.payload["bundle_sha256"] == bundle["bundle_sha256"]
    # the tables as CSV, header row first, with one unknown row per table
    table = client.get(BUNDLE.replace(".json", ".csv")).content.decode().splitlines()
    assert table[0] == (
        "dimension,category,assessed,positive,positive_upper,rate,rate_upper,impact_ratio,impact_ratio_upper,"
        "excluded,justification"
    )
    assert "sex,unknown,5,,,,,,,," in table
    female = next(line for line in table if line.startswith("sex,Female,"))
    assert female.split(",")[2:4] == ["39", "15"]
    assert AuditEntry.objects.filter(action="report.export", payload__format="csv").count() == 1


def test_a_small_category_is_excluded_from_the_form_with_its_justification(
    auditor_user: Any, audited: ModelVersion
) -> None:
    client = client_for(auditor_user)
    html = client.get(PAGE).content.decode()
    assert 'value="race_ethnicity|Asian"' in html  # 1 of 104: eligible
    assert 'value="race_ethnicity|White"' not in html
    reason = {"why|race_ethnicity|Asian": "one applicant, no meaningful rate"}
    excluded = client.get(FORM, {**DAY_QUERY, "exclude": "race_ethnicity|Asian", **reason}).content.decode()
    assert "excluded: one applicant, no meaningful rate" in excluded
    assert float(cell(excluded, "race_ethnicity", "Black", 1)) == pytest.approx(600 / 924)


def test_refusals_say_why(auditor_user: Any, audited: ModelVersion) -> None:
    client = client_for(auditor_user)
    too_big = client.get(FORM, {**DAY_QUERY, "exclude": "race_ethnicity|White", "why|race_ethnicity|White": "no"})
    assert too_big.status_code == 400
    assert "only a category under 2% may be excluded" in too_big.content.decode()
    no_reason = client.get(FORM, {**DAY_QUERY, "exclude": "race_ethnicity|Asian"})
    assert "needs a written justification" in no_reason.content.decode()
    bad_period = client.get("/reports/hiring_screen/ll144/?start=2026-10-09&end=2026-10-01")
    assert bad_period.status_code == 400
    assert client.get(BUNDLE + "&exclude=race_ethnicity|White").status_code == 400


def test_a_model_without_bias_audit_settings_says_what_to_set(auditor_user: Any, db: None) -> None:
    register_model(
        name="plain",
        version="1",
        registered_by=None,
        policy={"protected_attributes": ["gender"], "privileged": {"gender": "M"}},
    )
    client = client_for(auditor_user)
    html = client.get("/reports/plain/ll144/").content.decode()
    assert 'id="audit-not-configured"' in html
    assert client.get("/reports/plain/ll144.json").status_code == 409


def test_the_api_serves_the_pages_bundle_to_auditors(client_as: Any, audited: ModelVersion) -> None:
    url = "/api/v1/models/hiring_screen/versions/1/bias-audit?start=2026-10-01&end=2026-10-01"
    response = client_as("auditor").get(url)
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    bundle = response.json()
    assert bundle["kind"] == "nyc_ll144_bias_audit"
    assert bundle["tables"]["sex"]["unknown"] == 5
    assert AuditEntry.objects.filter(action="report.export", payload__format="api").count() == 1
    refused = client_as("auditor").get(url + "&exclude=race_ethnicity|White&why|race_ethnicity|White=big")
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_exclusion"
    assert client_as("monitor").get(url).status_code == 403
