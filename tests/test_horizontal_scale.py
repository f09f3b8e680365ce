"""Horizontal scale: two web instances, three Celery workers and one beat on one PostgreSQL and one Redis.

Two Python clients (clients/python), one per web instance, ingest drifting predictions for three models while
beat dispatches their checks every two seconds, each ingestion triggers checks of its own, and the workers
deliver the alerts' webhooks to a loopback receiver that verifies them with the Standard Webhooks reference
library. Once every model's alert has been delivered and the work has drained:

* no check was run twice: one row per (version, policy version, window end), each completed with exactly one
  audit entry;
* no webhook was delivered twice: one delivery per (event, endpoint), each processed once by the receiver;
* the audit log has no gap (its sequence runs 1..n) and verifies;
* every row the clients were told was accepted is stored, once;
* the checks were spread over the workers.
"""

from __future__ import annotations

import logging
import re
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from django.db.models import Count, Max
from django.utils import timezone
from fairlens_client import Client, RetryPolicy

from accounts.services import model_client_key_create
from compliance.models import AuditEntry
from compliance.verification import verify_log
from monitoring.alerts.models import Delivery, OutboxEvent
from monitoring.fairness import generate_loan_data
from monitoring.models import FairnessCheck, Prediction
from registry.models import ModelVersion
from registry.services import register_model
from tests.processes import start_web, stop
from tests.test_monitoring_integration import (
    WORKER_ARGS,
    Processes,
    Receiver,
    delivery_env,
    loopback_endpoint,
    start_beat,
    wait_for,
)
from tests.test_monitoring_integration import processes as processes  # noqa: F401 - a fixture, used by name
from tests.test_monitoring_integration import receiver as receiver  # noqa: F401 - a fixture, used by name

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]
logger = logging.getLogger("fairlens.tests.scale")
MODELS = ("scale_a", "scale_b", "scale_c")
ROUNDS = 6
ROWS_PER_BATCH = 400
WORKERS = 3
CHECK_DONE = re.compile(r"Task monitoring\.tasks\.run_check_task\[[^\]]+\] succeeded")


def drifting_frame(model: str, round_number: int, client_number: int) -> pd.DataFrame:
    data = generate_loan_data(ROWS_PER_BATCH, drift_level=0.8, seed=1000 * client_number + round_number)
    stamp = timezone.now() - timedelta(hours=2)
    return pd.DataFrame(
        {
            "id": [f"{model}-{client_number}-{round_number}-{row}" for row in data["application_id"]],
            "gender": data["gender"].astype(str),
            "approved": data["approved"].astype(int),
            "at": pd.Timestamp(stamp),
        }
    )


def test_two_web_instances_and_three_workers_duplicate_nothing_and_leave_no_audit_gap(
    receiver: tuple[Receiver, int], processes: Processes, settings: Any, tmp_path: Path
) -> None:
    state, port = receiver
    endpoint = loopback_endpoint(settings, port, state)
    keys = {}
    for name in MODELS:
        version = register_model(
            name=name,
            version="1",
            registered_by=None,
            stage=ModelVersion.Stage.PRODUCTION,
            policy={"protected_attributes": ["gender"], "privileged": {"gender": "Male"}, "check_interval_minutes": 1},
        )
        keys[name] = model_client_key_create(model=version.model, name="scorer", created_by=None)[1]
    env = {
        "CHECK_DISPATCH_SECONDS": "2",
        "DELIVERY_SWEEP_SECONDS": "1",
        "CHECK_DEBOUNCE_SECONDS": "1",
        **delivery_env(port),
    }
    for number in range(1, WORKERS + 1):
        processes.start(
            f"worker-{number}",
            *WORKER_ARGS,
            "-n",
            f"w{number}@%h",
            "--pool",
            "prefork",
            "--concurrency",
            "1",
            env=env,
        )
    start_beat(processes, env)
    webs = [start_web(log_path=tmp_path / f"web-{n}.log", env={**processes.base_env, **env}) for n in (1, 2)]
    try:
        clients = []
        for number, (_, base) in enumerate(webs, start=1):
            for name in MODELS:
                client = Client(base, keys[name], batch_size=ROWS_PER_BATCH, retry=RetryPolicy(base=0.1, cap=1.0))
                clients.append((number, name, client))
        started = time.monotonic()
        for round_number in range(ROUNDS):
            for number, name, client in clients:
                client.model(name, "1").log_frame(
                    drifting_frame(name, round_number, number),
                    id="id",
                    decision="approved",
                    protected=["gender"],
                    timestamp="at",
                )
            time.sleep(1.0)
        for _, _, client in clients:
            assert client.flush(120)
        ingest_seconds = time.monotonic() - started
        accepted = sum(client.stats.accepted for _, _, client in clients)
        assert sum(client.stats.failed_rows + client.stats.dropped for _, _, client in clients) == 0

        def every_alert_delivered() -> bool:
            events = OutboxEvent.objects.filter(type="alert.opened")
            delivered = Delivery.objects.filter(event__in=events, status=Delivery.Status.DELIVERED)
            return events.count() >= len(MODELS) and delivered.count() == events.count()

        wait_for(every_alert_delivered, processes, "an alert.opened delivered for every model", seconds=180)

        def drained() -> bool:
            busy = FairnessCheck.objects.exclude(status=FairnessCheck.Status.COMPLETED).exists()
            return not busy and not Delivery.objects.filter(status=Delivery.Status.PENDING).exists()

        wait_for(drained, processes, "checks and deliveries to drain", seconds=120)
    finally:
        for process, _ in webs:
            stop(process)
        processes.stop_all()
        for _, _, client in clients:
            client.close(5)

    # Every accepted row is stored once.
    assert accepted == len(MODELS) * 2 * ROUNDS * ROWS_PER_BATCH
    assert Prediction.objects.count() == accepted
    # No check twice: one row per window of a policy version, each completed with one audit entry.
    checks = list(FairnessCheck.objects.all())
    assert len(checks) >= len(MODELS)
    windows = Counter((check.model_version_id, check.policy_id, check.window_end) for check in checks)
    assert max(windows.values()) == 1
    completions = Counter(
        AuditEntry.objects.filter(action="fairness_check.completed").values_list("object_id", flat=True)
    )
    assert completions == Counter({str(check.pk): 1 for check in checks})
    # No webhook twice: one delivery per event and endpoint, each processed once by the receiver.
    per_event = Delivery.objects.filter(endpoint=endpoint).values("event").annotate(n=Count("id"))
    assert {row["n"] for row in per_event} == {1}
    seen = state.snapshot()
    assert (seen["unverified"], seen["duplicates"]) == (0, 0)
    delivered = set(
        Delivery.objects.filter(endpoint=endpoint, status=Delivery.Status.DELIVERED).values_list(
            "event__msg_id", flat=True
        )
    )
    assert delivered == set(seen["processed"])
    # The audit log has no gap and verifies.
    last = AuditEntry.objects.aggregate(last=Max("seq"))["last"]
    assert last == AuditEntry.objects.count()
    run = verify_log(record=False)
    assert run.ok, run.problem
    # The checks were spread over the workers.
    done = [len(CHECK_DONE.findall(processes.log_path(f"worker-{n}").read_text(errors="replace"))) for n in (1, 2, 3)]
    assert sum(1 for count in done if count) >= 2, done
    logger.info(
        "scale: %d rows in %.1f s over 2 web instances; %d checks (per worker %s); %d webhooks delivered once",
        accepted,
        ingest_seconds,
        len(checks),
        done,
        len(delivered),
    )
