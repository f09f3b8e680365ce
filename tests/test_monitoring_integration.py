"""Continuous monitoring end to end, with real processes: a Celery worker and beat (DatabaseScheduler) on
PostgreSQL and Redis, and a loopback webhook receiver that verifies every request with the Standard Webhooks
reference library (``standardwebhooks``), not with FairLens's own code.

1. Drifting predictions -> beat's dispatcher runs the scheduled check -> an alert opens -> its
   ``alert.opened`` webhook is delivered, signed, and verified.
2. A receiver that answers 503 to the first attempts of every event: each event is still processed exactly
   once, after the retry schedule (time-scaled) has been followed.
3. The worker's pool process is SIGKILLed in the middle of a check: the message is requeued and the check ends
   as one completed row with one audit entry.
4. The whole worker is SIGKILLed in the middle of checks of past windows (which beat never re-dispatches, and
   whose messages Redis returns only after its visibility timeout): a new worker and the reaper complete every
   check within the lease plus one dispatch interval (plus the run itself).
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import subprocess
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from compliance.models import AuditEntry
from monitoring.alerts import rules
from monitoring.alerts.models import Alert, Delivery, OutboxEvent, WebhookEndpoint
from monitoring.alerts.services import emit_event, endpoint_create
from monitoring.checks.services import aligned_window_end
from monitoring.fairness import generate_loan_data
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_predictions
from monitoring.models import FairnessCheck, IngestionCheckGate
from monitoring.tasks import run_check_task
from registry.models import ModelVersion, MonitoringPolicy
from registry.services import current_policy, register_model
from tests.processes import start_celery, stop

pytestmark = [
    pytest.mark.requires_postgres,
    pytest.mark.requires_redis,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

logger = logging.getLogger("fairlens.tests.integration")  # numbers: pytest --log-cli-level INFO
WAIT_SECONDS = 90
READY = re.compile(r"celery@\S+ ready\.")
ATTRIBUTES = ["gender"]
WORKER_ARGS = ("worker", "--without-heartbeat", "--without-gossip", "--without-mingle", "--loglevel", "INFO")


# --- A loopback receiver that trusts only the reference library ------------------------------------------


@dataclass
class Receiver:
    """Verifies each request with ``standardwebhooks``; answers 503 to the first ``fail_first`` requests of
    every webhook-id; processes each id once (a set), counting duplicates that arrive after that."""

    fail_first: int = 0
    secret: str | None = None
    wire_requests: int = 0
    unverified: int = 0
    duplicates: int = 0
    requests_by_id: Counter[str] = field(default_factory=Counter)
    processed: dict[str, dict[str, Any]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def handle(self, body: bytes, headers: dict[str, str]) -> int:
        with self.lock:
            self.wire_requests += 1
            try:
                payload = Webhook(self.secret).verify(body, headers)
            except (WebhookVerificationError, ValueError, TypeError):
                self.unverified += 1
                return 401
            message_id = headers["webhook-id"]
            self.requests_by_id[message_id] += 1
            if self.requests_by_id[message_id] <= self.fail_first:
                return 503
            if message_id in self.processed:
                self.duplicates += 1
                return 200
            self.processed[message_id] = payload
            return 200

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "wire_requests": self.wire_requests,
                "unverified": self.unverified,
                "duplicates": self.duplicates,
                "processed": dict(self.processed),
            }


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, int]]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            status = state.handle(body, {name.lower(): value for name, value in self.headers.items()})
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:  # quiet test output
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


# --- Processes ---------------------------------------------------------------------------------------------


class Processes:
    """Celery processes of one test, logging under ``tmp_path``; all stopped at teardown."""

    def __init__(self, tmp_path: Path, settings: Any) -> None:
        self.tmp_path = tmp_path
        self.started: list[subprocess.Popen[bytes]] = []
        # The worker must read the same key ring (webhook secrets), audit mirror and anchors as this test.
        self.base_env = {
            "FERNET_KEYRING_PATH": str(settings.FERNET_KEYRING_PATH),
            "AUDIT_MIRROR_PATH": str(settings.AUDIT_MIRROR_PATH),
            "ANCHOR_FILE_PATH": str(settings.ANCHOR_FILE_PATH),
            "WEBHOOK_URL": "",  # no default endpoint from the environment
        }

    def start(self, name: str, *args: str, env: dict[str, str]) -> subprocess.Popen[bytes]:
        process = start_celery(*args, log_path=self.log_path(name), env={**self.base_env, **env})
        self.started.append(process)
        return process

    def log_path(self, name: str) -> Path:
        return self.tmp_path / f"{name}.log"

    def logs(self) -> str:
        return "\n".join(
            f"--- {path.name} ---\n{path.read_text(errors='replace')[-3000:]}"
            for path in sorted(self.tmp_path.glob("*.log"))
        )

    def assert_alive(self) -> None:
        for process in self.started:
            assert process.poll() is None, f"a Celery process exited ({process.returncode})\n{self.logs()}"

    def stop_all(self) -> None:
        for process in reversed(self.started):
            stop(process)
            with suppress(ProcessLookupError):  # pool children left behind by a killed parent
                os.killpg(process.pid, signal.SIGKILL)
        self.started.clear()


@pytest.fixture
def processes(tmp_path: Path, settings: Any) -> Iterator[Processes]:
    running = Processes(tmp_path, settings)
    try:
        yield running
    finally:
        running.stop_all()


def start_worker_and_beat(processes: Processes, env: dict[str, str], concurrency: int = 2) -> None:
    """A prefork worker and beat (DatabaseScheduler, as configured), returning once the worker consumes."""
    start_worker(processes, env, concurrency)
    start_beat(processes, env)
    wait_for(lambda: READY.search(processes.log_path("worker").read_text(errors="replace")), processes, "the worker")


def start_beat(processes: Processes, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Beat (DatabaseScheduler, as configured), waking at least every second, with its files in the test's folder."""
    return processes.start(
        "beat",
        "beat",
        "--loglevel",
        "INFO",
        "--max-interval",
        "1",
        "--schedule",
        str(processes.tmp_path / "beat-schedule"),
        "--pidfile",
        str(processes.tmp_path / "beat.pid"),
        env=env,
    )


def start_worker(processes: Processes, env: dict[str, str], concurrency: int) -> subprocess.Popen[bytes]:
    return processes.start("worker", *WORKER_ARGS, "--pool", "prefork", "--concurrency", str(concurrency), env=env)


def wait_for(condition: Callable[[], Any], processes: Processes, what: str, seconds: float = WAIT_SECONDS) -> Any:
    """Poll ``condition`` until it returns something truthy, at most ``seconds``; the processes must stay up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        processes.assert_alive()
        time.sleep(0.2)
    pytest.fail(f"timed out after {seconds:.0f} s waiting for {what}\n{processes.logs()}")


# --- Data ----------------------------------------------------------------------------------------------------


def monitored_version(name: str) -> tuple[ModelVersion, MonitoringPolicy]:
    """A production model version whose policy checks gender every minute, with its ingestion-triggered checks
    held back (the debounce gate is closed for a day), so only the scheduled dispatcher checks it."""
    version = register_model(
        name=name,
        version="1",
        registered_by=None,
        stage=ModelVersion.Stage.PRODUCTION,
        policy={"protected_attributes": ATTRIBUTES, "privileged": {"gender": "Male"}, "check_interval_minutes": 1},
    )
    IngestionCheckGate.objects.create(model_version=version, next_allowed_at=timezone.now() + timedelta(days=1))
    return version, current_policy(version.model)


def ingest_drifting_predictions(version: ModelVersion, n: int = 2000, drift: float = 0.8) -> None:
    """``n`` simulated loan decisions two hours ago (inside the 24 h window, before its aligned end)."""
    data = generate_loan_data(n, drift_level=drift, seed=7)
    stamp = (timezone.now() - timedelta(hours=2)).isoformat()
    items = [
        {
            "id": f"loan-{row.application_id}",
            "timestamp": stamp,
            "attributes": {"gender": row.gender},
            "y_pred": int(row.approved),
            "y_true": int(row.creditworthy),
        }
        for row in data.itertuples(index=False)
    ]
    raw = frame_from_json_records(items, ATTRIBUTES, max_rows=len(items))
    result = ingest_predictions(model_version=version, raw=raw, attributes=ATTRIBUTES, principal="integration")
    assert result.accepted == n


def loopback_endpoint(settings: Any, port: int, state: Receiver) -> WebhookEndpoint:
    settings.WEBHOOK_ALLOW_INSECURE_HTTP = True
    settings.WEBHOOK_ALLOWED_PRIVATE_TARGETS = [f"127.0.0.1:{port}"]
    endpoint, secret = endpoint_create(
        created_by=None, name=f"loopback-{uuid.uuid4().hex[:8]}", url=f"http://127.0.0.1:{port}/hooks"
    )
    state.secret = secret
    return endpoint


def delivery_env(port: int) -> dict[str, str]:
    return {"WEBHOOK_ALLOW_INSECURE_HTTP": "true", "WEBHOOK_ALLOWED_PRIVATE_TARGETS": f"127.0.0.1:{port}"}


def audit_count(action: str, object_id: object) -> int:
    return AuditEntry.objects.filter(action=action, object_id=str(object_id)).count()


# --- 1. Ingest -> scheduled check -> alert -> verified webhook ---------------------------------------------


def test_drift_is_checked_on_schedule_alerted_and_delivered_as_a_verified_webhook(
    receiver: tuple[Receiver, int], processes: Processes, settings: Any
) -> None:
    # given a monitored model with drifting predictions and a loopback webhook endpoint
    state, port = receiver
    endpoint = loopback_endpoint(settings, port, state)
    version, policy = monitored_version("drifting_loans")
    ingest_drifting_predictions(version)
    # when beat and a worker run (dispatch every 2 s, delivery sweep every 1 s)
    start_worker_and_beat(
        processes, {"CHECK_DISPATCH_SECONDS": "2", "DELIVERY_SWEEP_SECONDS": "1", **delivery_env(port)}
    )
    started = time.monotonic()

    def opened_and_received() -> Delivery | None:
        delivery = Delivery.objects.filter(
            event__type="alert.opened", endpoint=endpoint, status=Delivery.Status.DELIVERED
        ).first()
        if delivery is None or delivery.event.msg_id not in state.snapshot()["processed"]:
            return None
        return delivery

    delivery = wait_for(opened_and_received, processes, "a delivered alert.opened webhook")
    elapsed = time.monotonic() - started
    processes.stop_all()  # nothing moves while we look

    # then beat's schedule was the one configured through the environment
    assert PeriodicTask.objects.get(name="dispatch-checks").interval.every == 2
    # and the checks were scheduled ones, one completed row (and one audit entry) per aligned window
    checks = list(FairnessCheck.objects.filter(model_version=version).order_by("window_end"))
    assert checks, processes.logs()
    windows = [(check.policy_id, check.window_end) for check in checks]
    assert len(windows) == len(set(windows))
    for check in checks:
        assert check.policy_id == policy.pk
        assert check.trigger == FairnessCheck.Trigger.SCHEDULE
        assert check.window_end == aligned_window_end(policy, check.window_end)
        assert check.status == FairnessCheck.Status.COMPLETED
        assert check.n_predictions == 2000
        assert check.status_summary == "alert"
        assert audit_count("fairness_check.completed", check.pk) == 1
    first = checks[0]
    assert first.headline_dir < 0.8
    # and one open alert for the female group's DIR, as severe as its interval's distance from the band
    alert = Alert.objects.get(model=version.model)
    assert (alert.status, alert.attribute, alert.group, alert.metric) == ("open", "gender", "Female", "DIR")
    assert alert.first_check_id == first.pk
    assert alert.interval_upper < 0.8
    assert alert.severity == rules.severity("DIR", [alert.interval_lower, alert.interval_upper], {"min": 0.8})
    assert alert.severity == Alert.Severity.CRITICAL
    assert alert.occurrences == len(checks)
    assert audit_count("alert.opened", alert.pk) == 1
    # and exactly one alert.opened event, delivered with its attempts recorded
    event = OutboxEvent.objects.get(type="alert.opened", model=version.model)
    assert delivery.event_id == event.pk
    assert delivery.attempts >= 1
    attempts = list(delivery.attempt_log.order_by("number"))
    assert [attempt.number for attempt in attempts] == list(range(1, delivery.attempts + 1))
    assert attempts[-1].status_code == 200
    assert delivery.delivered_at is not None
    assert not Delivery.objects.filter(endpoint=endpoint).exclude(status=Delivery.Status.DELIVERED).exists()
    # and the receiver verified it with the reference library: the thin event about this alert
    seen = state.snapshot()
    assert seen["unverified"] == 0
    body = seen["processed"][event.msg_id]
    assert body["type"] == "alert.opened"
    assert body["data"]["alert_id"] == alert.pk
    assert body["data"]["check_id"] == first.pk
    assert body["data"]["severity"] == alert.severity
    assert "explanation" not in json.dumps(body)
    assert "Traceback" not in processes.log_path("worker").read_text(errors="replace")
    logger.info("end to end: alert.opened verified %.1f s once the worker was up; %d check(s)", elapsed, len(checks))


# --- 2. A receiver that fails first: retries, exactly-once processing --------------------------------------


def test_every_event_is_processed_once_although_the_receiver_fails_its_first_attempts(
    receiver: tuple[Receiver, int], processes: Processes, settings: Any
) -> None:
    # given a receiver that answers 503 to the first 3 requests of every webhook-id
    failures, events = 3, 20
    schedule = [0.0, 1.0, 1.0, 2.0, 2.0, 3.0]
    state, port = receiver
    state.fail_first = failures
    endpoint = loopback_endpoint(settings, port, state)
    start_worker_and_beat(
        processes,
        {
            "DELIVERY_SWEEP_SECONDS": "1",
            "WEBHOOK_RETRY_SCHEDULE": ",".join(str(int(value)) for value in schedule),
            "WEBHOOK_RETRY_SCALE": "1",
            "WEBHOOK_RETRY_JITTER": "0",
            **delivery_env(port),
        },
        concurrency=4,
    )
    # when events are written to the outbox, each in its own transaction
    started = time.monotonic()
    msg_ids = set()
    for number in range(events):
        with transaction.atomic():
            msg_ids.add(emit_event("integration.ping", model=None, data={"number": number}).msg_id)

    # then every delivery finishes
    deliveries = Delivery.objects.filter(endpoint=endpoint)
    wait_for(
        lambda: deliveries.count() == events and not deliveries.filter(status=Delivery.Status.PENDING).exists(),
        processes,
        f"{events} deliveries to finish",
    )
    drained = time.monotonic() - started
    processes.stop_all()
    # all delivered, after more attempts than the receiver refused, spaced at least as the schedule says
    assert sorted(deliveries.values_list("status", flat=True)) == [Delivery.Status.DELIVERED] * events
    total_attempts, lateness = 0, []
    for delivery in deliveries:
        attempts = list(delivery.attempt_log.order_by("number"))
        assert delivery.attempts == len(attempts) > failures
        assert [attempt.number for attempt in attempts] == list(range(1, len(attempts) + 1))
        assert [attempt.status_code for attempt in attempts[:failures]] == [503] * failures
        assert attempts[-1].status_code == 200
        for earlier, later in zip(attempts, attempts[1:], strict=False):
            gap = (later.started_at - earlier.started_at).total_seconds()
            assert gap >= schedule[earlier.number] - 0.01, (earlier.number, gap)
            lateness.append(gap - schedule[earlier.number])
        total_attempts += len(attempts)
    # and the deduplicating receiver processed each event exactly once
    seen = state.snapshot()
    assert seen["unverified"] == 0
    assert set(seen["processed"]) == msg_ids
    assert all(body["type"] == "integration.ping" for body in seen["processed"].values())
    assert sorted(body["data"]["number"] for body in seen["processed"].values()) == list(range(events))
    assert seen["wire_requests"] == total_attempts  # every attempt reached the wire, and nothing else did
    assert "Traceback" not in processes.log_path("worker").read_text(errors="replace")
    logger.info(
        "retries: %d events, %d requests on the wire, %d duplicate(s), %d attempts, drained in %.1f s "
        "(minimum by the schedule %.0f s); retries came %.2f s late at most (sweep every 1 s)",
        events,
        seen["wire_requests"],
        seen["duplicates"],
        total_attempts,
        drained,
        sum(schedule[1 : failures + 1]),
        max(lateness),
    )


# --- 3. SIGKILL in the middle of a check -------------------------------------------------------------------


def pool_children(worker: subprocess.Popen[bytes]) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(worker.pid)], capture_output=True, text=True, check=False)  # noqa: S603, S607
    return [int(pid) for pid in found.stdout.split()]


def test_a_check_whose_worker_process_is_killed_midway_is_redone_once(processes: Processes) -> None:
    # given a worker with one pool process that sleeps 5 s inside every claimed check
    version, policy = monitored_version("killed_midway")
    ingest_drifting_predictions(version)
    worker = start_worker(processes, {"CHECK_FAULT_DELAY_SECONDS": "5"}, concurrency=1)
    window_end = aligned_window_end(policy, timezone.now())
    task = run_check_task.apply_async(args=(version.pk, policy.pk, window_end.isoformat(), "manual"))
    rows = FairnessCheck.objects.filter(model_version=version)
    running = wait_for(
        lambda: rows.filter(status=FairnessCheck.Status.RUNNING).first(), processes, "the check to be claimed"
    )
    children = pool_children(worker)
    assert len(children) == 1, (children, processes.logs())
    # when the pool process is killed while it holds the claim
    killed_at = timezone.now()
    os.kill(children[0], signal.SIGKILL)
    # then the parent requeues the message, a new pool process runs it again, and the check completes
    wait_for(lambda: rows.filter(status=FairnessCheck.Status.COMPLETED).exists(), processes, "the check to complete")
    assert worker.poll() is None  # recovered by the same worker: the requeue, not a restart
    new_children = pool_children(worker)
    logs = processes.logs()
    processes.stop_all()
    assert new_children
    assert children[0] not in new_children
    log = processes.log_path("worker").read_text(errors="replace")
    assert "signal 9 (SIGKILL)" in log, log[-3000:]
    check = rows.get()  # one row for the window, whatever ran it
    assert (check.policy_id, check.window_end) == (policy.pk, window_end)
    assert check.status == FairnessCheck.Status.COMPLETED
    assert check.claim_token == f"task:{task.id}"  # the same message, redelivered
    assert check.claimed_at > killed_at > running.claimed_at, logs  # claimed again after the kill
    assert check.attempts == 1
    assert check.status_summary == "alert"
    assert audit_count("fairness_check.completed", check.pk) == 1
    assert Alert.objects.filter(model=version.model).count() == 1
    assert OutboxEvent.objects.filter(type="alert.opened", model=version.model).count() == 1


# --- 4. SIGKILL of the whole worker in the middle of checks: the reaper ------------------------------------


def forget_unacknowledged(task_ids: set[str]) -> None:
    """Drop the killed worker's unacknowledged messages of these tasks from Redis, so no later test's worker
    gets them back (after the visibility timeout) for rows this test's teardown deleted."""
    import redis

    client = redis.Redis.from_url(django_settings.CELERY_BROKER_URL)
    for tag, raw in client.hgetall("unacked").items():
        if json.loads(raw)[0]["headers"]["id"] in task_ids:
            client.hdel("unacked", tag)
            client.zrem("unacked_index", tag)


def test_checks_held_by_a_killed_worker_complete_within_the_lease_and_one_dispatch_interval(
    processes: Processes,
) -> None:
    # given short leases and dispatch interval (the task time limit under the lease, as in production), checks
    # that sleep 3 s once claimed, and a version whose data lies only in past windows (nothing due for beat)
    lease, dispatch, delay = 12, 2, 3
    env = {
        "CHECK_LEASE_SECONDS": str(lease),
        "CHECK_DISPATCH_SECONDS": str(dispatch),
        "CELERY_TASK_TIME_LIMIT": "10",
        "CELERY_TASK_SOFT_TIME_LIMIT": "9",
        "CHECK_FAULT_DELAY_SECONDS": str(delay),
    }
    version = register_model(
        name="reaped",
        version="1",
        registered_by=None,
        stage=ModelVersion.Stage.PRODUCTION,
        policy={"protected_attributes": ATTRIBUTES, "privileged": {"gender": "Male"}, "window_hours": 1},
    )
    IngestionCheckGate.objects.create(model_version=version, next_allowed_at=timezone.now() + timedelta(days=1))
    policy = current_policy(version.model)
    ingest_drifting_predictions(version, n=500)  # two hours ago
    start_worker_and_beat(processes, env, concurrency=2)
    worker = processes.started[0]
    # when four checks of past windows are requested: two run (and sleep), two wait in the queue
    first_end = timezone.now().replace(microsecond=0) - timedelta(hours=2) + timedelta(minutes=1)
    ends = [first_end + timedelta(minutes=number) for number in range(4)]
    sent = {run_check_task.apply_async(args=(version.pk, policy.pk, end.isoformat(), "manual")).id for end in ends}
    rows = FairnessCheck.objects.filter(model_version=version)
    wait_for(lambda: rows.filter(status=FairnessCheck.Status.RUNNING).count() == 2, processes, "two claimed checks")
    # and the whole worker, pool and parent, is killed while it holds both
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=30)
    processes.started.remove(worker)
    killed_at = timezone.now()
    held = {check.pk: check for check in rows.filter(status=FairnessCheck.Status.RUNNING)}
    assert len(held) == 2, processes.logs()
    processes.start(
        "worker-2", *WORKER_ARGS, "--pool", "prefork", "--concurrency", "2", env=env
    )  # a new worker; beat kept running
    # then every check completes: the queued ones at once, the held ones once the reaper takes them over
    wait_for(
        lambda: rows.filter(status=FairnessCheck.Status.COMPLETED).count() == len(ends),
        processes,
        "every check to complete",
        seconds=lease + dispatch + 30,
    )
    logs = processes.logs()
    processes.stop_all()
    forget_unacknowledged(sent)
    assert sorted(rows.values_list("window_end", flat=True)) == ends  # one row per window
    run_seconds = delay + 3  # the rerun itself: the injected sleep and the computation
    for check in rows.filter(pk__in=held):
        original = held[check.pk]
        recovered = (check.completed_at - original.claimed_at).total_seconds()
        assert recovered <= lease + dispatch + run_seconds, (recovered, logs)
        assert check.claim_token != original.claim_token  # a reaper's task, not the lost message
        assert check.claim_token.removeprefix("task:") not in sent
        assert check.attempts == 1
        logger.info(
            "reaper: check %s held by the killed worker completed %.1f s after its claim, %.1f s after the kill "
            "(lease %d s + dispatch %d s + a %d s run)",
            check.pk,
            recovered,
            (check.completed_at - killed_at).total_seconds(),
            lease,
            dispatch,
            delay,
        )
    for check in rows:
        assert audit_count("fairness_check.completed", check.pk) == 1
    assert "re-enqueued as task:" in processes.log_path("worker-2").read_text(errors="replace"), logs
