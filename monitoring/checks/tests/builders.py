"""Builders for check tests: a loan model version, simulated or exact decisions ingested for one hour, and the
check of that hour's window. Plain functions rather than fixtures because each test passes its own volumes,
drift and seeds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from compliance.models import AuditEntry
from monitoring.checks.services import run_check
from monitoring.fairness import ConfusionCounts, GroupedCounts, generate_loan_data
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_predictions
from monitoring.models import FairnessCheck
from registry.models import ModelVersion
from registry.services import register_model

# An hour-aligned instant in the past: windows are whole hourly rollup buckets and nothing may be in the future.
BASE = datetime(2026, 10, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)
ATTRIBUTES = ["gender"]
LOAN_POLICY = {
    "protected_attributes": ["gender"],
    "privileged": {"gender": "Male"},
    "window_hours": 1,
    "check_interval_minutes": 60,
}


def loan_version(name: str = "loan_model", version: str = "1", **policy: Any) -> ModelVersion:
    """A version of a loan model whose policy protects ``gender`` (Male privileged), checked hourly over 1 h."""
    return register_model(name=name, version=version, registered_by=None, policy={**LOAN_POLICY, **policy})


def ingest_items(version: ModelVersion, items: list[dict[str, Any]]) -> int:
    raw = frame_from_json_records(items, ATTRIBUTES, max_rows=50_000)
    result = ingest_predictions(model_version=version, raw=raw, attributes=ATTRIBUTES, principal="check-tests")
    assert (result.accepted, result.rejected) == (len(items), 0), result.errors
    return result.accepted


def stamp(hour: int, index: int, n: int) -> str:
    moment = BASE + hour * HOUR + timedelta(seconds=index * 3500 / max(n, 1))
    return moment.isoformat().replace("+00:00", "Z")


def ingest_loans(version: ModelVersion, *, hour: int, n: int, drift: float, seed: int) -> int:
    """``n`` simulated loan decisions at ``drift`` spread over hour ``hour`` after BASE, with labels and scores."""
    data = generate_loan_data(n, drift_level=drift, seed=seed)
    items = [
        {
            "id": f"v{version.pk}-h{hour}-s{seed}-{row.application_id}",
            "timestamp": stamp(hour, index, n),
            "attributes": {"gender": row.gender},
            "y_pred": int(row.approved),
            "y_true": int(row.creditworthy),
            "score": round((int(row.credit_score) - 500) / 300, 4),
        }
        for index, row in enumerate(data.itertuples(index=False))
    ]
    return ingest_items(version, items)


def ingest_rates(version: ModelVersion, *, hour: int, male: tuple[int, int], female: tuple[int, int]) -> int:
    """Exact decisions in hour ``hour``: ``(n, approved)`` per gender, labels equal to the decisions."""
    items = []
    for gender, (n, approved) in (("Male", male), ("Female", female)):
        for index in range(n):
            decision = int(index < approved)
            items.append(
                {
                    "id": f"v{version.pk}-h{hour}-{gender}-{index}",
                    "timestamp": stamp(hour, len(items), 2 * n),
                    "attributes": {"gender": gender},
                    "y_pred": decision,
                    "y_true": decision,
                }
            )
    return ingest_items(version, items)


def window_end(hour: int) -> datetime:
    return BASE + (hour + 1) * HOUR


def check_hour(version: ModelVersion, hour: int, runner: str = "test-runner", **kwargs: Any) -> FairnessCheck:
    """The check of the window ending at the end of hour ``hour``."""
    return run_check(
        model_version=version, window_end=window_end(hour), trigger="schedule", claim_token=runner, **kwargs
    )


def counts_of_loans(n: int, drift: float, seed: int) -> dict[str, GroupedCounts]:
    """What a window holding ``ingest_loans(n, drift, seed)`` counts, computed without the database."""
    data = generate_loan_data(n, drift_level=drift, seed=seed)
    groups = {}
    for gender, part in data.groupby("gender"):
        approved, worthy = part["approved"].to_numpy(), part["creditworthy"].to_numpy()
        groups[gender] = ConfusionCounts(
            int((approved & worthy).sum()),
            int((approved & ~worthy).sum()),
            int((~approved & ~worthy).sum()),
            int((~approved & worthy).sum()),
            0,
            0,
        )
    return {"gender": GroupedCounts(("gender",), groups)}


def audit_count(action: str, object_id: str | None = None) -> int:
    entries = AuditEntry.objects.filter(action=action)
    return (entries if object_id is None else entries.filter(object_id=object_id)).count()


FEATURES = [
    {"name": "income", "type": "numeric"},
    {"name": "region", "type": "categorical"},
    {"name": "customer_id", "type": "categorical", "identifier": True},
]
ROWS_PER_GROUP = 150


def ingest_features(version: ModelVersion, *, hour: int, seed: int, female_income_factor: float = 1.0) -> None:
    """ROWS_PER_GROUP rows per gender in hour ``hour``: log-normal incomes, three regions; Female incomes scaled."""
    rng = np.random.default_rng(seed)
    items = []
    for gender in ("Male", "Female"):
        incomes = rng.lognormal(mean=10.8, sigma=0.4, size=ROWS_PER_GROUP)
        if gender == "Female":
            incomes = incomes * female_income_factor
        regions = rng.choice(["north", "south", "east"], p=[0.5, 0.3, 0.2], size=ROWS_PER_GROUP)
        for index in range(ROWS_PER_GROUP):
            items.append(
                {
                    "id": f"h{hour}-{gender}-{index}",
                    "timestamp": stamp(hour, len(items), 2 * ROWS_PER_GROUP),
                    "attributes": {"gender": gender},
                    "y_pred": int(rng.random() < 0.5),
                    "features": {
                        "income": round(float(incomes[index]), 2),
                        "region": str(regions[index]),
                        "customer_id": f"C-{hour}-{gender}-{index}",
                    },
                }
            )
    ingest_items(version, items)
