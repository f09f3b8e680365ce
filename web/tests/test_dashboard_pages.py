"""The dashboard pages: who may open them, what each role sees, the model page's badge, chart, live fragment,
demo scenario, and the alert forms (acknowledge and resolve by monitors and admins only)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from rest_framework.test import APIClient

from compliance.models import AuditEntry
from monitoring.alerts.models import Alert
from monitoring.alerts.tests.builders import CRITICAL, MEDIUM, MEN
from monitoring.checks.services import run_check
from monitoring.checks.tests.builders import (
    BASE,
    FEATURES,
    HOUR,
    check_hour,
    ingest_features,
    ingest_rates,
    loan_version,
)
from monitoring.models import FairnessCheck, IngestionRecord
from registry.models import ModelVersion
from web.tests.pages import check, checked, classes, client_for, element, text_of, verdict_cells

pytestmark = pytest.mark.django_db

# --- Access ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/dashboard/", "/dashboard/loan_model/?metric=SPD"])
def test_anonymous_visitors_are_sent_to_sign_in(path: str) -> None:
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/?next=")
    assert "dashboard" in response["Location"]


@pytest.mark.parametrize("role", ["monitor", "auditor", "admin"])
def test_every_reader_role_opens_both_pages(role: str, make_user: Any, passing: ModelVersion) -> None:
    client = client_for(make_user(f"reader-{role}", role))
    listing = client.get("/dashboard/")
    page = client.get("/dashboard/loan_model/")
    assert listing.status_code == 200
    assert page.status_code == 200
    assert 'href="/dashboard/loan_model/"' in listing.content.decode()
    assert 'id="dir-badge"' in page.content.decode()


def test_a_user_without_a_role_is_refused(make_user: Any, passing: ModelVersion) -> None:
    client = client_for(make_user("nobody", None))
    assert client.get("/dashboard/").status_code == 403
    assert client.get("/dashboard/loan_model/").status_code == 403


def test_unknown_model_or_version_is_a_404_page(monitor_user: Any, passing: ModelVersion) -> None:
    client = client_for(monitor_user)
    missing = client.get("/dashboard/no_such_model/")
    assert missing.status_code == 404
    assert "There is no model named" in missing.content.decode()
    assert client.get("/dashboard/loan_model/?version=99").status_code == 404
    assert client.get("/dashboard/no_such_model/?partial=1").status_code == 404


# --- Model list -----------------------------------------------------------------------------------------------


def test_the_list_shows_each_active_versions_verdict_and_open_alerts(monitor_user: Any, alerting: ModelVersion) -> None:
    retired = loan_version(version="0-old")
    retired.stage = ModelVersion.Stage.RETIRED
    retired.save()
    other = loan_version(name="other_model")
    checked(other, [0.0])
    html = client_for(monitor_user).get("/dashboard/").content.decode()
    assert "v0-old" not in html
    loan_row = html[html.index('href="/dashboard/loan_model/?version=1"') :]
    loan_row = loan_row[: loan_row.index("</tr>")]
    assert "badge-bad" in loan_row
    assert ">Alert<" in loan_row
    latest = FairnessCheck.objects.filter(model_version=alerting).order_by("-completed_at").first()
    assert f"{latest.headline_dir:.3f}" in loan_row
    open_alerts = Alert.objects.filter(model=alerting.model, status="open").count()
    assert open_alerts >= 1
    assert f"{open_alerts} open" in loan_row
    other_row = html[html.index('href="/dashboard/other_model/?version=1"') :]
    other_row = other_row[: other_row.index("</tr>")]
    assert "badge-ok" in other_row
    assert ">Pass<" in other_row
    assert "0 open" in other_row


# --- Model page -----------------------------------------------------------------------------------------------


def test_a_passing_version_shows_a_green_badge_with_value_and_word(monitor_user: Any, passing: ModelVersion) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    latest = FairnessCheck.objects.filter(model_version=passing).order_by("-completed_at").first()
    assert latest.status_summary == "pass"
    assert classes(html, "dir-badge") >= {"badge", "badge-ok"}
    assert text_of(html, "dir-badge") == f"{latest.headline_dir:.3f} Pass"
    assert "No open or acknowledged alerts." in html


def test_an_alerting_version_shows_a_red_badge_alerts_and_causes(monitor_user: Any, alerting: ModelVersion) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    latest = FairnessCheck.objects.filter(model_version=alerting).order_by("-completed_at").first()
    assert latest.status_summary == "alert"
    assert classes(html, "dir-badge") >= {"badge", "badge-bad"}
    assert text_of(html, "dir-badge") == f"{latest.headline_dir:.3f} Alert"
    alert = Alert.objects.get(metric="DIR")
    assert f'id="alert-{alert.pk}"' in html
    assert f"{alert.value:.3f}" in html
    assert f"{alert.interval_lower:.3f} – {alert.interval_upper:.3f}" in html
    assert 'data-severity="critical"' in html
    # likely causes for the worst group, from the rules
    assert 'id="causes-list"' in html
    assert "Lower selection rate for gender=Female" in html


def test_a_model_without_checks_shows_no_data(monitor_user: Any, ml_model: Any) -> None:
    loan_version()
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    assert classes(html, "dir-badge") >= {"badge", "badge-none"}
    assert text_of(html, "dir-badge") == "n/a No checks yet"
    # an empty state that says what comes next, not an empty chart
    assert 'id="chart-empty"' in html
    assert "Checks run on the policy's schedule once predictions arrive" in html
    assert '<svg id="metric-chart"' not in html


def test_the_page_defaults_to_the_newest_production_version(monitor_user: Any, passing: ModelVersion) -> None:
    newer = loan_version(version="2")
    checked_production = ModelVersion.objects.get(pk=passing.pk)
    checked_production.stage = ModelVersion.Stage.PRODUCTION
    checked_production.save()
    client = client_for(monitor_user)
    html = client.get("/dashboard/loan_model/").content.decode()
    assert '<h1>loan_model <span class="muted">v1 (production)</span></h1>' in html
    html = client.get(f"/dashboard/loan_model/?version={newer.version}").content.decode()
    assert "v2 (staging)</span></h1>" in html
    assert "No completed check of v2 yet." in html


def test_the_chart_has_points_band_threshold_forecast_and_a_data_table(monitor_user: Any, ml_model: Any) -> None:
    version = loan_version()
    checks = checked(version, [0.0, 0.1, 0.2, 0.3, 0.4], n=600)
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    svg = html[html.index('<svg id="metric-chart"') : html.index("</svg>")]
    assert 'class="threshold"' in svg
    assert "threshold 0.8" in svg
    assert 'class="series"' in svg
    assert 'class="confidence-band"' in svg
    assert svg.count('<circle cx="') == len(checks)  # one per check
    assert 'class="forecast"' in svg
    forecast = checks[-1].result["trend"]["forecast"]
    assert forecast["predicted_next"] is not None
    assert f"{forecast['predicted_next']:.3f}" in html
    assert "Breach probability" in html
    assert "Pre-alert status:" in html
    table = html[html.index('<table id="chart-table"') : html.index("</table>", html.index('id="chart-table"'))]
    for item in checks:
        assert f"{item.headline_dir:.3f}" in table


def test_switching_the_metric_charts_the_worst_groups_value(monitor_user: Any, alerting: ModelVersion) -> None:
    client = client_for(monitor_user)
    html = client.get(f"/dashboard/loan_model/?version={alerting.version}&metric=SPD").content.decode()
    assert '<option value="SPD" selected>' in html
    assert '<title id="metric-chart-title">SPD of loan_model v1' in html
    svg = html[html.index('<svg id="metric-chart"') : html.index("</svg>")]
    assert "threshold -0.1" in svg
    assert "threshold 0.1" in svg
    assert 'class="forecast"' not in svg  # the forecast is of DIR only
    latest = FairnessCheck.objects.filter(model_version=alerting).order_by("-completed_at").first()
    spd = latest.result["reports"]["gender"]["comparisons"]["Female"]["SPD"]
    assert f"{spd:.3f}" in html
    # a metric without a policy band has no threshold line; an unknown metric falls back to DIR with an error
    eod = client.get("/dashboard/loan_model/?metric=EOD").content.decode()
    assert 'class="threshold"' not in eod[eod.index('<svg id="metric-chart"') : eod.index("</svg>")]
    unknown = client.get("/dashboard/loan_model/?metric=XYZ")
    assert unknown.status_code == 200
    assert 'id="metric-error"' in unknown.content.decode()
    assert '<option value="DIR" selected>' in unknown.content.decode()


def test_partial_returns_only_the_live_fragment_with_a_stable_digest(monitor_user: Any, alerting: ModelVersion) -> None:
    client = client_for(monitor_user)
    page = client.get("/dashboard/loan_model/?metric=DIR").content.decode()
    assert 'id="live"' in page
    assert 'data-partial-url="/dashboard/loan_model/?version=1&amp;metric=DIR&amp;partial=1"' in page
    assert "web/dashboard.js" in page
    first = client.get("/dashboard/loan_model/?version=1&metric=DIR&partial=1")
    second = client.get("/dashboard/loan_model/?version=1&metric=DIR&partial=1")
    body = first.content.decode()
    assert first.status_code == 200
    assert 'id="dir-badge"' in body
    assert 'id="metric-chart"' in body
    assert "<html" not in body
    assert 'id="live"' not in body
    assert 'id="scenario-form"' not in body
    assert first["X-Live-Digest"] == second["X-Live-Digest"]  # CSRF masks differ, the digest does not
    assert f'data-digest="{first["X-Live-Digest"]}"' in page
    # the digest changes when what is shown changes
    alert = Alert.objects.filter(status="open").first()
    alert.status = Alert.Status.ACKNOWLEDGED
    alert.save()
    third = client.get("/dashboard/loan_model/?version=1&metric=DIR&partial=1")
    assert third["X-Live-Digest"] != first["X-Live-Digest"]


def test_the_refresh_script_is_a_static_file_and_the_page_has_no_inline_script(
    monitor_user: Any, passing: ModelVersion
) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    scripts = re.findall(r"<script[^>]*>", html)
    assert scripts == ['<script src="/static/web/dashboard.js" defer>']
    source = Path(finders.find("web/dashboard.js")).read_text()
    assert "partial" in source
    assert "X-Live-Digest" in source
    assert "http" not in source.replace("XMLHttpRequest", "")  # no CDN, no other origin


def test_partial_never_runs_the_scenario(monitor_user: Any, passing: ModelVersion) -> None:
    response = client_for(monitor_user).get("/dashboard/loan_model/?partial=1&drift_level=0.9&n_samples=500")
    assert response.status_code == 200
    assert not IngestionRecord.objects.filter(source=IngestionRecord.Source.MONITOR).exists()


# --- Demo scenario --------------------------------------------------------------------------------------------


def test_the_demo_model_page_has_the_scenario_controls(monitor_user: Any, passing: ModelVersion) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    form = html[html.index('id="scenario-form"') : html.index("</form>", html.index('id="scenario-form"'))]
    assert '<input type="range" id="drift_level" name="drift_level" min="0" max="1" step="0.05"' in form
    assert '<input type="range" id="n_samples" name="n_samples" min="100" max="5000" step="100"' in form
    assert '<label for="drift_level">' in form
    assert '<label for="n_samples">' in form
    assert '<output id="drift_level-value" for="drift_level">0.50</output>' in form
    assert '<output id="n_samples-value" for="n_samples">1000</output>' in form
    assert '<button type="submit" id="scenario-refresh">Refresh</button>' in form
    assert 'id="scenario-badge"' not in html  # nothing run yet
    assert not IngestionRecord.objects.filter(source=IngestionRecord.Source.MONITOR).exists()


@pytest.mark.parametrize(
    ("drift", "expected", "word"), [("0.9", "badge-bad", "Drift alert"), ("0", "badge-ok", "Fair")]
)
def test_scenario_params_run_the_scenario(
    drift: str, expected: str, word: str, monitor_user: Any, passing: ModelVersion
) -> None:
    response = client_for(monitor_user).get(f"/dashboard/loan_model/?drift_level={drift}&n_samples=2000")
    html = response.content.decode()
    assert response.status_code == 200
    assert classes(html, "scenario-badge") >= {"badge", expected}
    assert word in text_of(html, "scenario-badge")
    assert 'id="scenario-table"' in html
    assert 'id="scenario-explanation"' in html
    record = IngestionRecord.objects.get(source=IngestionRecord.Source.MONITOR)
    assert record.principal == monitor_user.username
    assert record.model_version_id == passing.pk
    assert record.summary["drift_level"] == float(drift)
    assert record.summary["n_samples"] == 2000
    assert str(record.record_id) in html
    drifted = record.summary["drifted_scenario"]
    assert f"{drifted['dir']:.3f}" in text_of(html, "scenario-badge")
    assert f'value="{float(drift)}"' in html  # the slider keeps the value that was run


@pytest.mark.parametrize(
    "query",
    ["drift_level=abc&n_samples=500", "drift_level=1.5&n_samples=500", "drift_level=0.2&n_samples=50", "n_samples=x"],
)
def test_bad_scenario_params_show_an_error(query: str, auditor_user: Any, passing: ModelVersion) -> None:
    response = client_for(auditor_user).get(f"/dashboard/loan_model/?{query}")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'id="scenario-error"' in html
    assert 'id="scenario-badge"' not in html
    assert not IngestionRecord.objects.filter(source=IngestionRecord.Source.MONITOR).exists()


def test_other_models_have_no_scenario_controls(monitor_user: Any, db: None) -> None:
    version = loan_version(name="credit_model")
    checked(version, [0.0], n=400)
    html = client_for(monitor_user).get("/dashboard/credit_model/?drift_level=0.9&n_samples=500").content.decode()
    assert 'id="scenario-form"' not in html
    assert 'id="scenario-badge"' not in html
    assert not IngestionRecord.objects.filter(source=IngestionRecord.Source.MONITOR).exists()


# --- Alert forms ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["monitor", "admin"])
def test_operators_see_the_alert_forms(role: str, make_user: Any, alerting: ModelVersion) -> None:
    html = client_for(make_user(f"op-{role}", role)).get("/dashboard/loan_model/").content.decode()
    alert = Alert.objects.get(metric="DIR")
    # one dialog per alert: one note, an acknowledge button (open alerts) and a resolve button
    assert html.count(f'id="act-{alert.pk}"') == 1
    assert html.count('name="note"') == Alert.objects.filter(status="open").count() == 2
    assert f'formaction="/dashboard/alerts/{alert.pk}/acknowledge"' in html
    assert f'action="/dashboard/alerts/{alert.pk}/resolve"' in html
    assert f'<label for="note-{alert.pk}">' in html
    assert f'id="resolve-anyway-{alert.pk}"' in html  # the latest check still finds the violation
    assert "csrfmiddlewaretoken" in html


def test_auditors_see_alerts_but_no_forms(auditor_user: Any, alerting: ModelVersion) -> None:
    html = client_for(auditor_user).get("/dashboard/loan_model/").content.decode()
    alert = Alert.objects.get(metric="DIR")
    assert f'id="alert-{alert.pk}"' in html
    assert "/acknowledge" not in html
    assert "/resolve" not in html
    assert 'name="note"' not in html


def test_a_monitor_acknowledges_then_resolves_an_alert(monitor_user: Any, alerting: ModelVersion) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(monitor_user)
    alert = Alert.objects.get(metric="DIR")
    page = client.get("/dashboard/loan_model/").content.decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page).group(1)
    back = "/dashboard/loan_model/?version=1&metric=DIR"
    # acknowledge
    response = client.post(
        f"/dashboard/alerts/{alert.pk}/acknowledge",
        {"csrfmiddlewaretoken": token, "note": "carol is looking into the feature pipeline", "next": back},
    )
    assert response.status_code == 302
    assert response["Location"] == back
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    assert alert.acknowledged_by == monitor_user
    entry = AuditEntry.objects.get(action="alert.acknowledged", object_id=str(alert.pk))
    assert entry.actor == monitor_user.username
    followed = client.get(back).content.decode()
    assert f"Alert {alert.pk} (DIR gender=Female) acknowledged." in followed
    assert f'formaction="/dashboard/alerts/{alert.pk}/acknowledge"' not in followed  # only open alerts
    assert "carol is looking into the feature pipeline" in followed
    # resolving while the latest check still finds the violation needs "resolve anyway"
    resolution = {"csrfmiddlewaretoken": token, "note": "retrained on reweighed data", "next": back}
    response = client.post(f"/dashboard/alerts/{alert.pk}/resolve", resolution)
    assert response.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "acknowledged"
    warned = client.get(back).content.decode()
    assert f"Alert {alert.pk} (DIR gender=Female) was not resolved: the latest check ({alert.last_check_id}" in warned
    response = client.post(f"/dashboard/alerts/{alert.pk}/resolve", {**resolution, "resolve_anyway": "yes"})
    assert response.status_code == 302
    alert.refresh_from_db()
    assert (alert.status, alert.resolution, alert.resolved_by) == ("resolved", "manual", monitor_user)
    entry = AuditEntry.objects.get(action="alert.resolved", object_id=str(alert.pk))
    assert entry.payload["violation_persisting_in_check"] == alert.last_check_id
    followed = client.get(back).content.decode()
    assert f"Alert {alert.pk} (DIR gender=Female) resolved." in followed
    assert f'id="alert-{alert.pk}"' not in followed


def test_a_post_without_a_csrf_token_is_refused(monitor_user: Any, alerting: ModelVersion) -> None:
    client = Client(enforce_csrf_checks=True)
    client.force_login(monitor_user)
    alert = Alert.objects.get(metric="DIR")
    response = client.post(f"/dashboard/alerts/{alert.pk}/acknowledge", {"note": "no token"})
    assert response.status_code == 403
    alert.refresh_from_db()
    assert alert.status == "open"


def test_a_missing_note_or_a_wrong_state_is_a_message_not_an_error(monitor_user: Any, alerting: ModelVersion) -> None:
    client = client_for(monitor_user)
    alert = Alert.objects.get(metric="DIR")
    response = client.post(f"/dashboard/alerts/{alert.pk}/acknowledge", {"note": "   "}, follow=True)
    assert response.status_code == 200
    assert response.redirect_chain[0] == ("/dashboard/loan_model/", 302)
    assert "Say what you are doing about it (note)." in response.content.decode()
    alert.refresh_from_db()
    assert alert.status == "open"
    response = client.post(f"/dashboard/alerts/{alert.pk}/resolve", {}, follow=True)
    assert "Say why it is resolved (note)." in response.content.decode()
    client.post(f"/dashboard/alerts/{alert.pk}/resolve", {"note": "fixed", "resolve_anyway": "yes"})
    again = client.post(
        f"/dashboard/alerts/{alert.pk}/resolve", {"note": "fixed twice", "resolve_anyway": "yes"}, follow=True
    )
    assert again.status_code == 200
    assert "already resolved" in again.content.decode()
    acknowledged = client.post(f"/dashboard/alerts/{alert.pk}/acknowledge", {"note": "late"}, follow=True)
    assert "only an open alert can be acknowledged" in acknowledged.content.decode()
    missing = client.post("/dashboard/alerts/999999/resolve", {"note": "x"}, follow=True)
    assert missing.status_code == 200
    assert "There is no alert 999999." in missing.content.decode()


def test_alert_actions_are_refused_to_auditors_and_to_get(
    auditor_user: Any, monitor_user: Any, alerting: ModelVersion
) -> None:
    alert = Alert.objects.get(metric="DIR")
    refused = client_for(auditor_user).post(f"/dashboard/alerts/{alert.pk}/acknowledge", {"note": "I audit"})
    assert refused.status_code == 403
    assert client_for(auditor_user).post(f"/dashboard/alerts/{alert.pk}/resolve", {"note": "x"}).status_code == 403
    assert client_for(monitor_user).get(f"/dashboard/alerts/{alert.pk}/acknowledge").status_code == 405
    anonymous = Client().post(f"/dashboard/alerts/{alert.pk}/resolve", {"note": "x"})
    assert anonymous.status_code == 302
    alert.refresh_from_db()
    assert alert.status == "open"
    assert not AuditEntry.objects.filter(action__in=["alert.acknowledged", "alert.resolved"]).exists()


def test_the_redirect_after_an_action_stays_on_this_site(monitor_user: Any, alerting: ModelVersion) -> None:
    alert = Alert.objects.get(metric="DIR")
    response = client_for(monitor_user).post(
        f"/dashboard/alerts/{alert.pk}/acknowledge", {"note": "on it", "next": "https://evil.example/phish"}
    )
    assert response.status_code == 302
    assert response["Location"] == "/dashboard/loan_model/"


def test_the_current_check_is_the_latest_window_not_the_last_completed(
    monitor_user: Any, client_as: Callable[[str], APIClient]
) -> None:
    # given an ingestion-triggered check ending 01:39 over both hours (1600 rows), and then, completed after it,
    # the scheduled check of the window ending 01:00 (hour 0 only, 800 rows, a lower DIR)
    version = loan_version(window_hours=24)
    ingest_rates(version, hour=0, male=MEN, female=(400, CRITICAL))
    ingest_rates(version, hour=1, male=MEN, female=(400, MEDIUM))
    current = run_check(
        model_version=version, window_end=BASE + HOUR + timedelta(minutes=39), trigger="ingestion", claim_token="t"
    )
    stale = check(version, 0)
    assert stale.completed_at >= current.completed_at
    assert (current.n_predictions, stale.n_predictions) == (1600, 800)
    assert f"{stale.headline_dir:.3f}" != f"{current.headline_dir:.3f}"
    # when the model page and the list are opened
    client = client_for(monitor_user)
    html = client.get("/dashboard/loan_model/").content.decode()
    listing = client.get("/dashboard/").content.decode()
    # then "Current DIR" is the latest window's, with its window and row count
    assert text_of(html, "dir-badge") == f"{current.headline_dir:.3f} Alert"
    meta = html[html.index('class="muted verdict-meta"') : html.index("</p>", html.index('class="muted verdict-meta"'))]
    assert f"Check {current.pk} of the window" in meta
    assert "1600 predictions" in meta
    row = listing[listing.index('href="/dashboard/loan_model/?version=1"') :]
    assert f"{current.headline_dir:.3f}" in row[: row.index("</tr>")]
    # the chart's x-axis and its data table run in window order
    svg = html[html.index('<svg id="metric-chart"') : html.index("</svg>")]
    labels = re.findall(r'class="x-label"[^>]*>([^<]+)</text>', svg)
    assert labels == ["10-01 01:00", "01:39"]  # window ends in order, the date where it changes
    assert "window end (UTC)</text>" in svg
    table = html[html.index('<table id="chart-table"') : html.index("</table>", html.index('id="chart-table"'))]
    assert table.index(f'datetime="{stale.window_end.isoformat()}"') < table.index(
        f'datetime="{current.window_end.isoformat()}"'
    )
    # and the seed's trend endpoint orders its points by window end too
    trend = client_as("monitor").get("/api/fairness_trend?model=loan_model&version=1").json()["data"]
    assert [point["check_id"] for point in trend["points"]] == [stale.pk, current.pk]


def test_the_model_page_lists_input_drift_findings(monitor_user: Any) -> None:
    version = loan_version(name="drift_model", features=FEATURES)
    for hour in range(7):  # the baseline: 7 x 150 rows a group
        ingest_features(version, hour=hour, seed=20 + hour)
    for hour in range(7, 10):
        ingest_features(version, hour=hour, seed=20 + hour, female_income_factor=1.6)
        check_hour(version, hour)
    html = client_for(monitor_user).get("/dashboard/drift_model/").content.decode()
    assert "No drift found." not in html
    assert "income in gender=Female" in text_of(html, "input-drift-list")
    assert "income in gender=Male" not in html
    # and every tested (feature, group) in a table: the shifted one marked, the other not
    table = html[html.index('id="input-drift-table"') : html.index("</table>", html.index('id="input-drift-table"'))]
    rows = {re.sub(r"<[^>]+>", "|", row).replace("||", "|") for row in re.findall(r"<tr><th.*?</tr>", table)}
    assert any("income|gender=Female" in row and "Finding" in row for row in rows)
    assert any("income|gender=Male" in row and "Finding" not in row for row in rows)


# --- Per group: table, evidence, small multiples, score drift, the status line ------------------------------------


def test_the_per_group_table_shows_the_values_the_api_returns(
    monitor_user: Any, client_as: Callable[[str], APIClient], alerting: ModelVersion
) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/").content.decode()
    latest = FairnessCheck.objects.filter(model_version=alerting).order_by("-window_end").first()
    api = client_as("monitor").get(f"/api/v1/checks/{latest.pk}/")
    assert api.status_code == 200
    reports = api.json()["result"]["reports"]
    cells = verdict_cells(html[html.index('id="groups-title"') :])
    compared = 0
    for attribute, report in reports.items():
        for group, summary in report["groups"].items():
            for name in ("n", "selection_rate", "tpr", "fpr"):
                assert float(cells[(attribute, group, name)]["value"]) == summary[name], (attribute, group, name)
        for group, comparison in report["comparisons"].items():
            for metric in ("DIR", "SPD", "EOD", "AOD"):
                cell = cells[(attribute, group, metric)]
                assert float(cell["value"]) == comparison[metric]
                lower, upper = comparison["intervals"][metric]
                assert (float(cell["lower"]), float(cell["upper"])) == (lower, upper)
                compared += 1
    assert compared >= 4


def test_the_model_page_draws_every_group_and_lists_the_evidence_and_score_drift(
    monitor_user: Any, alerting: ModelVersion
) -> None:
    html = client_for(monitor_user).get("/dashboard/loan_model/?metric=SPD").content.decode()
    latest = FairnessCheck.objects.filter(model_version=alerting).order_by("-window_end").first()
    compared = [f"{a}={g}" for a, r in latest.result["reports"].items() for g in r["comparisons"]]
    groups = html[html.index('id="group-charts"') : html.index("</section>", html.index('id="group-charts"'))]
    assert groups.count('<figure class="chart small">') == len(compared)
    for subject in compared:
        assert f"<figcaption>{subject}</figcaption>" in html
    evidence = html[html.index('id="evidence-table"') : html.index("</table>", html.index('id="evidence-table"'))]
    for item in latest.result["evidence"]["comparisons"]:
        assert f"{item['attribute']}={item['group']}" in evidence
    assert "would be caught within" in evidence  # the minimum detectable effect at this volume
    drift = html[html.index('id="score-drift-table"') :]
    assert "gender=Female" in drift
    assert "Shifted" in drift
    scores = html[html.index('id="score-charts"') : html.index("</section>", html.index('id="score-charts"'))]
    drifted = latest.result["score_drift"]["groups"]
    assert scores.count('<figure class="chart small">') == len(drifted)
    assert scores.count('class="window-bar"') == scores.count('class="baseline-bar"') > 0
    # the Wasserstein distance of the stored histograms, in score units (each bin's mass at its midpoint)
    from monitoring.fairness import wasserstein_from_histograms

    inputs = FairnessCheck.objects.get(pk=latest.pk).inputs
    current = inputs["score_histograms"]["gender"]["Female"]
    reference = inputs["baseline_score_histograms"]["gender"]["Female"]
    edges = [index / len(current) for index in range(len(current) + 1)]
    expected = wasserstein_from_histograms(edges, reference, current, normalize=False).statistic
    row = drift.index('<th scope="row">gender=Female</th>')
    female = drift[row : drift.index("</tr>", row)]
    assert f"<td>{expected:.3f}</td>" in female


def test_every_status_explains_itself_in_one_line(monitor_user: Any, alerting: ModelVersion, db: None) -> None:
    alert_line = text_of_tag(client_for(monitor_user).get("/dashboard/loan_model/").content.decode(), "status-line")
    latest = FairnessCheck.objects.filter(model_version=alerting).order_by("-window_end").first()
    assert latest.status_summary == "alert"
    assert alert_line.endswith(": alert.")
    assert "rules the band out" in alert_line
    fair = loan_version(name="fair_model")
    checked(fair, [0.0], n=1500)
    pass_line = text_of_tag(client_for(monitor_user).get("/dashboard/fair_model/").content.decode(), "status-line")
    assert pass_line.endswith(": pass.")
    empty = loan_version(name="empty_model")
    assert empty.checks.count() == 0
    none_line = text_of_tag(client_for(monitor_user).get("/dashboard/empty_model/").content.decode(), "status-line")
    assert none_line.startswith("No completed check yet")


def text_of_tag(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    opened = html.index(">", start) + 1
    return " ".join(html[opened : html.index("</p>", opened)].split())


def test_the_charts_range_picks_the_window_ends_and_is_kept_by_links_and_refresh(
    monitor_user: Any, passing: ModelVersion
) -> None:
    client = client_for(monitor_user)

    def points(query: str) -> int:
        html = client.get(f"/dashboard/loan_model/?{query}").content.decode()
        if 'id="chart-empty"' in html:
            return 0
        svg = html[html.index('<svg id="metric-chart"') : html.index("</svg>", html.index('<svg id="metric-chart"'))]
        return svg.count('r="3"')

    day = BASE.date().isoformat()
    assert points("") == 2
    assert points(f"start={day}&end={day}") == 2
    assert points("start=2020-01-01&end=2020-01-31") == 0
    assert points("days=7") == 0  # the checks' windows (BASE) are weeks before now
    html = client.get(f"/dashboard/loan_model/?metric=SPD&start={day}&end={day}").content.decode()
    assert f"start={day}" in element(html, "live")  # the live refresh asks for the same range
    assert f'metric=DIR&amp;start={day}&amp;end={day}"' in html  # and so do the metric links
    wrong = client.get(f"/dashboard/loan_model/?start={day}&end=2020-01-01").content.decode()
    assert "The end date is before the start date." in wrong
    assert points(f"start={day}&end=2020-01-01") == 2  # the default range instead


@pytest.mark.parametrize(
    ("status", "action", "pre_alert", "expected"),
    [
        ("pass", "retrain", "ok", "A projection, not a verdict"),
        ("pass", "none", "breached", "A projection, not a verdict"),
        ("alert", "none", "ok", "The current verdict already alerts"),
        ("alert", "retrain", "breached", ""),
        ("pass", "none", "ok", ""),
    ],
)
def test_the_forecast_and_the_badge_are_reconciled_in_words(
    status: str, action: str, pre_alert: str, expected: str
) -> None:
    from types import SimpleNamespace

    from web.dashboard_data import trend_note

    note = trend_note(SimpleNamespace(status_summary=status), {"action": action}, {"status": pre_alert})
    assert note.startswith(expected) if expected else note == ""
