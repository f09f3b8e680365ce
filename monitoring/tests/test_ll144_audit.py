"""A version's LL144 bias audit from its rollups: the policy's mapping onto EEO-1 categories (unmapped values are
unknown), the same numbers as the hand-computed tables of the engine's tests, exclusions, and scoring tools'
median from score histograms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from core.api.errors import ApplicationError
from monitoring.audit_report.ll144 import NotConfigured, build_bias_audit
from monitoring.audit_report.period import Period
from monitoring.fairness.ll144 import INTERSECTIONAL, RACE, SEX
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_predictions
from registry.models import ModelVersion
from registry.services import register_model

pytestmark = pytest.mark.django_db

DAY = date(2026, 10, 1)
PERIOD = Period(DAY, DAY)
AUDIT = {
    "sex": {"attribute": "gender", "categories": {"M": "Male", "F": "Female"}},
    "race_ethnicity": {"attribute": "race", "categories": {"W": "White", "B": "Black", "A": "Asian"}},
    "tool": "selection",
    "data_source": "historical",
    "distribution_date": "2025-06-01",
}
# (gender, race) -> (assessed, selected): the engine test's data set; X and ? are values the policy does not map
CELLS = {
    ("M", "W"): (40, 20),
    ("F", "W"): (30, 12),
    ("M", "B"): (20, 6),
    ("F", "B"): (8, 2),
    ("X", "W"): (5, 1),
    ("M", "?"): (7, 3),
    ("F", "A"): (1, 1),
}


def hiring_version(**audit: Any) -> ModelVersion:
    return register_model(
        name="hiring_screen",
        version="1",
        registered_by=None,
        policy={
            "protected_attributes": ["gender", "race"],
            "privileged": {"gender": "M", "race": "W"},
            "bias_audit": {**AUDIT, **audit},
        },
    )


def ingest_cells(version: ModelVersion, scores: dict[tuple[str, str], list[float]] | None = None) -> None:
    items, start = [], datetime.combine(DAY, datetime.min.time(), tzinfo=UTC) + timedelta(hours=9)
    for (gender, race), (assessed, selected) in CELLS.items():
        for index in range(assessed):
            item = {
                "id": f"{gender}-{race}-{index}",
                "timestamp": (start + timedelta(seconds=len(items))).isoformat(),
                "attributes": {"gender": gender, "race": race},
                "y_pred": int(index < selected),
            }
            if scores is not None:
                item["score"] = scores[(gender, race)][index]
            items.append(item)
    raw = frame_from_json_records(items, ["gender", "race"], max_rows=10_000)
    result = ingest_predictions(model_version=version, raw=raw, attributes=["gender", "race"], principal="test")
    assert (result.accepted, result.rejected) == (len(items), 0), result.errors


def rows(audit: Any, dimension: str) -> dict[str, Any]:
    return {row.category: row for row in audit.tables[dimension].rows}


def test_a_selection_audit_from_rollups_gives_the_hand_computed_tables() -> None:
    version = hiring_version()
    ingest_cells(version)
    audit = build_bias_audit(version.model, version, PERIOD, policy=version.model.policies.get(), audit_date=DAY)
    assert audit.assessed == 111
    sex = rows(audit, SEX)
    assert (sex["Male"].assessed, sex["Male"].positive, sex["Female"].assessed) == (67, 29, 39)
    assert audit.tables[SEX].unknown == 5  # X is no category the policy maps
    assert sex["Female"].impact_ratio == pytest.approx(1005 / 1131)
    assert audit.tables[RACE].unknown == 7
    both = rows(audit, INTERSECTIONAL)
    assert set(both) == {"White Male", "White Female", "Black Male", "Black Female", "Asian Female"}
    assert audit.tables[INTERSECTIONAL].unknown == 12
    assert audit.valid_until == date(2027, 10, 1)
    bundle = audit.as_dict()
    assert bundle["tables"]["sex"]["rows"][0]["category"] == "Female"
    assert bundle["distribution_date"] == "2025-06-01"
    assert len(bundle["bundle_sha256"]) == 64
    again = build_bias_audit(version.model, version, PERIOD, policy=version.model.policies.get(), audit_date=DAY)
    assert again.as_dict()["bundle_sha256"] == bundle["bundle_sha256"]  # the same period gives the same bytes


def test_exclusions_follow_the_two_percent_rule() -> None:
    version = hiring_version()
    ingest_cells(version)
    policy = version.model.policies.get()
    reason = {RACE: {"Asian": "one applicant: no meaningful rate"}}
    audit = build_bias_audit(version.model, version, PERIOD, policy=policy, audit_date=DAY, exclusions=reason)
    race = rows(audit, RACE)
    assert race["Asian"].excluded
    assert race["Black"].impact_ratio == pytest.approx(600 / 924)
    with pytest.raises(ValueError, match="under 2%"):
        build_bias_audit(
            version.model, version, PERIOD, policy=policy, audit_date=DAY, exclusions={RACE: {"Black": "x"}}
        )


def test_a_scoring_audit_bounds_each_rate_from_the_score_histograms() -> None:
    version = hiring_version(tool="scoring")
    scores = {
        cell: [round((index * 37 % 100) / 100 + 0.005, 3) for index in range(n)] for cell, (n, _) in CELLS.items()
    }
    ingest_cells(version, scores)
    audit = build_bias_audit(version.model, version, PERIOD, policy=version.model.policies.get(), audit_date=DAY)
    everyone = sorted(score for values in scores.values() for score in values)
    middle = len(everyone) // 2
    exact_median = everyone[middle] if len(everyone) % 2 else (everyone[middle - 1] + everyone[middle]) / 2
    assert audit.median["low"] <= exact_median <= audit.median["high"]
    assert audit.median["bin_width"] == 0.05
    low, high = rows(audit, SEX), {row.category: row for row in audit.upper_tables[SEX].rows}
    male_scores = [s for (gender, _), values in scores.items() if gender == "M" for s in values]
    exact_rate = sum(1 for s in male_scores if s > exact_median) / len(male_scores)
    assert low["Male"].rate <= exact_rate <= high["Male"].rate


def test_a_policy_without_bias_audit_settings_is_refused_and_bad_settings_are_named() -> None:
    version = register_model(
        name="plain",
        version="1",
        registered_by=None,
        policy={"protected_attributes": ["gender"], "privileged": {"gender": "M"}},
    )
    with pytest.raises(NotConfigured):
        build_bias_audit(version.model, version, PERIOD, policy=version.model.policies.get(), audit_date=DAY)
    with pytest.raises(ApplicationError) as refused:
        hiring_version(sex={"attribute": "age", "categories": {"M": "Male"}}, tool="ranking")
    problems = refused.value.details["bias_audit"]
    assert "sex.attribute: one of the protected attributes" in problems
    assert "tool: selection (binary decisions) or scoring (scores)" in problems
