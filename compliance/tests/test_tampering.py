"""A malicious operator edits the log behind the application's back (PostgreSQL triggers bypassed): every kind of
change is detected and the first bad seq named. And 8 concurrent writers keep seq gapless."""

from __future__ import annotations

import json
import random
import threading
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from compliance.audit_keys import signing_key
from compliance.checkpoints import create_checkpoint
from compliance.crypto import (
    GENESIS_HASH,
    audit_entry_fields,
    canonical_entry,
    chain_hash,
    format_rfc3339_utc,
    sign_entry_hash,
)
from compliance.models import AuditEntry, AuditHead, Checkpoint
from compliance.services import audit_append
from compliance.verification import verify_log

pytestmark = pytest.mark.django_db
LOG_SIZE = 10_000


def build_log(size: int) -> None:
    """``size`` correctly chained and signed entries, written in bulk (fast), then a checkpoint over them."""
    key = signing_key()
    now = timezone.now()
    previous = GENESIS_HASH
    rows = []
    for seq in range(1, size + 1):
        fields = audit_entry_fields(
            seq=seq,
            time=format_rfc3339_utc(now),
            actor=f"user-{seq % 7}",
            role="monitor",
            action="test.event",
            object_type="thing",
            object_id=str(seq % 97),
            request_id="",
            payload={"n": seq, "share": seq / size},
        )
        entry_hash = chain_hash(previous, canonical_entry(fields))
        rows.append(
            AuditEntry(
                seq=seq,
                time=now,
                actor=fields["actor"],
                role="monitor",
                action="test.event",
                object_type="thing",
                object_id=fields["object_id"],
                request_id="",
                payload=fields["payload"],
                prev_hash=previous.hex(),
                entry_hash=entry_hash.hex(),
                signature=sign_entry_hash(key, entry_hash),
                key_id=key.key_id,
            )
        )
        previous = entry_hash
    AuditEntry.objects.bulk_create(rows, batch_size=2000)
    AuditHead.objects.filter(pk=1).update(seq=size, entry_hash=previous.hex())
    create_checkpoint()


def tamper(sql: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL fairlens.audit_maintenance = 'on'")  # the operator bypasses the triggers
        cursor.execute(sql, params or [])


def verify_after(sql: str, params: list[Any] | None = None) -> Any:
    """Apply one tampering inside a savepoint, verify, then undo it for the next case."""
    with transaction.atomic():
        tamper(sql, params)
        run = verify_log(record=False)
        transaction.set_rollback(True)
    return run


@pytest.fixture
def log() -> None:
    build_log(LOG_SIZE)
    assert verify_log(record=False).ok


@pytest.mark.slow
@pytest.mark.parametrize(
    "column",
    ["time", "actor", "role", "action", "object_type", "object_id", "payload", "prev_hash", "entry_hash", "signature"],
)
def test_changing_any_field_of_any_row_is_detected_at_that_row(log: None, column: str) -> None:
    rng = random.Random(column)
    for seq in (rng.randrange(1, LOG_SIZE + 1), rng.randrange(1, LOG_SIZE + 1)):
        value = {
            "time": "2001-01-01T00:00:00Z",
            "payload": '{"n": -1}',
            "prev_hash": "ab" * 32,
            "entry_hash": "cd" * 32,
            "signature": "AAAA",
        }.get(column, "forged")
        run = verify_after(f"UPDATE compliance_auditentry SET {column} = %s WHERE seq = %s", [value, seq])  # noqa: S608
        assert not run.ok
        assert run.first_bad_seq == seq, run.problem


def test_deleting_a_row_is_detected(log: None) -> None:
    run = verify_after("DELETE FROM compliance_auditentry WHERE seq = %s", [4321])
    assert (run.ok, run.first_bad_seq) == (False, 4321)


def test_swapping_two_rows_is_detected(log: None) -> None:
    with transaction.atomic():
        for sql in (
            "UPDATE compliance_auditentry SET seq = -100 WHERE seq = 100",
            "UPDATE compliance_auditentry SET seq = 100 WHERE seq = 200",
            "UPDATE compliance_auditentry SET seq = 200 WHERE seq = -100",
        ):
            tamper(sql)
        run = verify_log(record=False)
        transaction.set_rollback(True)
    assert (run.ok, run.first_bad_seq) == (False, 100)


def test_inserting_a_forged_row_is_detected(log: None) -> None:
    with transaction.atomic():
        # make room at 5001 (two steps, so the unique index never sees a duplicate)
        tamper("UPDATE compliance_auditentry SET seq = -seq WHERE seq > 5000")
        tamper("UPDATE compliance_auditentry SET seq = -seq + 1 WHERE seq < 0")
        forged = AuditEntry.objects.get(seq=4999)
        forged.pk, forged.seq, forged.entry_hash = None, 5001, "ef" * 32
        forged.save()
        run = verify_log(record=False)
        transaction.set_rollback(True)
    assert (run.ok, run.first_bad_seq) == (False, 5001)


def test_truncating_the_tail_is_detected(log: None) -> None:
    run = verify_after("DELETE FROM compliance_auditentry WHERE seq > 9000")
    assert not run.ok
    assert run.first_bad_seq == 9001
    assert "checkpoint covers 10000" in run.problem


def test_rewriting_the_tail_with_a_consistent_chain_is_caught_by_the_checkpoint(log: None) -> None:
    # given an operator who also holds the signing key rewrites entries 9000.. into a valid-looking chain
    key = signing_key()
    with transaction.atomic():
        previous = bytes.fromhex(AuditEntry.objects.get(seq=8999).entry_hash)
        for entry in AuditEntry.objects.filter(seq__gte=9000).order_by("seq"):
            entry.payload = {"n": entry.seq, "share": 0.0}
            line = audit_entry_fields(
                seq=entry.seq,
                time=format_rfc3339_utc(entry.time),
                actor=entry.actor,
                role=entry.role,
                action=entry.action,
                object_type=entry.object_type,
                object_id=entry.object_id,
                request_id=entry.request_id,
                payload=entry.payload,
            )
            digest = chain_hash(previous, canonical_entry(line))
            tamper(
                "UPDATE compliance_auditentry SET payload = %s, prev_hash = %s, entry_hash = %s, signature = %s "
                "WHERE seq = %s",
                [json.dumps(entry.payload), previous.hex(), digest.hex(), sign_entry_hash(key, digest), entry.seq],
            )
            previous = digest
        run = verify_log(record=False)
        transaction.set_rollback(True)
    # then the chain and signatures check out, but the anchored checkpoint's root does not
    assert not run.ok
    assert "Merkle root" in run.problem


@pytest.mark.slow
@pytest.mark.requires_postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_eight_concurrent_writers_give_a_gapless_valid_chain() -> None:
    writers, per_writer = 8, 400  # 3,200 appends racing for the head row: enough to interleave every writer
    errors: list[BaseException] = []

    def write(index: int) -> None:
        try:
            for n in range(per_writer):
                audit_append(action="test.concurrent", payload={"writer": index, "n": n})
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=write, args=(index,)) for index in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors[:3]
    seqs = list(AuditEntry.objects.filter(action="test.concurrent").values_list("seq", flat=True))
    assert len(seqs) == writers * per_writer
    assert sorted(AuditEntry.objects.values_list("seq", flat=True)) == list(range(1, AuditEntry.objects.count() + 1))
    assert verify_log(record=False).ok
    assert not Checkpoint.objects.exists() or verify_log(record=False).ok


def test_the_periodic_verification_emails_auditors_when_the_log_was_tampered_with(
    log: None, make_user: Any, mailoutbox: list
) -> None:
    from compliance.tasks import verify_audit_log_task

    auditor = make_user("frank-auditor", "auditor")
    auditor.email = "frank@example.com"
    auditor.save()
    mailoutbox.clear()  # the notice to auditors that an auditor account was made is not this test's subject
    assert verify_audit_log_task() is True
    assert mailoutbox == []
    tamper("UPDATE compliance_auditentry SET actor = 'mallory' WHERE seq = 77")
    assert verify_audit_log_task() is False
    assert len(mailoutbox) == 1
    assert mailoutbox[0].to == ["frank@example.com"]
    assert "seq 77" in mailoutbox[0].subject
