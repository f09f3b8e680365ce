"""Slow clients (slowloris) cannot stall the API: gunicorn's threaded workers as `make run` serves them, and the
nginx proxy of the production shape (deploy/nginx/fairlens.conf) in front of them."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.processes import ROOT, free_port, start_web, stop

NGINX_CONF = ROOT / "deploy" / "nginx" / "fairlens.conf"


@contextmanager
def _slow_clients(host: str, port: int, *, dribbling: int, idle: int) -> Iterator[None]:
    """``dribbling`` connections that send a request line, then one header line a second and never finish;
    ``idle`` connections that send nothing at all."""
    stopped = threading.Event()
    sockets = [socket.create_connection((host, port), timeout=5) for _ in range(dribbling + idle)]

    def dribble(conn: socket.socket) -> None:
        try:
            conn.sendall(b"GET /api/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            while not stopped.wait(1.0):
                conn.sendall(b"X-Slow: 1\r\n")
        except OSError:
            return  # the server hung up on it, which is fine

    threads = [threading.Thread(target=dribble, args=(conn,), daemon=True) for conn in sockets[:dribbling]]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)  # every slow connection has been accepted and has started its request
        yield
    finally:
        stopped.set()
        for conn in sockets:
            conn.close()
        for thread in threads:
            thread.join(timeout=5)


def _warm_up(base_url: str) -> None:
    """The first request loads the application and its first health check's connections: seconds, not timed."""
    with urllib.request.urlopen(f"{base_url}/api/health", timeout=60) as response:  # noqa: S310 - loopback
        assert response.status == 200


def _slowest_health_probe(base_url: str, probes: int = 8) -> float:
    slowest = 0.0
    for _ in range(probes):
        started = time.monotonic()
        with urllib.request.urlopen(f"{base_url}/api/health", timeout=10) as response:  # noqa: S310 - loopback
            assert response.status == 200
        slowest = max(slowest, time.monotonic() - started)
        time.sleep(0.25)
    return slowest


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_slow_clients_do_not_stall_gunicorn(tmp_path: Path) -> None:
    # given make run's gunicorn (its own config), one worker, as the test helper starts it
    web, base_url = start_web(log_path=tmp_path / "web.log")
    try:
        address = urlsplit(base_url)
        _warm_up(base_url)
        # when four connections dribble their headers and two stay idle (one sync worker was stalled by one)
        with _slow_clients(address.hostname or "127.0.0.1", address.port or 80, dribbling=4, idle=2):
            slowest = _slowest_health_probe(base_url)
    finally:
        stop(web)
    print(f"slowest health probe beside 6 slow clients: {slowest:.3f}s")  # noqa: T201 - for the record
    # then the health probe still answers at once
    assert slowest < 1.0


def _nginx_binary() -> str:
    binary = shutil.which("nginx") or next(
        (path for path in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(path, os.X_OK)), None
    )
    if binary is None:
        message = "nginx is not installed (apt-get install nginx-light)"
        if os.environ.get("FAIRLENS_REQUIRE_SERVICES") == "1":
            pytest.fail(message + " and FAIRLENS_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
        pytest.skip(message)
    return binary


def _nginx_config(tmp_path: Path, upstream: str, port: int) -> Path:
    """The shipped server config, pointed at a test gunicorn, inside a minimal nginx.conf with its files under
    ``tmp_path``."""
    server = NGINX_CONF.read_text()
    # The two deployment-specific lines; the test fails if they change without it.
    assert server.count("server web:8000;") == 1
    assert server.count("listen 8080;") == 1
    server = server.replace("server web:8000;", f"server {upstream};").replace(
        "listen 8080;", f"listen 127.0.0.1:{port};"
    )
    (tmp_path / "fairlens.conf").write_text(server)
    temp = tmp_path / "temp"
    temp.mkdir()
    user = "user root;\n" if os.geteuid() == 0 else ""  # workers must reach files under tmp_path
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp_path / 'nginx.pid'};\n"
        f"error_log {tmp_path / 'error.log'} warn;\nevents {{ worker_connections 256; }}\n"
        f"http {{\n  access_log off;\n  client_body_temp_path {temp / 'body'};\n  proxy_temp_path {temp / 'proxy'};\n"
        f"  fastcgi_temp_path {temp / 'fastcgi'};\n  uwsgi_temp_path {temp / 'uwsgi'};\n"
        f"  scgi_temp_path {temp / 'scgi'};\n  include {tmp_path / 'fairlens.conf'};\n}}\n"
    )
    return main


def _wait_listening(port: int, process: subprocess.Popen[bytes], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "nginx exited"
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("nginx did not listen")


@pytest.mark.slow
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_nginx_config_is_valid_and_shields_gunicorn_from_slow_clients(tmp_path: Path) -> None:
    nginx = _nginx_binary()
    web, base_url = start_web(log_path=tmp_path / "web.log")
    try:
        _warm_up(base_url)
        port = free_port()
        config = _nginx_config(tmp_path, urlsplit(base_url).netloc, port)
        # given the shipped config, which nginx accepts
        checked = subprocess.run([nginx, "-t", "-c", str(config)], capture_output=True, text=True, check=False)
        assert checked.returncode == 0, checked.stderr
        proxy = subprocess.Popen(  # noqa: S603 - our own config
            [nginx, "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            _wait_listening(port, proxy)
            proxy_url = f"http://127.0.0.1:{port}"
            # when more slow clients than gunicorn has threads (8) dribble their headers at the proxy
            with _slow_clients("127.0.0.1", port, dribbling=16, idle=8):
                slowest = _slowest_health_probe(proxy_url)
            # and a body larger than ingestion accepts is announced
            with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
                conn.sendall(
                    b"POST /api/submit_predictions HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                    b"Content-Length: 70000000\r\n\r\n"
                )
                answer = conn.recv(4096).decode(errors="replace")
        finally:
            stop(proxy)
    finally:
        stop(web)
    print(f"slowest health probe through nginx beside 24 slow clients: {slowest:.3f}s")  # noqa: T201
    # then the health probe answers at once, and the large body is refused at once with the API's JSON error
    assert slowest < 1.0
    assert answer.startswith("HTTP/1.1 413"), answer
    assert "application/json" in answer
    assert '"code": "request_too_large"' in answer


def test_compose_publishes_only_the_proxy() -> None:
    import yaml

    services = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    # nginx, with the shipped config, is the only service with a published port; gunicorn is reached through it
    published = {name for name, service in services.items() if service.get("ports")}
    assert published == {"nginx"}
    assert "./deploy/nginx/fairlens.conf:/etc/nginx/conf.d/default.conf:ro" in services["nginx"]["volumes"]
    assert services["nginx"]["depends_on"]["web"] == {"condition": "service_healthy"}
    # and the application trusts exactly that one proxy's X-Forwarded-For entry
    assert services["web"]["environment"]["FAIRLENS_NUM_PROXIES"] == "${FAIRLENS_NUM_PROXIES:-1}"
