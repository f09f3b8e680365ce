"""gunicorn settings for FairLens; `make run` and the container both use it."""

import os
import shutil
from pathlib import Path

from core.env import VAR_DIR

# Prometheus multiprocess mode: each worker writes its request metrics into files here and /metrics adds them
# up. Set before the workers fork (they inherit it), one folder per server so two instances never mix, emptied
# at start and removed at exit.
METRICS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(VAR_DIR / "prometheus" / str(os.getpid()))))

bind = os.environ.get("FAIRLENS_BIND", f"127.0.0.1:{os.environ.get('PORT', '5050')}")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threaded workers: `make run` serves clients directly, and a sync worker is held by one client for as long as
# that client takes to send its request (two connections dribbling a header line every 5 s stalled both
# workers and every health probe). A gthread worker waits for a connection's first bytes in its event loop and
# gives each request a thread of its own, so a slow client holds one of GUNICORN_THREADS threads, not the
# worker. Behind the buffering proxy (deploy/nginx/) gunicorn only ever sees complete requests.
worker_class = "gthread"
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# An idle kept-alive connection waits in the event loop (no thread) and is closed after this many seconds.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# Requests with oversized or too many header lines are refused before they reach Django.
limit_request_line = 8190
limit_request_fields = 100
# FairLens logs each request itself (method, path, user, role, status, duration, request id).
accesslog = None
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1")
# gunicorn's control socket (gunicornc) defaults to one path per user (~/.gunicorn/gunicorn.ctl), which a second
# instance on the machine takes over. One per instance under var/ instead; empty turns it off. A Unix socket
# path is limited to 107 bytes, so a longer one is turned off rather than failing at start.
control_socket = os.environ.get("GUNICORN_CONTROL_SOCKET", str(VAR_DIR / "gunicorn.ctl"))
control_socket_disable = not control_socket or len(os.fsencode(os.path.abspath(control_socket))) > 107


def when_ready(server: object) -> None:
    """Print which modules are active and which endpoints are served, once, when the server is up."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlens_site.settings.base")
    django.setup()
    from fairlens_site.startup import startup_summary

    print(startup_summary(bind), flush=True)  # noqa: T201 - the start-up summary is meant for the console


def on_starting(server: object) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server: object, worker: object) -> None:
    """A worker that exits leaves its live gauges behind; prometheus_client drops them (counters stay summed)."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server: object) -> None:
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
