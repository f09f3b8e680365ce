"""The client: a model service logs predictions and outcomes; a background thread batches and sends them.

Nothing here blocks or raises in the model service's request path. ``log_*`` puts a row on a bounded queue and
returns at once; when the queue is full the row is dropped, counted in ``stats.dropped``, and a warning is
logged (at most one every ``DROP_WARNING_SECONDS``). A sender thread groups rows per model version into
batches of ``batch_size`` rows, or whatever has waited ``flush_interval`` seconds, and POSTs them with gzip,
one Idempotency-Key per batch, and retries (see :mod:`fairlens_client.transport`). A batch the server refuses
(a typed 4xx) or that cannot be delivered within the retry time is counted in ``stats.failed_rows``, kept in
``errors`` and passed to ``on_error``.
"""

from __future__ import annotations

import atexit
import logging
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import requests

from fairlens_client import _frames
from fairlens_client._queue import RowQueue
from fairlens_client.errors import FairLensError
from fairlens_client.transport import RetryPolicy, Transport

logger = logging.getLogger("fairlens_client")
DROP_WARNING_SECONDS = 10.0
MAX_KEPT_ERRORS = 100
# The server's own limit per request is 50,000 rows (INGEST_MAX_ROWS).
MAX_BATCH_ROWS = 50_000


@dataclass(frozen=True)
class Stats:
    """Counts since the client started. ``accepted + duplicates + rejected`` are the server's answers;
    ``dropped`` never left this process (the queue was full, or the client closed); ``failed_rows`` were in
    batches that were refused or could not be delivered."""

    queued_rows: int = 0
    sent_batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    labels_updated: int = 0
    labels_unchanged: int = 0
    labels_unknown: int = 0
    dropped: int = 0
    failed_batches: int = 0
    failed_rows: int = 0
    retries: int = 0


@dataclass(frozen=True)
class BatchFailure:
    """A batch that did not get in: where it was going, how many rows, and why."""

    model: str
    version: str
    kind: str
    rows: int
    error: FairLensError


@dataclass(frozen=True)
class _Target:
    kind: str  # "predictions" or "labels"
    model: str
    version: str

    @property
    def path(self) -> str:
        return f"/api/v1/models/{quote(self.model, safe='')}/versions/{quote(self.version, safe='')}/{self.kind}"


@dataclass
class _Frame:
    frame: Any
    protected: Sequence[str]
    features: Sequence[str]


@dataclass
class _Control:
    action: str  # "flush" or "close"
    done: threading.Event = field(default_factory=threading.Event)


class Client:
    """Sends predictions and labels to the FairLens server at ``url`` with a model-client API key.

    ``columnar``: send data frames as Arrow IPC streams (default: when pyarrow is installed), else as JSON.
    """

    def __init__(
        self,
        url: str,
        api_key: str,
        *,
        batch_size: int = 5_000,
        flush_interval: float = 1.0,
        max_queue_rows: int = 200_000,
        timeout: float = 60.0,
        retry: RetryPolicy | None = None,
        compress: bool = True,
        columnar: bool | None = None,
        on_error: Callable[[BatchFailure], None] | None = None,
        session: requests.Session | None = None,
        close_timeout: float = 10.0,
    ) -> None:
        if not 1 <= batch_size <= MAX_BATCH_ROWS:
            raise ValueError(f"batch_size must be between 1 and {MAX_BATCH_ROWS}")
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        self.on_error = on_error
        self.columnar = _frames.arrow_available() if columnar is None else columnar
        if self.columnar and not _frames.arrow_available():
            raise ImportError('columnar=True needs pyarrow: pip install "fairlens-client[arrow]"')
        self.errors: deque[BatchFailure] = deque(maxlen=MAX_KEPT_ERRORS)
        self._stop = threading.Event()
        self._transport = Transport(
            url, api_key, timeout=timeout, retry=retry, compress=compress, session=session, stop=self._stop
        )
        self._queue = RowQueue(max_queue_rows)
        self._stats = Stats()
        self._lock = threading.Lock()
        self._closed = False
        self._last_drop_warning = float("-inf")
        self._close_timeout = close_timeout
        self._sender = threading.Thread(target=self._run, name="fairlens-client-sender", daemon=True)
        self._sender.start()
        atexit.register(self._close_at_exit)

    # -- the model service's side -------------------------------------------------------------------------

    def model(self, name: str, version: str) -> Model:
        return Model(self, name, str(version))

    @property
    def stats(self) -> Stats:
        with self._lock:
            return replace(self._stats, queued_rows=self._queue.rows, retries=self._transport.retries)

    def flush(self, timeout: float | None = None) -> bool:
        """Send everything logged so far; True once it has all been answered (or given up on), False if
        ``timeout`` seconds passed first."""
        if self._closed:
            return not self._sender.is_alive()
        control = _Control("flush")
        self._queue.put_control(control)
        return control.done.wait(timeout)

    def close(self, timeout: float | None = None) -> bool:
        """Send what is queued and stop. After ``timeout`` seconds retries are abandoned: the rows still
        waiting are counted as failed. True if everything was sent."""
        timeout = self._close_timeout if timeout is None else timeout
        if not self._closed:
            self._closed = True
            self._queue.put_control(_Control("close"))
        self._sender.join(timeout)
        if self._sender.is_alive():
            self._stop.set()
            self._sender.join(self._transport.timeout + 5)
        atexit.unregister(self._close_at_exit)
        return not self._sender.is_alive() and self.stats.failed_rows == 0

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_at_exit(self) -> None:
        self.close(self._close_timeout)

    def _offer(self, target: _Target, item: Any, rows: int) -> bool:
        if self._closed or not self._queue.offer((target, item), rows):
            self._dropped(rows)
            return False
        return True

    def _dropped(self, rows: int) -> None:
        with self._lock:
            self._stats = replace(self._stats, dropped=self._stats.dropped + rows)
            dropped = self._stats.dropped
            now = time.monotonic()
            warn = now - self._last_drop_warning >= DROP_WARNING_SECONDS
            if warn:
                self._last_drop_warning = now
        if warn:
            reason = "the client is closed" if self._closed else f"the queue is full ({self._queue.capacity_rows} rows)"
            logger.warning("fairlens: %d row(s) dropped so far: %s", dropped, reason)

    # -- the sender thread --------------------------------------------------------------------------------

    def _run(self) -> None:
        pending: dict[_Target, list[dict[str, Any]]] = {}
        since: dict[_Target, float] = {}
        while True:
            due = min(since.values(), default=None)
            wait = None if due is None else max(0.0, due + self.flush_interval - time.monotonic())
            item = self._queue.take(wait)
            try:
                if isinstance(item, _Control):
                    try:
                        self._send_all(pending, since)
                    finally:
                        item.done.set()
                    if item.action == "close":
                        return
                    continue
                self._take(item, pending, since)
            except Exception:  # noqa: BLE001 - the sender must outlive any bug in a batch: log it and go on
                logger.exception("fairlens: the sender thread hit an unexpected error")

    def _take(self, item: Any, pending: dict[_Target, list[dict[str, Any]]], since: dict[_Target, float]) -> None:
        """Add one queued item to its batch (a frame goes at once), then send the batches that have waited."""
        if item is not None:
            target, payload = item
            if isinstance(payload, _Frame):
                self._send_pending(target, pending, since)
                self._send_frame(target, payload)
            else:
                pending.setdefault(target, []).append(payload)
                since.setdefault(target, time.monotonic())
                if len(pending[target]) >= self.batch_size:
                    self._send_pending(target, pending, since)
        now = time.monotonic()
        for late in [target for target, first in since.items() if now - first >= self.flush_interval]:
            self._send_pending(late, pending, since)

    def _send_all(self, pending: dict[_Target, list[dict[str, Any]]], since: dict[_Target, float]) -> None:
        for target in [target for target in pending if target.kind == "predictions"] + list(pending):
            self._send_pending(target, pending, since)

    def _send_pending(self, target: _Target, pending: dict[_Target, list[dict[str, Any]]], since: dict) -> None:
        if target.kind == "labels":
            # A label may be for a prediction still waiting here: the predictions go first.
            self._send_pending(replace(target, kind="predictions"), pending, since)
        records = pending.pop(target, None)
        since.pop(target, None)
        if records:
            self._send(target, _frames.json_body(target.kind, records), "application/json", len(records))

    def _send_frame(self, target: _Target, item: _Frame) -> None:
        frame = item.frame
        for start in range(0, len(frame), self.batch_size):
            part = frame.iloc[start : start + self.batch_size]
            try:
                if self.columnar:
                    body, content_type = _frames.arrow_body(part), _frames.ARROW_STREAM
                else:
                    records = _frames.json_records(part, item.protected, item.features)
                    body, content_type = _frames.json_body("predictions", records), "application/json"
            except Exception as exc:  # noqa: BLE001 - a frame that cannot be encoded fails, the thread goes on
                self._failed(target, len(part), FairLensError(f"the frame could not be encoded: {exc}"))
                continue
            self._send(target, body, content_type, len(part))

    def _send(self, target: _Target, body: bytes, content_type: str, rows: int) -> None:
        try:
            answer = self._transport.post(target.path, body, content_type, idempotency_key=uuid.uuid4().hex)
        except FairLensError as exc:
            self._failed(target, rows, exc)
            return
        except Exception as exc:  # noqa: BLE001 - never let the sender thread die
            self._failed(target, rows, FairLensError(f"{type(exc).__name__}: {exc}"))
            return
        result = answer.body if isinstance(answer.body, Mapping) else {}
        with self._lock:
            counts = self._stats
            if target.kind == "predictions":
                counts = replace(
                    counts,
                    accepted=counts.accepted + int(result.get("accepted", 0)),
                    duplicates=counts.duplicates + int(result.get("duplicates", 0)),
                    rejected=counts.rejected + int(result.get("rejected", 0)),
                )
            else:
                counts = replace(
                    counts,
                    labels_updated=counts.labels_updated + int(result.get("updated", 0)),
                    labels_unchanged=counts.labels_unchanged + int(result.get("unchanged", 0)),
                    labels_unknown=counts.labels_unknown + int(result.get("unknown", 0)),
                    rejected=counts.rejected + int(result.get("rejected", 0)),
                )
            self._stats = replace(counts, sent_batches=counts.sent_batches + 1)
        if result.get("errors"):
            logger.warning(
                "fairlens: %s row error(s) in a batch to %s, first: %s",
                len(result["errors"]),
                target.path,
                result["errors"][0],
            )

    def _failed(self, target: _Target, rows: int, error: FairLensError) -> None:
        failure = BatchFailure(target.model, target.version, target.kind, rows, error)
        with self._lock:
            self._stats = replace(
                self._stats,
                failed_batches=self._stats.failed_batches + 1,
                failed_rows=self._stats.failed_rows + rows,
            )
        self.errors.append(failure)
        logger.warning(
            "fairlens: a batch of %d %s for %s/%s failed: %s", rows, target.kind, target.model, target.version, error
        )
        if self.on_error is not None:
            try:
                self.on_error(failure)
            except Exception:  # noqa: BLE001 - the caller's callback must not stop the sender
                logger.exception("fairlens: on_error raised")


class Model:
    """One model version of a :class:`Client`: what a model service logs to."""

    def __init__(self, client: Client, name: str, version: str) -> None:
        self.client = client
        self.name = name
        self.version = version
        self._predictions = _Target("predictions", name, version)
        self._labels = _Target("labels", name, version)

    def log_prediction(
        self,
        id: str,  # noqa: A002 - the API's field name
        *,
        attributes: Mapping[str, Any],
        y_pred: int | bool,
        timestamp: datetime | str | None = None,
        y_true: int | bool | None = None,
        score: float | None = None,
        features: Mapping[str, Any] | None = None,
    ) -> bool:
        """Queue one prediction (sent in the next batch); False if it was dropped. ``timestamp`` defaults to
        now; a datetime must carry a zone."""
        moment = datetime.now(UTC) if timestamp is None else timestamp
        record: dict[str, Any] = {
            "id": str(id),
            "timestamp": moment.isoformat() if isinstance(moment, datetime) else str(moment),
            "attributes": dict(attributes),
            "y_pred": int(y_pred),
        }
        if y_true is not None:
            record["y_true"] = int(y_true)
        if score is not None:
            record["score"] = float(score)
        if features:
            record["features"] = dict(features)
        return self.client._offer(self._predictions, record, 1)

    def log_label(self, id: str, y_true: int | bool) -> bool:  # noqa: A002
        """Queue the true outcome of a prediction logged before; False if it was dropped."""
        return self.client._offer(self._labels, {"id": str(id), "y_true": int(y_true)}, 1)

    def log_frame(
        self,
        frame: Any,
        *,
        id: str,  # noqa: A002
        decision: str,
        protected: Sequence[str],
        score: str | None = None,
        label: str | None = None,
        timestamp: str | None = None,
        features: Sequence[str] = (),
    ) -> int:
        """Queue every row of a pandas data frame, naming its columns: ``id``, ``decision`` (0/1), ``protected``
        (one column per attribute), and optionally ``score``, ``label`` (the outcome), ``timestamp`` (zoned; now
        if omitted) and ``features``. Returns the rows queued (0 if the frame was dropped: it is queued whole or
        not at all)."""
        canonical = _frames.canonical_frame(
            frame,
            id=id,
            decision=decision,
            protected=protected,
            score=score,
            label=label,
            timestamp=timestamp,
            features=features,
            now=datetime.now(UTC),
        )
        if canonical.empty:
            return 0
        item = _Frame(canonical, list(protected), list(features))
        return len(canonical) if self.client._offer(self._predictions, item, len(canonical)) else 0
