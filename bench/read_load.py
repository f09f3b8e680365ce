"""Benchmark: the read endpoints under concurrent load, with predictions and a history of checks stored.

``python -m bench.read_load [--rows N] [--checks K] [--connections C ...] [--seconds S] [--workers W]`` prints
one JSON line per (endpoint, connections) as it is measured and appends it to ``bench/results/read_load.jsonl``.

* Set-up as ``bench.ingest``: a fresh PostgreSQL database, migrated; a race/sex model whose policy bands every
  metric; N synthetic predictions over 30 days, POSTed as Arrow batches through the app; then K hourly checks
  of the last K hours of that span (each stores its full result: per-group rates, intervals, evidence), and a
  monitor's access token.
* The app as deployed (gunicorn, the project's config, ``--workers`` sync workers, Redis for the cache), with
  the per-principal request limit raised (one reader sends every request). For each endpoint and each
  number of connections C, C client threads in ``--processes`` processes each keep one keep-alive connection
  and send GETs back to back for S seconds (closed loop: C requests are always in flight). Every answer must be
  200. Latency is from send to the last byte; p50, p99 and max are over all requests, and ``requests_per_s`` is
  their count over S.
* The endpoints: ``GET /api/v1/checks/`` (a page of 100 check summaries), ``GET /api/v1/alerts/`` and the seed's
  ``GET /api/fairness_trend`` (the last 10 headline DIRs).

On a machine whose cores are shared by the load generator, the app and PostgreSQL, the figures are those of
the whole machine: what a client sees, not what one process could do alone.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import secrets
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import requests

from bench._setup import BenchDatabase, batches, manage, production_env, provision_model, synthetic_predictions
from bench.ingest import GunicornServer, IngestClient, check_answers
from bench.results import record

MODEL_NAME = "bench_reads"
ENDPOINTS = {
    "checks": "/api/v1/checks/",
    "alerts": "/api/v1/alerts/",
    "fairness_trend": f"/api/fairness_trend?model={MODEL_NAME}&version=1",
}
_CHECKS_SCRIPT = """
import json, os, time
from datetime import datetime, timedelta, timezone as tz
from accounts.services import issue_tokens, user_create
from monitoring.checks.services import run_check
from registry.models import ModelVersion

spec = json.loads(os.environ["BENCH_READS_SPEC"])
version = ModelVersion.objects.get(pk=spec["version_id"])
last = datetime(2026, 1, 31, tzinfo=tz.utc)
started = time.perf_counter()
for hour in range(spec["checks"], 0, -1):
    run_check(model_version=version, window_end=last - timedelta(hours=hour - 1), trigger="manual",
              claim_token=f"bench-{hour}")
seconds = time.perf_counter() - started
user = user_create(username="bench-reader", password=os.environ["BENCH_READER_PASSWORD"], role="monitor",
                   validate=False)
token = issue_tokens(user, mfa_at=int(time.time()))["access_token"]
print("BENCH-READS " + json.dumps({"token": token, "check_seconds": seconds}))
"""


def _load_worker(base_url: str, path: str, token: str, threads: int, seconds: float, queue: Any) -> None:
    """One load process: ``threads`` keep-alive connections sending GETs back to back until the deadline."""
    latencies: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()
    start_at = time.monotonic() + 0.5  # every thread opens its connection first
    deadline = start_at + seconds

    def run() -> None:
        session = requests.Session()
        session.headers["Authorization"] = f"Bearer {token}"
        session.get(f"{base_url}/api/health", timeout=30)
        mine = []
        while time.monotonic() < start_at:
            time.sleep(0.001)
        while (sent := time.monotonic()) < deadline:
            response = session.get(f"{base_url}{path}", timeout=60)
            mine.append(time.monotonic() - sent)
            if response.status_code != 200:
                with lock:
                    failures.append(f"{response.status_code}: {response.text[:200]}")
        with lock:
            latencies.extend(mine)

    workers = [threading.Thread(target=run) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((latencies, failures))


def load(base_url: str, path: str, token: str, connections: int, seconds: float, processes: int) -> dict[str, Any]:
    queue: Any = multiprocessing.Queue()
    shares = [connections // processes + (1 if n < connections % processes else 0) for n in range(processes)]
    runners = [
        multiprocessing.Process(target=_load_worker, args=(base_url, path, token, share, seconds, queue))
        for share in shares
        if share
    ]
    for runner in runners:
        runner.start()
    results = [queue.get() for _ in runners]
    for runner in runners:
        runner.join()
    latencies = np.array([value for found, _ in results for value in found]) * 1000
    failures = [failure for _, found in results for failure in found]
    if failures:
        raise RuntimeError(f"{len(failures)} answers were not 200, first: {failures[0]}")
    return {
        "requests": len(latencies),
        "requests_per_s": round(len(latencies) / seconds, 1),
        "p50_ms": round(float(np.percentile(latencies, 50)), 1),
        "p99_ms": round(float(np.percentile(latencies, 99)), 1),
        "max_ms": round(float(latencies.max()), 1),
    }


def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    database = BenchDatabase(args.database)
    results = []
    with tempfile.TemporaryDirectory(prefix="fairlens-reads-") as scratch:
        database.recreate()
        try:
            environment = {
                **production_env(database.url, Path(scratch) / "var", pepper=secrets.token_urlsafe(32)),
                # One reader sends everything here: the per-principal limit (600/min) would answer 429.
                "THROTTLE_USER_RATE": "100000000/min",
                **({"REDIS_URL": args.redis_url} if args.redis_url else {}),
            }
            manage(environment, "migrate", "--noinput")
            provisioned = provision_model(environment, model=MODEL_NAME, versions=["1"])
            frame = synthetic_predictions(args.rows, args.seed).sort_values("timestamp", ignore_index=True)
            with GunicornServer(environment, workers=args.workers, log_path=Path(scratch) / "ingest.log") as server:
                client = IngestClient(
                    server.base_url, provisioned["api_key"], 2, "application/vnd.apache.arrow.stream", MODEL_NAME
                )
                bodies = batches(frame, 50_000, "arrow")
                _, answers = client.post_all("1", bodies)
                check_answers(answers, [min(50_000, args.rows - start) for start in range(0, args.rows, 50_000)])
            del frame, bodies
            spec = {"version_id": provisioned["version_ids"]["1"], "checks": args.checks}
            output = manage(
                {
                    **environment,
                    "BENCH_READS_SPEC": json.dumps(spec),
                    "BENCH_READER_PASSWORD": secrets.token_urlsafe(16),
                },
                "shell",
                "-c",
                _CHECKS_SCRIPT,
            )
            made = json.loads(next(line for line in output.splitlines() if line.startswith("BENCH-READS "))[12:])
            with GunicornServer(environment, workers=args.workers, log_path=Path(scratch) / "reads.log") as server:
                for name, path in ENDPOINTS.items():
                    page = requests.get(
                        f"{server.base_url}{path}", headers={"Authorization": f"Bearer {made['token']}"}, timeout=60
                    )
                    page.raise_for_status()
                    for connections in args.connections:
                        measured = load(server.base_url, path, made["token"], connections, args.seconds, args.processes)
                        results.append(
                            {
                                "endpoint": name,
                                "path": path,
                                "connections": connections,
                                **measured,
                                "page_bytes": len(page.content),
                                "rows": args.rows,
                                "checks": args.checks,
                                "check_seconds_each": round(made["check_seconds"] / args.checks, 3),
                                "gunicorn_workers": args.workers,
                                "seconds": args.seconds,
                            }
                        )
                        record("read_load", results[-1], args.output)
        finally:
            database.drop()
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--checks", type=int, default=168, help="hourly checks stored (the last K hours)")
    parser.add_argument("--connections", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--seconds", type=float, default=10.0, help="load time per endpoint and connection count")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--processes", type=int, default=2, help="load-generator processes")
    parser.add_argument(
        "--redis-url", default="redis://127.0.0.1:6379/13", help="cache and broker, as deployed ('' for the file cache)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--database", default="fairlens_bench_reads", help="dropped and recreated on every run")
    parser.add_argument("--output", type=Path, default=None)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
