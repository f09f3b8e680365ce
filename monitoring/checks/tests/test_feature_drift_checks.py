"""Input drift through ingestion, the feature rollups and stored checks: the policy's declared features are
tested per group, carried along the evidence chain, reported at the exploratory tier, and redrawn exactly."""

from __future__ import annotations

import pytest

from monitoring.checks.services import redraw
from monitoring.checks.tests.builders import (
    FEATURES,
    ROWS_PER_GROUP,
    check_hour,
    ingest_features,
    loan_version,
)
from monitoring.ingestion.services import rebuild_rollups
from monitoring.models import FeatureRollup

pytestmark = pytest.mark.django_db


def cell(check, feature: str, group: str) -> dict:
    (found,) = [
        item for item in check.result["feature_drift"]["cells"] if (item["feature"], item["group"]) == (feature, group)
    ]
    return found


def test_feature_rollups_count_each_rows_declared_non_identifier_features_once_per_attribute():
    version = loan_version(features=FEATURES)
    ingest_features(version, hour=0, seed=1)
    rows = FeatureRollup.objects.filter(model_version=version)
    assert set(rows.values_list("feature", flat=True)) == {"income", "region"}  # never the identifier
    for feature in ("income", "region"):
        for group in ("Male", "Female"):
            total = sum(rows.filter(feature=feature, group=group).values_list("count", flat=True))
            assert total == ROWS_PER_GROUP
    regions = dict(rows.filter(feature="region", group="Male").values_list("value", "count"))
    assert set(regions) <= {"north", "south", "east"}
    # Rebuilding from the stored predictions gives the same cells.
    before = sorted(rows.values_list("bucket_start", "attribute", "group", "feature", "value", "count"))
    rebuild_rollups(model_version=version)
    assert sorted(rows.values_list("bucket_start", "attribute", "group", "feature", "value", "count")) == before


# 150 rows a group an hour: the baseline (whole 1-hour windows until each group has 1,000 rows) is 7 hours.
BASELINE_HOURS = 7


def ingest_baseline(version, seed: int) -> None:
    for hour in range(BASELINE_HOURS):
        ingest_features(version, hour=hour, seed=seed + 100 * hour)


def test_a_policy_without_features_says_so_and_the_baseline_must_fill_before_testing():
    plain = loan_version(name="plain_model")
    ingest_features(plain, hour=0, seed=2)
    assert check_hour(plain, 0).result["feature_drift"]["status"] == "no_features"

    version = loan_version(features=FEATURES)
    ingest_baseline(version, seed=3)
    for hour in range(BASELINE_HOURS - 1):  # 6 x 150 rows a group: still filling
        drift = check_hour(version, hour).result["feature_drift"]
        assert drift["status"] == "baseline_filling"
        assert drift["cells"] == []
    ingest_features(version, hour=BASELINE_HOURS, seed=4)
    drift = check_hour(version, BASELINE_HOURS).result["feature_drift"]
    assert drift["status"] == "tested"
    assert drift["baseline"]["end_hour"] - drift["baseline"]["start_hour"] == BASELINE_HOURS


def test_a_shifted_feature_in_one_group_is_found_there_only_and_each_check_continues_the_chain():
    version = loan_version(features=FEATURES)
    ingest_baseline(version, seed=10)
    ingest_features(version, hour=BASELINE_HOURS, seed=11)
    checks = [check_hour(version, BASELINE_HOURS - 1), check_hour(version, BASELINE_HOURS)]
    drift = checks[-1].result["feature_drift"]
    assert drift["status"] == "tested"
    assert drift["stream_start_hour"] == drift["baseline"]["end_hour"]
    assert {(item["feature"], item["group"]) for item in drift["cells"]} == {
        (feature, group) for feature in ("income", "region") for group in ("Male", "Female")
    }
    assert drift["found"] == 0
    for hour in range(BASELINE_HOURS + 1, BASELINE_HOURS + 6):
        ingest_features(version, hour=hour, seed=10 + hour, female_income_factor=1.6)
        checks.append(check_hour(version, hour))
    last = checks[-1].result["feature_drift"]
    assert cell(checks[-1], "income", "Female")["finding"]
    assert not cell(checks[-1], "income", "Male")["finding"]
    assert not cell(checks[-1], "region", "Female")["finding"]
    assert all(item["tier"] == "exploratory" for item in last["cells"])
    # Found from the first shifted hour on (a 1.2-sd shift of 150 rows), and every hour was read once, in order.
    assert [cell(check, "income", "Female")["finding"] for check in checks[2:]] == [True] * 5
    assert last["last_hour"] == last["stream_start_hour"] + 5
    assert cell(checks[-1], "income", "Female")["n_stream"] == 6 * ROWS_PER_GROUP
    # A stored check is its inputs: redraw reproduces it exactly.
    for check in checks:
        assert redraw(check.inputs, check.policy, seed=int(check.window_end.timestamp()) % 2**32) == check.result
    # Input drift is a reason to look, not a violation: the verdict does not move.
    assert checks[-1].verdict == checks[1].verdict
