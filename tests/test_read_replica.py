"""Reads from a real PostgreSQL streaming replica: a primary and a hot standby started by this test (two private
clusters, the standby made with pg_basebackup), behind the app as deployed with DATABASE_REPLICA_URL.

Replay on the standby is paused so that it lags visibly; then:
1. a GET of stored predictions answers from the standby (it does not yet show rows the primary has);
2. a write's own request reads the primary: labels posted right after their predictions find them;
3. the writer's next GET (the pin cookie) reads the primary;
4. who may do what is read from the primary: a key revoked on the primary is refused at once;
5. once replay resumes the standby catches up, and with the standby stopped GETs fall back to the primary.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg2
import pytest
import requests

from tests.processes import ROOT, PrivatePostgres, free_port, wait_until

pytestmark = pytest.mark.outage

MODEL = "replica_model"
PREDICTIONS = f"/api/v1/models/{MODEL}/versions/1/predictions"
LABELS = f"/api/v1/models/{MODEL}/versions/1/labels"
SEED = (
    f"MODEL = {MODEL!r}\n"
    """
import json
from accounts.services import issue_tokens, model_client_key_create, user_create
from registry.services import register_model
user = user_create(username="rita-reader", password="replica-Tests-pass-7", role="monitor", validate=False)
version = register_model(name=MODEL, version="1", registered_by=None,
    policy={"protected_attributes": ["sex"], "privileged": {"sex": "Male"}})
spare = user_create(username="sam-leaver", password="replica-Tests-pass-8", role="monitor", validate=False)
_, raw = model_client_key_create(model=version.model, name="scorer", created_by=None)
print(json.dumps({"bearer": issue_tokens(user)["access_token"], "api_key": raw,
                  "spare_bearer": issue_tokens(spare)["access_token"]}))
"""
)


def manage(environment: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=180
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result.stdout


def rows(body: dict, n: int, prefix: str) -> dict:
    sexes = ("Male", "Female")
    return {
        "predictions": [
            {
                "id": f"{prefix}-{i}",
                "timestamp": "2026-03-02T09:15:00Z",
                "attributes": {"sex": sexes[i % 2]},
                "y_pred": 1,
            }
            for i in range(n)
        ]
    }


class Stack:
    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "primary").mkdir()
        (root / "standby").mkdir()
        self.primary = PrivatePostgres(root / "primary", database="fl_replica")
        self.standby = PrivatePostgres(root / "standby", database="fl_replica", initialise=False)
        self.process: subprocess.Popen[bytes] | None = None

    def standby_sql(self, statement: str) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(self.standby.url)) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall() if cursor.description else []

    def primary_sql(self, statement: str) -> list[tuple]:
        with contextlib.closing(psycopg2.connect(self.primary.url)) as connection:
            connection.autocommit = True
            with connection.cursor() as cursor:
                cursor.execute(statement)
                return cursor.fetchall() if cursor.description else []

    def caught_up(self) -> bool:
        (lsn,) = self.primary_sql("SELECT pg_current_wal_lsn()")[0]
        (replayed,) = self.standby_sql(f"SELECT pg_last_wal_replay_lsn() >= '{lsn}'::pg_lsn")[0]
        return bool(replayed)


@pytest.fixture
def stack() -> Iterator[tuple[Stack, str, dict]]:
    root = Path(tempfile.mkdtemp(prefix="fl-replica-"))
    root.chmod(0o755)
    stack = Stack(root)
    try:
        stack.primary.start()
        stack.primary.create_database()
        stack.primary.base_backup_into(stack.standby)
        stack.standby.start("hot_standby=on")
        port = free_port()
        environment = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "fairlens_site.settings.test",
            "DATABASE_URL": stack.primary.url,
            "DATABASE_REPLICA_URL": stack.standby.url,
            "FAIRLENS_VAR_DIR": str(root / "var"),
            "FAIRLENS_BIND": f"127.0.0.1:{port}",
            "WEB_CONCURRENCY": "2",
            "GUNICORN_TIMEOUT": "30",
            "REPLICA_RETRY_SECONDS": "2",
            "JWT_ACCESS_EXPIRE": "600",
        }
        environment.pop("REDIS_URL", None)
        manage(environment, "migrate", "--no-input")
        seeded = json.loads(manage(environment, "shell", "-c", SEED).strip().splitlines()[-1])
        log_path = root / "gunicorn.log"
        with log_path.open("wb") as log:
            stack.process = subprocess.Popen(
                [sys.executable, "-m", "gunicorn", "fairlens_site.wsgi", "-c", "fairlens_site/gunicorn_conf.py"],
                cwd=ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        base = f"http://127.0.0.1:{port}"

        def healthy() -> bool:
            assert stack.process is not None
            assert stack.process.poll() is None, log_path.read_text()[-3000:]
            try:
                return requests.get(f"{base}/api/health", timeout=10).status_code == 200
            except (requests.ConnectionError, requests.Timeout):
                return False

        wait_until(healthy, 60, "gunicorn start")
        wait_until(stack.caught_up, 30, "the standby catching up with the seed")
        yield stack, base, seeded
    finally:
        if stack.process is not None:
            stack.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                stack.process.wait(timeout=20)
        for cluster in (stack.standby, stack.primary):
            with contextlib.suppress(subprocess.CalledProcessError):
                cluster.stop("fast")
        shutil.rmtree(root, ignore_errors=True)


def test_reads_go_to_the_standby_and_a_writer_reads_its_writes(stack: tuple[Stack, str, dict]) -> None:
    cluster, base, seeded = stack
    reader = {"Authorization": f"Bearer {seeded['bearer']}"}
    ingester = {"Authorization": f"Api-Key {seeded['api_key']}"}

    def listed(session: requests.Session | None = None) -> int:
        response = (session or requests).get(f"{base}{PREDICTIONS}?limit=1000", headers=reader, timeout=15)
        assert response.status_code == 200, response.text[:500]
        return len(response.json()["results"])

    assert requests.post(f"{base}{PREDICTIONS}", json=rows({}, 4, "a"), headers=ingester, timeout=15).status_code == 201
    wait_until(cluster.caught_up, 30, "the standby catching up")
    assert listed() == 4

    cluster.standby_sql("SELECT pg_wal_replay_pause()")
    wait_until(lambda: cluster.standby_sql("SELECT pg_get_wal_replay_pause_state()")[0][0] == "paused", 10, "pause")
    stored = requests.post(f"{base}{PREDICTIONS}", json=rows({}, 6, "b"), headers=ingester, timeout=15)
    assert stored.json()["accepted"] == 6
    # 1. The list is read from the standby, which has not replayed the new rows.
    assert cluster.primary_sql("SELECT count(*) FROM monitoring_prediction")[0][0] == 10
    assert listed() == 4
    # 2. The labels request joins the rows it labels on the primary: all six are found.
    labels = {"labels": [{"id": f"b-{i}", "y_true": 1} for i in range(6)]}
    labelled = requests.post(f"{base}{LABELS}", json=labels, headers=ingester, timeout=15)
    assert (labelled.json()["updated"], labelled.json()["unknown"]) == (6, 0), labelled.text
    # 3. A client that wrote reads the primary for a while (the pin cookie).
    writer = requests.Session()
    assert writer.post(f"{base}{PREDICTIONS}", json=rows({}, 1, "c"), headers=ingester, timeout=15).status_code == 201
    assert writer.cookies.get("fairlens_read_primary_until")
    assert listed(writer) == 11
    assert listed() == 4
    # 4. A user deactivated on the primary is refused at once, although the standby still holds them as active.
    spare = {"Authorization": f"Bearer {seeded['spare_bearer']}"}
    assert requests.get(f"{base}{PREDICTIONS}", headers=spare, timeout=15).status_code == 200
    cluster.primary_sql("UPDATE accounts_user SET is_active = false WHERE username = 'sam-leaver'")
    assert cluster.standby_sql("SELECT is_active FROM accounts_user WHERE username = 'sam-leaver'") == [(True,)]
    refused = requests.get(f"{base}{PREDICTIONS}", headers=spare, timeout=15)
    assert refused.status_code == 401, refused.text[:300]

    # 5. Replay resumes: the standby catches up; stopped, the primary answers in its place.
    cluster.standby_sql("SELECT pg_wal_replay_resume()")
    wait_until(cluster.caught_up, 30, "the standby catching up")
    assert listed() == 11
    cluster.standby.stop("fast")
    answers = [requests.get(f"{base}{PREDICTIONS}?limit=1000", headers=reader, timeout=15) for _ in range(6)]
    assert [answer.status_code for answer in answers] == [200] * 6
    assert all(len(answer.json()["results"]) == 11 for answer in answers)
