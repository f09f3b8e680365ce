"""Shared set-up for benchmarks that need a real database: a throwaway PostgreSQL database, a production-like
environment, migrations, a registered model with a policy and a model-client API key, synthetic predictions.

Everything that touches Django runs in a subprocess (``manage.py``) or after :func:`setup_django`, so the
benchmark process itself can also drive the database directly with psycopg2.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import psycopg2
import pyarrow as pa
import pyarrow.parquet as pq
from psycopg2 import sql

from core.env import _DEV_SECRET_GENERATORS

REPO_DIR = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432")
PROVISIONED_MARKER = "BENCH-PROVISIONED "

# Synthetic population: skewed group sizes so every group, and every intersection, has a different count.
RACES = ("White", "Black", "Asian", "Hispanic", "Other")
RACE_WEIGHTS = (0.55, 0.2, 0.1, 0.1, 0.05)
SEXES = ("Male", "Female")
SEX_WEIGHTS = (0.52, 0.48)
ATTRIBUTES = ("race", "sex")
PRIVILEGED = {"race": "White", "sex": "Male"}
# Every metric banded, so that every verdict is computed.
METRIC_BANDS = {
    "DIR": {"min": 0.8, "max": 1.25},
    "SPD": {"min": -0.1, "max": 0.1},
    "EOD": {"min": -0.1, "max": 0.1},
    "AOD": {"min": -0.1, "max": 0.1},
    "FPR_DIFF": {"min": -0.1, "max": 0.1},
}
# Timestamps fall in the 30 days from this (past) instant, so none is ever "in the future".
FIRST_TIMESTAMP = np.datetime64("2026-01-01T00:00:00", "s")
SPAN_SECONDS = 30 * 24 * 3600
LABELED_SHARE = 0.8


@dataclass(frozen=True)
class BenchDatabase:
    """A PostgreSQL database owned by one benchmark run: dropped and recreated at the start, dropped at the end."""

    name: str
    server_url: str = SERVER_URL

    @property
    def url(self) -> str:
        return f"{self.server_url.rstrip('/')}/{self.name}"

    def recreate(self) -> None:
        self.drop()
        self._administer(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.name)))

    def drop(self) -> None:
        self._administer(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.name)))

    def _administer(self, statement: sql.Composable) -> None:
        # CREATE/DROP DATABASE refuse to run in a transaction block, which ``with connection`` would open.
        connection = psycopg2.connect(f"{self.server_url.rstrip('/')}/postgres")
        try:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
        finally:
            connection.close()

    def connect(self) -> Any:
        return psycopg2.connect(self.url)


def production_env(database_url: str, var_dir: Path, *, pepper: str) -> dict[str, str]:
    """The environment of a production deployment (DEBUG off, real secrets), minus TLS, on ``database_url``.

    HTTPS redirection is off because the benchmark talks plain HTTP on loopback; without Redis the cache is the
    file cache under ``var_dir``, as a single-machine deployment would have it.
    """
    environment = {
        key: value for key, value in os.environ.items() if not key.startswith(("DJANGO_", "FAIRLENS_", "DATABASE_"))
    }
    environment.pop("REDIS_URL", None)
    # Every secret the settings require, made the way a development run would make it, but fresh for this run
    # and passed in the environment as production does.
    environment.update({name: generate() for name, generate in _DEV_SECRET_GENERATORS.items()})
    environment.update(
        {
            "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.base",
            "DJANGO_DEBUG": "false",
            "FAIRLENS_ID_PEPPER": pepper,
            "DJANGO_SECURE_SSL_REDIRECT": "false",
            "FAIRLENS_VAR_DIR": str(var_dir),
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
    )
    return environment


def manage(environment: dict[str, str], *arguments: str, timeout: float = 300) -> str:
    """Run ``manage.py`` with ``arguments`` in ``environment``; return its standard output, fail loudly."""
    completed = subprocess.run(
        [sys.executable, "manage.py", *arguments],
        cwd=REPO_DIR,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(arguments)} failed:\n{completed.stdout}\n{completed.stderr}")
    return completed.stdout


_PROVISION_SCRIPT = """
import json, os
from accounts.services import model_client_key_create
from registry.services import register_model

spec = json.loads(os.environ["BENCH_PROVISION_SPEC"])
versions = {}
for version in spec["versions"]:
    model_version = register_model(
        name=spec["model"],
        version=version,
        registered_by=None,
        policy={
            "protected_attributes": spec["attributes"],
            "privileged": spec["privileged"],
            "metric_bands": spec["metric_bands"],
        },
    )
    versions[version] = model_version.pk
_, api_key = model_client_key_create(model=model_version.model, name="benchmark client", created_by=None)
print(MARKER + json.dumps({"version_ids": versions, "api_key": api_key}))
"""


def provision_model(
    environment: dict[str, str],
    *,
    model: str,
    versions: list[str],
    privileged: dict[str, str] | None = None,
) -> dict[str, Any]:
    """Register ``versions`` of ``model`` with a policy protecting the attributes of ``privileged`` (default
    race/sex) and banding every metric, and issue one API key for the model.

    Returns ``{"version_ids": {version: primary key}, "api_key": key}``.
    """
    reference = privileged or PRIVILEGED
    spec = {
        "model": model,
        "versions": versions,
        "attributes": list(reference),
        "privileged": reference,
        "metric_bands": METRIC_BANDS,
    }
    script = f"MARKER = {PROVISIONED_MARKER!r}\n{_PROVISION_SCRIPT}"
    output = manage({**environment, "BENCH_PROVISION_SPEC": json.dumps(spec)}, "shell", "-c", script)
    for line in output.splitlines():
        if line.startswith(PROVISIONED_MARKER):
            return json.loads(line[len(PROVISIONED_MARKER) :])
    raise RuntimeError(f"provisioning printed no result:\n{output}")


def setup_django(environment: dict[str, str]) -> None:
    """Configure Django in this process with ``environment`` (call once, before importing models)."""
    os.environ.update(environment)
    import django

    django.setup()


def _synthetic_columns(rows: int, seed: int) -> dict[str, np.ndarray]:
    """The values of ``rows`` predictions, deterministic for a seed: groups have different selection rates, a
    fifth of the rows have no label yet, times are spread evenly over 30 days."""
    rng = np.random.default_rng(seed)
    race = rng.choice(len(RACES), size=rows, p=RACE_WEIGHTS)
    sex = rng.choice(len(SEXES), size=rows, p=SEX_WEIGHTS)
    seconds = rng.integers(0, SPAN_SECONDS, size=rows)
    score = rng.beta(2.0, 2.0, size=rows) + (race == 0) * 0.05 - (sex == 1) * 0.03
    score = np.round(np.clip(score, 0.0, 1.0), 4)
    y_pred = (score >= 0.5).astype(np.int8)
    agree = rng.random(rows) < 0.8
    y_true = np.where(agree, y_pred, 1 - y_pred)
    labeled = rng.random(rows) < LABELED_SHARE
    return {
        "occurred_at": FIRST_TIMESTAMP + seconds.astype("timedelta64[s]"),
        "race": np.asarray(RACES, dtype=object)[race],
        "sex": np.asarray(SEXES, dtype=object)[sex],
        "y_pred": y_pred,
        "y_true": np.where(labeled, y_true, -1).astype(np.int8),
        "score": score,
    }


def synthetic_predictions(rows: int, seed: int, *, id_prefix: str = "p") -> pd.DataFrame:
    """``rows`` predictions in the CSV layout: every column as text, as a client sends them."""
    columns = _synthetic_columns(rows, seed)
    stamps = np.datetime_as_string(columns["occurred_at"], unit="s")
    return pd.DataFrame(
        {
            "id": np.char.add(f"{id_prefix}-", np.arange(rows).astype("U")),
            "timestamp": np.char.add(stamps, "Z"),
            "race": columns["race"],
            "sex": columns["sex"],
            "y_pred": columns["y_pred"].astype("U1"),
            "y_true": np.where(columns["y_true"] >= 0, columns["y_true"].astype("U1"), ""),
            "score": np.char.mod("%.4f", columns["score"]),
        }
    )


def synthetic_frame(rows: int, seed: int) -> pd.DataFrame:
    """The same predictions as :func:`synthetic_predictions`, in the layout validation produces (what the rollup
    code reads): UTC times, ``attr:<name>`` columns, NaN for a missing label."""
    columns = _synthetic_columns(rows, seed)
    return pd.DataFrame(
        {
            "occurred_at": pd.DatetimeIndex(columns["occurred_at"]).tz_localize("UTC"),
            **{f"attr:{name}": columns[name] for name in ATTRIBUTES},
            "y_pred": columns["y_pred"],
            "y_true": np.where(columns["y_true"] >= 0, columns["y_true"], np.nan),
            "score": columns["score"],
        }
    )


def csv_batches(frame: pd.DataFrame, batch_size: int) -> list[bytes]:
    """``frame`` as CSV bodies of at most ``batch_size`` rows, each with the header row."""
    return [
        frame.iloc[start : start + batch_size].to_csv(index=False).encode()
        for start in range(0, len(frame), batch_size)
    ]


BODY_FORMATS = {
    "csv": "text/csv",
    "json": "application/json",
    "arrow": "application/vnd.apache.arrow.stream",
    "parquet": "application/vnd.apache.parquet",
}


def batches(frame: pd.DataFrame, batch_size: int, body_format: str) -> list[bytes]:
    """``frame`` (:func:`synthetic_predictions`) as bodies of ``body_format`` of at most ``batch_size`` rows.

    JSON carries numbers as numbers; Arrow and Parquet carry typed columns, as a model service's data frame
    would hold them: zoned timestamps, dictionary-encoded attributes, small integers for decisions and labels.
    """
    if body_format == "csv":
        return csv_batches(frame, batch_size)
    slices = [frame.iloc[start : start + batch_size] for start in range(0, len(frame), batch_size)]
    if body_format == "json":
        return [_json_body(part) for part in slices]
    return [_columnar_body(_typed_table(part), body_format) for part in slices]


def _json_body(part: pd.DataFrame) -> bytes:
    records = []
    for row in part.itertuples(index=False):
        record = {
            "id": row.id,
            "timestamp": row.timestamp,
            "attributes": {name: getattr(row, name) for name in ATTRIBUTES},
            "y_pred": int(row.y_pred),
            "score": float(row.score),
        }
        if row.y_true:
            record["y_true"] = int(row.y_true)
        records.append(record)
    return json.dumps({"predictions": records}).encode()


def _typed_table(part: pd.DataFrame) -> pa.Table:
    labels = pd.to_numeric(part["y_true"].replace("", None))
    return pa.table(
        {
            "id": pa.array(part["id"].to_numpy(dtype=object), pa.string()),
            "timestamp": pa.array(pd.to_datetime(part["timestamp"], utc=True), pa.timestamp("us", tz="UTC")),
            **{name: pa.array(part[name].to_numpy(dtype=object)).dictionary_encode() for name in ATTRIBUTES},
            "y_pred": pa.array(part["y_pred"].astype(np.int8).to_numpy()),
            "y_true": pa.array(labels.to_numpy(), pa.int8(), from_pandas=True),
            "score": pa.array(part["score"].astype(np.float64).to_numpy()),
        }
    )


def _columnar_body(table: pa.Table, body_format: str) -> bytes:
    sink = io.BytesIO()
    if body_format == "parquet":
        pq.write_table(table, sink)
    else:
        with pa.ipc.new_stream(sink, table.schema) as writer:
            writer.write_table(table)
    return sink.getvalue()
