"""Start FairLens processes (Celery worker, beat, the web server) for tests, pointed at the test database."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

from django.db import connection

ROOT = Path(__file__).resolve().parents[1]


def database_url_for_subprocesses() -> str:
    """A DATABASE_URL for the database this test run uses (the test_ database, not the configured one)."""
    settings = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings['NAME']}"
    user = quote(settings.get("USER") or "", safe="")
    password = quote(settings.get("PASSWORD") or "", safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    port = f":{settings['PORT']}" if settings.get("PORT") else ""
    return f"postgres://{credentials}{settings.get('HOST') or '127.0.0.1'}{port}/{settings['NAME']}"


def _test_env(env: Mapping[str, str] | None) -> dict[str, str]:
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test",
        "DATABASE_URL": database_url_for_subprocesses(),
        **(env or {}),
    }


def start_celery(*args: str, log_path: Path, env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
    """``celery -A fairlens_site <args>`` with this run's settings and secrets, logging to ``log_path``.

    ``env`` adds or overrides environment variables (settings are env-driven, e.g. CHECK_DISPATCH_SECONDS).
    """
    log = log_path.open("wb")
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "fairlens_site", *args],
        cwd=ROOT,
        env=_test_env(env),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


_LISTENING = re.compile(rb"Listening at: (http://\S+)")


def start_web(
    *, log_path: Path, env: Mapping[str, str] | None = None, timeout: float = 60, bind: str = "127.0.0.1:0"
) -> tuple[subprocess.Popen[bytes], str]:
    """gunicorn with FairLens's own config, by default on a port the OS picks (no fixed port to collide on);
    returns the process and its base URL once it listens. ``env`` adds or overrides environment variables;
    ``bind`` names the address (a restarted server must come back where its clients know it)."""
    log = log_path.open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "fairlens_site.wsgi", "-c", "fairlens_site/gunicorn_conf.py"],
        cwd=ROOT,
        env={"WEB_CONCURRENCY": "1", **_test_env(env), "FAIRLENS_BIND": bind},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = _LISTENING.search(log_path.read_bytes())
        if found:
            return process, found.group(1).decode()
        if process.poll() is not None:
            break
        time.sleep(0.1)
    stop(process)
    raise RuntimeError(f"gunicorn did not start listening: {log_path.read_text(errors='replace')[-2000:]}")


def stop(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    process.terminate()
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=timeout)


def postgres_bin() -> Path | None:
    """The directory with initdb and pg_ctl: Debian's /usr/lib/postgresql/<version>/bin, or PATH."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parts[-3]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


def free_port() -> int:
    """A port on 127.0.0.1 that was free a moment ago (the OS picked it)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> float:
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if condition():
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {timeout}s")


class PrivatePostgres:
    """A throwaway cluster on a free port, run as the ``postgres`` OS user when the test runs as root."""

    def __init__(self, root: Path, *, database: str, initialise: bool = True) -> None:
        self.bin = postgres_bin()
        self.database = database
        assert self.bin is not None
        self.root = root
        self.data = root / "data"
        self.port = free_port()
        self.user = "postgres" if os.geteuid() == 0 else None
        if self.user:
            shutil.chown(root, self.user)
        if initialise:
            self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-sync")

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{self.database}"

    def _run(self, tool: str, *args: str) -> None:
        result = subprocess.run(
            [str(self.bin / tool), *args], capture_output=True, text=True, user=self.user, cwd=self.root, timeout=60
        )
        if result.returncode != 0:
            raise subprocess.CalledProcessError(result.returncode, tool, result.stdout, result.stderr)

    def start(self, *settings: str) -> None:
        """``settings``: more ``-c name=value`` server settings."""
        # fsync off only saves disk flushes: the kernel keeps written WAL across a server crash, which is
        # what an immediate shutdown is; a power cut is not what this test simulates.
        options = " ".join(
            [
                f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off",
                *(f"-c {s}" for s in settings),
            ]
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start")

    def stop(self, mode: str = "immediate") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self) -> None:
        self._run("createdb", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", self.database)

    def base_backup_into(self, standby: PrivatePostgres) -> None:
        """Make ``standby`` (created with ``initialise=False``) a streaming replica of this cluster."""
        address = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres"]
        self._run("pg_basebackup", *address, "-D", str(standby.data), "-R", "-X", "stream", "--checkpoint=fast")
