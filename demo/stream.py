"""The demo client `make run` starts: the demo model scores simulated applicants every few seconds while the
injected bias rises, so a new user watches checks pass, then a pre-alert, then an alert and its webhook.

The drift rises linearly from 0 to ``MAX_DRIFT`` over FAIRLENS_DEMO_RAMP_SECONDS from the stream's start
(recorded in ``var/demo-stream.json``; ``manage.py demo_stream --reset`` starts it again) and then stays.

Alerts count closed hourly buckets only, so a stream in real time would not alert for hours. The demo replays
simulated hours instead: its first batch is stamped ``REPLAY_HOURS`` hours in the past, and each batch moves one
simulated hour on (one hour per FAIRLENS_DEMO_STREAM_SECONDS) until the stamps reach the present; from then on
they are real time. Each replayed hour is closed when the next check reads it, so the evidence sees a day of
drift in a few minutes.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings

from demo.evaluation import simulate_decisions
from demo.model import DEMO_MODEL_NAME
from monitoring.ingestion.parsing import frame_from_json_records
from monitoring.ingestion.services import ingest_predictions
from monitoring.models import IngestionRecord
from registry.models import MLModel, ModelVersion
from registry.selectors import current_version

MAX_DRIFT = 1.0
BATCH_SIZE = 150
REPLAY_HOURS = 22
PRINCIPAL = "demo-stream"


def state_path() -> Path:
    return Path(settings.VAR_DIR) / "demo-stream.json"


def reset() -> None:
    state_path().unlink(missing_ok=True)


def started_at(now: datetime) -> datetime:
    """When the stream started; the first call records ``now``."""
    path = state_path()
    if path.exists():
        return datetime.fromisoformat(json.loads(path.read_text())["started_at"])
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"started_at": now.isoformat()}))
    return now


def drift_at(now: datetime) -> float:
    elapsed = (now - started_at(now)).total_seconds()
    ramp = max(settings.FAIRLENS_DEMO_RAMP_SECONDS, 1)
    return round(min(MAX_DRIFT, MAX_DRIFT * elapsed / ramp), 3)


def stamped_at(now: datetime) -> datetime:
    """The time the batch streamed at ``now`` is stamped with: a replayed hour, then real time."""
    start = started_at(now)
    step = max(settings.FAIRLENS_DEMO_STREAM_SECONDS, 1)
    batches = int((now - start).total_seconds() // step)
    replayed = start - timedelta(hours=REPLAY_HOURS) + timedelta(hours=batches, minutes=30)
    return min(replayed, now)


def demo_version() -> ModelVersion | None:
    """The demo model's current version (``registry.selectors.current_version``); None without the model."""
    model = MLModel.objects.filter(name=DEMO_MODEL_NAME).first()
    return current_version(model) if model is not None else None


def stream_batch(now: datetime) -> int:
    """Ingest one batch of simulated decisions at the current drift; returns rows stored.

    No outer transaction: the simulation runs before the write lock is taken, and ingestion's own short
    transaction is rerun if SQLite's write lock was busy.

    This is the demo model's client, so unlike evaluate_model its predictions are real ingestion: stored, rolled
    up, checked and alerted on. The decisions are the simulator's (evaluate_model's ``demo`` mode), in which the
    injected bias acts directly; the trained demo model passes only part of it on, so its drift would take far
    longer to show.
    """
    version = demo_version()
    if version is None:
        return 0
    decisions = simulate_decisions(
        model_version=version, n_samples=BATCH_SIZE, drift_level=drift_at(now), mode="demo", seed=int(now.timestamp())
    )
    stamp = stamped_at(now).isoformat()
    items = [{**item, "timestamp": stamp} for item in decisions.items]
    raw = frame_from_json_records(items, decisions.attributes, settings.INGEST_MAX_ROWS)
    result = ingest_predictions(
        model_version=version,
        raw=raw,
        attributes=decisions.attributes,
        principal=PRINCIPAL,
        source=IngestionRecord.Source.DEMO_STREAM,
    )
    return result.accepted
