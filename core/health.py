"""Health probes for the database, the cache and the Celery broker. Each returns a ``ProbeResult``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.cache import cache
from django.db import connection


@dataclass(frozen=True)
class ProbeResult:
    name: str
    ok: bool
    backend: str
    latency_ms: float
    error: str = ""

    def as_dict(self) -> dict[str, object]:
        result: dict[str, object] = {"ok": self.ok, "backend": self.backend, "latency_ms": round(self.latency_ms, 1)}
        if self.error:
            result["error"] = self.error
        return result


def _timed(name: str, backend: str, probe: Callable[[], None]) -> ProbeResult:
    started = time.perf_counter()
    try:
        probe()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the class name says which
        return ProbeResult(name, False, backend, (time.perf_counter() - started) * 1000, _describe(exc))
    return ProbeResult(name, True, backend, (time.perf_counter() - started) * 1000)


def _describe(exc: Exception) -> str:
    # The exception class and first line only: enough to act on, without hostnames or credentials in URLs.
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {first_line}"[:200]


def probe_database() -> ProbeResult:
    def run() -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()

    return _timed("database", connection.vendor, run)


def probe_cache() -> ProbeResult:
    def run() -> None:
        key = f"health:{uuid.uuid4().hex}"
        cache.set(key, "ok", timeout=10)
        if cache.get(key) != "ok":
            raise RuntimeError("value written to the cache could not be read back")
        cache.delete(key)

    backend = settings.CACHES["default"]["BACKEND"].rsplit(".", 1)[-1]
    return _timed("cache", backend, run)


def probe_broker() -> ProbeResult:
    # The project's Celery app (fairlens_site/__init__ makes it current); core names no higher package.
    from celery import current_app as app

    url = app.conf.broker_url or ""
    scheme = url.split("://", 1)[0] or "unknown"

    def run() -> None:
        if scheme in ("atomicfs", "filesystem"):
            folder = Path(app.conf.broker_transport_options["data_folder_out"])
            folder.mkdir(parents=True, exist_ok=True)
            marker = folder / f".health-{uuid.uuid4().hex}"
            marker.write_text("ok")
            marker.unlink()
            return
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, interval_start=0, timeout=settings.FAIRLENS_HEALTH_TIMEOUT_SECONDS)
            # Opening a channel makes the transport talk to the server (kombu's Redis channel pings).
            conn.default_channel  # noqa: B018

    return _timed("broker", scheme, run)


def run_probes() -> list[ProbeResult]:
    return [probe_database(), probe_cache(), probe_broker()]
