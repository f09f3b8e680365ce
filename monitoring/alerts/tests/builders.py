"""Builders for alert tests: hours calibrated to a verdict, a real loopback webhook receiver, endpoints, events and
their deliveries. The ``receiver`` fixture (root ``conftest.py``) serves a :class:`LoopbackReceiver`."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from monitoring.alerts import services
from monitoring.alerts.models import Delivery, OutboxEvent, WebhookEndpoint
from monitoring.checks.tests.builders import check_hour, ingest_rates
from monitoring.models import FairnessCheck

# Approved men out of 400 in a calibrated hour.
MEN = (400, 280)
# Approved women out of 400, and what a check of such an hour concludes about DIR (male rate 0.70).
CRITICAL = 140  # DIR 0.50, interval [0.43, 0.58]: significant, >= 25 % short of 0.8
HIGH = 165  # DIR 0.59, interval ends ~0.67: significant, 10-25 % short
MEDIUM = 190  # DIR 0.68, interval [0.60, 0.77]: significant, < 10 % short
POSSIBLE = 210  # DIR 0.75, interval [0.67, 0.84]: possible violation, pages nobody
PASSING = 280  # DIR 1.0


def checked(version: Any, hour: int, women_approved: int) -> FairnessCheck:
    ingest_rates(version, hour=hour, male=MEN, female=(400, women_approved))
    return check_hour(version, hour)


def events(event_type: str) -> list[OutboxEvent]:
    return list(OutboxEvent.objects.filter(type=event_type).order_by("id"))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Reply:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b'{"ok": true}'


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's signature
        """Quiet: tests look at the recorded requests."""

    def do_POST(self) -> None:  # noqa: N802 - name required by BaseHTTPRequestHandler
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with self.server.lock:
            self.server.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
        time.sleep(self.server.delay)
        reply = self.server.replies.get(self.path.split("?", 1)[0], Reply())
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)


class LoopbackReceiver(ThreadingHTTPServer):
    """Records every POST; answers each path with its ``Reply`` (200 by default)."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[Received] = []
        self.replies: dict[str, Reply] = {}
        self.delay = 0.0
        self.lock = threading.Lock()

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.server_port}{path}"


def make_endpoint(receiver: LoopbackReceiver, path: str = "/hook", **fields: Any) -> tuple[WebhookEndpoint, str]:
    fields.setdefault("name", f"ep{path.replace('/', '-')}")
    return services.endpoint_create(created_by=None, url=receiver.url(path), **fields)


def emit(version: Any, event_type: str = "alert.opened", **data: Any) -> OutboxEvent:
    payload = {"alert_id": 1, "model": "loan_model", "version": "1", "severity": "high", **data}
    return services.emit_event(event_type, model=version.model, data=payload)


def delivery_for(event: OutboxEvent, endpoint: WebhookEndpoint | None = None) -> Delivery:
    deliveries = Delivery.objects.filter(event=event)
    return deliveries.get(endpoint=endpoint) if endpoint is not None else deliveries.get()
