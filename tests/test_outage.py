"""Outages against real servers: a private PostgreSQL cluster and a private Redis, started, stopped and restarted by
this test, behind the app as deployed (gunicorn with the project's config).

1. PostgreSQL stopped (immediate shutdown, as in a crash): every answer that needs the database is 503 with
   Retry-After and the JSON error shape, none is a 500; after restart the API answers 2xx again within seconds.
2. Redis stopped: signed-in reads and ingestion keep being served (their throttles fail open), anonymous
   requests other than sign-in answer 503; after restart they are served again.
3. No acknowledged write is lost: every prediction acknowledged with 201 is in the database at the end.

The figures (answers by status in each phase, recovery times) are logged: pytest --log-cli-level INFO.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import requests

from tests.processes import ROOT, PrivatePostgres, free_port, wait_until

pytestmark = pytest.mark.outage

logger = logging.getLogger("fairlens.tests.outage")
OUTAGE_SECONDS = 3.0
RECOVERY_LIMIT_SECONDS = 3.0
MODEL = "outage_model"
INGEST_URL = f"/api/v1/models/{MODEL}/versions/1/predictions"


class PrivateRedis:
    def __init__(self, root: Path) -> None:
        self.executable = shutil.which("redis-server")
        assert self.executable is not None
        self.root = root
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        log = (self.root / "redis.log").open("ab")
        self.process = subprocess.Popen(
            [self.executable, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            cwd=self.root,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        import redis

        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)

        def answers() -> bool:
            try:
                return bool(client.ping())
            except redis.ConnectionError:
                return False

        wait_until(answers, 10, "redis-server start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)


@dataclass
class App:
    base_url: str
    environment: dict[str, str]
    process: subprocess.Popen[bytes]
    log_path: Path
    bearer: str = ""
    api_key: str = ""
    acknowledged: list[str] = field(default_factory=list)

    def log_tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-40:])


def manage(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


SEED = (
    f"MODEL = {MODEL!r}\n"
    """
import json
from accounts.services import issue_tokens, model_client_key_create, user_create
from registry.services import register_model
user = user_create(username="olga-monitor", password="outage-Tests-pass-7", role="monitor", validate=False)
version = register_model(name=MODEL, version="1", registered_by=None,
    policy={"protected_attributes": ["sex"], "privileged": {"sex": "Male"}})
_, key = model_client_key_create(model=version.model, name="scorer", created_by=None)
print(json.dumps({"bearer": issue_tokens(user)["access_token"], "api_key": key}))
"""
)


@pytest.fixture
def stack() -> Iterator[tuple[App, PrivatePostgres, PrivateRedis]]:
    root = Path(tempfile.mkdtemp(prefix="fl-outage-"))
    root.chmod(0o755)  # mkdtemp's 0700 would keep the postgres user out
    (root / "pg").mkdir()
    postgres = PrivatePostgres(root / "pg", database="fl_outage")
    redis_server = PrivateRedis(root)
    app: App | None = None
    try:
        postgres.start()
        postgres.create_database()
        redis_server.start()
        port = free_port()
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test",
            "DATABASE_URL": postgres.url,
            "REDIS_URL": redis_server.url,
            "FAIRLENS_VAR_DIR": str(root / "var"),
            "FAIRLENS_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_TIMEOUT": "30",
            "FAIRLENS_OUTAGE_RETRY_AFTER_SECONDS": "2",
            "JWT_ACCESS_EXPIRE": "600",
        }
        started = time.monotonic()
        manage(environment, "migrate", "--no-input")
        seeded = json.loads(manage(environment, "shell", "-c", SEED).strip().splitlines()[-1])
        logger.info("private PostgreSQL migrated and seeded in %.1fs", time.monotonic() - started)
        log_path = root / "gunicorn.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "fairlens_site.wsgi", "-c", "fairlens_site/gunicorn_conf.py"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        app = App(f"http://127.0.0.1:{port}", environment, process, log_path, seeded["bearer"], seeded["api_key"])

        def healthy() -> bool:
            assert process.poll() is None, app.log_tail()
            try:
                return requests.get(f"{app.base_url}/api/health", timeout=10).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False

        wait_until(healthy, 30, "gunicorn start")
        yield app, postgres, redis_server
    finally:
        if app is not None:
            app.process.terminate()
            try:
                app.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                app.process.kill()
        redis_server.stop()
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            postgres.stop("fast")
        shutil.rmtree(root, ignore_errors=True)


# --- Traffic ----------------------------------------------------------------------------------------------


@dataclass
class Answer:
    kind: str
    status: int
    retry_after: str | None
    code: str | None
    json: bool


def call(app: App, kind: str) -> Answer:
    """One request of ``kind``: ``read`` (signed-in), ``ingest`` (model client, 3 new predictions) or ``anon``."""
    headers: dict[str, str] = {"Accept": "application/json"}
    if kind == "read":
        headers["Authorization"] = f"Bearer {app.bearer}"
        response = requests.get(f"{app.base_url}/api/v1/accounts/me/", headers=headers, timeout=15)
    elif kind == "ingest":
        headers["Authorization"] = f"Api-Key {app.api_key}"
        ids = [f"outage-{uuid.uuid4().hex}" for _ in range(3)]
        items = [
            {"id": ident, "timestamp": "2026-03-02T09:15:00Z", "attributes": {"sex": sex}, "y_pred": 1}
            for ident, sex in zip(ids, ("Male", "Female", "Female"), strict=True)
        ]
        response = requests.post(
            f"{app.base_url}{INGEST_URL}", json={"predictions": items}, headers=headers, timeout=15
        )
        if response.status_code == 201 and response.json()["accepted"] == len(ids):
            app.acknowledged.extend(ids)
    else:
        response = requests.get(f"{app.base_url}/", headers=headers, timeout=15)
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    code = response.json().get("code") if is_json and response.status_code >= 400 else None
    return Answer(kind, response.status_code, response.headers.get("Retry-After"), code, is_json)


def drive(app: App, kinds: tuple[str, ...], seconds: float) -> list[Answer]:
    answers = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answers.extend(call(app, kind) for kind in kinds)
    return answers


def tally(answers: list[Answer]) -> dict[str, dict[int, int]]:
    result: dict[str, Counter[int]] = {}
    for answer in answers:
        result.setdefault(answer.kind, Counter())[answer.status] += 1
    return {kind: dict(counts) for kind, counts in result.items()}


def assert_all_outage_answers(answers: list[Answer], dependency_kinds: set[str]) -> None:
    for answer in answers:
        assert answer.status != 500, answer
        if answer.kind in dependency_kinds:
            assert answer.status == 503, answer
            assert answer.json, answer
            assert answer.code == "service_unavailable", answer
            assert answer.retry_after == "2", answer


def time_to_success(app: App, kind: str, limit: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < limit:
        answer = call(app, kind)
        assert answer.status != 500, answer
        if 200 <= answer.status < 300:
            return time.monotonic() - started
        time.sleep(0.05)
    raise AssertionError(f"{kind} was not served again within {limit}s")


def stored(postgres: PrivatePostgres, ids: list[str], environment: dict[str, str]) -> int:
    import psycopg2

    from monitoring.ingestion.pseudonymize import pseudonymize

    keys = pseudonymize(ids, pepper=environment["FAIRLENS_ID_PEPPER"])
    conn = psycopg2.connect(host="127.0.0.1", port=postgres.port, user="postgres", dbname="fl_outage")
    try:
        with conn.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM monitoring_prediction WHERE prediction_key = ANY(%s)", (keys,))
            return int(cursor.fetchone()[0])
    finally:
        conn.close()


# --- The outage -------------------------------------------------------------------------------------------


def test_outages_answer_503_recover_within_seconds_and_lose_no_acknowledged_write(
    stack: tuple[App, PrivatePostgres, PrivateRedis],
) -> None:
    app, postgres, redis_server = stack
    everything = ("read", "ingest", "anon")
    baseline = drive(app, everything, 1.0)
    assert {answer.status for answer in baseline} <= {200, 201}, tally(baseline)

    # PostgreSQL down: everything that needs it is 503 + Retry-After; the anonymous index needs only Redis.
    postgres.stop("immediate")
    database_down = drive(app, everything, OUTAGE_SECONDS)
    assert_all_outage_answers(database_down, {"read", "ingest"})
    postgres.start()
    database_recovery = {kind: time_to_success(app, kind, RECOVERY_LIMIT_SECONDS) for kind in ("read", "ingest")}

    # Redis down: reads and ingestion are served (throttles fail open), anonymous requests fail closed.
    redis_server.stop()
    cache_down = drive(app, everything, OUTAGE_SECONDS)
    assert_all_outage_answers(cache_down, {"anon"})
    assert {a.status for a in cache_down if a.kind == "read"} == {200}, tally(cache_down)
    assert {a.status for a in cache_down if a.kind == "ingest"} == {201}, tally(cache_down)
    redis_server.start()
    cache_recovery = time_to_success(app, "anon", RECOVERY_LIMIT_SECONDS)
    after = drive(app, everything, 0.5)
    assert {answer.status for answer in after} <= {200, 201}, tally(after)

    answers = baseline + database_down + cache_down + after
    lost = len(app.acknowledged) - stored(postgres, app.acknowledged, app.environment)
    logger.info(
        "outage figures: database down %s; recovery %s s; cache down %s; cache recovery %.2f s; "
        "500s %d of %d; acknowledged predictions %d, lost %d",
        tally(database_down),
        {kind: round(seconds, 2) for kind, seconds in database_recovery.items()},
        tally(cache_down),
        cache_recovery,
        sum(answer.status == 500 for answer in answers),
        len(answers),
        len(app.acknowledged),
        lost,
    )
    assert app.acknowledged
    assert lost == 0
