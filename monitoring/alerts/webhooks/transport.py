"""One HTTP POST to a checked, pinned webhook destination (security.md WH-10, WH-11, SSRF-3, SSRF-6, SSRF-7).

Why ``http.client`` and not ``requests``: it never reads proxy environment variables, never follows redirects
and lets us connect to the pinned address while the Host header and the TLS certificate check still use the
name the user configured. Each of those is an SSRF defence, and none of them depends on a library default.

``post`` never raises for network problems. A delivery worker records every outcome (status, latency, error
class) and schedules the retry; an exception would lose that record.
"""

from __future__ import annotations

import contextlib
import email.utils
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from monitoring.alerts.webhooks.ssrf import Destination

__all__ = ["HttpResult", "parse_retry_after", "post"]

EXCERPT_BYTES = 2048
MAX_RETRY_AFTER_SECONDS = 86400.0
USER_AGENT = "FairLens-Webhooks/1.0"
_DEFAULT_PORTS = {"http": 80, "https": 443}
# Framing and routing headers are ours to set; a caller-supplied value could smuggle a second request.
_RESERVED_HEADERS = {"host", "content-length", "transfer-encoding", "connection"}


@dataclass
class HttpResult:
    """Outcome of one attempt. ``status`` is None when no HTTP response arrived.

    ``error_class`` is one of "timeout", "connection", "tls", "protocol" (or None). A status can come with an
    error when the response head arrived but the body did not; the status is what the receiver decided.
    """

    status: int | None
    headers: dict[str, str] = field(default_factory=dict)
    body_excerpt: str = ""
    error: str | None = None
    error_class: str | None = None
    latency_ms: float = 0.0


class _Watchdog:
    """Caps the whole exchange after connecting, because socket timeouts restart on every received byte.

    A receiver that drips one byte every few seconds would otherwise hold a worker for hours. When the
    deadline passes the socket is shut down, which wakes the blocked read.
    """

    def __init__(self, sock: socket.socket, seconds: float) -> None:
        self.fired = False
        self._sock = sock
        self._seconds = seconds
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        self.fired = True
        # socket.socket.shutdown on the raw fd, not SSLSocket.shutdown (which would drop the TLS state under the
        # reading thread). OSError: the socket is already closed, which is fine.
        with contextlib.suppress(OSError):
            socket.socket.shutdown(self._sock, socket.SHUT_RDWR)

    def check(self) -> None:
        """Raise if the deadline passed: whatever was read after the shutdown may be cut short."""
        if self.fired:
            raise TimeoutError(f"no complete response within {self._seconds} s")

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._timer.cancel()


def _host_header(destination: Destination) -> str:
    host = f"[{destination.host}]" if ":" in destination.host else destination.host
    if destination.port != _DEFAULT_PORTS.get(destination.scheme):
        host = f"{host}:{destination.port}"
    return host


def _classify(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):  # socket.timeout is TimeoutError
        return "timeout"
    if isinstance(exc, ssl.SSLError | ssl.CertificateError):
        return "tls"
    if isinstance(exc, http.client.RemoteDisconnected):
        return "connection"  # closed without answering
    if isinstance(exc, http.client.HTTPException):
        return "protocol"
    return "connection"


def _connect(destination: Destination, connect_timeout: float, ssl_context: ssl.SSLContext | None) -> socket.socket:
    # The pinned address, never destination.host: resolving again here would reopen the rebinding window.
    sock = socket.create_connection((destination.address, destination.port), timeout=connect_timeout)
    if destination.scheme != "https":
        return sock
    context = ssl_context or ssl.create_default_context()
    try:
        # SNI and certificate verification use the configured name, so TLS still proves who we talk to.
        return context.wrap_socket(sock, server_hostname=destination.host)
    except BaseException:
        sock.close()
        raise


def post(
    destination: Destination,
    body: bytes,
    headers: Mapping[str, str],
    *,
    connect_timeout: float = 5,
    read_timeout: float = 15,
    max_response_bytes: int = 65536,
    ssl_context: ssl.SSLContext | None = None,
) -> HttpResult:
    """POST ``body`` exactly as given to ``destination`` and report what happened; never follows redirects.

    ``connect_timeout`` bounds TCP connect plus TLS handshake; ``read_timeout`` bounds everything after that
    (sending, waiting, reading). At most ``max_response_bytes`` of the response body are read; the result keeps
    the first 2 KB. ``ssl_context`` is for tests and private CAs; the default verifies against the system store.
    """
    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 3)

    conn = http.client.HTTPConnection(destination.address, destination.port, timeout=read_timeout)
    status: int | None = None
    response_headers: dict[str, str] = {}
    received = b""
    phase = "connect"
    watchdog: _Watchdog | None = None
    try:
        sock = _connect(destination, connect_timeout, ssl_context)
        sock.settimeout(read_timeout)
        conn.sock = sock  # http.client uses an already-set socket instead of connecting itself
        phase = "request"
        with _Watchdog(sock, read_timeout) as watchdog:
            conn.putrequest("POST", destination.target, skip_host=True, skip_accept_encoding=True)
            conn.putheader("Host", _host_header(destination))
            sent = {name.lower() for name in headers}
            for name, value in headers.items():
                if name.lower() not in _RESERVED_HEADERS:
                    conn.putheader(name, value)
            if "user-agent" not in sent:
                conn.putheader("User-Agent", USER_AGENT)
            conn.putheader("Content-Length", str(len(body)))
            conn.putheader("Connection", "close")
            conn.endheaders(body)
            phase = "response"
            response = conn.getresponse()
            # After a shutdown http.client sees EOF, which also ends a header block: check before trusting it.
            watchdog.check()
            status = response.status
            for name, value in response.getheaders():
                key = name.lower()
                response_headers[key] = f"{response_headers[key]}, {value}" if key in response_headers else value
            phase = "body"
            received = response.read(max_response_bytes)
            watchdog.check()
        return HttpResult(
            status=status,
            headers=response_headers,
            body_excerpt=received[:EXCERPT_BYTES].decode("utf-8", errors="replace"),
            latency_ms=elapsed(),
        )
    except (OSError, http.client.HTTPException) as exc:  # ssl errors and timeouts are OSErrors
        # ValueError (e.g. an invalid header name from our own code) is a bug, not a network error: it propagates.
        error_class = "timeout" if watchdog is not None and watchdog.fired else _classify(exc)
        return HttpResult(
            status=status,
            headers=response_headers,
            body_excerpt=received[:EXCERPT_BYTES].decode("utf-8", errors="replace"),
            error=f"{phase}: {type(exc).__name__}: {exc}"[:500],
            error_class=error_class,
            latency_ms=elapsed(),
        )
    finally:
        conn.close()


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or HTTP-date), or None if absent or garbage.

    Past dates and negative numbers mean "now" (0). The result is capped at one day so a hostile receiver
    cannot park deliveries forever.
    """
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    digits = text.removeprefix("-")
    if digits.isascii() and digits.isdigit():
        if text.startswith("-"):
            return 0.0
        if len(digits.lstrip("0")) > 12:  # huge: skip int() on thousands of digits
            return MAX_RETRY_AFTER_SECONDS
        return min(float(int(digits)), MAX_RETRY_AFTER_SECONDS)
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP dates are GMT
    reference = now if now.tzinfo is not None else now.replace(tzinfo=UTC)
    seconds = (when - reference).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)
