"""`make run` on one machine twice: no fixed demo port, a per-checkout receiver port, a per-instance gunicorn
control socket."""

from __future__ import annotations

import runpy
import socket
from pathlib import Path

import pytest

from core.env import VAR_DIR
from fairlens_site import demo_port

ROOT = Path(__file__).resolve().parents[2]


def test_procfile_and_makefile_fix_no_receiver_port() -> None:
    procfile = (ROOT / "Procfile").read_text()
    makefile = (ROOT / "Makefile").read_text()
    assert "8765" not in procfile
    assert "8765" not in makefile
    receiver = next(line for line in procfile.splitlines() if line.startswith("receiver:"))
    assert "--port" not in receiver  # DEMO_RECEIVER_PORT decides
    assert "--optional" in receiver  # a failing demo receiver must not stop the platform
    assert "fairlens_site/demo_port.py" in makefile


def test_a_saved_port_is_reused_while_free(tmp_path: Path) -> None:
    state = tmp_path / "demo-receiver.port"
    first = demo_port.choose(state)
    assert state.read_text().strip() == str(first)
    assert demo_port.choose(state) == first


def test_a_busy_saved_port_is_replaced_by_a_free_one(tmp_path: Path) -> None:
    state = tmp_path / "demo-receiver.port"
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        state.write_text(f"{busy.getsockname()[1]}\n")
        chosen = demo_port.choose(state)
        assert chosen != busy.getsockname()[1]
        assert demo_port.is_free(chosen)
    assert state.read_text().strip() == str(chosen)


def test_two_checkouts_running_at_once_get_different_ports(tmp_path: Path) -> None:
    first = demo_port.choose(tmp_path / "a" / "demo-receiver.port")
    with socket.socket() as receiver_a:  # the first checkout's receiver is up
        receiver_a.bind(("127.0.0.1", first))
        receiver_a.listen()
        second = demo_port.choose(tmp_path / "b" / "demo-receiver.port")
    assert second != first


def test_gunicorn_control_socket_is_per_instance_or_off(monkeypatch: pytest.MonkeyPatch) -> None:
    conf_path = str(ROOT / "fairlens_site" / "gunicorn_conf.py")
    monkeypatch.delenv("GUNICORN_CONTROL_SOCKET", raising=False)
    conf = runpy.run_path(conf_path)
    assert conf["control_socket"] == str(VAR_DIR / "gunicorn.ctl")
    assert conf["control_socket_disable"] is (len(str((VAR_DIR / "gunicorn.ctl").resolve()).encode()) > 107)
    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", "")
    assert runpy.run_path(conf_path)["control_socket_disable"] is True
    monkeypatch.setenv("GUNICORN_CONTROL_SOCKET", "/tmp/" + "x" * 120 + ".ctl")  # noqa: S108 - only a path length
    assert runpy.run_path(conf_path)["control_socket_disable"] is True
