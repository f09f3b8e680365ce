"""/metrics under gunicorn with two workers: the request histogram adds up every worker's requests
(prometheus_client's multiprocess mode, set up by fairlens_site/gunicorn_conf.py), whichever worker answers the
scrape, and the database's numbers come with it."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.processes import start_web, stop

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

TOKEN = "gunicorn-metrics-token-0123456789"
REQUESTS = 40


def health_requests(text: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "fairlens_http_request_duration_seconds_count" and sample.labels["route"] == "api/health"
    )


def test_the_request_histogram_sums_every_workers_requests(tmp_path: Path) -> None:
    metrics_dir = tmp_path / "prometheus"
    env = {"WEB_CONCURRENCY": "2", "METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    process, base = start_web(log_path=tmp_path / "web.log", env=env)
    try:
        for _ in range(REQUESTS):
            requests.get(f"{base}/api/health", timeout=30, headers={"Connection": "close"})
        totals = set()
        for _ in range(6):  # scrapes land on either worker; each must see the sum of both
            scraped = requests.get(
                f"{base}/metrics", timeout=30, headers={"Authorization": f"Bearer {TOKEN}", "Connection": "close"}
            )
            assert scraped.status_code == 200, scraped.text[:300]
            totals.add(health_requests(scraped.text))
            assert "fairlens_audit_verified" in scraped.text
        assert totals == {REQUESTS}
        assert list(metrics_dir.glob("histogram_*.db")), "multiprocess mode wrote no files"
    finally:
        stop(process)
    assert not metrics_dir.exists(), "the metrics folder outlived the server"
