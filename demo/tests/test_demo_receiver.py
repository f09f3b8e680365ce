"""The make-run demo receiver: its port comes from settings, a busy port never takes the other processes
down, and once it listens it verifies the default endpoint's webhooks."""

from __future__ import annotations

import http.client
import json
import os
import queue
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from monitoring.alerts.webhooks.signing import generate_secret, new_message_id, webhook_headers

REPO_ROOT = Path(__file__).resolve().parents[2]


def _manage(*args: str, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "manage.py", *args],
        cwd=REPO_ROOT,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test", "PYTHONUNBUFFERED": "1", **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def _lines(process: subprocess.Popen[str]) -> queue.Queue[str]:
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.rstrip("\n"))

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue[str], text: str, timeout: float = 30) -> str:
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        seen.append(line)
        if text in line:
            return line
    raise AssertionError(f"{text!r} not printed; output:\n" + "\n".join(seen))


def test_a_busy_port_is_reported_waited_for_and_then_served(tmp_path: Path) -> None:
    secret = generate_secret()
    # given the receiver's port is taken by another program
    blocker = socket.socket()
    blocker.bind(("127.0.0.1", 0))
    blocker.listen()
    port = blocker.getsockname()[1]
    process = _manage(
        "demo_receiver",
        "--optional",
        "--db",
        str(tmp_path / "ids.sqlite3"),
        env={"DEMO_RECEIVER_PORT": str(port), "WEBHOOK_SECRET": secret},
    )
    lines = _lines(process)
    try:
        # then it says so clearly and keeps running (under honcho an exit would stop web, worker and beat)
        line = _wait_for(lines, "is in use")
        assert f"port {port} on 127.0.0.1 is in use" in line
        assert "DEMO_RECEIVER_PORT" in line
        time.sleep(1)
        assert process.poll() is None
        # when the port is freed, it starts listening there and verifies a signed webhook
        blocker.close()
        assert _wait_for(lines, "listening on") == f"listening on http://127.0.0.1:{port}"
        body = json.dumps({"type": "alert.opened", "data": {}}).encode()
        msg_id = new_message_id()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.request(
            "POST", "/webhooks", body=body, headers=webhook_headers([secret], msg_id, int(time.time()), body)
        )
        assert connection.getresponse().status == 200
        connection.close()
        assert _wait_for(lines, "webhook verified") == f"webhook verified: id={msg_id} type=alert.opened duplicate=no"
        # and SIGTERM (honcho's stop) ends it cleanly
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
    finally:
        blocker.close()
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)


def test_without_optional_a_busy_port_is_an_error_exit(tmp_path: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        process = _manage(
            "demo_receiver",
            "--db",
            str(tmp_path / "ids.sqlite3"),
            env={"DEMO_RECEIVER_PORT": str(blocker.getsockname()[1]), "WEBHOOK_SECRET": generate_secret()},
        )
        output, _ = process.communicate(timeout=60)
    assert process.returncode != 0
    assert "Address already in use" in output


def test_the_receiver_port_defaults_to_the_port_of_a_loopback_webhook_url() -> None:
    def port_for(env: dict[str, str]) -> str:
        result = subprocess.run(
            [sys.executable, "-c", "from django.conf import settings; print(settings.FAIRLENS_DEMO_RECEIVER_PORT)"],
            cwd=REPO_ROOT,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test", **env},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        return result.stdout.strip()

    assert port_for({"WEBHOOK_URL": "http://127.0.0.1:40123/webhooks"}) == "40123"
    assert port_for({"WEBHOOK_URL": "http://127.0.0.1:40123/webhooks", "DEMO_RECEIVER_PORT": "40200"}) == "40200"
    assert port_for({"WEBHOOK_URL": "https://hooks.example.com/fairlens"}) == "8765"
