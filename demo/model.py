"""The demo loan model: a logistic regression trained on simulated loan data, with a held-out test split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from monitoring.fairness import FairnessReport, evaluate_frame, generate_loan_data

DEMO_MODEL_NAME = "loan_model"
DEMO_FEATURES = ["credit_score", "income", "region"]
DEMO_TARGET = "creditworthy"
# Checked every minute over the last day (whole hourly buckets): the demo stream replays the last 22 hours, one
# simulated hour a batch, so its drift reaches the evidence within minutes (see demo.stream).
# The model's own inputs are the features its predictions may store.
DEMO_POLICY = {
    "protected_attributes": ["gender"],
    "privileged": {"gender": "Male"},
    "favorable_label": 1,
    "window_hours": 24,
    "check_interval_minutes": 1,
    "features": [
        {"name": "credit_score", "type": "numeric", "identifier": False},
        {"name": "income", "type": "numeric", "identifier": False},
        {"name": "region", "type": "categorical", "identifier": False},
    ],
    # The LL144 tables by sex, so the demo shows a bias audit too (its data are simulated: "test" data).
    "bias_audit": {
        "sex": {"attribute": "gender", "categories": {"Male": "Male", "Female": "Female"}},
        "tool": "selection",
        "data_source": "test",
    },
    # The EU AI Act Art. 10(5) record the monitoring plan shows.
    "special_category_data": {
        "purpose": "Gender is processed only to measure approval rates, error rates and their ratios per group, "
        "which cannot be measured without it.",
        "deletion_date": "2027-12-31",
        "safeguards": "Prediction ids are keyed hashes; only the roles of the plan see stored predictions, "
        "and every such access is logged.",
    },
}


@dataclass(frozen=True)
class TrainedDemoModel:
    pipeline: Pipeline
    training_metrics: dict[str, Any]


def build_pipeline() -> Pipeline:
    """Scaled numeric features and one-hot region into a logistic regression. Gender is not a feature."""
    features = ColumnTransformer(
        [
            ("numeric", StandardScaler(), ["credit_score", "income"]),
            ("region", OneHotEncoder(handle_unknown="ignore"), ["region"]),
        ]
    )
    return Pipeline([("features", features), ("classifier", LogisticRegression(max_iter=1000))])


def split_demo_data(data: pd.DataFrame, seed: int, test_size: float = 0.25) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Train/test split of simulated loan data, stratified on the target."""
    train, test = train_test_split(data, test_size=test_size, random_state=seed, stratify=data[DEMO_TARGET])
    return train, test


def fit_demo_pipeline(train: pd.DataFrame, sample_weight: np.ndarray | None = None) -> Pipeline:
    """Fit :func:`build_pipeline` on ``train``; ``sample_weight`` (one per row) goes to the classifier step."""
    fit_params = {} if sample_weight is None else {"classifier__sample_weight": np.asarray(sample_weight)}
    return build_pipeline().fit(train[DEMO_FEATURES], train[DEMO_TARGET].astype(int), **fit_params)


@dataclass(frozen=True)
class DemoEvaluation:
    """A model scored on a test split: accuracy and AUC against the true label, and the gender fairness report."""

    accuracy: float
    roc_auc: float | None
    report: FairnessReport

    def summary(self) -> dict[str, Any]:
        """Accuracy, AUC, and DIR and SPD of Female against Male."""
        female = self.report.comparison("Female")
        return {
            "accuracy": self.accuracy,
            "roc_auc": self.roc_auc,
            "DIR": female.disparate_impact_ratio.value,
            "SPD": female.statistical_parity_difference.value,
        }


def evaluate_demo_model(model: Any, test: pd.DataFrame) -> DemoEvaluation:
    """Score ``model`` on ``test`` (demo features, ``creditworthy`` as the truth, gender with Male privileged)."""
    predicted, probability = predict_frame(model, test)
    truth = test[DEMO_TARGET].astype(int).to_numpy()
    scored = test.assign(y_pred=predicted, y_true=truth)
    report = evaluate_frame(scored, "gender", privileged="Male", prediction="y_pred", label="y_true", n_bootstrap=0)
    return DemoEvaluation(
        accuracy=float(accuracy_score(truth, predicted)),
        roc_auc=None if probability is None else float(roc_auc_score(truth, probability)),
        report=report,
    )


def train_demo_model(samples: int = 5000, seed: int = 42, test_size: float = 0.25) -> TrainedDemoModel:
    """Train on simulated, unbiased data (drift 0); report accuracy, AUC and the fairness baseline on the test
    split, so later drift is measured against how the model behaved when it was registered."""
    data = generate_loan_data(samples, drift_level=0.0, seed=seed)
    train, test = split_demo_data(data, seed, test_size)
    pipeline = fit_demo_pipeline(train)
    evaluation = evaluate_demo_model(pipeline, test)
    report = evaluation.report
    female = report.comparison("Female")
    metrics = {
        "n_train": len(train),
        "n_test": len(test),
        "accuracy": evaluation.accuracy,
        "roc_auc": evaluation.roc_auc,
        "fairness_baseline": {
            "attribute": "gender",
            "privileged": "Male",
            "DIR": female.disparate_impact_ratio.value,
            "SPD": female.statistical_parity_difference.value,
            "EOD": female.equal_opportunity_difference.value,
            "AOD": female.average_odds_difference.value,
            "selection_rate": {str(g.group): g.selection_rate.value for g in report.groups},
        },
        "seed": seed,
    }
    return TrainedDemoModel(pipeline=pipeline, training_metrics=metrics)


def predict_frame(model: Any, frame: pd.DataFrame) -> tuple[np.ndarray, np.ndarray | None]:
    """Predictions (0/1) and, when the model has predict_proba, scores for the demo features."""
    missing = [column for column in DEMO_FEATURES if column not in frame]
    if missing:
        raise ValueError(f"missing feature columns: {missing}")
    predicted = np.asarray(model.predict(frame[DEMO_FEATURES])).astype(int)
    scores = model.predict_proba(frame[DEMO_FEATURES])[:, 1] if hasattr(model, "predict_proba") else None
    return predicted, scores
