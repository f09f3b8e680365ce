"""Loopback HTTP servers the webhook tests deliver to (standard library only): ``RecordingServer`` answers by
route (a redirect to the metadata address, a slow reply, a 5 MB body, 410) for the transport and SSRF tests."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from monitoring.alerts.webhooks.ssrf import Destination

BIG_RESPONSE_BYTES = 5 * 1024 * 1024
METADATA_URL = "http://169.254.169.254/latest/meta-data/"


@dataclass
class Recorded:
    method: str
    path: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key.lower() == name.lower()]


class _Handler(BaseHTTPRequestHandler):
    server: RecordingServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - signature of the base class
        """Quiet: tests assert on recorded requests, not on log lines."""

    def do_POST(self) -> None:  # noqa: N802 - name required by BaseHTTPRequestHandler
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.requests.append(Recorded(self.command, self.path, list(self.headers.items()), body))
        route = self.path.split("?", 1)[0]
        try:
            if route == "/redirect":
                self._send(302, b"", [("Location", METADATA_URL)])
            elif route == "/slow":
                self.server.release.wait(10)
                self._send(200, b"too late")
            elif route == "/big":
                self.send_response(200)
                self.send_header("Content-Length", str(BIG_RESPONSE_BYTES))
                self.end_headers()
                chunk = b"A" * 65536
                for _ in range(BIG_RESPONSE_BYTES // len(chunk)):
                    self.wfile.write(chunk)
            elif route == "/gone":
                self._send(410, b'{"error": "gone"}')
            else:
                self._send(
                    200, b'{"ok": true}', [("X-Received-Bytes", str(len(body))), ("X-Multi", "a"), ("X-Multi", "b")]
                )
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client stopped reading on purpose

    def _send(self, status: int, body: bytes, headers: Sequence[tuple[str, str]] = ()) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class RecordingServer(ThreadingHTTPServer):
    """A loopback HTTP server on an ephemeral port that records every request it receives."""

    daemon_threads = True

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[Recorded] = []
        self.release = threading.Event()
        if ssl_context is not None:
            self.socket = ssl_context.wrap_socket(self.socket, server_side=True)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def destination(self, target: str = "/ok", host: str = "127.0.0.1", scheme: str = "http") -> Destination:
        return Destination(
            url=f"{scheme}://{host}:{self.port}{target}",
            scheme=scheme,
            host=host,
            port=self.port,
            target=target,
            address="127.0.0.1",
        )


def start_server(ssl_context: ssl.SSLContext | None = None) -> tuple[RecordingServer, Callable[[], None]]:
    server = RecordingServer(ssl_context)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def stop() -> None:
        server.release.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return server, stop
