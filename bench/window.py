"""Benchmark: every fairness metric of a window covering all stored predictions, computed from the rollups.

``python -m bench.window --rows N [--load rollups|service] [--repeat R]`` prints one JSON line (and appends it to
``bench/results/window.jsonl``)::

    {"rows": N, "window_ms": ..., "rollup_rows": ..., ...}

* Set-up: a fresh PostgreSQL database (``--database``, dropped and recreated, dropped again at the end),
  migrated by ``manage.py migrate`` under a production environment; a model with a race/sex policy banding
  every metric. N synthetic predictions spread over 30 days (hourly buckets) and 5 x 2 groups, loaded with
  ``--load``:

  - ``rollups`` (default, fastest): chunks of a million rows in the layout validation produces go through the
    real rollup code (``rollup_cells``) and the real rollup writer (``apply_rollup_cells``), exactly what an
    ingestion does after storing its rows; the predictions themselves are not stored (the window never reads
    them).
  - ``service``: the whole ingestion path in-process, ``frame_from_csv`` and ``ingest_predictions`` on CSV
    batches of 50,000 rows, predictions stored too.

  The rollups must then count N rows per attribute. ``VACUUM ANALYZE`` of the rollup table follows, the state
  autovacuum keeps a live table in.
* ``window_ms``: ``window_counts`` over the whole window (one aggregate query over the rollups) plus
  ``reports_from_counts`` with the policy (counts, rates, every metric with intervals, Theil, verdicts for each
  attribute and the intersection; no bootstrap), as a fairness check computes them. Best of ``--repeat`` runs
  after a warm-up; ``median_ms``, ``counts_ms`` (the query) and ``reports_ms`` (the arithmetic) are reported too.
* ``evidence_scratch_ms``: a check's evidence step from scratch over the whole window (720 hours): the hourly
  counts of every closed hour (``hourly_counts``, one query) and ``advance_evidence`` from fresh states over
  them. ``evidence_incremental_ms``: the step a check takes every hour, from the evidence stored over the first
  719 hours through the one hour closed since (query and arithmetic). Best of ``--repeat`` runs; the
  ``*_median_ms`` too. ``comparisons``: the banded comparisons the evidence advances.
* ``feature_incremental_ms``: a check's input-drift step every hour (``monitoring.checks.feature_evidence``)
  for three features (income, age, region) per group of each attribute, from the state stored after 719
  hours: the one new hour's feature counts, the window's (24 h) and ``advance_feature_drift``.
  ``feature_fresh_ms``: the step that starts a chain (the 24-hour baseline's counts, the hours since, the
  window's). ``feature_rollup_rows``: the feature rollup cells. The rollups load writes them with
  ``feature_cells`` and ``apply_feature_cells``, as ingestion does.
* ``rollup_rows``: the rollup cells of the model version. It depends on hours x groups, not on N, and so
  should the time.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench._setup import (
    ATTRIBUTES,
    FIRST_TIMESTAMP,
    SPAN_SECONDS,
    BenchDatabase,
    csv_batches,
    manage,
    production_env,
    provision_model,
    setup_django,
    synthetic_frame,
    synthetic_predictions,
)
from bench.results import record

MODEL_NAME = "bench_window"
VERSION = "1"
ROLLUP_CHUNK_ROWS = 1_000_000
SERVICE_BATCH_ROWS = 50_000
BENCH_FEATURES = [("income", "numeric"), ("age", "numeric"), ("region", "categorical")]


def load_through_rollups(version_id: int, rows: int, seed: int) -> None:
    """Rollups of ``rows`` predictions, by the code an ingestion uses, one chunk of rows at a time."""
    from django.db import transaction

    from monitoring.ingestion.rollup_math import feature_cells, rollup_cells
    from monitoring.ingestion.storage import apply_feature_cells, apply_rollup_cells

    for number, start in enumerate(range(0, rows, ROLLUP_CHUNK_ROWS)):
        frame = synthetic_frame(min(ROLLUP_CHUNK_ROWS, rows - start), seed + number)
        rng = np.random.default_rng(seed + number)
        frame["feat:income"] = rng.lognormal(10.8, 0.5, len(frame))
        frame["feat:age"] = np.clip(rng.normal(40.0, 12.0, len(frame)), 18.0, None)
        frame["feat:region"] = np.array(["north", "south", "east"], dtype=object)[rng.integers(0, 3, len(frame))]
        with transaction.atomic():
            apply_rollup_cells(model_version_id=version_id, cells=rollup_cells(frame, ATTRIBUTES))
            apply_feature_cells(model_version_id=version_id, cells=feature_cells(frame, ATTRIBUTES, BENCH_FEATURES))


def load_through_service(version_id: int, rows: int, seed: int) -> None:
    """``rows`` predictions through the whole ingestion path (parsing, validation, storage, rollups)."""
    from django.conf import settings

    from monitoring.ingestion.parsing import frame_from_csv
    from monitoring.ingestion.services import ingest_predictions
    from registry.models import ModelVersion

    model_version = ModelVersion.objects.select_related("model").get(pk=version_id)
    for number, start in enumerate(range(0, rows, ROLLUP_CHUNK_ROWS)):
        chunk = synthetic_predictions(min(ROLLUP_CHUNK_ROWS, rows - start), seed + number, id_prefix=f"c{number}")
        for body in csv_batches(chunk, SERVICE_BATCH_ROWS):
            raw = frame_from_csv(body, ATTRIBUTES, settings.INGEST_MAX_ROWS)
            result = ingest_predictions(model_version=model_version, raw=raw, attributes=ATTRIBUTES, principal="bench")
            if result.rejected or result.duplicates:
                raise RuntimeError(f"ingestion rejected or skipped rows: {result.as_dict()}")


def rollup_totals(version_id: int) -> tuple[int, dict[str, int]]:
    """The number of rollup cells of the version and the rows they count per attribute."""
    from django.db.models import Count, F, Sum

    from monitoring.models import PredictionRollup

    rows = (
        PredictionRollup.objects.filter(model_version_id=version_id)
        .values("attribute")
        .annotate(
            cells=Count("id"),
            predictions=Sum(F("tp") + F("fp") + F("tn") + F("fn") + F("unlabeled_pos") + F("unlabeled_neg")),
        )
    )
    totals = {row["attribute"]: int(row["predictions"]) for row in rows}
    return sum(row["cells"] for row in rows), totals


def vacuum_rollups() -> None:
    from django.db import connection

    from monitoring.models import PredictionRollup

    with connection.cursor() as cursor:
        cursor.execute(f"VACUUM ANALYZE {PredictionRollup._meta.db_table}")


def window_report(version_id: int) -> tuple[dict[str, Any], float, float]:
    """All metrics of the whole 30 days, as a fairness check computes them; returns (reports, counts s, reports s).

    The model version and its policy are read once outside the timing, as a check has them already.
    """
    from monitoring.ingestion.selectors import window_counts
    from monitoring.reporting import engine_policy, reports_from_counts
    from registry.models import ModelVersion
    from registry.services import current_policy

    model_version = ModelVersion.objects.select_related("model").get(pk=version_id)
    policy = current_policy(model_version.model)
    start = pd.Timestamp(FIRST_TIMESTAMP, tz="UTC").to_pydatetime()
    end = start + timedelta(seconds=SPAN_SECONDS)

    def run() -> tuple[dict[str, Any], float, float]:
        began = time.perf_counter()
        counts = window_counts(
            model_version=model_version, start=start, end=end, favorable_label=policy.favorable_label
        )
        counted = time.perf_counter()
        rules = engine_policy(
            metric_bands=policy.metric_bands,
            min_group_size=policy.min_group_size,
            confidence_level=policy.confidence_level,
        )
        reports = reports_from_counts(counts, policy.privileged, rules, n_bootstrap=0)
        return reports, counted - began, time.perf_counter() - counted

    return run()


def timed(step: Callable[..., dict[str, Any]], *args: Any) -> tuple[float, dict[str, Any]]:
    """``step(*args)``'s wall time in ms, and its result."""
    began = time.perf_counter()
    result = step(*args)
    return (time.perf_counter() - began) * 1000, result


def best_and_median(name: str, runs: list[tuple[float, dict[str, Any]]]) -> dict[str, float]:
    """``<name>_ms`` (the best run) and ``<name>_median_ms`` of timed runs."""
    times = [ms for ms, _ in runs]
    return {f"{name}_ms": round(min(times), 2), f"{name}_median_ms": round(statistics.median(times), 2)}


def evidence_timings(version_id: int, repeat: int) -> dict[str, Any]:
    """The evidence step of a check, from scratch over 720 hours and incrementally over the last one (ms)."""
    from monitoring.checks.evidence import advance_evidence, hour_index
    from monitoring.checks.services import _policy_engine, previous_evidence
    from monitoring.ingestion.selectors import hourly_counts, window_counts
    from registry.models import ModelVersion
    from registry.services import current_policy

    model_version = ModelVersion.objects.select_related("model").get(pk=version_id)
    policy = current_policy(model_version.model)
    rules = _policy_engine(policy)
    start = pd.Timestamp(FIRST_TIMESTAMP, tz="UTC").to_pydatetime()
    end = start + timedelta(seconds=SPAN_SECONDS)
    last = end - timedelta(hours=1)
    window = window_counts(model_version=model_version, start=start, end=end, favorable_label=policy.favorable_label)

    def step(previous: dict[str, Any] | None, begin: Any) -> dict[str, Any]:
        hours = hourly_counts(model_version=model_version, start=begin, end=end, favorable_label=policy.favorable_label)
        return advance_evidence(
            policy=rules,
            privileged=policy.privileged,
            alpha=policy.alpha,
            review_period_days=policy.review_period_days,
            previous=previous,
            hours=[(hour_index(moment), counts) for moment, counts in hours],
            start_hour=hour_index(start),
            resets=[],
            window=window,
            window_hours=policy.window_hours,
            label_until=hour_index(end) - policy.label_lag_hours,  # as a check passes it
        )

    # The evidence stored by the check before: every hour but the last, computed once outside the timing.
    hours_before = hourly_counts(
        model_version=model_version, start=start, end=last, favorable_label=policy.favorable_label
    )
    before = advance_evidence(
        policy=rules,
        privileged=policy.privileged,
        alpha=policy.alpha,
        review_period_days=policy.review_period_days,
        previous=None,
        hours=[(hour_index(moment), counts) for moment, counts in hours_before],
        start_hour=hour_index(start),
        resets=[],
        window=window,
        window_hours=policy.window_hours,
        label_until=hour_index(last) - policy.label_lag_hours,
    )
    stored = previous_evidence(before)
    timed(step, None, start)  # warm-up
    scratch = [timed(step, None, start) for _ in range(repeat)]
    incremental = [timed(step, stored, last) for _ in range(repeat)]
    from_scratch, chained = scratch[0][1], incremental[0][1]
    if len(from_scratch["hours_processed"]) != SPAN_SECONDS // 3600 or len(chained["hours_processed"]) != 1:
        raise RuntimeError("the evidence did not process the hours expected")
    if chained["states"] != from_scratch["states"]:
        raise RuntimeError("incremental evidence differs from the evidence from scratch")
    return {
        **best_and_median("evidence_scratch", scratch),
        **best_and_median("evidence_incremental", incremental),
        "comparisons": len(from_scratch["comparisons"]),
    }


def feature_evidence_timings(version_id: int, repeat: int) -> dict[str, Any]:
    """The input-drift step of a check: hourly from a stored state, and the one that starts a chain (ms)."""
    from monitoring.checks.evidence import hour_index
    from monitoring.checks.feature_evidence import advance_feature_drift
    from monitoring.ingestion.selectors import feature_counts, hourly_feature_counts
    from monitoring.models import FeatureRollup
    from registry.models import ModelVersion

    model_version = ModelVersion.objects.get(pk=version_id)
    start = pd.Timestamp(FIRST_TIMESTAMP, tz="UTC").to_pydatetime()
    end = start + timedelta(seconds=SPAN_SECONDS)
    day = timedelta(hours=24)

    def step(previous: dict[str, Any] | None, begin: Any, until: Any) -> dict[str, Any]:
        baseline = None
        if previous is None:
            baseline = {
                "start_hour": hour_index(start),
                "end_hour": hour_index(start + day),
                "counts": feature_counts(model_version=model_version, start=start, end=start + day),
            }
        hours = hourly_feature_counts(model_version=model_version, start=begin, end=until)
        return advance_feature_drift(
            features=BENCH_FEATURES,
            alpha=0.05,
            previous=previous,
            baseline=baseline,
            start_hour=hour_index(start + day),
            restart_hours=24,
            hours=[(hour_index(moment), counts) for moment, counts in hours],
            window=feature_counts(model_version=model_version, start=until - day, end=until),
        )

    last = end - timedelta(hours=1)
    stored = step(None, start + day, last)["state"]
    timed(step, stored, last, end)  # warm-up
    incremental = [timed(step, stored, last, end) for _ in range(repeat)]
    fresh = [timed(step, None, start + day, start + 2 * day) for _ in range(repeat)]
    if incremental[0][1]["last_hour"] != hour_index(last) or not incremental[0][1]["cells"]:
        raise RuntimeError("the input-drift step did not process the hour expected")
    return {
        **best_and_median("feature_incremental", incremental),
        **best_and_median("feature_fresh", fresh),
        "feature_cells": len(incremental[0][1]["cells"]),
        "feature_rollup_rows": FeatureRollup.objects.filter(model_version_id=version_id).count(),
    }


def run(rows: int, *, load: str, repeat: int, seed: int, database_name: str) -> dict[str, Any]:
    database = BenchDatabase(database_name)
    with tempfile.TemporaryDirectory(prefix="fairlens-bench-") as scratch:
        database.recreate()
        try:
            environment = production_env(database.url, Path(scratch) / "var", pepper="window-benchmark")
            manage(environment, "migrate", "--noinput")
            version_id = provision_model(environment, model=MODEL_NAME, versions=[VERSION])["version_ids"][VERSION]
            setup_django(environment)

            began = time.perf_counter()
            if load == "service":
                load_through_service(version_id, rows, seed)
            else:
                load_through_rollups(version_id, rows, seed)
            load_seconds = time.perf_counter() - began
            cells, totals = rollup_totals(version_id)
            expected_attributes = {*ATTRIBUTES, "&".join(sorted(ATTRIBUTES))}
            if set(totals) != expected_attributes or any(total != rows for total in totals.values()):
                raise RuntimeError(f"rollups count {totals}, expected {rows} for each of {expected_attributes}")
            vacuum_rollups()

            reports, _, _ = window_report(version_id)  # warm-up: first-call costs are not per-check costs
            timings = [window_report(version_id)[1:] for _ in range(repeat)]
            evidence = evidence_timings(version_id, repeat)
            if load == "rollups":
                evidence.update(feature_evidence_timings(version_id, repeat))
            from django.db import connection

            connection.close()
        finally:
            database.drop()

    totals_ms = [(counts + compute) * 1000 for counts, compute in timings]
    best = int(np.argmin(totals_ms))
    reported_n = {attribute: report["n"] for attribute, report in reports.items()}
    if any(n != rows for n in reported_n.values()):
        raise RuntimeError(f"reports cover {reported_n} predictions, expected {rows}")
    return {
        "rows": rows,
        "window_ms": round(totals_ms[best], 2),
        "rollup_rows": cells,
        **evidence,
        "median_ms": round(statistics.median(totals_ms), 2),
        "counts_ms": round(timings[best][0] * 1000, 2),
        "reports_ms": round(timings[best][1] * 1000, 2),
        "repeat": repeat,
        "attributes": sorted(reports),
        "groups": {attribute: len(report["groups"]) for attribute, report in reports.items()},
        "hours": SPAN_SECONDS // 3600,
        "load": load,
        "load_s": round(load_seconds, 1),
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--load", choices=("rollups", "service"), default="rollups")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="fairlens_bench_window", help="dropped and recreated on every run")
    parser.add_argument("--output", type=Path, default=None, help="results file (default bench/results/window.jsonl)")
    args = parser.parse_args(argv)
    result = run(args.rows, load=args.load, repeat=args.repeat, seed=args.seed, database_name=args.database)
    record("window", result, args.output)


if __name__ == "__main__":
    main()
