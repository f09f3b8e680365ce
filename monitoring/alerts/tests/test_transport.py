"""The webhook HTTP transport against loopback servers only (security.md WH-10, WH-11, SSRF-6, SSRF-7)."""

from __future__ import annotations

import datetime as dt
import email.utils
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from monitoring.alerts.tests.servers import METADATA_URL, RecordingServer, start_server
from monitoring.alerts.webhooks.receiver import verify
from monitoring.alerts.webhooks.signing import generate_secret, webhook_headers
from monitoring.alerts.webhooks.ssrf import Destination, check_url
from monitoring.alerts.webhooks.transport import HttpResult, parse_retry_after, post


@pytest.fixture
def server() -> Iterator[RecordingServer]:
    srv, stop = start_server()
    yield srv
    stop()


@pytest.fixture
def connections(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """Records every TCP connection the transport opens; refuses anything that is not loopback."""
    opened: list[tuple[str, int]] = []
    real = socket.create_connection

    def recording(address: tuple[str, int], *args: object, **kwargs: object) -> socket.socket:
        opened.append((address[0], address[1]))
        assert address[0] in ("127.0.0.1", "::1"), f"non-loopback connection attempted: {address}"
        return real(address, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(socket, "create_connection", recording)
    return opened


def _free_closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_posts_exact_body_and_signed_headers(server: RecordingServer, connections: list[tuple[str, int]]) -> None:
    secret = generate_secret()
    body = '{"data":{"group":"é","n":1},  "type":"alert.created"}\n'.encode()  # odd spacing survives untouched
    headers = webhook_headers([secret], "msg_exact", int(time.time()), body)
    destination = check_url(
        f"http://127.0.0.1:{server.port}/ok?src=test", allow_http=True, allowed_private=[f"127.0.0.1:{server.port}"]
    )

    result = post(destination, body, headers)

    assert result.status == 200
    assert result.error is None
    assert result.error_class is None
    assert result.body_excerpt == '{"ok": true}'
    assert result.headers["x-received-bytes"] == str(len(body))
    assert result.headers["x-multi"] == "a, b"
    assert all(name == name.lower() for name in result.headers)
    assert 0 < result.latency_ms < 5000
    assert connections == [("127.0.0.1", server.port)]
    [request] = server.requests
    assert (request.method, request.path) == ("POST", "/ok?src=test")
    assert request.body == body
    for name, value in headers.items():
        assert request.header(name) == [value]
    assert request.header("Host") == [f"127.0.0.1:{server.port}"]
    assert request.header("Content-Length") == [str(len(body))]
    assert request.header("Accept-Encoding") == []
    assert request.header("User-Agent") == ["FairLens-Webhooks/1.0"]
    # What arrived is exactly what the customer's verifier accepts.
    verify(secret, dict(request.headers), request.body)


def test_caller_cannot_override_framing_or_routing_headers(server: RecordingServer) -> None:
    body = b'{"x": 1}'
    headers = {"Host": "169.254.169.254", "Content-Length": "1", "Transfer-Encoding": "chunked", "User-Agent": "me/2"}
    result = post(server.destination(), body, headers)
    assert result.status == 200
    [request] = server.requests
    assert request.header("Host") == [f"127.0.0.1:{server.port}"]
    assert request.header("Content-Length") == [str(len(body))]
    assert request.header("Transfer-Encoding") == []
    assert request.header("User-Agent") == ["me/2"]
    assert request.body == body


def test_host_header_keeps_the_configured_name_while_connecting_to_the_pinned_ip(
    server: RecordingServer, connections: list[tuple[str, int]]
) -> None:
    result = post(server.destination(host="hooks.example.test"), b"{}", {})
    assert result.status == 200
    assert connections == [("127.0.0.1", server.port)]
    assert server.requests[0].header("Host") == [f"hooks.example.test:{server.port}"]


def test_redirect_is_returned_not_followed(server: RecordingServer, connections: list[tuple[str, int]]) -> None:
    result = post(server.destination("/redirect"), b"{}", {})
    assert result.status == 302
    assert result.headers["location"] == METADATA_URL
    assert result.error is None
    assert len(server.requests) == 1
    assert connections == [("127.0.0.1", server.port)]  # no second connection anywhere


def test_410_is_reported_with_body(server: RecordingServer) -> None:
    result = post(server.destination("/gone"), b"{}", {})
    assert (result.status, result.body_excerpt, result.error_class) == (410, '{"error": "gone"}', None)


def test_slow_receiver_times_out_quickly(server: RecordingServer) -> None:
    started = time.monotonic()
    result = post(server.destination("/slow"), b"{}", {}, read_timeout=0.5)
    elapsed = time.monotonic() - started
    assert result.error_class == "timeout"
    assert result.status is None
    assert result.error is not None
    assert result.error.startswith("response:")
    assert 0.4 < elapsed < 3
    assert 400 <= result.latency_ms < 3000
    assert len(server.requests) == 1


def test_closed_port_is_a_connection_error() -> None:
    port = _free_closed_port()
    destination = Destination(f"http://127.0.0.1:{port}/", "http", "127.0.0.1", port, "/", "127.0.0.1")
    result = post(destination, b"{}", {}, connect_timeout=2)
    assert result.status is None
    assert result.error_class == "connection"
    assert result.error is not None
    assert result.error.startswith("connect:")


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy"])
def test_proxy_environment_is_ignored(
    server: RecordingServer, connections: list[tuple[str, int]], monkeypatch: pytest.MonkeyPatch, variable: str
) -> None:
    bogus_port = _free_closed_port()
    monkeypatch.setenv(variable, f"http://127.0.0.1:{bogus_port}")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    result = post(server.destination(), b"{}", {})
    assert result.status == 200
    assert connections == [("127.0.0.1", server.port)]
    assert server.requests[0].path == "/ok"  # origin form, not the absolute form a proxy would get


def test_large_response_is_truncated(server: RecordingServer) -> None:
    started = time.monotonic()
    result = post(server.destination("/big"), b"{}", {})
    assert result.status == 200
    assert result.error is None
    assert result.body_excerpt == "A" * 2048
    assert time.monotonic() - started < 5
    small = post(server.destination("/big"), b"{}", {}, max_response_bytes=100)
    assert small.body_excerpt == "A" * 100


def _raw_server(behaviour: Callable[[socket.socket], None]) -> tuple[int, Callable[[], None]]:
    """A one-connection TCP server with hand-written (mis)behaviour, for protocol-level failures."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    stop = threading.Event()

    def run() -> None:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(5)
            try:
                conn.recv(65536)
                behaviour(conn)
                stop.wait(5)
            except OSError:
                pass

    thread = threading.Thread(target=run, daemon=True)
    thread.start()

    def close() -> None:
        stop.set()
        listener.close()
        thread.join(timeout=10)

    return int(listener.getsockname()[1]), close


def _loopback(port: int) -> Destination:
    return Destination(f"http://127.0.0.1:{port}/", "http", "127.0.0.1", port, "/", "127.0.0.1")


def test_garbage_response_is_a_protocol_error() -> None:
    port, close = _raw_server(lambda conn: conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n\r\n") or conn.close())
    try:
        result = post(_loopback(port), b"{}", {}, read_timeout=3)
    finally:
        close()
    assert result.status is None
    assert result.error_class == "protocol"


def test_hang_up_without_response_is_a_connection_error() -> None:
    port, close = _raw_server(lambda conn: conn.close())
    try:
        result = post(_loopback(port), b"{}", {}, read_timeout=3)
    finally:
        close()
    assert result.status is None
    assert result.error_class == "connection"


def test_drip_fed_response_hits_the_overall_deadline() -> None:
    """Each byte arrives well within the socket timeout, but the whole exchange is capped at read_timeout."""

    def drip(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
        for _ in range(40):
            time.sleep(0.1)
            conn.sendall(b"a")

    port, close = _raw_server(drip)
    started = time.monotonic()
    try:
        result = post(_loopback(port), b"{}", {}, read_timeout=1)
    finally:
        close()
    assert result.error_class == "timeout"
    assert result.status is None  # the header block never completed; EOF after our shutdown must not end it
    assert result.headers == {}
    assert time.monotonic() - started < 3


def test_body_cut_off_by_the_deadline_keeps_the_status() -> None:
    """Headers arrived, the body did not: the receiver's decision (status) is kept, with a timeout error."""

    def slow_body(conn: socket.socket) -> None:
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\npartial")
        time.sleep(1.2)

    port, close = _raw_server(slow_body)
    try:
        result = post(_loopback(port), b"{}", {}, read_timeout=0.5)
    finally:
        close()
    assert result.status == 200
    assert result.headers == {"content-length": "100"}
    assert result.error_class == "timeout"


# --- TLS: certificate checked against the configured name while connecting to the pinned address -----------------


@pytest.fixture(scope="module")
def tls_material(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, bytes]:
    """A throwaway CA and a server certificate for hooks.example.test (EC keys: fast to make)."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "FairLens test CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False, False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf_cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "hooks.example.test")]))
        .issuer_name(ca_name)
        .public_key(leaf_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("hooks.example.test")]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    folder = tmp_path_factory.mktemp("tls")
    cert_file, key_file = folder / "leaf.pem", folder / "leaf.key"
    cert_file.write_bytes(leaf_cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        leaf_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file, ca_cert.public_bytes(serialization.Encoding.PEM)


@pytest.fixture
def tls_server(tls_material: tuple[Path, Path, bytes]) -> Iterator[tuple[RecordingServer, list[str | None]]]:
    cert_file, key_file, _ = tls_material
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    server_names: list[str | None] = []
    context.sni_callback = lambda _sock, name, _ctx: server_names.append(name)  # type: ignore[assignment,func-returns-value]
    srv, stop = start_server(context)
    yield srv, server_names
    stop()


def test_https_verifies_certificate_against_configured_name(
    tls_server: tuple[RecordingServer, list[str | None]],
    tls_material: tuple[Path, Path, bytes],
    connections: list[tuple[str, int]],
) -> None:
    srv, server_names = tls_server
    client_context = ssl.create_default_context(cadata=tls_material[2].decode())
    result = post(srv.destination(host="hooks.example.test", scheme="https"), b"{}", {}, ssl_context=client_context)
    assert result.status == 200, result.error
    assert connections == [("127.0.0.1", srv.port)]
    assert server_names == ["hooks.example.test"]  # SNI carries the name, not the pinned IP
    assert srv.requests[0].header("Host") == [f"hooks.example.test:{srv.port}"]


def test_https_name_mismatch_is_a_tls_error(
    tls_server: tuple[RecordingServer, list[str | None]], tls_material: tuple[Path, Path, bytes]
) -> None:
    srv, _ = tls_server
    client_context = ssl.create_default_context(cadata=tls_material[2].decode())
    result = post(srv.destination(host="other.example.test", scheme="https"), b"{}", {}, ssl_context=client_context)
    assert result.status is None
    assert result.error_class == "tls"
    assert srv.requests == []


def test_https_default_context_rejects_untrusted_certificate(
    tls_server: tuple[RecordingServer, list[str | None]],
) -> None:
    srv, _ = tls_server
    result = post(srv.destination(host="hooks.example.test", scheme="https"), b"{}", {})
    assert result.error_class == "tls"
    assert result.error is not None
    assert "CERTIFICATE_VERIFY_FAILED" in result.error
    assert srv.requests == []


def test_http_result_field_order_is_stable() -> None:
    """Other code builds results positionally (e.g. for e-mail deliveries); the order is part of the API."""
    result = HttpResult(250, {}, "", None, None, 1.5)
    assert (result.status, result.headers, result.body_excerpt, result.error, result.error_class) == (
        250,
        {},
        "",
        None,
        None,
    )
    assert result.latency_ms == 1.5


# --- Retry-After -------------------------------------------------------------------------------------------------

NOW = dt.datetime(2025, 3, 1, 12, 0, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("120", 120.0),
        ("0", 0.0),
        (" 30 ", 30.0),
        ("-5", 0.0),
        ("86400", 86400.0),
        ("86401", 86400.0),
        ("99999999999", 86400.0),
        ("9" * 5000, 86400.0),
        ("0000000000000000030", 30.0),
        (email.utils.format_datetime(NOW + dt.timedelta(seconds=90), usegmt=True), 90.0),
        ("Sat, 01 Mar 2025 12:05:00 GMT", 300.0),
        ("Sat, 01 Mar 2025 11:00:00 GMT", 0.0),  # in the past
        ("Sun, 06 Nov 1994 08:49:37 GMT", 0.0),
        ("Sun Nov  6 08:49:37 1994", 0.0),  # asctime form
        ("Tue, 11 Mar 2025 12:00:00 GMT", 86400.0),  # ten days ahead: capped
        (None, None),
        ("", None),
        ("soon", None),
        ("1.5", None),
        ("1e3", None),
        ("12abc", None),
        ("--5", None),
        ("Sat, 99 Foo 2025 12:05:00 GMT", None),
    ],
)
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_parse_retry_after_with_naive_now_assumes_utc() -> None:
    naive = NOW.replace(tzinfo=None)
    assert parse_retry_after("Sat, 01 Mar 2025 12:01:00 GMT", naive) == 60.0
