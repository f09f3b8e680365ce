"""Feature-impact analysis, explanation wording and the linear-model logit-gap decomposition."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from monitoring.fairness import (
    InvalidParameterError,
    analyze_feature_impact,
    decompose_logit_gap,
    generate_explanation,
    generate_loan_data,
)


@pytest.fixture
def applicants() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "gender": ["Male"] * 4 + ["Female"] * 4,
            "credit_score": [700, 720, 680, 700, 640, 660, 650, 650],
            "income": [50_000, 60_000, 50_000, 60_000, 50_000, 60_000, 50_000, 60_000],
            "approved": [True, True, True, False, True, False, False, False],
        }
    )


def test_stats_and_likely_causes_by_hand(applicants: pd.DataFrame) -> None:
    result = analyze_feature_impact(applicants, numeric_cols=["credit_score", "income"])
    stats = result["stats"]
    assert stats["female_mean_credit_score"] == 650.0
    assert stats["male_mean_credit_score"] == 700.0
    assert stats["female_median_credit_score"] == 650.0
    assert stats["male_median_credit_score"] == 700.0
    assert stats["female_approval_rate"] == 0.25
    assert stats["male_approval_rate"] == 0.75
    # Pooled variance ((3 * 800/3) + (3 * 200/3)) / 6 = 500/3; d = 50 / sqrt(500/3).
    top = result["feature_differences"][0]
    assert top["feature"] == "credit_score"
    assert top["delta"] == 50.0
    assert top["standardized_difference"] == pytest.approx(50 / math.sqrt(500 / 3))
    assert result["feature_differences"][1]["standardized_difference"] == 0.0
    assert result["delta_direction"] == "privileged_mean - unprivileged_mean"
    assert result["likely_causes"] == [
        "Lower average credit_score for Female (650 vs 700 for Male)",
        "Lower Female approval rate (0.25 vs 0.75 for Male)",
    ]


def test_features_are_ranked_by_standardised_difference() -> None:
    frame = generate_loan_data(4000, drift_level=1.0, seed=6)
    frame["noise"] = np.random.default_rng(0).normal(size=len(frame))
    result = analyze_feature_impact(frame, numeric_cols=["noise", "income", "credit_score"], top_k=1)
    effects = [abs(item["standardized_difference"]) for item in result["feature_differences"]]
    assert effects == sorted(effects, reverse=True)
    assert result["feature_differences"][0]["feature"] == "credit_score"
    assert result["likely_causes"][0].startswith("Lower average credit_score for Female")
    assert len([cause for cause in result["likely_causes"] if "average" in cause]) == 1


def test_higher_feature_for_unprivileged_group_is_worded_as_higher(applicants: pd.DataFrame) -> None:
    applicants["debt"] = [1, 2, 1, 2, 5, 6, 5, 6]
    result = analyze_feature_impact(applicants, numeric_cols=["debt"])
    assert result["likely_causes"][0] == "Higher average debt for Female (5.5 vs 1.5 for Male)"


def test_missing_unprivileged_group_gives_none_stats(applicants: pd.DataFrame) -> None:
    applicants["gender"] = ["Male"] * 4 + ["Other"] * 4
    result = analyze_feature_impact(applicants)
    assert result["stats"]["female_mean_credit_score"] is None
    assert result["stats"]["female_approval_rate"] is None
    assert result["likely_causes"] == []


def test_explanation_wording() -> None:
    assert generate_explanation(None, ["x"]) == "DIR not computable: male approval rate zero."
    assert generate_explanation(0.6412, ["Lower average credit_score for Female", "Lower Female approval rate"]) == (
        "DIR = 0.64 (<0.8). Potential bias — likely causes: Lower average credit_score for Female, "
        "Lower Female approval rate."
    )
    assert generate_explanation(0.85, ["Lower average income for Female"]) == (
        "DIR = 0.85 (>=0.8). System considered fair; possible minor contributing factors: "
        "Lower average income for Female."
    )
    assert generate_explanation(0.8, []) == (
        "DIR = 0.80 (>=0.8). System considered fair; possible minor contributing factors: none identified."
    )


@pytest.fixture(scope="module")
def trained() -> tuple[pd.DataFrame, pd.DataFrame]:
    frame = generate_loan_data(6000, drift_level=0.8, seed=12)
    features = frame[["credit_score", "income"]].assign(income=frame["income"] / 1000)
    return frame, features


def test_simulated_features_support_a_meaningful_classifier(trained: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, features = trained
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, frame["approved"])
    majority = max(frame["approved"].mean(), 1 - frame["approved"].mean())
    assert model.score(features, frame["approved"]) > majority + 0.1


def test_logit_gap_decomposition_is_exact(trained: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, features = trained
    model = LogisticRegression(max_iter=1000).fit(features, frame["approved"])
    result = decompose_logit_gap(model, features, frame["gender"], "Male", "Female")
    logits = model.decision_function(features)
    male, female = frame["gender"] == "Male", frame["gender"] == "Female"
    assert result.gap == pytest.approx(logits[male].mean() - logits[female].mean(), abs=1e-9)
    assert sum(item.contribution for item in result.contributions) == pytest.approx(result.gap, abs=1e-9)
    assert result.contributions[0].feature == "credit_score"
    top = result.contributions[0]
    assert top.contribution == pytest.approx(top.coefficient * (top.privileged_mean - top.unprivileged_mean))


def test_logit_gap_decomposition_through_a_pipeline(trained: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, features = trained
    model = make_pipeline(StandardScaler(), LogisticRegression()).fit(features, frame["approved"])
    result = decompose_logit_gap(model, features, frame["gender"], "Male", "Female")
    logits = model.decision_function(features)
    male, female = (frame["gender"] == value for value in ("Male", "Female"))
    assert result.gap == pytest.approx(logits[male].mean() - logits[female].mean(), abs=1e-9)
    assert {item.feature for item in result.contributions} == {"credit_score", "income"}


def test_logit_gap_decomposition_input_checks(trained: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    frame, features = trained
    model = LogisticRegression().fit(features, frame["approved"])
    with pytest.raises(InvalidParameterError):
        decompose_logit_gap(model, features, frame["gender"], "Male", "Nobody")
    with pytest.raises(InvalidParameterError):
        decompose_logit_gap(model, features[["credit_score"]], frame["gender"], "Male", "Female")
    with pytest.raises(InvalidParameterError):
        decompose_logit_gap(object(), features, frame["gender"], "Male", "Female")
