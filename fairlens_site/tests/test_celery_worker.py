"""A real Celery worker process consumes a real task from the configured broker.

Locally that is kombu's filesystem transport (what `make run` uses); in CI it is Redis. The task's effect is
checked in the database the worker shares with the test.
"""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from rest_framework_simplejwt.token_blacklist.models import OutstandingToken

from accounts.tasks import flush_expired_tokens_task
from fairlens_site.celery import app as celery_app
from tests.processes import start_celery, stop


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_a_worker_process_runs_the_token_cleanup_task(monitor_user: object, tmp_path: Path) -> None:
    # given an expired and a live refresh token in the database
    now = timezone.now()
    OutstandingToken.objects.create(
        user=monitor_user,
        jti="expired-" + uuid.uuid4().hex,
        token="x",
        created_at=now - timedelta(days=3),
        expires_at=now - timedelta(days=1),
    )
    OutstandingToken.objects.create(
        user=monitor_user, jti="live-" + uuid.uuid4().hex, token="y", created_at=now, expires_at=now + timedelta(days=1)
    )
    queue = f"test-{uuid.uuid4().hex[:12]}"
    worker = start_celery(
        "worker",
        "--pool",
        "solo",
        "--queues",
        queue,
        "--without-heartbeat",
        "--without-gossip",
        "--without-mingle",
        "--loglevel",
        "INFO",
        log_path=tmp_path / "worker.log",
    )
    try:
        # when the task goes through the broker
        flush_expired_tokens_task.apply_async(queue=queue)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and OutstandingToken.objects.filter(jti__startswith="expired-").exists():
            assert worker.poll() is None, (tmp_path / "worker.log").read_text()[-3000:]
            time.sleep(0.5)
        # then the worker deleted the expired token and kept the live one
        assert not OutstandingToken.objects.filter(jti__startswith="expired-").exists(), (
            tmp_path / "worker.log"
        ).read_text()[-3000:]
        assert OutstandingToken.objects.filter(jti__startswith="live-").count() == 1
        assert "flush_expired_tokens_task" in (tmp_path / "worker.log").read_text()
    finally:
        stop(worker)


def test_tasks_are_json_only_acked_late_and_time_limited() -> None:
    conf = celery_app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert 0 < conf.task_soft_time_limit < conf.task_time_limit
    assert conf.beat_scheduler == "django_celery_beat.schedulers:DatabaseScheduler"
