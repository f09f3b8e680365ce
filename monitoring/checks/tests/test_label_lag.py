"""Late rows and labels against the evidence, through run_check and the database: a policy's label lag holds
label-based comparisons back until labels had time to arrive, selection-rate comparisons go on at once, and a
check reports what arrived for hours its evidence had already processed."""

from __future__ import annotations

from typing import Any

import pytest

from monitoring.checks.evidence import hour_index
from monitoring.checks.services import redraw
from monitoring.checks.tests.builders import BASE, check_hour, ingest_items, loan_version, stamp
from monitoring.ingestion.services import ingest_labels
from registry.services import current_policy

pytestmark = pytest.mark.django_db

BANDS = {"DIR": {"min": 0.8, "max": None}, "EOD": {"min": -0.1, "max": None}}


def ingest_unlabelled(version, *, hour: int, n: int, tag: str = "a") -> list[str]:
    """``n`` decisions per gender in ``hour`` without labels (half approved); returns their ids."""
    items = []
    for gender in ("Male", "Female"):
        for index in range(n):
            items.append(
                {
                    "id": f"{tag}-h{hour}-{gender}-{index}",
                    "timestamp": stamp(hour, len(items), 2 * n),
                    "attributes": {"gender": gender},
                    "y_pred": int(index % 2 == 0),
                }
            )
    ingest_items(version, items)
    return [item["id"] for item in items]


def label(version, ids: list[str]) -> None:
    ingest_labels(model_version=version, labels=[{"id": i, "y_true": 1} for i in ids], principal="label-tests")


def entries(check, metric: str) -> list[dict[str, Any]]:
    return [entry for entry in check.result["evidence"]["comparisons"] if entry["metric"] == metric]


def assert_redrawn(check) -> None:
    check.refresh_from_db()
    policy = current_policy(check.model_version.model)
    assert redraw(check.inputs, policy, seed=int(check.window_end.timestamp()) % (2**32)) == check.result


def test_label_lag_holds_label_based_comparisons_back_until_the_labels_arrived() -> None:
    # given a policy banding DIR and EOD whose labels arrive within two hours
    version = loan_version(window_hours=24, metric_bands=BANDS, label_lag_hours=2)
    ids = ingest_unlabelled(version, hour=0, n=100)
    # when hour 0 has closed: DIR takes it at once, EOD waits (it has no labels yet)
    first = check_hour(version, 0)
    assert first.result["evidence"]["hours_processed"] == [hour_index(BASE)]
    assert first.result["evidence"]["label_hours_processed"] == []
    assert all(entry["units"] > 0 for entry in entries(first, "DIR"))
    assert all(entry["units"] == 0 for entry in entries(first, "EOD"))
    # the labels arrive an hour later; at hour 1 the lag has not passed yet for hour 0
    label(version, ids)
    second = check_hour(version, 1)
    assert second.result["evidence"]["label_hours_processed"] == []
    # then two hours after hour 0 closed, EOD takes hour 0 with its labels, and DIR does not take it again
    third = check_hour(version, 2)
    assert third.result["evidence"]["label_hours_processed"] == [hour_index(BASE)]
    assert third.result["evidence"]["hours_processed"] == []
    assert all(entry["units"] > 0 for entry in entries(third, "EOD"))
    assert third.result["evidence"]["late_arrivals"] == {"rows": 0, "labels": 0}
    assert entries(third, "DIR")[0]["units"] == entries(first, "DIR")[0]["units"]
    assert_redrawn(third)


def test_without_a_lag_a_check_reports_the_rows_and_labels_that_arrived_for_processed_hours() -> None:
    # given the default policy (no lag): hour 0 is processed once it closes, before its labels arrive
    version = loan_version(window_hours=24, metric_bands=BANDS)
    assert current_policy(version.model).label_lag_hours == 0
    ids = ingest_unlabelled(version, hour=0, n=100)
    first = check_hour(version, 0)
    assert first.result["evidence"]["label_hours_processed"] == [hour_index(BASE)]
    assert first.result["evidence"]["late_arrivals"] is None  # nothing processed before it
    # when 60 labels and 30 more rows per gender arrive for hour 0 afterwards, and hour 1 has rows of its own
    label(version, ids[:60])
    ingest_unlabelled(version, hour=0, n=30, tag="late")
    ingest_unlabelled(version, hour=1, n=100)
    second = check_hour(version, 1)
    # then the next check says what the evidence missed, and does not take hour 0 again
    assert second.result["evidence"]["late_arrivals"] == {"rows": 60, "labels": 60}
    assert second.result["evidence"]["hours_processed"] == [hour_index(BASE) + 1]
    assert second.result["evidence"]["processed"] == {"rows": 400, "labels": 0}
    assert_redrawn(second)


def test_a_check_stored_before_the_label_lag_is_redrawn_under_its_own_rule() -> None:
    # given a chained check, its inputs as they were stored before the lag existed (no label_until, no totals)
    version = loan_version(window_hours=24, metric_bands=BANDS)
    ingest_unlabelled(version, hour=0, n=100)
    check_hour(version, 0)
    ingest_unlabelled(version, hour=1, n=100)
    check = check_hour(version, 1)
    policy = current_policy(version.model)
    old_inputs = {**check.inputs, "evidence": dict(check.inputs["evidence"])}
    del old_inputs["evidence"]["label_until"], old_inputs["evidence"]["chain_totals"]
    # when it is redrawn, then its evidence is the one every comparison advanced through the same hours
    redrawn = redraw(old_inputs, policy, seed=int(check.window_end.timestamp()) % (2**32))["evidence"]
    assert "late_arrivals" not in redrawn
    assert redrawn["states"] == check.result["evidence"]["states"]
    assert redrawn["comparisons"] == check.result["evidence"]["comparisons"]
