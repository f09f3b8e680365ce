"""The two PostgreSQL roles: the application's runtime role appends to the audit log through the real code path
but can neither change nor delete a row, not even with the triggers' maintenance setting; only the owner can."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.utils import DatabaseError

from compliance.checkpoints import anchor_checkpoint, create_checkpoint
from compliance.models import Anchor, AuditEntry, AuditHead, Checkpoint, VerificationRun
from compliance.services import audit_append
from compliance.verification import verify_log

EDITS = (
    "UPDATE compliance_auditentry SET actor = 'mallory' WHERE seq = 1",
    "DELETE FROM compliance_auditentry WHERE seq = 1",
    "TRUNCATE compliance_auditentry CASCADE",
    "UPDATE compliance_checkpoint SET root_hash = 'x'",
    "DELETE FROM compliance_anchor",
)


@pytest.fixture
def runtime_role() -> Iterator[str]:
    """A throwaway login role given the runtime privileges by the command, as a deployment does after migrate."""
    role = f"fl_runtime_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {role} LOGIN")
    try:
        call_command("grant_runtime_role", role)
        yield role
    finally:
        connection.close()  # in case a test left the connection as the role
        with connection.cursor() as cursor:
            cursor.execute(f"DROP OWNED BY {role}")  # its grants and default privileges in this database
            cursor.execute(f"DROP ROLE {role}")


@contextmanager
def connected_as(role: str) -> Iterator[None]:
    """Django's own connection logs in as ``role`` (trust authentication), so the real code paths run as it."""
    original = connection.settings_dict["USER"]
    connection.close()
    connection.settings_dict["USER"] = role
    try:
        yield
    finally:
        connection.close()
        connection.settings_dict["USER"] = original


def run_in_maintenance(statement: str, setting: str = "on") -> None:
    """What 0002's trigger let any role with the privilege do: switch maintenance on and edit the log."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"SET LOCAL fairlens.audit_maintenance = '{setting}'")
        cursor.execute(statement)


def a_log_with_an_anchored_checkpoint() -> None:
    for index in range(3):
        audit_append(action="test.event", payload={"n": index})
    checkpoint = create_checkpoint()
    assert checkpoint is not None
    anchor_checkpoint(checkpoint.pk)


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_runtime_role_appends_checkpoints_anchors_and_verifies(runtime_role: str) -> None:
    with connected_as(runtime_role):
        with connection.cursor() as cursor:
            cursor.execute("SELECT current_user")
            assert cursor.fetchone()[0] == runtime_role
        a_log_with_an_anchored_checkpoint()
        run = verify_log()
        assert run.ok, run.problem
        assert AuditEntry.objects.filter(action="test.event").count() == 3
        assert AuditHead.objects.get(pk=1).seq == AuditEntry.objects.count()
        assert Anchor.objects.count() == 1
        assert VerificationRun.objects.filter(pk=run.pk).exists()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("statement", [*EDITS, "DELETE FROM compliance_audithead", "TRUNCATE compliance_audithead"])
def test_the_runtime_role_may_not_change_or_delete_audit_rows_even_in_maintenance(
    runtime_role: str, statement: str
) -> None:
    a_log_with_an_anchored_checkpoint()
    with connected_as(runtime_role), pytest.raises(DatabaseError, match="permission denied"):
        run_in_maintenance(statement)
    assert verify_log(record=False).ok
    assert AuditEntry.objects.filter(seq=1).exclude(actor="mallory").exists()


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("statement", EDITS)
def test_the_trigger_refuses_maintenance_by_a_role_that_does_not_own_the_table(
    runtime_role: str, statement: str
) -> None:
    # given a non-owner that was (wrongly) granted every privilege on the audit tables
    a_log_with_an_anchored_checkpoint()
    with connection.cursor() as cursor:
        for table in ("compliance_auditentry", "compliance_checkpoint", "compliance_anchor"):
            cursor.execute(f"GRANT UPDATE, DELETE, TRUNCATE ON {table} TO {runtime_role}")
    # then the maintenance setting does not let it through: only the owner may use it
    with connected_as(runtime_role), pytest.raises(DatabaseError, match="append-only"):
        run_in_maintenance(statement)
    assert verify_log(record=False).ok


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_owner_in_maintenance_still_can_and_is_refused_without_it() -> None:
    a_log_with_an_anchored_checkpoint()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_get_userbyid(relowner) = current_user FROM pg_class WHERE relname = %s",
            ["compliance_auditentry"],
        )
        assert cursor.fetchone()[0], "the test connects as the tables' owner"
    with transaction.atomic():
        run_in_maintenance("UPDATE compliance_auditentry SET actor = 'mallory' WHERE seq = 1")
        assert AuditEntry.objects.get(seq=1).actor == "mallory"
        assert not verify_log(record=False).ok  # the chain still names the edit
        transaction.set_rollback(True)
    with pytest.raises(DatabaseError, match="append-only"):
        run_in_maintenance("UPDATE compliance_auditentry SET actor = 'mallory' WHERE seq = 1", setting="off")
    assert Checkpoint.objects.count() == 1


@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_command_refuses_the_owner_an_unknown_role_and_a_member_of_the_owner() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT current_user")
        owner = cursor.fetchone()[0]
    with pytest.raises(CommandError, match="owner"):
        call_command("grant_runtime_role", owner)
    with pytest.raises(CommandError, match="no database role 'nobody_here'"):
        call_command("grant_runtime_role", "nobody_here")
    member = f"fl_member_{secrets.token_hex(4)}"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE ROLE {member} LOGIN IN ROLE {connection.ops.quote_name(owner)}")
    try:
        with pytest.raises(CommandError, match="member of, the tables' owner"):
            call_command("grant_runtime_role", member)
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP ROLE {member}")


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor == "postgresql", reason="the SQLite refusal")
def test_the_command_explains_that_roles_need_postgresql() -> None:
    with pytest.raises(CommandError, match="only on PostgreSQL, not sqlite"):
        call_command("grant_runtime_role", "fairlens_app")


def test_compose_migrates_as_the_owner_and_runs_the_application_as_the_runtime_role() -> None:
    import yaml

    root = Path(__file__).resolve().parents[2]
    services = yaml.safe_load((root / "docker-compose.yml").read_text())["services"]
    migrate = services["migrate"]
    assert migrate["environment"]["DATABASE_URL"].startswith("postgres://fairlens:")
    assert "grant_runtime_role fairlens_app" in " ".join(migrate["command"])
    for name in ("web", "worker", "beat"):
        assert services[name]["environment"]["DATABASE_URL"].startswith("postgres://fairlens_app:"), name
    assert "./deploy/postgres:/docker-entrypoint-initdb.d:ro" in services["postgres"]["volumes"]
    script = (root / "deploy" / "postgres" / "10-fairlens-roles.sh").read_text()
    assert "CREATE ROLE fairlens LOGIN NOSUPERUSER" in script
    assert "CREATE ROLE fairlens_app LOGIN NOSUPERUSER" in script
