"""The seed's demo endpoints: /api/monitor_fairness (simulated fair and drifted scenarios) and the series
endpoints /api/fairness_trend, /api/pre_alert and /api/predict_fairness_drift over a model's stored checks."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rest_framework.test import APIClient

from compliance.checkpoints import anchor_checkpoint, create_checkpoint
from compliance.models import AuditEntry
from demo.model import DEMO_MODEL_NAME, DEMO_POLICY
from monitoring.checks.services import run_check
from monitoring.fairness import pre_alert_check, predict_drift, rolling_average, to_native
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_predictions
from monitoring.models import FairnessCheck, IngestionRecord, PredictionRollup
from registry.models import ModelVersion
from registry.services import register_model

pytestmark = pytest.mark.django_db

BASE = datetime(2026, 9, 1, tzinfo=UTC)
MONITOR = "/api/monitor_fairness"
# Approved women out of 100 per hourly check, men at 80 of 100: DIR falls from 1.0 to 0.7875.
FALLING = [80, 80, 79, 79, 78, 77, 75, 74, 72, 70, 69, 67, 65, 63]


@pytest.fixture
def demo(ml_model: Any) -> ModelVersion:
    """The demo model's version; checked per hour so each check sees one hour of decisions."""
    assert ml_model.name == DEMO_MODEL_NAME
    return register_model(
        name=DEMO_MODEL_NAME,
        version="1",
        registered_by=None,
        policy={**DEMO_POLICY, "window_hours": 1, "check_interval_minutes": 60},
    )


def checked_hours(version: ModelVersion, women_approved: list[int], men_approved: int = 80) -> list[FairnessCheck]:
    """One hour of 100 men and 100 women per entry, each hour checked by ``run_check``."""
    checks = []
    for hour, women in enumerate(women_approved):
        start = BASE + timedelta(hours=hour)
        items = [
            {
                "id": f"{version.pk}-{hour}-{gender}-{index}",
                "timestamp": (start + timedelta(seconds=index * 17)).isoformat(),
                "attributes": {"gender": gender},
                "y_pred": int(index < approved),
            }
            for gender, approved in (("Male", men_approved), ("Female", women))
            for index in range(100)
        ]
        raw = frame_from_json_records(items, ["gender"], max_rows=1000)
        ingest_predictions(model_version=version, raw=raw, attributes=["gender"], principal="demo-tests")
        checks.append(
            run_check(
                model_version=version,
                window_end=start + timedelta(hours=1),
                trigger="schedule",
                claim_token="demo-tests",
            )
        )
    return checks


def data_of(response: Any) -> dict[str, Any]:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "success"
    return body["data"]


def assert_error(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["status"] == "error"
    assert {"code", "message", "details"} <= set(body)
    if code is not None:
        assert body["code"] == code
    return body


# --- /api/monitor_fairness --------------------------------------------------------------------------------------


def test_monitor_fairness_runs_both_scenarios(client_as: Callable[[str], APIClient], demo: ModelVersion) -> None:
    response = client_as("monitor").get(MONITOR, {"n_samples": 2000, "drift_level": 0.8, "seed": 7})
    data = data_of(response)
    assert response.json()["message"] == "fairness drift detected"
    fair, drifted = data["fair_scenario"], data["drifted_scenario"]
    assert fair["dir"] > 0.8
    assert not fair["dir_alert"]
    assert drifted["dir"] < 0.8
    assert drifted["dir_alert"]
    assert drifted["explanation"].startswith(f"DIR = {drifted['dir']:.2f} (<0.8). Potential bias")
    assert drifted["encrypted_alert"]
    assert "Potential bias" not in drifted["encrypted_alert"]
    assert "explanation" not in fair
    assert "encrypted_alert" not in fair
    record = IngestionRecord.objects.get(record_id=data["record_id"])
    assert (record.source, record.model_version_id) == (IngestionRecord.Source.MONITOR, demo.pk)
    assert record.encrypted_alert == drifted["encrypted_alert"]
    (latest, *_) = data["audit_tail"]
    assert (latest["action"], latest["object_id"]) == ("fairness_check", data["record_id"])
    entry = AuditEntry.objects.get(action="fairness_check", object_id=data["record_id"])
    assert entry.entry_hash == latest["entry_hash"]
    assert entry.payload["alert"] is True
    assert entry.payload["drift_level"] == 0.8
    assert "Potential bias" not in str(entry.payload)


def console_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "fairlens.monitor"]


def test_monitor_fairness_prints_the_seeds_console_lines(
    client_as: Callable[[str], APIClient],
    demo: ModelVersion,
    caplog: pytest.LogCaptureFixture,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.FAIRLENS_DEMO_ENDPOINTS = True
    caplog.set_level(logging.INFO, logger="fairlens.monitor")
    with django_capture_on_commit_callbacks(execute=True):
        data = data_of(client_as("monitor").get(MONITOR, {"n_samples": 1000, "drift_level": 0.5, "seed": 42}))
    drifted = data["drifted_scenario"]
    assert drifted["dir_alert"] is True
    assert console_lines(caplog) == [
        "Generating fair and drifted datasets (n=1000, drift=0.5)",
        f"⚠ ALERT: Fairness Drift Detected! DIR = {drifted['dir']:.2f}",
        f"Encrypted alert token: {drifted['encrypted_alert']}",
        f"Decrypted alert: {drifted['explanation']}",
        "Event logged at compliance_audit_log.jsonl",
    ]
    levels = [r.levelname for r in caplog.records if r.name == "fairlens.monitor"]
    # the decrypted plaintext is only a demo echo: INFO, not WARNING
    assert levels == ["INFO", "WARNING", "WARNING", "INFO", "INFO"]
    # the event is in the seed's JSONL file when the line says so
    mirrored = [json.loads(line) for line in Path(settings.AUDIT_MIRROR_PATH).read_text().splitlines()]
    assert data["record_id"] in {line["object_id"] for line in mirrored if line["action"] == "fairness_check"}


def test_a_stable_run_prints_two_decimals_and_no_token(
    client_as: Callable[[str], APIClient],
    demo: ModelVersion,
    caplog: pytest.LogCaptureFixture,
    django_capture_on_commit_callbacks: Any,
) -> None:
    caplog.set_level(logging.INFO, logger="fairlens.monitor")
    with django_capture_on_commit_callbacks(execute=True):
        data = data_of(client_as("monitor").get(MONITOR, {"scenario": "fair", "n_samples": 1000, "seed": 3}))
    assert console_lines(caplog) == [
        "Generating fair dataset (n=1000, drift=0.0)",
        f"✅ Model Fairness Stable. DIR = {data['fair_scenario']['dir']:.2f}",
        "Event logged at compliance_audit_log.jsonl",
    ]


def test_monitor_fairness_leaves_the_models_rollups_alone(
    client_as: Callable[[str], APIClient], demo: ModelVersion
) -> None:
    checked_hours(demo, [80, 80])
    before = list(PredictionRollup.objects.order_by("pk").values())
    data_of(client_as("monitor").get(MONITOR, {"n_samples": 2000, "drift_level": 0.8}))
    assert list(PredictionRollup.objects.order_by("pk").values()) == before


def test_the_same_seed_gives_the_same_rates(client_as: Callable[[str], APIClient], demo: ModelVersion) -> None:
    query = {"n_samples": 500, "drift_level": 0.4, "seed": 11}
    first = data_of(client_as("monitor").get(MONITOR, query))
    second = data_of(client_as("admin").get(MONITOR, query))
    for name in ("fair_scenario", "drifted_scenario"):
        assert first[name]["dir"] == second[name]["dir"]
    assert first["record_id"] != second["record_id"]
    assert [e["object_id"] for e in second["audit_tail"][:2]] == [second["record_id"], first["record_id"]]


def test_one_scenario_and_no_drift(client_as: Callable[[str], APIClient], demo: ModelVersion) -> None:
    fair_only = data_of(client_as("auditor").get(MONITOR, {"scenario": "fair", "n_samples": 500}))
    assert "fair_scenario" in fair_only
    assert "drifted_scenario" not in fair_only
    response = client_as("monitor").get(MONITOR, {"scenario": "drifted", "drift_level": 0, "n_samples": 1000})
    no_drift = data_of(response)
    assert response.json()["message"] == "model fairness stable"
    assert list(no_drift) == ["drifted_scenario", "audit_tail", "record_id"]
    assert no_drift["drifted_scenario"]["dir_alert"] is False
    assert no_drift["drifted_scenario"]["encrypted_alert"] is None
    assert IngestionRecord.objects.get(record_id=no_drift["record_id"]).encrypted_alert == ""


def test_the_record_of_a_drifted_run_verifies(client_as: Callable[[str], APIClient], demo: ModelVersion) -> None:
    record_id = data_of(client_as("monitor").get(MONITOR, {"drift_level": 0.9}))["record_id"]
    anchor_checkpoint(create_checkpoint().pk)
    assert_error(client_as("monitor").get(f"/api/verify_alert/{record_id}"), 403)
    verified = data_of(client_as("auditor").get(f"/api/verify_alert/{record_id}"))
    assert verified["verified"] is True, verified
    assert verified["record_summary_matches_signed_digest"] is True
    assert [entry["action"] for entry in verified["entries"]] == ["ingestion.summary", "fairness_check"]


@pytest.mark.parametrize(
    "query",
    [
        {"n_samples": 1},
        {"n_samples": 100_001},
        {"n_samples": "many"},
        {"n_samples": 2.5},
        {"drift_level": 1.5},
        {"drift_level": -0.1},
        {"drift_level": "nan"},
        {"drift_level": "high"},
        {"scenario": "bogus"},
        {"seed": -1},
        {"seed": 2**32},
    ],
)
def test_invalid_monitor_parameters_are_400(
    client_as: Callable[[str], APIClient], demo: ModelVersion, query: dict[str, Any]
) -> None:
    body = assert_error(client_as("monitor").get(MONITOR, query), 400, "invalid")
    assert set(body["details"]) == set(query)
    assert not IngestionRecord.objects.exists()


def test_anonymous_callers_only_in_demo_mode(
    client_as: Callable[[str], APIClient], demo: ModelVersion, settings: Any
) -> None:
    settings.FAIRLENS_DEMO_ENDPOINTS = False
    anonymous = client_as("anonymous")
    for url in (MONITOR, "/api/fairness_trend", "/api/pre_alert", "/api/predict_fairness_drift"):
        assert_error(anonymous.get(url), 401)
    settings.FAIRLENS_DEMO_ENDPOINTS = True
    data = data_of(anonymous.get(MONITOR, {"n_samples": 300}))
    record = IngestionRecord.objects.get(record_id=data["record_id"])
    assert record.principal == "anonymous"
    for url in ("/api/fairness_trend", "/api/pre_alert", "/api/predict_fairness_drift"):
        assert anonymous.get(url).status_code == 200
    # demo mode opens the demo endpoints only
    assert_error(anonymous.get("/api/v1/checks/"), 401)


def test_a_missing_demo_model_is_a_conflict(client_as: Callable[[str], APIClient], ml_model: Any) -> None:
    # the model exists (the ml_model fixture) but has no version
    assert_error(client_as("monitor").get(MONITOR), 409, "demo_model_missing")
    for url in ("/api/fairness_trend", "/api/pre_alert", "/api/predict_fairness_drift"):
        assert_error(client_as("monitor").get(url), 409, "demo_model_missing")


def test_a_retired_demo_version_counts_as_missing(client_as: Callable[[str], APIClient], demo: ModelVersion) -> None:
    ModelVersion.objects.filter(pk=demo.pk).update(stage=ModelVersion.Stage.RETIRED)
    assert_error(client_as("monitor").get(MONITOR), 409, "demo_model_missing")


# --- Series endpoints -------------------------------------------------------------------------------------------


@pytest.fixture
def falling(demo: ModelVersion) -> list[FairnessCheck]:
    return checked_hours(demo, FALLING)


def series_of(checks: list[FairnessCheck]) -> list[float]:
    return [check.headline_dir for check in checks]


def test_fairness_trend_is_the_rolling_average_of_the_check_series(
    client_as: Callable[[str], APIClient], falling: list[FairnessCheck]
) -> None:
    series = series_of(falling)
    assert series == pytest.approx([women / 80 for women in FALLING])
    data = data_of(client_as("monitor").get("/api/fairness_trend", {"window": 10}))
    assert (data["model"], data["version"], data["threshold"], data["window"]) == ("loan_model", "1", 0.8, 10)
    assert data["dirs"] == series[-10:]
    assert [p["check_id"] for p in data["points"]] == [c.pk for c in falling[-10:]]
    assert [p["status"] for p in data["points"]] == [c.status_summary for c in falling[-10:]]
    assert data["points"][-1]["window_end"] == falling[-1].window_end.isoformat()
    expected = rolling_average(series, 10)
    assert (data["moving_average"], data["velocity"]) == (expected.average, expected.velocity)
    assert data["velocity"] < 0
    # the default window is 10 too; a window of 4 looks at the last four checks only
    assert data_of(client_as("auditor").get("/api/fairness_trend"))["dirs"] == series[-10:]
    short = data_of(client_as("admin").get("/api/fairness_trend", {"window": 4}))
    assert short["dirs"] == series[-4:]
    assert short["moving_average"] == rolling_average(series[-4:], 4).average


def test_pre_alert_and_forecast_follow_the_falling_series(
    client_as: Callable[[str], APIClient], falling: list[FairnessCheck]
) -> None:
    series = series_of(falling)
    pre = client_as("monitor").get("/api/pre_alert", {"window": 10})
    data = data_of(pre)
    expected = to_native(asdict(pre_alert_check(series, 0.8, 10)))
    assert {key: data[key] for key in expected} == expected
    assert data["status"] in ("pre_alert", "breached")
    assert pre.json()["message"] == data["status"]
    assert data["status"] == "pre_alert"
    assert data["moving_average"] > 0.8
    forecast = data_of(client_as("monitor").get("/api/predict_fairness_drift"))
    expected_forecast = to_native(asdict(predict_drift(series, 0.8, seed=0)))
    assert {key: forecast[key] for key in expected_forecast} == expected_forecast
    assert forecast["action"] in ("warn", "retrain")
    assert forecast["slope"] < 0
    assert forecast["predicted_next"] < 0.8


def test_another_model_is_chosen_with_model_and_version(
    client_as: Callable[[str], APIClient], falling: list[FairnessCheck]
) -> None:
    other = register_model(
        name="other_model",
        version="2",
        registered_by=None,
        policy={"protected_attributes": ["gender"], "privileged": {"gender": "Male"}, "window_hours": 1},
    )
    stable = checked_hours(other, [80, 80, 80])
    monitor = client_as("monitor")
    query = {"model": "other_model", "version": "2"}
    trend = data_of(monitor.get("/api/fairness_trend", query))
    assert (trend["model"], trend["version"]) == ("other_model", "2")
    assert trend["dirs"] == series_of(stable) == [1.0, 1.0, 1.0]
    assert (trend["moving_average"], trend["velocity"]) == (1.0, 0.0)
    assert data_of(monitor.get("/api/pre_alert", query))["status"] == "ok"
    forecast = data_of(monitor.get("/api/predict_fairness_drift", query))
    assert forecast["action"] == "none"
    # only one of the two, or an unknown one
    for url in ("/api/fairness_trend", "/api/pre_alert", "/api/predict_fairness_drift"):
        assert "model" in assert_error(monitor.get(url, {"model": "other_model"}), 400, "invalid")["details"]
        assert_error(monitor.get(url, {"version": "2"}), 400, "invalid")
        assert_error(monitor.get(url, {"model": "other_model", "version": "9"}), 404, "not_found")
        assert_error(monitor.get(url, {"model": "nobody", "version": "1"}), 404, "not_found")


@pytest.mark.parametrize("window", ["1", "201", "ten", "-3"])
def test_invalid_windows_are_400(client_as: Callable[[str], APIClient], demo: ModelVersion, window: str) -> None:
    for url in ("/api/fairness_trend", "/api/pre_alert", "/api/predict_fairness_drift"):
        assert "window" in assert_error(client_as("monitor").get(url, {"window": window}), 400)["details"]


def test_a_model_without_checks_has_an_empty_series(client_as: Callable[[str], APIClient], demo: ModelVersion) -> None:
    trend = data_of(client_as("monitor").get("/api/fairness_trend"))
    assert (trend["points"], trend["dirs"], trend["moving_average"], trend["velocity"]) == ([], [], None, None)
    assert data_of(client_as("monitor").get("/api/pre_alert"))["status"] == "insufficient_data"
    assert data_of(client_as("monitor").get("/api/predict_fairness_drift"))["action"] == "none"
