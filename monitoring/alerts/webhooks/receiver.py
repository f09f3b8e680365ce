"""Verify FairLens webhooks (Standard Webhooks 1.0) on the receiving side.

This single file uses only the Python standard library, so you can copy it into your own service. It is also the
receiver FairLens tests deliver to. What it checks, and why:

* ``webhook-signature`` must hold a ``v1,<base64 HMAC-SHA256>`` of ``{webhook-id}.{webhook-timestamp}.{body}``
  under your secret. Compare in constant time so response timing leaks nothing about the expected value.
* ``webhook-timestamp`` must be within 5 minutes of your clock, in *either* direction, so a captured request
  cannot be replayed later.
* ``webhook-id`` is stable across retries: delivery is at-least-once, so process each id once (``SeenIds``).
* During a secret rotation the header carries several signatures; one match with any of your secrets is enough.
  Unknown versions (for example ``v1a``) are ignored, not errors.

Demo server::

    WEBHOOK_SECRET=whsec_... python -m alerts.webhooks.receiver --port 8765 [--host 127.0.0.1] [--db ids.sqlite3]

It answers 401 to a bad signature and 200 to a valid one (also to a repeated id: the sender must stop retrying),
and prints ``webhook verified: id=... type=... duplicate=yes/no`` for each accepted request.
``WEBHOOK_SECRET`` may hold several secrets separated by spaces while you rotate.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import sys
import time
from collections.abc import Mapping, Sequence
from contextlib import closing
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["SeenIds", "WebhookVerificationError", "verify"]

DEFAULT_TOLERANCE_SECONDS = 300
MAX_BODY_BYTES = 1024 * 1024


class WebhookVerificationError(Exception):
    """The request is not a genuine, fresh webhook: reject it (HTTP 401) and do not process it."""


def _key(secret: str) -> bytes:
    """Decode ``whsec_<base64>`` (or bare base64) into the HMAC key."""
    encoded = secret.removeprefix("whsec_")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret must look like 'whsec_<base64>'") from None
    if not key:
        raise ValueError("webhook secret is empty")
    return key


def _header(headers: Mapping[str, str], name: str) -> str:
    values = {value for key, value in headers.items() if key.lower() == name}
    if not values:
        raise WebhookVerificationError(f"missing header {name}")
    if len(values) > 1:
        raise WebhookVerificationError(f"conflicting values for header {name}")
    value = values.pop()
    if not value:
        raise WebhookVerificationError(f"empty header {name}")
    return value


def verify(
    secret: str | Sequence[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_seconds: int = DEFAULT_TOLERANCE_SECONDS,
    now: float | None = None,
) -> None:
    """Return if the request is a genuine, fresh webhook; raise ``WebhookVerificationError`` otherwise.

    ``body`` must be the raw request bytes, before any JSON parsing: re-serialized JSON will not match.
    ``now`` (Unix seconds) is for tests; by default the local clock is used.
    """
    keys = [_key(secret)] if isinstance(secret, str) else [_key(s) for s in secret]
    if not keys:
        raise ValueError("at least one webhook secret is required")

    msg_id = _header(headers, "webhook-id")
    timestamp_text = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")

    if "." in msg_id:
        raise WebhookVerificationError("invalid webhook-id")
    # Plain ASCII digits only: int() would also accept "+1", " 1", "1_0" and non-ASCII digits.
    if not (timestamp_text.isascii() and timestamp_text.isdigit() and len(timestamp_text) <= 15):
        raise WebhookVerificationError("webhook-timestamp is not an integer")
    timestamp = int(timestamp_text)
    current = time.time() if now is None else now
    if abs(current - timestamp) > tolerance_seconds:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance window")

    content = f"{msg_id}.{timestamp_text}.".encode() + bytes(body)
    # Compared as canonical base64 text, as the reference libraries do: decoding first would also accept the
    # variants that differ only in the last character's unused bits, so a changed header could still pass.
    expected = [base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode() for key in keys]
    for item in signatures.split():
        version, _, encoded = item.partition(",")
        if version != "v1":
            continue  # other schemes (v1a = ed25519, future versions) are not ours to judge
        if any(hmac.compare_digest(encoded.encode(), digest.encode()) for digest in expected):
            return
    raise WebhookVerificationError("no matching signature")


class SeenIds:
    """Remembers processed ``webhook-id`` values in a SQLite file with a UNIQUE column.

    ``first_time`` is True exactly once per id, even with several threads or processes, because the database
    (not Python code) decides who inserted the row. Call it only *after* ``verify`` succeeded, so forged
    requests cannot fill the table or mark real ids as seen.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = os.fspath(path)
        with closing(self._connect()) as conn:
            conn.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
            conn.execute(
                "CREATE TABLE IF NOT EXISTS seen_webhook_ids (webhook_id TEXT NOT NULL UNIQUE, seen_at REAL NOT NULL)"
            )

    def _connect(self) -> sqlite3.Connection:
        # One short-lived connection per call: nothing is shared between threads, and autocommit makes
        # each INSERT its own transaction. The timeout waits for other writers instead of failing.
        return sqlite3.connect(self.path, timeout=30, isolation_level=None)

    def first_time(self, webhook_id: str) -> bool:
        """Record ``webhook_id``; return True if this call inserted it, False if it was already there."""
        with closing(self._connect()) as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO seen_webhook_ids (webhook_id, seen_at) VALUES (?, ?)",
                (webhook_id, time.time()),
            )
            return cursor.rowcount == 1


def _printable(value: object, limit: int = 80) -> str:
    text = value if isinstance(value, str) else "?"
    return "".join(ch if ch.isprintable() and not ch.isspace() else "?" for ch in text[:limit]) or "?"


class _Handler(BaseHTTPRequestHandler):
    server: _DemoServer

    def do_POST(self) -> None:  # noqa: N802 - name required by BaseHTTPRequestHandler
        length_text = self.headers.get("content-length", "")
        if not length_text.isdigit():
            self._reply(HTTPStatus.LENGTH_REQUIRED, {"error": "content-length required"})
            return
        if int(length_text) > MAX_BODY_BYTES:
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": "body too large"})
            return
        body = self.rfile.read(int(length_text))
        try:
            # HTTPMessage keeps repeated headers in items(), so conflicting duplicates are detected.
            verify(self.server.secrets, self.headers, body)  # type: ignore[arg-type]
        except WebhookVerificationError as exc:
            self.log_message("rejected: %s", exc)  # the reason goes to our log, not to the caller
            self._reply(HTTPStatus.UNAUTHORIZED, {"error": "invalid signature"})
            return
        msg_id = self.headers["webhook-id"]
        duplicate = not self.server.seen.first_time(msg_id)
        try:
            event_type = json.loads(body).get("type")
        except (ValueError, AttributeError):
            event_type = None
        sys.stdout.write(
            f"webhook verified: id={_printable(msg_id)} type={_printable(event_type)} "
            f"duplicate={'yes' if duplicate else 'no'}\n"
        )
        sys.stdout.flush()
        self._reply(HTTPStatus.OK, {"ok": True, "duplicate": duplicate})

    def _reply(self, status: HTTPStatus, payload: dict[str, object]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


class _DemoServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], secrets: list[str], seen: SeenIds) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET  # allow --host ::1
        super().__init__(address, _Handler)
        self.secrets = secrets
        self.seen = seen


def main(argv: Sequence[str] | None = None) -> int:
    """Run the demo receiver until interrupted."""
    parser = argparse.ArgumentParser(description="Verify and print FairLens webhooks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (printed at start)")
    parser.add_argument("--db", default="webhook-ids.sqlite3", help="SQLite file of processed webhook ids")
    args = parser.parse_args(argv)

    secrets = os.environ.get("WEBHOOK_SECRET", "").split()
    if not secrets:
        parser.error("set WEBHOOK_SECRET to your endpoint's whsec_... secret")
    try:
        for secret in secrets:
            _key(secret)
    except ValueError as exc:
        parser.error(str(exc))

    server = _DemoServer((args.host, args.port), secrets, SeenIds(args.db))
    host, port = server.server_address[:2]
    shown = f"[{host}]" if ":" in str(host) else host
    sys.stdout.write(f"listening on http://{shown}:{port}\n")
    sys.stdout.flush()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
