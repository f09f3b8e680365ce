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

from monitoring.fairness import evaluate_frame, generate_loan_data

DEMO_MODEL_NAME = "loan_model"
DEMO_FEATURES = ["credit_score", "income", "region"]
DEMO_TARGET = "creditworthy"
DEMO_POLICY = {"protected_attributes": ["gender"], "privileged": {"gender": "Male"}, "favorable_label": 1}


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


def train_demo_model(samples: int = 5000, seed: int = 42, test_size: float = 0.25) -> TrainedDemoModel:
    """Train on simulated, unbiased data (drift 0); report accuracy, AUC and the fairness baseline on the test
    split, so later drift is measured against how the model behaved when it was registered."""
    data = generate_loan_data(samples, drift_level=0.0, seed=seed)
    train, test = train_test_split(data, test_size=test_size, random_state=seed, stratify=data[DEMO_TARGET])
    pipeline = build_pipeline().fit(train[DEMO_FEATURES], train[DEMO_TARGET].astype(int))
    predicted = pipeline.predict(test[DEMO_FEATURES]).astype(int)
    probability = pipeline.predict_proba(test[DEMO_FEATURES])[:, 1]
    truth = test[DEMO_TARGET].astype(int).to_numpy()
    scored = test.assign(y_pred=predicted, y_true=truth)
    report = evaluate_frame(scored, "gender", privileged="Male", prediction="y_pred", label="y_true", n_bootstrap=0)
    female = report.comparison("Female")
    metrics = {
        "n_train": len(train),
        "n_test": len(test),
        "accuracy": float(accuracy_score(truth, predicted)),
        "roc_auc": float(roc_auc_score(truth, probability)),
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
