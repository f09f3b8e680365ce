"""Benchmark: prediction ingestion over HTTP against raw PostgreSQL COPY of the same rows.

``python -m bench.ingest --rows N [--format csv|json|arrow|parquet] [--order random|time] [--clients C]
[--workers W]`` prints one JSON line (and appends it to ``bench/results/ingest.jsonl``); ``--sqlite`` measures
the embedded SQLite database instead (see ``bench/ingest_sqlite.py``)::

    {"rows": N, "http_rows_per_s": ..., "copy_rows_per_s": ..., "ratio": ..., "app_peak_rss_mib": ..., ...}

* Set-up: a fresh PostgreSQL database (``--database``, dropped and recreated, dropped again at the end),
  migrated by ``manage.py migrate`` under a production environment (DEBUG off, generated secrets); a model
  with a race/sex policy and a model-client API key. N synthetic predictions (deterministic for ``--seed``)
  over 30 days, as bodies of ``--batch-size`` rows (the app's maximum per request, 50,000) in ``--format``:
  CSV text (default), JSON, or typed columns as an Arrow IPC stream or a Parquet file (see ``batches``).
* ``copy_rows_per_s`` (measured first, on the fresh database): psycopg2 ``COPY ... FROM STDIN (FORMAT csv)``
  of the same rows, in batches of the same size, one transaction each, into a table with the columns and
  types of ``monitoring_prediction``, a primary key and the unique (model_version_id, prediction_key) index.
  Keys are hashed and the CSV built before timing: the floor for getting those rows into such a table. The
  fastest of ``--copy-repeats`` runs, the strictest reference. ``copy_all_indexes_rows_per_s`` is one run
  with every index of ``monitoring_prediction`` (five, which the app's inserts maintain too).
* ``http_rows_per_s``: the real app (gunicorn with ``fairlens_site/gunicorn_conf.py`` and ``--workers``
  sync workers, i.e. WEB_CONCURRENCY) receives the batches, POSTed to
  ``/api/v1/models/{name}/versions/{version}/predictions`` from ``--clients`` keep-alive connections. Wall
  time from the first send to the last response. Every response must be 201 with all of its rows accepted,
  and the database must then hold N predictions whose rollups count N rows per attribute. A warm-up batch
  per connection goes to another version first, so imports and connection set-up are not counted.
  ``--order random`` (default) makes every batch span the 30 days, so each one updates every hourly rollup
  cell (about 12,000): the costly case. ``--order time`` sends consecutive slices of time, as a client
  posting predictions as they are made does.
* ``ratio``: ``http_rows_per_s / copy_rows_per_s``.
* ``app_peak_rss_mib``: the largest VmHWM (peak resident set) of the gunicorn master and workers, in MiB.
* ``*_cpu_us_per_row``: CPU time of the app's processes and of all PostgreSQL processes during the HTTP run,
  and of PostgreSQL during the fastest raw COPY, per row. ``load_average_before`` tells how busy the machine
  already was: other work on it skews every figure.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd
import requests

from bench._setup import (
    ATTRIBUTES,
    BODY_FORMATS,
    REPO_DIR,
    BenchDatabase,
    batches,
    manage,
    production_env,
    provision_model,
    synthetic_predictions,
)
from bench.results import record
from monitoring.ingestion.pseudonymize import pseudonymize

MODEL_NAME = "bench_credit"
MEASURED_VERSION = "1"
WARMUP_VERSION = "warmup"
WARMUP_ROWS = 2_000
MIB = 1024 * 1024
STARTUP_TIMEOUT_S = 90
REQUEST_TIMEOUT_S = 300
_DURATION = re.compile(r"path=\S+/predictions .*status=201 duration_ms=([0-9.]+)")
_COPY_COLUMNS = (
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


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class GunicornServer:
    """The app as deployed (gunicorn, the project's config), on a free loopback port; stopped on exit."""

    def __init__(self, environment: dict[str, str], *, workers: int, log_path: Path) -> None:
        self.port = free_port()
        self.environment = {
            **environment,
            "FAIRLENS_BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": str(workers),
            "GUNICORN_TIMEOUT": str(REQUEST_TIMEOUT_S),
        }
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> GunicornServer:
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "fairlens_site.wsgi", "-c", "fairlens_site/gunicorn_conf.py"],
                cwd=REPO_DIR,
                env=self.environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            self._wait_until_healthy()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()

    def _wait_until_healthy(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process is None or self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited during start-up:\n{self.log_tail()}")
            try:
                if requests.get(f"{self.base_url}/api/health", timeout=5).status_code == 200:
                    return
            except (requests.ConnectionError, requests.Timeout):
                pass  # not listening yet, or still importing on a busy machine
            time.sleep(0.25)
        raise RuntimeError(f"/api/health did not answer 200 within {STARTUP_TIMEOUT_S}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def worker_pids(self) -> list[int]:
        if self.process is None:
            return []
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        return [int(pid) for pid in children.read_text().split()] if children.exists() else []

    def pids(self) -> list[int]:
        """The master and its workers."""
        return [] if self.process is None else [self.process.pid, *self.worker_pids()]

    def peak_rss_mib(self) -> dict[str, float]:
        """VmHWM (the kernel's high-water mark of resident memory) of the master and each worker, in MiB."""
        assert self.process is not None
        peaks = {"master": _vm_hwm_mib(self.process.pid)}
        for number, pid in enumerate(sorted(self.worker_pids()), start=1):
            peaks[f"worker_{number}"] = _vm_hwm_mib(pid)
        return peaks

    def stop(self) -> None:
        """Graceful stop (SIGTERM to the master, which stops its workers); SIGKILL if that takes too long."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            for pid in self.worker_pids():
                os.kill(pid, signal.SIGKILL)
            self.process.kill()
            self.process.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process so far (0 if it has gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _postgres_pids() -> list[int]:
    """PostgreSQL server processes on this machine (backends and background workers)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "postgres":
                    pids.append(int(entry.name))
            except (FileNotFoundError, ProcessLookupError):
                continue
    return pids


class CpuMeter:
    """CPU seconds used between ``start`` and ``stop`` by groups of processes (e.g. the app and PostgreSQL).

    Each group is a function listing its processes' ids. Processes come and go (a database connection is
    replaced after CONN_MAX_AGE, autovacuum workers exit), so they are sampled every ``interval`` seconds and
    each one's last reading counts; processes that start in between count in full.
    """

    def __init__(self, interval: float = 0.25, **groups: Callable[[], list[int]]) -> None:
        self.groups = groups
        self.interval = interval
        self.before: dict[str, dict[int, float]] = {}
        self.latest: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}
        self._stopped = threading.Event()
        self._sampler = threading.Thread(target=self._sample_until_stopped, daemon=True)

    def _sample(self) -> dict[str, dict[int, float]]:
        return {name: {pid: _cpu_seconds(pid) for pid in pids()} for name, pids in self.groups.items()}

    def _record(self) -> None:
        for name, sample in self._sample().items():
            readings = self.latest.setdefault(name, {})
            for pid, seconds in sample.items():
                readings[pid] = max(seconds, readings.get(pid, 0.0))

    def _sample_until_stopped(self) -> None:
        while not self._stopped.wait(self.interval):
            self._record()

    def start(self) -> None:
        self.before = self._sample()
        self._sampler.start()

    def stop(self) -> None:
        self._stopped.set()
        self._sampler.join()
        self._record()
        self.used = {
            name: sum(seconds - self.before[name].get(pid, 0.0) for pid, seconds in readings.items())
            for name, readings in self.latest.items()
        }


def _vm_hwm_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) * 1024 / MIB, 1)
    raise RuntimeError(f"no VmHWM for process {pid}")


class IngestClient:
    """POSTs batches from ``connections`` threads, each with its own keep-alive session."""

    def __init__(
        self, base_url: str, api_key: str, connections: int, content_type: str = "text/csv", model: str = MODEL_NAME
    ) -> None:
        self.base_url = base_url
        self.model = model
        self.headers = {"Authorization": f"Api-Key {api_key}", "Content-Type": content_type}
        self.connections = connections
        self._local = threading.local()

    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def post(self, version: str, body: bytes) -> tuple[int, Any]:
        url = f"{self.base_url}/api/v1/models/{self.model}/versions/{version}/predictions"
        response = self._session().post(url, data=body, headers=self.headers, timeout=REQUEST_TIMEOUT_S)
        try:
            return response.status_code, response.json()
        except ValueError:
            return response.status_code, response.text[:500]

    def post_all(self, version: str, bodies: Sequence[bytes]) -> tuple[float, list[tuple[int, Any]]]:
        """Send every body (``connections`` at a time); the wall time from first send to last response."""
        with ThreadPoolExecutor(self.connections) as pool:
            # Open every connection before the clock starts.
            list(pool.map(lambda _: self._session(), range(self.connections)))
            start = time.perf_counter()
            answers = list(pool.map(lambda body: self.post(version, body), bodies))
            return time.perf_counter() - start, answers


def check_answers(answers: list[tuple[int, Any]], batch_rows: list[int]) -> int:
    """Every batch must be 201 with all rows accepted; returns the accepted total. Fails loudly otherwise."""
    accepted = 0
    for number, ((status, body), rows) in enumerate(zip(answers, batch_rows, strict=True), start=1):
        if status != 201 or not isinstance(body, dict):
            raise RuntimeError(f"batch {number}: HTTP {status}: {body}")
        if (body.get("accepted"), body.get("duplicates"), body.get("rejected")) != (rows, 0, 0):
            raise RuntimeError(f"batch {number} of {rows} rows: {json.dumps(body)[:500]}")
        accepted += body["accepted"]
    return accepted


def check_stored(connection: Any, version_id: int, rows: int) -> int:
    """The predictions table holds ``rows`` rows for the version and every attribute's rollups count them all."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM monitoring_prediction WHERE model_version_id = %s", [version_id])
        stored = cursor.fetchone()[0]
        cursor.execute(
            "SELECT attribute, sum(tp + fp + tn + fn + unlabeled_pos + unlabeled_neg), count(*)"
            " FROM monitoring_predictionrollup WHERE model_version_id = %s GROUP BY attribute",
            [version_id],
        )
        totals = cursor.fetchall()
    if stored != rows:
        raise RuntimeError(f"{stored} predictions stored, expected {rows}")
    expected_attributes = len(ATTRIBUTES) + (1 if len(ATTRIBUTES) > 1 else 0)
    if len(totals) != expected_attributes or any(int(total) != rows for _, total, _ in totals):
        raise RuntimeError(f"rollup totals {totals} do not all equal {rows}")
    return sum(int(cells) for _, _, cells in totals)


def storage_bytes(connection: Any) -> dict[str, int]:
    """Bytes on disk of the predictions table (heap, TOAST and free-space maps), of its indexes, and of the
    rollups (with their indexes), after a VACUUM so that dead space from the upserts is not counted."""
    connection.rollback()  # end the read transaction: VACUUM runs outside one
    connection.autocommit = True
    with connection.cursor() as cursor:
        cursor.execute("VACUUM monitoring_prediction, monitoring_predictionrollup")
        cursor.execute(
            "SELECT pg_table_size('monitoring_prediction'), pg_indexes_size('monitoring_prediction'),"
            " pg_total_relation_size('monitoring_predictionrollup')"
        )
        table, indexes, rollups = cursor.fetchone()
    connection.autocommit = False
    return {"table": int(table), "indexes": int(indexes), "rollups": int(rollups)}


def copy_payloads(frame: pd.DataFrame, pepper: str, version_id: int, batch_size: int) -> list[str]:
    """The rows as CSV for COPY into a ``monitoring_prediction``-shaped table: keys hashed as the app hashes
    them, each batch sorted by key as the app sorts it (inserting into the unique index in order is faster)."""
    attributes = [
        json.dumps(dict(zip(ATTRIBUTES, values, strict=True)))
        for values in zip(*(frame[name] for name in ATTRIBUTES), strict=True)
    ]
    table = pd.DataFrame(
        {
            "model_version_id": version_id,
            "prediction_key": pseudonymize(frame["id"].tolist(), pepper=pepper),
            "occurred_at": frame["timestamp"],
            "attributes": attributes,
            "y_pred": frame["y_pred"],
            "y_true": frame["y_true"],
            "score": frame["score"],
            "features": "",
            "record_id": 1,
            "received_at": datetime.now(UTC).isoformat(),
        }
    )
    return [
        table.iloc[start : start + batch_size].sort_values("prediction_key").to_csv(index=False, header=False)
        for start in range(0, len(table), batch_size)
    ]


def raw_copy(connection: Any, payloads: list[str], rows: int, *, all_indexes: bool) -> tuple[float, float]:
    """COPY the payloads into a fresh table shaped like ``monitoring_prediction``, then drop it.

    Returns rows per second and the CPU seconds PostgreSQL spent.
    """
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS bench_raw_copy")
        if all_indexes:
            cursor.execute("CREATE TABLE bench_raw_copy (LIKE monitoring_prediction INCLUDING ALL)")
        else:
            cursor.execute(
                "CREATE TABLE bench_raw_copy (LIKE monitoring_prediction INCLUDING DEFAULTS INCLUDING IDENTITY"
                " INCLUDING CONSTRAINTS, PRIMARY KEY (id), UNIQUE (model_version_id, prediction_key))"
            )
        connection.commit()
        cursor.execute("CHECKPOINT")
        statement = f"COPY bench_raw_copy ({', '.join(_COPY_COLUMNS)}) FROM STDIN WITH (FORMAT csv, NULL '')"
        cpu = CpuMeter(postgres=_postgres_pids)
        cpu.start()
        start = time.perf_counter()
        for payload in payloads:
            cursor.copy_expert(statement, io.StringIO(payload))
            connection.commit()
        elapsed = time.perf_counter() - start
        cpu.stop()
        cursor.execute("SELECT count(*) FROM bench_raw_copy")
        copied = cursor.fetchone()[0]
        # Dropped at once, so that no autovacuum of it runs during the next measurement.
        cursor.execute("DROP TABLE bench_raw_copy")
        connection.commit()
    if copied != rows:
        raise RuntimeError(f"raw COPY stored {copied} rows, expected {rows}")
    return rows / elapsed, cpu.used["postgres"]


def server_request_ms(log_text: str) -> float | None:
    """Mean server-side duration of the measured ingestion requests, from the app's request log."""
    durations = [float(match.group(1)) for match in _DURATION.finditer(log_text)]
    return round(sum(durations) / len(durations), 1) if durations else None


def run(
    rows: int,
    *,
    batch_size: int,
    clients: int,
    workers: int,
    order: str,
    copy_repeats: int,
    seed: int,
    database_name: str,
    body_format: str = "csv",
) -> dict[str, Any]:
    database = BenchDatabase(database_name)
    pepper = secrets.token_urlsafe(32)
    # Other work on the machine skews every number here; this says how busy it was.
    load_before = round(os.getloadavg()[0], 2)
    with tempfile.TemporaryDirectory(prefix="fairlens-bench-") as scratch:
        database.recreate()
        try:
            environment = production_env(database.url, Path(scratch) / "var", pepper=pepper)
            manage(environment, "migrate", "--noinput")
            provisioned = provision_model(environment, model=MODEL_NAME, versions=[MEASURED_VERSION, WARMUP_VERSION])
            version_id = provisioned["version_ids"][MEASURED_VERSION]
            frame = synthetic_predictions(rows, seed)
            if order == "time":
                frame = frame.sort_values("timestamp", kind="stable", ignore_index=True)
            bodies = batches(frame, batch_size, body_format)
            batch_rows = [min(batch_size, rows - start) for start in range(0, rows, batch_size)]
            warmup_frame = synthetic_predictions(WARMUP_ROWS * clients, seed + 1, id_prefix="w")
            warmup = batches(warmup_frame, WARMUP_ROWS, body_format)

            connection = database.connect()
            try:
                # The baseline first, on the fresh database; the best of several runs, which is the strictest
                # reference for the ratio.
                payloads = copy_payloads(frame, pepper, version_id, batch_size)
                copy_runs = [raw_copy(connection, payloads, rows, all_indexes=False) for _ in range(copy_repeats)]
                copy_rate, copy_cpu = max(copy_runs)
                copy_all_rate, _ = raw_copy(connection, payloads, rows, all_indexes=True)
                del payloads

                with GunicornServer(environment, workers=workers, log_path=Path(scratch) / "gunicorn.log") as server:
                    client = IngestClient(server.base_url, provisioned["api_key"], clients, BODY_FORMATS[body_format])
                    _, warmup_answers = client.post_all(WARMUP_VERSION, warmup)
                    check_answers(warmup_answers, [WARMUP_ROWS] * len(warmup))
                    log_offset = server.log_path.stat().st_size
                    with connection.cursor() as cursor:
                        cursor.execute("CHECKPOINT")
                    cpu = CpuMeter(app=server.pids, postgres=_postgres_pids)
                    cpu.start()
                    http_seconds, answers = client.post_all(MEASURED_VERSION, bodies)
                    cpu.stop()
                    accepted = check_answers(answers, batch_rows)
                    memory = server.peak_rss_mib()
                    request_ms = server_request_ms(server.log_path.read_text(errors="replace")[log_offset:])
                if accepted != rows:
                    raise RuntimeError(f"{accepted} rows accepted, expected {rows}")
                rollup_rows = check_stored(connection, version_id, rows)
                stored_bytes = storage_bytes(connection)
            finally:
                connection.close()
        finally:
            database.drop()

    http_rate = rows / http_seconds
    return {
        "rows": rows,
        "http_rows_per_s": round(http_rate),
        "copy_rows_per_s": round(copy_rate),
        "ratio": round(http_rate / copy_rate, 3),
        "app_peak_rss_mib": max(memory.values()),
        "http_s": round(http_seconds, 3),
        "copy_all_indexes_rows_per_s": round(copy_all_rate),
        "ratio_vs_all_indexes": round(http_rate / copy_all_rate, 3),
        "server_ms_per_request": request_ms,
        # CPU per row: where the HTTP path spends it, against what PostgreSQL spends on a bare COPY.
        "app_cpu_us_per_row": round(cpu.used["app"] / rows * 1e6, 2),
        "postgres_cpu_us_per_row": round(cpu.used["postgres"] / rows * 1e6, 2),
        "copy_postgres_cpu_us_per_row": round(copy_cpu / rows * 1e6, 2),
        "copy_runs_rows_per_s": [round(rate) for rate, _ in copy_runs],
        "batch_size": batch_size,
        "batch_order": order,
        "body_format": body_format,
        "requests": len(bodies),
        "clients": clients,
        "gunicorn_workers": workers,
        "rollup_rows": rollup_rows,
        # The measured version's rows plus the warm-up's (WARMUP_ROWS per client), table and indexes.
        "prediction_bytes_per_row": round(
            (stored_bytes["table"] + stored_bytes["indexes"]) / (rows + WARMUP_ROWS * clients), 1
        ),
        "prediction_index_bytes_per_row": round(stored_bytes["indexes"] / (rows + WARMUP_ROWS * clients), 1),
        "rollup_mib": round(stored_bytes["rollups"] / MIB, 1),
        "peak_rss_mib_by_process": memory,
        "body_mib": round(sum(len(body) for body in bodies) / MIB, 1),
        "load_average_before": load_before,
    }


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, run, print one JSON line."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=50_000, help="rows per request (the app's maximum)")
    parser.add_argument("--clients", type=int, default=2, help="concurrent client connections")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument(
        "--order",
        choices=("random", "time"),
        default="random",
        help="random: every batch spans the whole 30 days (touches every rollup cell); time: batches are"
        " consecutive slices of time, as a client sending predictions as they are made",
    )
    parser.add_argument(
        "--format",
        choices=tuple(BODY_FORMATS),
        default="csv",
        help="request body: CSV text, JSON, an Arrow IPC stream or Parquet (typed columns)",
    )
    parser.add_argument("--copy-repeats", type=int, default=2, help="raw COPY runs; the fastest is the baseline")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="fairlens_bench", help="dropped and recreated on every run")
    parser.add_argument("--output", type=Path, default=None, help="results file (default bench/results/ingest.jsonl)")
    parser.add_argument(
        "--sqlite",
        action="store_true",
        help="the embedded SQLite database instead (see bench/ingest_sqlite.py): JSON batches for the demo's"
        " one-attribute policy and a two-attribute one, against a raw executemany",
    )
    args = parser.parse_args(argv)
    if args.sqlite:
        from bench.ingest_sqlite import POLICIES, run_policy

        for policy in POLICIES:
            sqlite_result = run_policy(
                policy,
                args.rows,
                batch_size=args.batch_size,
                clients=args.clients,
                workers=args.workers,
                copy_repeats=args.copy_repeats,
                seed=args.seed,
            )
            record("ingest", sqlite_result, args.output)
        return
    result = run(
        args.rows,
        batch_size=args.batch_size,
        clients=args.clients,
        workers=args.workers,
        order=args.order,
        copy_repeats=args.copy_repeats,
        seed=args.seed,
        database_name=args.database,
        body_format=args.format,
    )
    record("ingest", result, args.output)


if __name__ == "__main__":
    main()
