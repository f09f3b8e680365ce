"""The client's side of the protocol, against a loopback HTTP server that answers as told: retries with
backoff that honour Retry-After, one Idempotency-Key per batch over its retries, gzip, typed errors that are
not retried, and a full queue that drops (and counts) instead of blocking. The whole path against a real
FairLens server is tests/test_python_client.py in the repository's root."""

from __future__ import annotations

import gzip
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest
from fairlens_client import BadRequest, Client, RetryPolicy, ServerError
from fairlens_client._queue import RowQueue
from fairlens_client.transport import Transport, retry_after_seconds

FAST = RetryPolicy(base=0.01, cap=0.05, retry_for=5.0)


class Recorder(ThreadingHTTPServer):
    """Answers each POST with the next scripted (status, headers, body); records what arrived."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), Handler)
        self.script: list[tuple[int, dict[str, str], Any]] = []
        self.requests: list[dict[str, Any]] = []
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers["Content-Length"]))
        body = gzip.decompress(raw) if self.headers.get("Content-Encoding") == "gzip" else raw
        self.server.requests.append(
            {"path": self.path, "headers": dict(self.headers), "body": body, "at": time.monotonic()}
        )
        time.sleep(self.server.delay)
        status, headers, answer = self.server.script.pop(0) if self.server.script else (201, {}, None)
        if answer is None:
            rows = len(json.loads(body).get("predictions", [])) if body.startswith(b"{") else 0
            answer = {"accepted": rows, "duplicates": 0, "rejected": 0, "errors": []}
        payload = json.dumps(answer).encode()
        self.send_response(status)
        for name, value in {"Content-Type": "application/json", **headers}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Recorder]:
    recorder = Recorder()
    thread = threading.Thread(target=recorder.serve_forever, daemon=True)
    thread.start()
    yield recorder
    recorder.shutdown()
    recorder.server_close()


def test_a_503_is_retried_after_its_retry_after_with_the_same_idempotency_key(server: Recorder) -> None:
    server.script = [(503, {"Retry-After": "1"}, {"code": "service_unavailable", "message": "down"})]
    transport = Transport(server.url, "k", retry=FAST)
    answer = transport.post("/p", b'{"predictions": [1, 2]}', "application/json", idempotency_key="batch-1")
    assert (answer.status, answer.attempts) == (201, 2)
    first, second = server.requests
    assert second["at"] - first["at"] >= 0.95  # the header's second, not the 10 ms backoff
    assert first["headers"]["Idempotency-Key"] == second["headers"]["Idempotency-Key"] == "batch-1"
    assert first["headers"]["Content-Encoding"] == "gzip"
    assert first["headers"]["Authorization"] == "Api-Key k"
    assert json.loads(second["body"]) == {"predictions": [1, 2]}


def test_a_4xx_is_a_typed_error_and_is_not_retried(server: Recorder) -> None:
    server.script = [(400, {}, {"code": "missing_column", "message": "no sex", "details": {"columns": ["sex"]}})]
    with pytest.raises(BadRequest) as raised:
        Transport(server.url, "k", retry=FAST).post("/p", b"{}", "application/json", idempotency_key="b")
    assert (raised.value.status, raised.value.code, raised.value.details) == (
        400,
        "missing_column",
        {"columns": ["sex"]},
    )
    assert len(server.requests) == 1


def test_retries_stop_when_the_retry_time_runs_out(server: Recorder) -> None:
    server.script = [(500, {}, {"code": "server_error", "message": "x"})] * 50
    started = time.monotonic()
    with pytest.raises(ServerError):
        Transport(server.url, "k", retry=RetryPolicy(base=0.05, cap=0.1, retry_for=0.5)).post(
            "/p", b"{}", "application/json", idempotency_key="b"
        )
    assert time.monotonic() - started < 1.5
    assert 2 <= len(server.requests) < 50


def test_backoff_is_jittered_and_capped() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    assert [policy.wait(n, None, draw=lambda: 1.0) for n in range(6)] == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]
    assert policy.wait(3, None, draw=lambda: 0.25) == 1.0
    assert policy.wait(0, 120.0) == 120.0
    assert policy.wait(0, 10_000.0) == policy.cap_retry_after


def test_retry_after_reads_seconds_and_dates() -> None:
    assert retry_after_seconds("7") == 7.0
    assert retry_after_seconds("Thu, 01 Jan 2026 00:00:10 GMT", now=1767225600.0) == pytest.approx(10.0)
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds(None) is None


def test_rows_are_batched_by_size_and_by_time(server: Recorder) -> None:
    client = Client(server.url, "k", batch_size=3, flush_interval=0.3, retry=FAST)
    model = client.model("credit model", "1")
    for number in range(7):
        assert model.log_prediction(f"r{number}", attributes={"sex": "F"}, y_pred=1)
    deadline = time.monotonic() + 5
    while len(server.requests) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    sizes = [len(json.loads(request["body"])["predictions"]) for request in server.requests]
    assert sizes == [3, 3, 1]  # the last row went once it had waited flush_interval
    assert server.requests[0]["path"] == "/api/v1/models/credit%20model/versions/1/predictions"
    assert len({request["headers"]["Idempotency-Key"] for request in server.requests}) == 3
    assert client.close(5)
    assert client.stats.accepted == 7


def test_a_full_queue_drops_and_counts_and_never_blocks(server: Recorder, caplog: pytest.LogCaptureFixture) -> None:
    server.delay = 0.5  # the sender is busy with the first batch while the rest arrive
    client = Client(server.url, "k", batch_size=10, max_queue_rows=50, retry=FAST)
    model = client.model("m", "1")
    started = time.monotonic()
    results = [model.log_prediction(str(number), attributes={"a": "x"}, y_pred=0) for number in range(500)]
    assert time.monotonic() - started < 0.5
    assert 0 < sum(results) < 500
    assert client.stats.dropped == results.count(False)
    assert any("dropped" in record.message for record in caplog.records)
    assert client.close(10)
    assert client.stats.accepted == sum(results)


def test_a_refused_batch_is_counted_kept_and_reported(server: Recorder) -> None:
    server.script = [(404, {}, {"code": "not_found", "message": "no such model"})]
    seen = []
    client = Client(server.url, "k", batch_size=2, retry=FAST, on_error=seen.append)
    model = client.model("ghost", "1")
    model.log_prediction("a", attributes={"s": "x"}, y_pred=1)
    model.log_prediction("b", attributes={"s": "x"}, y_pred=1)
    assert client.flush(5)
    assert (client.stats.failed_batches, client.stats.failed_rows) == (1, 2)
    assert seen[0].error.status == 404
    assert seen[0].rows == 2
    assert list(client.errors) == seen
    client.close(5)


def test_labels_wait_for_the_predictions_they_follow(server: Recorder) -> None:
    client = Client(server.url, "k", batch_size=100, flush_interval=60, retry=FAST)
    model = client.model("m", "1")
    model.log_prediction("a", attributes={"s": "x"}, y_pred=1)
    model.log_label("a", 1)
    assert client.flush(5)
    assert [request["path"].rsplit("/", 1)[1] for request in server.requests] == ["predictions", "labels"]
    assert json.loads(server.requests[1]["body"]) == {"labels": [{"id": "a", "y_true": 1}]}
    client.close(5)


def test_close_gives_up_on_an_unreachable_server_within_its_timeout() -> None:
    client = Client("http://127.0.0.1:9", "k", retry=RetryPolicy(base=0.2, cap=1.0, retry_for=600), timeout=2)
    client.model("m", "1").log_prediction("a", attributes={"s": "x"}, y_pred=1)
    started = time.monotonic()
    assert not client.close(1.0)
    assert time.monotonic() - started < 5
    assert client.stats.failed_rows == 1
    assert not client.model("m", "1").log_prediction("b", attributes={"s": "x"}, y_pred=1)


@pytest.mark.parametrize("columnar", [True, False])
def test_a_frame_goes_in_batches_of_its_columns(server: Recorder, columnar: bool) -> None:
    frame = pd.DataFrame(
        {
            "application": [f"x{n}" for n in range(5)],
            "approved": [1, 0, 1, 1, 0],
            "p": [0.9, 0.1, 0.8, 0.7, 0.2],
            "sex": ["F", "M", "F", "M", "F"],
            "at": pd.date_range("2026-03-02", periods=5, freq="h", tz="UTC"),
        }
    )
    client = Client(server.url, "k", batch_size=2, retry=FAST, columnar=columnar)
    queued = client.model("m", "1").log_frame(
        frame, id="application", decision="approved", protected=["sex"], score="p", timestamp="at"
    )
    frame.loc[0, "approved"] = 0  # the client kept its own copy
    assert queued == 5
    assert client.flush(5)
    assert len(server.requests) == 3
    first = server.requests[0]
    if columnar:
        import pyarrow as pa

        assert first["headers"]["Content-Type"] == "application/vnd.apache.arrow.stream"
        table = pa.ipc.open_stream(first["body"]).read_all()
        assert table.column_names == ["id", "y_pred", "score", "timestamp", "sex"]
        assert table.column("y_pred").to_pylist() == [1, 0]
        assert table.schema.field("timestamp").type.tz == "UTC"
    else:
        records = json.loads(first["body"])["predictions"]
        assert records[0] == {
            "id": "x0",
            "timestamp": "2026-03-02T00:00:00Z",
            "attributes": {"sex": "F"},
            "y_pred": 1,
            "score": 0.9,
        }
    client.close(5)


def test_log_frame_refuses_a_missing_column_or_unzoned_times_at_once(server: Recorder) -> None:
    client = Client(server.url, "k", retry=FAST)
    model = client.model("m", "1")
    frame = pd.DataFrame({"i": ["a"], "d": [1], "s": ["F"], "t": pd.to_datetime(["2026-03-02"])})
    with pytest.raises(KeyError, match="race"):
        model.log_frame(frame, id="i", decision="d", protected=["race"])
    with pytest.raises(ValueError, match="without a zone"):
        model.log_frame(frame, id="i", decision="d", protected=["s"], timestamp="t")
    client.close(5)
    assert server.requests == []


def test_the_row_queue_is_bounded_by_rows() -> None:
    queue = RowQueue(10)
    assert queue.offer("a", 6)
    assert not queue.offer("b", 5)
    assert queue.offer("c", 4)
    queue.put_control("flush")  # control items take no room
    assert [queue.take(0), queue.take(0), queue.take(0), queue.take(0.01)] == ["a", "c", "flush", None]
    assert queue.rows == 0


def test_the_client_imports_without_django() -> None:
    import subprocess
    import sys

    code = "import sys, fairlens_client, fairlens_client.aio; print('django' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env={})
    assert result.stdout.strip() == "False"
