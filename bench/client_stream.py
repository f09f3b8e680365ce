"""Benchmark: the Python client (clients/python) streams predictions into a running server through a restart.

``python -m bench.client_stream --rows N [--restart-at F] [--batch-size B] [--workers W]`` prints one JSON line
and appends it to ``bench/results/client_stream.jsonl``.

* Set-up as ``bench.ingest``: a fresh PostgreSQL database, migrated; a race/sex model and a model-client key;
  gunicorn with the project's config. N synthetic predictions, typed as a model service's data frame holds
  them, handed to ``Model.log_frame`` in chunks of ``--chunk`` rows (the client sends Arrow IPC streams of
  ``--batch-size`` rows, gzip, an Idempotency-Key per batch).
* Once a fraction ``--restart-at`` of the rows is queued and batches are in flight, the server's master and
  workers are killed (SIGKILL: requests in flight are cut off) and, after ``--down-s`` seconds, started again
  on the same port. The client retries meanwhile.
* Passes only if, after ``flush``: the client counted N accepted, no duplicates, rejections, drops or failed
  rows; the database holds exactly N predictions for the version; and every attribute's rollups count N.
* ``rows_per_s`` is wall time from the first ``log_frame`` to the end of ``flush``, the outage included.
"""

from __future__ import annotations

import argparse
import os
import resource
import secrets
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fairlens_client import Client, RetryPolicy

from bench._setup import ATTRIBUTES, BenchDatabase, manage, production_env, provision_model, synthetic_predictions
from bench.ingest import GunicornServer, check_stored
from bench.results import record

MODEL_NAME = "bench_stream"


def typed_frame(rows: int, seed: int) -> pd.DataFrame:
    text = synthetic_predictions(rows, seed)
    return pd.DataFrame(
        {
            "application": text["id"],
            "decided_at": pd.to_datetime(text["timestamp"], utc=True),
            **{name: text[name].astype("category") for name in ATTRIBUTES},
            "approved": text["y_pred"].astype(np.int8),
            "p": text["score"].astype(np.float64),
        }
    )


def kill(server: GunicornServer) -> None:
    assert server.process is not None
    for pid in server.worker_pids():
        os.kill(pid, signal.SIGKILL)
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=20)


def run(
    rows: int, *, chunk: int, batch_size: int, workers: int, restart_at: float, down_s: float, seed: int, database: str
) -> dict[str, Any]:
    bench_database = BenchDatabase(database)
    frame = typed_frame(rows, seed)
    with tempfile.TemporaryDirectory(prefix="fairlens-stream-") as scratch:
        bench_database.recreate()
        try:
            environment = production_env(bench_database.url, Path(scratch) / "var", pepper=secrets.token_urlsafe(32))
            manage(environment, "migrate", "--noinput")
            provisioned = provision_model(environment, model=MODEL_NAME, versions=["1"])
            server = GunicornServer(environment, workers=workers, log_path=Path(scratch) / "gunicorn.log")
            server.__enter__()
            try:
                client = Client(
                    server.base_url,
                    provisioned["api_key"],
                    batch_size=batch_size,
                    max_queue_rows=rows,
                    retry=RetryPolicy(base=0.1, cap=2.0),
                )
                model = client.model(MODEL_NAME, "1")
                started = time.perf_counter()
                restarted_after = None
                for start in range(0, rows, chunk):
                    part = frame.iloc[start : start + chunk]
                    queued = model.log_frame(
                        part,
                        id="application",
                        decision="approved",
                        protected=ATTRIBUTES,
                        score="p",
                        timestamp="decided_at",
                    )
                    if queued != len(part):
                        raise RuntimeError(f"rows {start}..: {queued} of {len(part)} queued")
                    if restarted_after is None and start >= restart_at * rows:
                        deadline = time.monotonic() + 300
                        while client.stats.sent_batches < 2 and time.monotonic() < deadline:
                            time.sleep(0.01)
                        restarted_after = client.stats.accepted
                        kill(server)
                        time.sleep(down_s)
                        server.__enter__()
                if not client.flush(3600):
                    raise RuntimeError(f"flush did not finish: {client.stats}")
                seconds = time.perf_counter() - started
                client.close(30)
                stats = client.stats
            finally:
                server.stop()
            connection = bench_database.connect()
            try:
                rollup_rows = check_stored(connection, provisioned["version_ids"]["1"], rows)
            finally:
                connection.close()
        finally:
            bench_database.drop()
    counts = (stats.accepted, stats.duplicates, stats.rejected, stats.dropped, stats.failed_rows)
    if counts != (rows, 0, 0, 0, 0):
        raise RuntimeError(f"client counts (accepted, duplicates, rejected, dropped, failed) = {counts}")
    return {
        "rows": rows,
        "rows_per_s": round(rows / seconds),
        "seconds": round(seconds, 2),
        "accepted": stats.accepted,
        "duplicates": stats.duplicates,
        "dropped": stats.dropped,
        "failed_rows": stats.failed_rows,
        "retries": stats.retries,
        "batches": stats.sent_batches,
        "accepted_before_restart": restarted_after,
        "server_down_s": down_s,
        "stored_exactly": True,
        "rollup_rows": rollup_rows,
        "client_peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "batch_size": batch_size,
        "gunicorn_workers": workers,
        "body_format": "arrow" if client.columnar else "json",
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk", type=int, default=10_000, help="rows per log_frame call")
    parser.add_argument("--batch-size", type=int, default=20_000, help="rows per request the client sends")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--restart-at", type=float, default=0.4, help="fraction of rows queued before the kill")
    parser.add_argument("--down-s", type=float, default=3.0, help="seconds the server stays down")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="fairlens_bench_stream", help="dropped and recreated on every run")
    parser.add_argument("--output", type=Path, default=None)
    args = parser.parse_args(argv)
    result = run(
        args.rows,
        chunk=args.chunk,
        batch_size=args.batch_size,
        workers=args.workers,
        restart_at=args.restart_at,
        down_s=args.down_s,
        seed=args.seed,
        database=args.database,
    )
    record("client_stream", result, args.output)


if __name__ == "__main__":
    main()
