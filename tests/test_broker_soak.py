"""Soak test of the embedded broker: thousands of tasks through a running prefork worker, none lost or doubled.

kombu's own filesystem transport crashes the worker under this load (``Unrecoverable error: JSONDecodeError``)
because a consumer can read a message file that a producer has created but not yet written. The producer here
sends while the worker consumes, which is when that happens.
"""

from __future__ import annotations

import collections
import time
import uuid
from pathlib import Path

import pytest
from kombu import Connection

from tests.processes import start_celery, stop
from tests.soak_tasks import record_arrival

TASKS = 3000
# Bigger messages take longer to write, which widens the window in which a reader can see a partial file.
PADDING = "x" * 16384
BROKER_URL = "atomicfs://"


def _transport_options(folder: Path) -> dict[str, object]:
    # The same layout as the settings give the embedded broker, under this test's own folder.
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
        "store_processed": False,
    }


@pytest.mark.slow
@pytest.mark.soak
def test_the_embedded_broker_delivers_thousands_of_tasks_exactly_once_without_crashing(tmp_path: Path) -> None:
    broker_dir = tmp_path / "broker"
    for folder in ("queue", "control"):
        (broker_dir / folder).mkdir(parents=True)
    ledger = tmp_path / "ledger.txt"
    log_path = tmp_path / "worker.log"
    queue = f"soak-{uuid.uuid4().hex[:12]}"
    worker = start_celery(
        "worker",
        "--include",
        "tests.soak_tasks",
        "--queues",
        queue,
        "--concurrency",
        "2",
        "--loglevel",
        "INFO",
        log_path=log_path,
        # The embedded broker even where CI sets REDIS_URL, in this test's folder.
        # It polls often, so it looks at the queue folder while messages are being written.
        env={
            "CELERY_BROKER_URL": BROKER_URL,
            "FAIRLENS_BROKER_DIR": str(broker_dir),
            "FAIRLENS_BROKER_POLLING_SECONDS": "0.01",
            "REDIS_URL": "",
        },
    )

    def worker_log() -> str:
        return log_path.read_text(errors="replace")[-4000:]

    try:
        started = time.monotonic()
        # when thousands of tasks are sent while the worker is consuming
        with Connection(BROKER_URL, transport_options=_transport_options(broker_dir)) as connection:
            for index in range(TASKS):
                record_arrival.apply_async((str(ledger), index, PADDING), queue=queue, connection=connection)
                if index % 500 == 0:
                    assert worker.poll() is None, worker_log()
        sent = time.monotonic()
        deadline = sent + 120
        arrived: list[str] = []
        while time.monotonic() < deadline:
            assert worker.poll() is None, f"the worker exited ({worker.returncode})\n{worker_log()}"
            arrived = ledger.read_text().split() if ledger.exists() else []
            if len(arrived) >= TASKS:
                break
            time.sleep(0.5)
        finished = time.monotonic()
        time.sleep(1)  # a duplicate would show up just after the last original
        arrived = ledger.read_text().split()
        counts = collections.Counter(int(value) for value in arrived)
        # then every task ran exactly once and the worker stayed up without a critical error
        assert sorted(counts) == list(range(TASKS)), f"{TASKS - len(counts)} tasks lost\n{worker_log()}"
        assert [index for index, count in counts.items() if count > 1] == []
        assert worker.poll() is None, worker_log()
        log = log_path.read_text(errors="replace")
        assert "CRITICAL" not in log
        assert "Unrecoverable error" not in log
        assert not (broker_dir / "queue" / ".corrupt").exists()  # made only to hold an unreadable message
        print(  # noqa: T201 - the soak's throughput, for the record
            f"soak: {TASKS} tasks sent in {sent - started:.1f}s, all run after {finished - started:.1f}s"
        )
    finally:
        stop(worker)
