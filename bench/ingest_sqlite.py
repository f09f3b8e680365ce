"""``python -m bench.ingest --sqlite``: prediction ingestion over HTTP on SQLite against a raw ``executemany``.

Runs twice in one invocation, for the demo model's one-attribute policy (gender) and for a two-attribute policy
(race, sex), and records one JSON line for each in ``bench/results/ingest.jsonl`` (``"database": "sqlite"``):

* Set-up: a fresh SQLite file in a scratch directory, migrated by ``manage.py migrate`` under a production
  environment (DEBUG off, generated secrets, the settings' WAL and IMMEDIATE transactions); a model with the
  policy and a model-client API key. N synthetic predictions (deterministic for ``--seed``) over 30 days, as
  JSON bodies of ``--batch-size`` rows.
* ``raw_rows_per_s`` (measured first, on the fresh database): Python's ``sqlite3`` ``executemany`` of the same
  rows, one transaction per batch, into a table created with ``monitoring_prediction``'s own DDL (columns,
  primary key) and its unique (model_version_id, prediction_key) index, on a connection with the app's
  PRAGMAs. Keys are hashed and the rows built and sorted by key (as the app sorts them) before timing: the
  floor for getting those rows into such a table. The fastest of ``--copy-repeats`` runs.
* ``http_rows_per_s``: the real app (gunicorn, the project's config, ``--workers`` workers) receives the
  batches, POSTed as JSON to ``/api/v1/models/{name}/versions/{version}/predictions`` from ``--clients``
  keep-alive connections: parsing, validation, pseudonymisation, rollups, the audit entry, all of it. Every
  response must be 201 with all rows accepted, and the database must then hold N predictions whose rollups
  count N rows per attribute. A warm-up batch per connection goes to another version first.
* ``ratio``: ``http_rows_per_s / raw_rows_per_s``; ``server_ms_per_request`` from the app's request log.
"""

from __future__ import annotations

import json
import os
import secrets
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from bench._setup import PRIVILEGED, manage, production_env, provision_model, synthetic_predictions
from bench.ingest import (
    MEASURED_VERSION,
    MIB,
    WARMUP_ROWS,
    WARMUP_VERSION,
    GunicornServer,
    IngestClient,
    check_answers,
    server_request_ms,
)
from monitoring.ingestion.pseudonymize import pseudonymize

POLICIES = {
    "demo_gender": {"gender": "Male"},
    "race_sex": PRIVILEGED,
}
_PRAGMAS = ("PRAGMA journal_mode=WAL", "PRAGMA synchronous=NORMAL")
_INSERT_COLUMNS = (
    "model_version_id",
    "prediction_key",
    "occurred_at",
    "attributes",
    "y_pred",
    "y_true",
    "score",
    "features",
    "record_id",
    "received_at",
)


def _attribute_dicts(frame: pd.DataFrame, privileged: dict[str, str]) -> list[dict[str, str]]:
    """Each row's protected attributes under the policy; the demo's gender is the synthetic sex column."""
    source = {name: ("sex" if name == "gender" else name) for name in privileged}
    columns = {name: frame[column].tolist() for name, column in source.items()}
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def json_batches(frame: pd.DataFrame, privileged: dict[str, str], batch_size: int) -> list[bytes]:
    """The rows as ``{"predictions": [...]}`` bodies, as a JSON client sends them."""
    attributes = _attribute_dicts(frame, privileged)
    items = [
        {
            "id": identifier,
            "timestamp": stamp,
            "attributes": attribute_values,
            "y_pred": int(y_pred),
            **({"y_true": int(y_true)} if y_true != "" else {}),
            "score": float(score),
        }
        for identifier, stamp, attribute_values, y_pred, y_true, score in zip(
            frame["id"], frame["timestamp"], attributes, frame["y_pred"], frame["y_true"], frame["score"], strict=True
        )
    ]
    return [
        json.dumps({"predictions": items[start : start + batch_size]}).encode()
        for start in range(0, len(items), batch_size)
    ]


def raw_rows(
    frame: pd.DataFrame, privileged: dict[str, str], pepper: str, version_id: int, batch_size: int
) -> list[list[tuple[Any, ...]]]:
    """The rows as ``executemany`` parameters in ``_INSERT_COLUMNS`` order, each batch sorted by key."""
    keys = pseudonymize(frame["id"].tolist(), pepper=pepper)
    occurred = pd.to_datetime(frame["timestamp"], utc=True).dt.strftime("%Y-%m-%d %H:%M:%S").tolist()
    attributes = [json.dumps(values) for values in _attribute_dicts(frame, privileged)]
    received = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime())
    rows = [
        (version_id, key, stamp, attribute_text, int(y_pred), int(y_true) if y_true else None, float(score), None, 1)
        + (received,)
        for key, stamp, attribute_text, y_pred, y_true, score in zip(
            keys, occurred, attributes, frame["y_pred"], frame["y_true"], frame["score"], strict=True
        )
    ]
    batches = [rows[start : start + batch_size] for start in range(0, len(rows), batch_size)]
    return [sorted(batch, key=lambda row: row[1]) for batch in batches]


def raw_executemany(path: Path, batches: list[list[tuple[Any, ...]]], rows: int) -> float:
    """``executemany`` the batches into a fresh copy of ``monitoring_prediction`` (its DDL and unique index),
    one transaction each; drop it; return rows per second."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in _PRAGMAS:
            connection.execute(pragma)
        table_sql, *index_sql = [
            row[0]
            for row in connection.execute(
                "SELECT sql FROM sqlite_master WHERE tbl_name = 'monitoring_prediction' AND sql IS NOT NULL"
                " ORDER BY type = 'index'"
            )
        ]
        connection.execute("DROP TABLE IF EXISTS bench_raw")
        connection.execute(table_sql.replace('"monitoring_prediction"', '"bench_raw"', 1))
        for statement in index_sql:
            if "UNIQUE" in statement:
                connection.execute(
                    statement.replace('"monitoring_prediction"', '"bench_raw"').replace(
                        "unique_prediction_per_version", "bench_raw_unique"
                    )
                )
        statement = f"INSERT INTO bench_raw ({', '.join(_INSERT_COLUMNS)}) VALUES ({', '.join('?' * 10)})"  # noqa: S608
        start = time.perf_counter()
        for batch in batches:
            connection.execute("BEGIN IMMEDIATE")
            connection.executemany(statement, batch)
            connection.execute("COMMIT")
        elapsed = time.perf_counter() - start
        copied = connection.execute("SELECT count(*) FROM bench_raw").fetchone()[0]
        connection.execute("DROP TABLE bench_raw")
    finally:
        connection.close()
    if copied != rows:
        raise RuntimeError(f"raw executemany stored {copied} rows, expected {rows}")
    return rows / elapsed


def check_stored_sqlite(path: Path, version_id: int, rows: int, attribute_count: int) -> int:
    """The version holds ``rows`` predictions and every attribute's rollups count them all; returns the cells."""
    connection = sqlite3.connect(path)
    try:
        stored = connection.execute(
            "SELECT count(*) FROM monitoring_prediction WHERE model_version_id = ?", [version_id]
        ).fetchone()[0]
        totals = connection.execute(
            "SELECT attribute, sum(tp + fp + tn + fn + unlabeled_pos + unlabeled_neg), count(*)"
            " FROM monitoring_predictionrollup WHERE model_version_id = ? GROUP BY attribute",
            [version_id],
        ).fetchall()
    finally:
        connection.close()
    if stored != rows:
        raise RuntimeError(f"{stored} predictions stored, expected {rows}")
    expected_attributes = attribute_count + (1 if attribute_count > 1 else 0)
    if len(totals) != expected_attributes or any(int(total) != rows for _, total, _ in totals):
        raise RuntimeError(f"rollup totals {totals} do not all equal {rows}")
    return sum(int(cells) for _, _, cells in totals)


def run_policy(
    policy: str, rows: int, *, batch_size: int, clients: int, workers: int, copy_repeats: int, seed: int
) -> dict[str, Any]:
    privileged = POLICIES[policy]
    pepper = secrets.token_urlsafe(32)
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="fairlens-bench-sqlite-") as scratch:
        var_dir = Path(scratch) / "var"
        var_dir.mkdir()
        database = var_dir / "bench.sqlite3"
        environment = production_env(f"sqlite:///{database}", var_dir, pepper=pepper)
        manage(environment, "migrate", "--noinput")
        provisioned = provision_model(
            environment, model="bench_credit", versions=[MEASURED_VERSION, WARMUP_VERSION], privileged=privileged
        )
        version_id = provisioned["version_ids"][MEASURED_VERSION]
        frame = synthetic_predictions(rows, seed)
        bodies = json_batches(frame, privileged, batch_size)
        batch_rows = [min(batch_size, rows - start) for start in range(0, rows, batch_size)]
        warmup_frame = synthetic_predictions(WARMUP_ROWS * clients, seed + 1, id_prefix="w")
        warmup = json_batches(warmup_frame, privileged, WARMUP_ROWS)

        batches = raw_rows(frame, privileged, pepper, version_id, batch_size)
        raw_runs = [raw_executemany(database, batches, rows) for _ in range(copy_repeats)]
        raw_rate = max(raw_runs)
        del batches

        with GunicornServer(environment, workers=workers, log_path=Path(scratch) / "gunicorn.log") as server:
            client = IngestClient(server.base_url, provisioned["api_key"], clients)
            client.headers["Content-Type"] = "application/json"
            _, warmup_answers = client.post_all(WARMUP_VERSION, warmup)
            check_answers(warmup_answers, [WARMUP_ROWS] * len(warmup))
            log_offset = server.log_path.stat().st_size
            http_seconds, answers = client.post_all(MEASURED_VERSION, bodies)
            accepted = check_answers(answers, batch_rows)
            request_ms = server_request_ms(server.log_path.read_text(errors="replace")[log_offset:])
        if accepted != rows:
            raise RuntimeError(f"{accepted} rows accepted, expected {rows}")
        rollup_rows = check_stored_sqlite(database, version_id, rows, len(privileged))

    http_rate = rows / http_seconds
    return {
        "database": "sqlite",
        "policy": policy,
        "attributes": len(privileged),
        "rows": rows,
        "http_rows_per_s": round(http_rate),
        "raw_rows_per_s": round(raw_rate),
        "ratio": round(http_rate / raw_rate, 3),
        "http_s": round(http_seconds, 3),
        "server_ms_per_request": request_ms,
        "raw_runs_rows_per_s": [round(rate) for rate in raw_runs],
        "batch_size": batch_size,
        "body_format": "json",
        "requests": len(bodies),
        "clients": clients,
        "gunicorn_workers": workers,
        "rollup_rows": rollup_rows,
        "body_mib": round(sum(len(body) for body in bodies) / MIB, 1),
        "load_average_before": load_before,
    }
