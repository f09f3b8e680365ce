"""Train the demo loan model and register it as loan_model (idempotent)."""

from __future__ import annotations

from typing import Any

import numpy as np
from django.core.management.base import BaseCommand, CommandError, CommandParser

from demo.model import DEMO_MODEL_NAME, DEMO_POLICY, predict_frame, train_demo_model
from monitoring.constants import SCORE_BINS
from monitoring.fairness import generate_loan_data
from monitoring.ingestion.rollup_math import score_bins
from registry.models import ModelVersion
from registry.services import dump_artifact, register_artifact_bytes


def baseline_score_histograms(pipeline: Any, *, seed: int, samples: int = 4000) -> dict[str, dict[str, list[int]]]:
    """Score histograms per gender on fresh unbiased applicants: what checks compare score drift with."""
    data = generate_loan_data(samples, drift_level=0.0, seed=seed)
    _, scores = predict_frame(pipeline, data)
    bins = score_bins(scores)
    return {
        "gender": {
            str(group): [
                int(count) for count in np.bincount(bins[(data["gender"] == group).to_numpy()], minlength=SCORE_BINS)
            ]
            for group in sorted(data["gender"].unique())
        }
    }


class Command(BaseCommand):
    help = "Train a logistic regression on simulated loan data and register it as loan_model (skipped if present)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--samples", type=int, default=5000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--model-version", default="1", help="Version to register (versions are immutable).")

    def handle(self, *args: Any, samples: int, seed: int, model_version: str, **options: Any) -> None:
        version = model_version
        if samples < 100:
            raise CommandError("--samples must be at least 100 (the test split needs both groups).")
        if ModelVersion.objects.filter(model__name=DEMO_MODEL_NAME, version=version).exists():
            self.stdout.write(f"{DEMO_MODEL_NAME} v{version} is already registered; nothing to do.")
            return
        trained = train_demo_model(samples=samples, seed=seed)
        registered = register_artifact_bytes(
            name=DEMO_MODEL_NAME,
            version=version,
            registered_by=None,
            description="Demo loan approval model (logistic regression on simulated data).",
            metadata={
                "features": ["credit_score", "income", "region"],
                "target": "creditworthy",
                "trained_on": "generate_loan_data(drift_level=0)",
                "baseline_score_histograms": baseline_score_histograms(trained.pipeline, seed=seed + 1),
            },
            training_metrics=trained.training_metrics,
            policy=DEMO_POLICY,
            stage=ModelVersion.Stage.PRODUCTION,
            artifact_bytes=dump_artifact(trained.pipeline),
        )
        metrics = trained.training_metrics
        self.stdout.write(
            f"registered {registered} (sha256 {registered.artifact_sha256[:12]}…): accuracy {metrics['accuracy']:.3f}, "
            f"AUC {metrics['roc_auc']:.3f}, DIR baseline {metrics['fairness_baseline']['DIR']:.3f}"
        )
