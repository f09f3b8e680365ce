"""Stopping `make run` (honcho sends SIGTERM to each process group) is a clean warm shutdown, and periodic ticks
stay out of the INFO log."""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from pathlib import Path

import pytest

from core.log_filters import QuietPeriodicTasks
from tests.processes import start_celery, stop


def _wait_for(path: Path, text: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists() and text in path.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise AssertionError(f"{text!r} not logged:\n{path.read_text(errors='replace')[-3000:]}")


@pytest.mark.slow
def test_sigterm_to_the_worker_process_group_is_a_clean_warm_shutdown(tmp_path: Path) -> None:
    log_path = tmp_path / "worker.log"
    # given a prefork worker like make run's, as its own process group (honcho starts each in a new session)
    worker = start_celery(
        "worker",
        "--queues",
        f"shutdown-{uuid.uuid4().hex[:12]}",
        "--concurrency",
        "2",
        "--loglevel",
        "INFO",
        log_path=log_path,
    )
    try:
        _wait_for(log_path, " ready.")
        # when the whole group gets SIGTERM, pool processes included, as honcho does on Ctrl-C
        started = time.monotonic()
        os.killpg(worker.pid, signal.SIGTERM)
        returncode = worker.wait(timeout=30)
        elapsed = time.monotonic() - started
    finally:
        stop(worker)
    log = log_path.read_text(errors="replace")
    # then it exits by itself, successfully, and logs no error (pool processes killed mid-shutdown did)
    assert returncode == 0, log[-3000:]
    print(f"warm shutdown took {elapsed:.1f}s")  # noqa: T201 - for the record
    # and before honcho's fixed 5 s kill (KILL_WAIT): it took 7 s while the embedded broker was polled out twice
    # and the heap collected at exit
    assert elapsed < 5.0, log[-3000:]
    assert " ERROR " not in log, log[-3000:]
    assert " CRITICAL " not in log, log[-3000:]


def _record(name: str, msg: str, args: object, level: int = logging.INFO) -> logging.LogRecord:
    # As logger.info(msg, mapping) makes it: a single mapping argument becomes record.args.
    packed = (args,) if isinstance(args, dict) else args
    return logging.LogRecord(name, level, __file__, 1, msg, packed, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("name", "msg", "args"),
    [
        ("celery.beat", "Scheduler: Sending due task %s (%s)", ("deliver-due", "alerts.tasks.deliver_due_task")),
        (
            "celery.worker.strategy",
            "Task %(name)s[%(id)s] received",
            {"name": "alerts.tasks.deliver_due_task", "id": "1"},
        ),
        (
            "celery.app.trace",
            "Task %(name)s[%(id)s] succeeded in %(runtime)ss: %(return_value)s",
            {"name": "alerts.tasks.deliver_due_task", "id": "1", "runtime": 0.01, "return_value": 0},
        ),
    ],
)
def test_a_periodic_tick_is_logged_at_debug(name: str, msg: str, args: object) -> None:
    quiet = QuietPeriodicTasks(tasks=["alerts.tasks.deliver_due_task"])
    record = _record(name, msg, args)
    logging.getLogger(name).setLevel(logging.INFO)
    assert quiet.filter(record) is False  # dropped at INFO
    assert record.levelno == logging.DEBUG
    logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        assert quiet.filter(_record(name, msg, args)) is True  # shown when DEBUG is asked for
    finally:
        logging.getLogger(name).setLevel(logging.NOTSET)


def test_other_tasks_failures_and_own_lines_keep_their_level() -> None:
    quiet = QuietPeriodicTasks(tasks=["alerts.tasks.deliver_due_task"])
    other = _record(
        "celery.app.trace", "Task %(name)s[%(id)s] succeeded", {"name": "monitoring.tasks.run_check_task", "id": "1"}
    )
    failed = _record(
        "celery.app.trace",
        "Task %(name)s[%(id)s] raised",
        {"name": "alerts.tasks.deliver_due_task", "id": "1"},
        logging.ERROR,
    )
    own = _record("fairlens.alerts", "ALERT opened for %s", ("loan_model",))
    for record in (other, failed, own):
        level = record.levelno
        assert quiet.filter(record) is True
        assert record.levelno == level


def test_the_console_handler_quiets_the_frequent_beat_tasks() -> None:
    from django.conf import settings

    tasks = set(settings.LOGGING["filters"]["quiet_periodic_tasks"]["tasks"])
    assert "quiet_periodic_tasks" in settings.LOGGING["handlers"]["console"]["filters"]
    assert {"alerts.tasks.deliver_due_task", "monitoring.tasks.dispatch_checks_task"} <= tasks
    assert "accounts.tasks.flush_expired_tokens_task" not in tasks  # daily: worth seeing
