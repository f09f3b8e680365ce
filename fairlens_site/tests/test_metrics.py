"""/metrics: served only with its token, in Prometheus text format, with the database's numbers (ingested rows,
open alerts, the latest DIR per version and attribute, the audit log) and the request histogram; the per-version
series capped with a count of what was left out. The multi-worker sum under gunicorn: tests/test_metrics_gunicorn.py."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from compliance.models import AuditEntry
from monitoring.alerts.models import Alert

pytestmark = pytest.mark.django_db

TOKEN = "metrics-test-token-0123456789"


def scrape(client: Client) -> dict[str, list[Any]]:
    response = client.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"].startswith("text/plain")
    families: dict[str, list[Any]] = {}
    for family in text_string_to_metric_families(response.content.decode()):
        families.setdefault(family.name, [])  # a family with no samples is there too
        for sample in family.samples:
            families.setdefault(sample.name, []).append(sample)
    return families


def value(families: dict[str, list[Any]], name: str, **labels: str) -> float:
    matches = [sample.value for sample in families[name] if all(sample.labels.get(k) == v for k, v in labels.items())]
    assert len(matches) == 1, (name, labels, families.get(name))
    return matches[0]


def test_without_a_token_configured_metrics_are_not_served_and_a_wrong_token_is_refused(settings: Any) -> None:
    settings.METRICS_TOKEN = ""
    assert Client().get("/metrics").status_code == 404
    settings.METRICS_TOKEN = TOKEN
    assert Client().get("/metrics").status_code == 401
    refused = Client().get("/metrics", HTTP_AUTHORIZATION="Bearer wrong")
    assert refused.status_code == 401
    assert refused["WWW-Authenticate"].startswith("Bearer")


def test_the_numbers_are_the_databases(settings: Any) -> None:
    from monitoring.models import FairnessCheck
    from web.tests.test_report_pages import drifted_model

    settings.METRICS_TOKEN = TOKEN
    version, check = drifted_model()
    client = Client()
    client.get("/api/health")
    families = scrape(client)
    assert value(families, "fairlens_ingestion_rows_total", source="api", outcome="accepted") == 2000
    for severity in set(Alert.objects.values_list("severity", flat=True)):
        expected = Alert.objects.filter(severity=severity).exclude(status="resolved").count()
        assert value(families, "fairlens_alerts_open", severity=severity) == expected
    lowest = min(
        comparison["DIR"]
        for comparison in FairnessCheck.objects.get(pk=check.pk).result["reports"]["gender"]["comparisons"].values()
    )
    assert value(families, "fairlens_latest_dir", model="loan_model", version="1", attribute="gender") == pytest.approx(
        lowest
    )
    assert value(families, "fairlens_check_lag_seconds", model="loan_model", version="1") > 0
    assert value(families, "fairlens_audit_entries_total") == AuditEntry.objects.count()
    assert value(families, "fairlens_metrics_series_dropped") == 0
    health = [
        sample
        for sample in families["fairlens_http_request_duration_seconds_count"]
        if sample.labels["route"] == "api/health"
    ]
    assert sum(sample.value for sample in health) >= 1


def test_per_version_series_are_capped_and_the_rest_counted(settings: Any) -> None:
    from monitoring.checks.services import run_check
    from monitoring.checks.tests.builders import BASE, HOUR, ingest_loans, loan_version

    settings.METRICS_TOKEN = TOKEN
    for name in ("loan_a", "loan_b", "loan_c"):
        version = loan_version(name=name)
        ingest_loans(version, hour=0, n=400, drift=0.0, seed=3)
        run_check(model_version=version, window_end=BASE + HOUR, trigger="manual", claim_token="t")
    assert len(scrape(Client())["fairlens_latest_dir"]) == 3
    settings.METRICS_MAX_SERIES = 2
    families = scrape(Client())
    assert len(families["fairlens_latest_dir"]) == 2
    assert value(families, "fairlens_metrics_series_dropped") == 1
    settings.METRICS_MAX_SERIES = 0
    families = scrape(Client())
    assert families["fairlens_latest_dir"] == []
    assert value(families, "fairlens_metrics_series_dropped") == 3


def test_the_grafana_dashboard_queries_only_metrics_that_are_exposed(settings: Any) -> None:
    import json
    import re
    from pathlib import Path

    from web.tests.test_report_pages import drifted_model

    settings.METRICS_TOKEN = TOKEN
    drifted_model()
    Client().get("/api/health")
    exposed = set(scrape(Client()))
    dashboard = json.loads((Path(__file__).resolve().parents[2] / "deploy/grafana/fairlens-dashboard.json").read_text())
    queried = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"fairlens_[a-z_]+", target["expr"])
    }
    assert queried, "the dashboard queries nothing"
    assert queried - exposed == set()
