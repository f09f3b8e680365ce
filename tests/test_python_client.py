"""The Python client (clients/python) against a real FairLens server process: a stream of predictions and
labels goes through a server killed and restarted mid-stream, and the database then holds every row exactly
once (the Idempotency-Key of a batch whose answer was lost makes its retry a replay, not a second insert).
The 1M-row form of this run is ``python -m bench.client_stream``."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from django.db.models import Sum
from fairlens_client import AuthenticationFailed, Client, NotFound, RetryPolicy
from fairlens_client.transport import Transport

from accounts.services import model_client_key_create
from monitoring.models import Prediction, PredictionRollup
from registry.services import register_model
from tests.processes import free_port, start_web, stop

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)

POLICY = {"protected_attributes": ["sex"], "privileged": {"sex": "Male"}}
ROWS = 24_000
CHUNK = 1_000


def frame_of(start: int, rows: int) -> pd.DataFrame:
    numbers = np.arange(start, start + rows)
    return pd.DataFrame(
        {
            "application": [f"app-{number}" for number in numbers],
            "approved": (numbers % 3 != 0).astype(int),
            "p": (numbers % 100) / 100.0,
            "sex": np.where(numbers % 2 == 0, "Female", "Male"),
            "decided_at": pd.Timestamp("2026-03-02T09:00:00Z") + pd.to_timedelta(numbers % 7200, unit="s"),
        }
    )


def kill_group(process: object) -> None:
    """SIGKILL the server and its workers: requests in flight are cut off, nothing is drained."""
    os.killpg(process.pid, signal.SIGKILL)  # type: ignore[attr-defined]
    process.wait(timeout=20)  # type: ignore[attr-defined]


def test_a_stream_survives_a_server_restart_with_every_row_stored_once(tmp_path: Path) -> None:
    version = register_model(name="credit_model", version="1", registered_by=None, policy=POLICY)
    _, key = model_client_key_create(model=version.model, name="scorer", created_by=None)
    bind = f"127.0.0.1:{free_port()}"
    process, base = start_web(log_path=tmp_path / "web-1.log", bind=bind)
    client = Client(base, key, batch_size=2_000, flush_interval=0.2, retry=RetryPolicy(base=0.1, cap=1.0))
    model = client.model("credit_model", "1")
    restarted = threading.Event()
    try:
        for start in range(0, ROWS, CHUNK):
            assert (
                model.log_frame(
                    frame_of(start, CHUNK),
                    id="application",
                    decision="approved",
                    protected=["sex"],
                    score="p",
                    timestamp="decided_at",
                )
                == CHUNK
            )
            if start == ROWS // 3:
                # Wait until batches are in flight, then pull the server away under them.
                deadline = time.monotonic() + 30
                while client.stats.sent_batches < 2 and time.monotonic() < deadline:
                    time.sleep(0.01)
                kill_group(process)
                time.sleep(1.0)  # the client retries against a closed port meanwhile
                process, _ = start_web(log_path=tmp_path / "web-2.log", bind=bind)
                restarted.set()
        for number in range(0, ROWS, 4):  # outcomes for a quarter of them, as single calls
            assert model.log_label(f"app-{number}", number % 5 != 0)
        assert client.flush(180), client.stats
        stats = client.stats
    finally:
        client.close(30)
        stop(process)
    assert restarted.is_set()
    assert stats.retries > 0, "the restart was never felt: the test did not test it"
    assert (stats.accepted, stats.duplicates, stats.rejected, stats.dropped, stats.failed_rows) == (ROWS, 0, 0, 0, 0)
    assert stats.labels_updated == ROWS // 4
    assert Prediction.objects.filter(model_version=version).count() == ROWS
    assert Prediction.objects.filter(model_version=version, y_true__isnull=False).count() == ROWS // 4
    rollups = PredictionRollup.objects.filter(model_version=version, attribute="sex")
    counted = rollups.aggregate(
        rows=Sum("tp") + Sum("fp") + Sum("tn") + Sum("fn") + Sum("unlabeled_pos") + Sum("unlabeled_neg")
    )
    assert counted["rows"] == ROWS


def test_the_servers_refusals_arrive_as_typed_errors(tmp_path: Path) -> None:
    version = register_model(name="credit_model", version="1", registered_by=None, policy=POLICY)
    _, key = model_client_key_create(model=version.model, name="scorer", created_by=None)
    process, base = start_web(log_path=tmp_path / "web.log")
    body = (
        b'{"predictions": [{"id": "a", "timestamp": "2026-03-02T09:00:00Z", "attributes": {"sex": "Male"},'
        b' "y_pred": 1}]}'
    )
    try:
        with pytest.raises(AuthenticationFailed):
            Transport(base, "not-a-key").post(
                "/api/v1/models/credit_model/versions/1/predictions", body, "application/json", "k1"
            )
        with pytest.raises(NotFound) as missing:
            Transport(base, key).post(
                "/api/v1/models/credit_model/versions/9/predictions", body, "application/json", "k2"
            )
        assert missing.value.code == "not_found"
        answer = Transport(base, key).post(
            "/api/v1/models/credit_model/versions/1/predictions", body, "application/json", "k3"
        )
        assert (answer.status, answer.body["accepted"]) == (201, 1)
    finally:
        stop(process)
