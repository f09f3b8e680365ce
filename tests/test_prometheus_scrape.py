"""A real Prometheus (Debian's ``prometheus`` package) scrapes a real gunicorn with the shipped scrape
configuration (deploy/prometheus/prometheus.yml): only its address, scheme, interval and token file are
changed for loopback. The target must be up, the numbers Prometheus stores must equal what FairLens served,
a scrape with the wrong token must fail, and every PromQL expression of the shipped Grafana dashboard must
evaluate against the stored series. ``promtool check metrics`` lints the exposition itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests
import yaml
from fairlens_client import Client

from accounts.services import model_client_key_create
from registry.services import register_model
from tests.processes import free_port, start_web, stop, wait_until

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

ROOT = Path(__file__).resolve().parent.parent
SCRAPE_CONFIG = ROOT / "deploy" / "prometheus" / "prometheus.yml"
DASHBOARD = ROOT / "deploy" / "grafana" / "fairlens-dashboard.json"
TOKEN = "prometheus-scrape-token-0123456789"
HEALTH_REQUESTS = 25
ROWS = 600


def _binary(name: str) -> str:
    binary = shutil.which(name) or (f"/usr/bin/{name}" if os.access(f"/usr/bin/{name}", os.X_OK) else None)
    if binary is None:
        message = f"{name} is not installed (apt-get install prometheus)"
        if os.environ.get("FAIRLENS_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and FAIRLENS_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return binary


def loopback_config(tmp_path: Path, target: str) -> Path:
    """The shipped configuration pointed at ``target`` over plain HTTP, plus a job sending a wrong token."""
    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    config["global"]["scrape_interval"] = "1s"
    config["global"]["scrape_timeout"] = "1s"
    (job,) = config["scrape_configs"]
    assert job["authorization"]["credentials_file"], "the shipped job reads its token from a file"
    token_file = tmp_path / "token"
    token_file.write_text(TOKEN)
    wrong_file = tmp_path / "wrong-token"
    wrong_file.write_text("not-the-token-0123456789")
    job["scheme"] = "http"
    job["static_configs"] = [{"targets": [target]}]
    job["authorization"]["credentials_file"] = str(token_file)
    wrong = json.loads(json.dumps(job))
    wrong["job_name"] = "fairlens_wrong_token"
    wrong["authorization"]["credentials_file"] = str(wrong_file)
    config["scrape_configs"].append(wrong)
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def send_predictions(base: str) -> None:
    policy = {"protected_attributes": ["sex"], "privileged": {"sex": "Male"}}
    version = register_model(name="scraped_model", version="1", registered_by=None, policy=policy)
    _, key = model_client_key_create(model=version.model, name="scorer", created_by=None)
    numbers = np.arange(ROWS)
    frame = pd.DataFrame(
        {
            "application": [f"app-{number}" for number in numbers],
            "approved": (numbers % 3 != 0).astype(int),
            "sex": np.where(numbers % 2 == 0, "Female", "Male"),
            "decided_at": pd.Timestamp("2026-03-02T09:00:00Z") + pd.to_timedelta(numbers, unit="s"),
        }
    )
    with Client(base, key) as client:
        client.model("scraped_model", "1").log_frame(
            frame, id="application", decision="approved", protected=["sex"], timestamp="decided_at"
        )


def query(prometheus: str, expression: str) -> list[dict]:
    answer = requests.get(f"{prometheus}/api/v1/query", params={"query": expression}, timeout=10).json()
    assert answer["status"] == "success", (expression, answer)
    return answer["data"]["result"]


def scalar(prometheus: str, expression: str) -> float | None:
    result = query(prometheus, expression)
    return float(result[0]["value"][1]) if result else None


def test_prometheus_scrapes_the_shipped_configuration_and_stores_what_fairlens_served(tmp_path: Path) -> None:
    prometheus_binary, promtool = _binary("prometheus"), _binary("promtool")
    env = {"WEB_CONCURRENCY": "2", "METRICS_TOKEN": TOKEN, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "multiproc")}
    web, base = start_web(log_path=tmp_path / "web.log", env=env)
    prometheus = None
    try:
        for _ in range(HEALTH_REQUESTS):
            requests.get(f"{base}/api/health", timeout=30, headers={"Connection": "close"})
        send_predictions(base)

        exposition = requests.get(f"{base}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=30)
        assert exposition.status_code == 200
        lint = subprocess.run([promtool, "check", "metrics"], input=exposition.content, capture_output=True, timeout=60)
        assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()

        config = loopback_config(tmp_path, base.removeprefix("http://"))
        checked = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, timeout=60)
        assert checked.returncode == 0, checked.stdout.decode() + checked.stderr.decode()
        port = free_port()
        prometheus_url = f"http://127.0.0.1:{port}"
        with open(tmp_path / "prometheus.log", "wb") as log:
            prometheus = subprocess.Popen(
                [
                    prometheus_binary,
                    f"--config.file={config}",
                    f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{port}",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def targets() -> dict[str, dict]:
            try:
                answer = requests.get(f"{prometheus_url}/api/v1/targets", timeout=5).json()
            except requests.RequestException:
                return {}
            return {target["labels"]["job"]: target for target in answer["data"]["activeTargets"]}

        def both_scraped() -> bool:
            found = targets()
            return len(found) == 2 and all(target["health"] in ("up", "down") for target in found.values())

        wait_until(both_scraped, 60, "Prometheus to scrape both jobs")
        wait_until(lambda: scalar(prometheus_url, 'up{job="fairlens"}') == 1.0, 30, "the FairLens target up")
        found = targets()
        assert found["fairlens"]["health"] == "up", found["fairlens"]
        refused = found["fairlens_wrong_token"]
        assert refused["health"] == "down"
        assert "401" in refused["lastError"], refused["lastError"]
        assert scalar(prometheus_url, 'up{job="fairlens_wrong_token"}') == 0.0

        # What Prometheus stored equals what was sent: the health requests (summed over both workers) and rows.
        health = scalar(
            prometheus_url,
            'sum(fairlens_http_request_duration_seconds_count{job="fairlens", route="api/health"})',
        )
        assert health == HEALTH_REQUESTS
        stored = scalar(prometheus_url, 'sum(fairlens_ingestion_rows_total{job="fairlens", outcome="accepted"})')
        assert stored == ROWS
        assert scalar(prometheus_url, 'fairlens_audit_verified{job="fairlens"}') is not None

        # Every dashboard panel's expression parses and evaluates on the stored series.
        panels = json.loads(DASHBOARD.read_text())["panels"]
        expressions = [target["expr"] for panel in panels for target in panel.get("targets", [])]
        assert len(expressions) >= 10
        for expression in expressions:
            query(prometheus_url, expression)
        wait_until(
            lambda: query(prometheus_url, "sum by (outcome) (rate(fairlens_ingestion_rows_total[5m]))") != [],
            30,
            "the ingestion rate panel to have data",
        )
    finally:
        if prometheus is not None:
            prometheus.terminate()
            prometheus.wait(timeout=20)
        stop(web)
