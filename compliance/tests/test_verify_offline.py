"""The offline verifier against tampered exports: every single-row change type is caught at the right seq."""

from __future__ import annotations

import base64
import json
import os
import random
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.crypto import (
    EMPTY_ROOT,
    GENESIS_HASH,
    Checkpoint,
    SigningKey,
    audit_entry_fields,
    canonical_entry,
    chain_hash,
    format_rfc3339_utc,
    leaf_hash,
    merkle_root_from_leaf_hashes,
    sign_entry_hash,
)
from compliance.crypto.verify import VerificationResult, format_export_line, main, verify_export

REPOSITORY_ROOT = Path(__file__).resolve().parents[2]
ORIGIN = "fairlens.example/audit"
CHECKPOINT_TIME = "2026-03-02T12:00:00Z"
LARGE_LOG_SIZE = 10_000
SMALL_LOG_SIZE = 40
START = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)

Record = dict[str, Any]


def _entry_fields(seq: int) -> dict[str, Any]:
    return audit_entry_fields(
        seq=seq,
        time=format_rfc3339_utc(START + timedelta(seconds=seq, microseconds=seq * 37 % 1_000_000)),
        actor=f"user-{seq % 17}",
        role="" if seq % 4 == 0 else "auditor",
        action="monitoring.alert.create" if seq % 3 else "registry.model.update",
        object_type="monitoring.alert",
        object_id=str(seq * 7 % 1000),
        request_id="" if seq % 5 == 0 else f"req-{seq:06d}",
        payload={
            "metric": "demographic_parity",
            "value": seq / 7,
            "groups": ["female", "male"],
            "note": "Zoë \u2713" if seq % 6 == 0 else "",
            "nested": {"threshold": 0.8, "flags": [True, None]},
        },
    )


def _seal(fields: Sequence[dict[str, Any]], key: SigningKey, prev_hash: bytes = GENESIS_HASH) -> list[Record]:
    """Chain, hash and sign entries the way the application writes them; return export records."""
    records = []
    for entry in fields:
        entry_hash = chain_hash(prev_hash, canonical_entry(entry))
        line = format_export_line(
            entry,
            prev_hash=prev_hash,
            entry_hash=entry_hash,
            signature=sign_entry_hash(key, entry_hash),
            key_id=key.key_id,
        )
        records.append(json.loads(line))
        prev_hash = entry_hash
    return records


def _lines(records: Sequence[Record]) -> list[str]:
    return [json.dumps(record, ensure_ascii=False) for record in records]


def _checkpoint(records: Sequence[Record], key: SigningKey, size: int | None = None, origin: str = ORIGIN) -> str:
    size = len(records) if size is None else size
    leaves = [leaf_hash(bytes.fromhex(record["entry_hash"])) for record in records[:size]]
    return Checkpoint(origin, size, merkle_root_from_leaf_hashes(leaves), CHECKPOINT_TIME).signed_note(key)


@dataclass(frozen=True)
class Log:
    key: SigningKey
    records: list[Record]
    lines: list[str]
    checkpoint: str

    def verify(self, lines: Sequence[str] | None = None, checkpoint: str | None = None) -> VerificationResult:
        return verify_export(
            self.lines if lines is None else lines,
            self.checkpoint if checkpoint is None else checkpoint,
            [self.key.public_key.public_pem()],
        )


def _build_log(size: int) -> Log:
    key = SigningKey.generate("fairlens")
    records = _seal([_entry_fields(seq) for seq in range(1, size + 1)], key)
    return Log(key, records, _lines(records), _checkpoint(records, key))


@pytest.fixture(scope="module")
def large_log() -> Log:
    return _build_log(LARGE_LOG_SIZE)


SMALL_LOG = _build_log(SMALL_LOG_SIZE)
ATTACKER = SigningKey.generate("fairlens")


# --- The change types --------------------------------------------------------------------------------------------


def _flip_hex(text: str) -> str:
    return text[:-1] + format(int(text[-1], 16) ^ 1, "x")


def _flip_signature(signature: str) -> str:
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 1
    return base64.b64encode(bytes(raw)).decode()


def _shift_time(record: Record) -> Record:
    moment = datetime.fromisoformat(record["time"]) + timedelta(seconds=1)
    return {**record, "time": format_rfc3339_utc(moment)}


def _with_payload(record: Record, **changes: Any) -> Record:
    return {**record, "payload": {**record["payload"], **changes}}


HASH_MISMATCH = "entry_hash does not match the entry's contents"

# name -> (change to one record, words the reported problem must contain)
FIELD_CHANGES: dict[str, tuple[Callable[[Record], Record], str]] = {
    "seq+1": (lambda r: {**r, "seq": r["seq"] + 1}, "is missing"),
    "seq-1": (lambda r: {**r, "seq": r["seq"] - 1}, "again or out of order"),
    "time": (_shift_time, HASH_MISMATCH),
    "actor": (lambda r: {**r, "actor": r["actor"] + "x"}, HASH_MISMATCH),
    "role": (lambda r: {**r, "role": "admin"}, HASH_MISMATCH),
    "action": (lambda r: {**r, "action": "audit.delete"}, HASH_MISMATCH),
    "object_type": (lambda r: {**r, "object_type": r["object_type"] + "s"}, HASH_MISMATCH),
    "object_id": (lambda r: {**r, "object_id": r["object_id"] + "0"}, HASH_MISMATCH),
    "request_id": (lambda r: {**r, "request_id": r["request_id"] + "z"}, HASH_MISMATCH),
    "payload:value": (lambda r: _with_payload(r, value=r["payload"]["value"] + 1), HASH_MISMATCH),
    "payload:string": (lambda r: _with_payload(r, metric="equal_opportunity"), HASH_MISMATCH),
    "payload:nested": (lambda r: _with_payload(r, nested={**r["payload"]["nested"], "threshold": 0.9}), HASH_MISMATCH),
    "payload:added-key": (lambda r: _with_payload(r, approved=True), HASH_MISMATCH),
    "payload:removed-key": (
        lambda r: {**r, "payload": {k: v for k, v in r["payload"].items() if k != "groups"}},
        HASH_MISMATCH,
    ),
    "prev_hash": (lambda r: {**r, "prev_hash": _flip_hex(r["prev_hash"])}, "prev_hash does not match"),
    "entry_hash": (lambda r: {**r, "entry_hash": _flip_hex(r["entry_hash"])}, HASH_MISMATCH),
    "signature": (lambda r: {**r, "signature": _flip_signature(r["signature"])}, "signature does not verify"),
    "key_id": (lambda r: {**r, "key_id": _flip_hex(r["key_id"])}, "unknown key id"),
}


def _modify(log: Log, seq: int, change: Callable[[Record], Record]) -> list[str]:
    lines = list(log.lines)
    lines[seq - 1] = json.dumps(change(log.records[seq - 1]), ensure_ascii=False)
    return lines


def _delete(log: Log, seq: int) -> list[str]:
    return log.lines[: seq - 1] + log.lines[seq:]


def _swap(log: Log, first: int, second: int) -> list[str]:
    lines = list(log.lines)
    lines[first - 1], lines[second - 1] = lines[second - 1], lines[first - 1]
    return lines


def _forged_record(log: Log, seq: int, *, claim_key_id: bool) -> Record:
    """A well-formed entry at ``seq`` that links to the real entry before it, signed by a key the log never used."""
    prev_hash = GENESIS_HASH if seq == 1 else bytes.fromhex(log.records[seq - 2]["entry_hash"])
    forged = _seal([{**_entry_fields(seq), "action": "registry.model.approve"}], ATTACKER, prev_hash)[0]
    return {**forged, "key_id": log.key.key_id} if claim_key_id else forged


def _insert(log: Log, seq: int, *, claim_key_id: bool) -> list[str]:
    return log.lines[: seq - 1] + _lines([_forged_record(log, seq, claim_key_id=claim_key_id)]) + log.lines[seq - 1 :]


def _rewrite_tail(log: Log, seq: int, *, claim_key_id: bool) -> tuple[list[str], str]:
    """Entries from ``seq`` on replaced by a consistent chain under the attacker's key, with its own checkpoint."""
    prev_hash = GENESIS_HASH if seq == 1 else bytes.fromhex(log.records[seq - 2]["entry_hash"])
    new_fields = [{**_entry_fields(n), "payload": {"rewritten": n}} for n in range(seq, len(log.records) + 1)]
    tail = _seal(new_fields, ATTACKER, prev_hash)
    if claim_key_id:
        tail = [{**record, "key_id": log.key.key_id} for record in tail]
    records = log.records[: seq - 1] + tail
    return _lines(records), _checkpoint(records, ATTACKER)


def _assert_caught(result: VerificationResult, seq: int, words: str) -> None:
    assert not result.ok
    assert result.first_bad_seq == seq, result
    assert words in result.problem, result
    assert result.checked == seq - 1
    assert result.summary().startswith(f"FAIL at seq {seq}: ")


# --- The 10,000-entry log ------------------------------------------------------------------------------------------


class TestLargeLog:
    def test_untouched_export_passes(self, large_log: Log) -> None:
        result = large_log.verify()
        assert result == VerificationResult(True, LARGE_LOG_SIZE, None, "", LARGE_LOG_SIZE)
        assert result.summary() == f"OK: {LARGE_LOG_SIZE} entries, checkpoint at size {LARGE_LOG_SIZE} verified"

    @pytest.mark.parametrize("change_name", sorted(FIELD_CHANGES))
    def test_modified_field_of_a_random_row(self, large_log: Log, change_name: str) -> None:
        change, words = FIELD_CHANGES[change_name]
        seq = random.Random(change_name).randint(1, LARGE_LOG_SIZE)
        _assert_caught(large_log.verify(_modify(large_log, seq, change)), seq, words)

    def test_deleted_row(self, large_log: Log) -> None:
        seq = random.Random("delete").randint(1, LARGE_LOG_SIZE - 1)
        _assert_caught(large_log.verify(_delete(large_log, seq)), seq, f"seq {seq} is missing")

    def test_swapped_rows(self, large_log: Log) -> None:
        first, second = sorted(random.Random("swap").sample(range(1, LARGE_LOG_SIZE + 1), 2))
        _assert_caught(large_log.verify(_swap(large_log, first, second)), first, f"next line has seq {second}")

    @pytest.mark.parametrize(
        ("claim_key_id", "words"), [(False, "unknown key id"), (True, "signature does not verify")]
    )
    def test_inserted_forged_row(self, large_log: Log, claim_key_id: bool, words: str) -> None:
        seq = random.Random(f"insert-{claim_key_id}").randint(1, LARGE_LOG_SIZE)
        _assert_caught(large_log.verify(_insert(large_log, seq, claim_key_id=claim_key_id)), seq, words)

    def test_truncated_tail(self, large_log: Log) -> None:
        kept = random.Random("truncate").randint(1, LARGE_LOG_SIZE - 1)
        result = large_log.verify(large_log.lines[:kept])
        assert not result.ok
        assert result.first_bad_seq == kept + 1
        assert result.problem == f"entries end at seq {kept} but the checkpoint covers {LARGE_LOG_SIZE}"
        assert result.checked == kept

    @pytest.mark.parametrize(
        ("claim_key_id", "words"), [(False, "unknown key id"), (True, "signature does not verify")]
    )
    def test_tail_rewritten_under_another_key(self, large_log: Log, claim_key_id: bool, words: str) -> None:
        seq = random.Random(f"rewrite-{claim_key_id}").randint(1, LARGE_LOG_SIZE)
        lines, forged_checkpoint = _rewrite_tail(large_log, seq, claim_key_id=claim_key_id)
        _assert_caught(large_log.verify(lines, forged_checkpoint), seq, words)
        _assert_caught(large_log.verify(lines), seq, words)

    def test_command_line(self, large_log: Log, tmp_path: Path) -> None:
        entries = tmp_path / "export.jsonl"
        checkpoint = tmp_path / "cp.txt"
        public_key = tmp_path / "key.pem"
        entries.write_text("\n".join(large_log.lines) + "\n", encoding="utf-8")
        checkpoint.write_text(large_log.checkpoint, encoding="utf-8")
        public_key.write_bytes(large_log.key.public_key.public_pem())
        command = [
            sys.executable,
            "-m",
            "compliance.crypto.verify",
            "--entries",
            str(entries),
            "--checkpoint",
            str(checkpoint),
            "--public-key",
            str(public_key),
        ]
        # No Django settings: the verifier must not need them.
        environment = {name: value for name, value in os.environ.items() if name != "DJANGO_SETTINGS_MODULE"}

        passed = subprocess.run(command, cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True)
        assert passed.returncode == 0, passed.stderr
        assert passed.stdout == f"OK: {LARGE_LOG_SIZE} entries, checkpoint at size {LARGE_LOG_SIZE} verified\n"

        change, _ = FIELD_CHANGES["payload:value"]
        entries.write_text("\n".join(_modify(large_log, 4321, change)) + "\n", encoding="utf-8")
        failed = subprocess.run(command, cwd=REPOSITORY_ROOT, env=environment, capture_output=True, text=True)
        assert failed.returncode == 1, failed.stderr
        assert failed.stdout == f"FAIL at seq 4321: {HASH_MISMATCH} and prev_hash\n"


# --- Every change type at every position, on a small log -----------------------------------------------------------

CHANGE_KINDS = [*sorted(FIELD_CHANGES), "delete", "swap", "insert", "insert-claiming-key", "truncate", "rewrite-tail"]


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(CHANGE_KINDS), data=st.data())
def test_every_single_row_change_is_caught_at_its_seq(kind: str, data: st.DataObject) -> None:
    log = SMALL_LOG
    seq = data.draw(st.integers(min_value=1, max_value=SMALL_LOG_SIZE), label="seq")
    checkpoint = None
    if kind in FIELD_CHANGES:
        lines = _modify(log, seq, FIELD_CHANGES[kind][0])
    elif kind == "delete":
        lines = _delete(log, seq)
    elif kind == "swap":
        seq = min(seq, SMALL_LOG_SIZE - 1)
        other = data.draw(st.integers(min_value=seq + 1, max_value=SMALL_LOG_SIZE), label="other")
        lines = _swap(log, seq, other)
    elif kind.startswith("insert"):
        lines = _insert(log, seq, claim_key_id=kind == "insert-claiming-key")
    elif kind == "truncate":
        lines = log.lines[: seq - 1]
    else:
        lines, checkpoint = _rewrite_tail(log, seq, claim_key_id=False)
    result = log.verify(lines, checkpoint)
    assert not result.ok
    assert result.first_bad_seq == seq, (kind, result)


# --- The checkpoint, the keys and the input format -------------------------------------------------------------------


class TestCheckpoint:
    def test_checkpoint_may_cover_a_prefix(self) -> None:
        result = SMALL_LOG.verify(checkpoint=_checkpoint(SMALL_LOG.records, SMALL_LOG.key, size=25))
        assert result.ok
        assert result.summary() == f"OK: {SMALL_LOG_SIZE} entries, checkpoint at size 25 verified"

    def test_empty_export_with_empty_checkpoint(self) -> None:
        checkpoint = Checkpoint(ORIGIN, 0, EMPTY_ROOT, CHECKPOINT_TIME).signed_note(SMALL_LOG.key)
        assert SMALL_LOG.verify([], checkpoint).summary() == "OK: 0 entries, checkpoint at size 0 verified"

    def test_wrong_root(self) -> None:
        wrong = Checkpoint(ORIGIN, SMALL_LOG_SIZE, EMPTY_ROOT, CHECKPOINT_TIME).signed_note(SMALL_LOG.key)
        result = SMALL_LOG.verify(checkpoint=wrong)
        assert (result.ok, result.first_bad_seq, result.checked) == (False, None, SMALL_LOG_SIZE)
        assert "Merkle root of seq 1..40" in result.problem
        assert result.summary().startswith("FAIL at checkpoint: Merkle root")

    def test_checkpoint_signed_by_another_key(self) -> None:
        result = SMALL_LOG.verify(checkpoint=_checkpoint(SMALL_LOG.records, ATTACKER))
        assert (result.ok, result.first_bad_seq) == (False, None)
        assert "no signature by a known key" in result.problem

    @pytest.mark.parametrize("text", ["", "garbage", "log\n1\n\n"])
    def test_malformed_checkpoint(self, text: str) -> None:
        result = SMALL_LOG.verify(checkpoint=text)
        assert (result.ok, result.first_bad_seq) == (False, None)
        assert result.problem.startswith("checkpoint does not verify")

    def test_origin_is_checked_when_given(self) -> None:
        keys = [SMALL_LOG.key.public_key]
        assert verify_export(SMALL_LOG.lines, SMALL_LOG.checkpoint, keys, origin=ORIGIN).ok
        result = verify_export(SMALL_LOG.lines, SMALL_LOG.checkpoint, keys, origin="other.example/audit")
        assert "not 'other.example/audit'" in result.problem


class TestKeys:
    def test_rotated_keys(self) -> None:
        old_key, new_key = SigningKey.generate("fairlens"), SigningKey.generate("fairlens")
        first = _seal([_entry_fields(seq) for seq in range(1, 21)], old_key)
        second = _seal([_entry_fields(seq) for seq in range(21, 41)], new_key, bytes.fromhex(first[-1]["entry_hash"]))
        records = first + second
        checkpoint = _checkpoint(records, new_key)
        both = [old_key.public_key.public_pem(), new_key.public_key.public_pem()]
        assert verify_export(_lines(records), checkpoint, both).ok
        result = verify_export(_lines(records), checkpoint, [new_key.public_key.public_pem()])
        assert (result.first_bad_seq, result.problem) == (1, f"signed by unknown key id {old_key.key_id!r}")

    def test_key_name_is_read_from_the_checkpoint_signature(self) -> None:
        key = SigningKey.generate("fairlens.example/audit-2026")
        records = _seal([_entry_fields(seq) for seq in range(1, 6)], key)
        pem = key.public_key.public_pem()
        assert verify_export(_lines(records), _checkpoint(records, key), [pem]).ok
        assert verify_export(_lines(records), _checkpoint(records, key), [pem], key_name=key.name).ok
        result = verify_export(_lines(records), _checkpoint(records, key), [pem], key_name="fairlens")
        assert (result.first_bad_seq, result.problem) == (1, f"signed by unknown key id {key.key_id!r}")

    def test_verifying_keys_are_accepted(self) -> None:
        assert verify_export(SMALL_LOG.lines, SMALL_LOG.checkpoint, [SMALL_LOG.key.public_key]).ok

    def test_a_key_is_needed(self) -> None:
        with pytest.raises(ValueError, match="public key"):
            verify_export(SMALL_LOG.lines, SMALL_LOG.checkpoint, [])


class TestInputFormat:
    def test_bytes_lines_blank_lines_and_one_string(self) -> None:
        assert SMALL_LOG.verify([line.encode() + b"\r\n" for line in SMALL_LOG.lines]).ok
        assert SMALL_LOG.verify(["", *SMALL_LOG.lines, "", "  "]).ok
        assert verify_export("\n".join(SMALL_LOG.lines) + "\n", SMALL_LOG.checkpoint, [SMALL_LOG.key.public_key]).ok

    def test_unicode_line_separators_inside_strings(self) -> None:
        key = SigningKey.generate("fairlens")
        fields = [{**_entry_fields(seq), "payload": {"note": "one\u2028two\x85three\u2029"}} for seq in (1, 2, 3)]
        records = _seal(fields, key)
        export = "\n".join(_lines(records)) + "\n"
        assert "\u2028" in export
        assert verify_export(export, _checkpoint(records, key), [key.public_key]).ok
        assert verify_export(export.encode(), _checkpoint(records, key), [key.public_key]).ok

    @pytest.mark.parametrize(
        ("bad_line", "words"),
        [
            ("{not json", "not a valid JSON entry"),
            ("[1, 2]", "not a JSON object"),
            ('{"seq": "7"}', "seq is missing or not an integer"),
            (b"\xff\xfe", "not valid UTF-8"),
        ],
    )
    def test_unreadable_lines(self, bad_line: str | bytes, words: str) -> None:
        lines: list[str | bytes] = list(SMALL_LOG.lines)
        lines[6] = bad_line
        result = verify_export(lines, SMALL_LOG.checkpoint, [SMALL_LOG.key.public_key])
        assert (result.first_bad_seq, result.checked) == (7, 6)
        assert words in result.problem

    def test_extra_field(self) -> None:
        lines = _modify(SMALL_LOG, 7, lambda r: {**r, "comment": "looks fine"})
        _assert_caught(SMALL_LOG.verify(lines), 7, "unexpected ['comment']")

    def test_duplicate_key(self) -> None:
        lines = list(SMALL_LOG.lines)
        lines[6] = lines[6][:-1] + ', "actor": "mallory"}'
        _assert_caught(SMALL_LOG.verify(lines), 7, "duplicate key 'actor'")

    def test_nan_is_not_json(self) -> None:
        lines = list(SMALL_LOG.lines)
        lines[6] = lines[6].replace('"value": ', '"value": NaN, "was": ', 1)
        _assert_caught(SMALL_LOG.verify(lines), 7, "NaN is not JSON")

    def test_invalid_field_values(self) -> None:
        lines = _modify(SMALL_LOG, 7, lambda r: {**r, "time": "2026-03-02 09:15:07"})
        _assert_caught(SMALL_LOG.verify(lines), 7, "entry fields are invalid")

    @pytest.mark.parametrize("field", ["prev_hash", "entry_hash"])
    def test_hashes_must_be_64_lowercase_hex(self, field: str) -> None:
        lines = _modify(SMALL_LOG, 7, lambda r: {**r, field: r[field].upper()})
        _assert_caught(SMALL_LOG.verify(lines), 7, f"{field} is not lowercase hex")

    def test_non_string_signature(self) -> None:
        lines = _modify(SMALL_LOG, 7, lambda r: {**r, "signature": 12})
        _assert_caught(SMALL_LOG.verify(lines), 7, "signature is not a base64 string")


class TestMain:
    @pytest.fixture
    def files(self, tmp_path: Path) -> dict[str, Path]:
        paths = {name: tmp_path / name for name in ("export.jsonl", "cp.txt", "key.pem")}
        paths["export.jsonl"].write_text("\n".join(SMALL_LOG.lines) + "\n", encoding="utf-8")
        paths["cp.txt"].write_text(SMALL_LOG.checkpoint, encoding="utf-8")
        paths["key.pem"].write_bytes(SMALL_LOG.key.public_key.public_pem())
        return paths

    def _arguments(self, files: dict[str, Path]) -> list[str]:
        return [
            "--entries",
            str(files["export.jsonl"]),
            "--checkpoint",
            str(files["cp.txt"]),
            "--public-key",
            str(files["key.pem"]),
        ]

    def test_ok(self, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
        assert main(self._arguments(files)) == 0
        assert (
            capsys.readouterr().out == f"OK: {SMALL_LOG_SIZE} entries, checkpoint at size {SMALL_LOG_SIZE} verified\n"
        )

    def test_several_public_keys(self, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
        other = files["key.pem"].with_name("old.pem")
        other.write_bytes(ATTACKER.public_key.public_pem())
        assert main([*self._arguments(files), "--public-key", str(other)]) == 0
        assert capsys.readouterr().out.startswith("OK: ")

    def test_missing_file(self, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
        files["cp.txt"].unlink()
        assert main(self._arguments(files)) == 2
        assert "error:" in capsys.readouterr().err

    def test_not_a_public_key(self, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
        files["key.pem"].write_text("not a key", encoding="utf-8")
        assert main(self._arguments(files)) == 2
        assert "not an Ed25519 public key PEM" in capsys.readouterr().err

    def test_arguments_are_required(self, capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main([])
        assert exit_info.value.code == 2
        assert "--entries" in capsys.readouterr().err

    def test_invalid_key_name(self, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
        with pytest.raises(SystemExit) as exit_info:
            main([*self._arguments(files), "--key-name", "two words"])
        assert exit_info.value.code == 2
        assert "--key-name" in capsys.readouterr().err

    def test_public_keys_of_the_wrong_name(self, files: dict[str, Path], capsys: pytest.CaptureFixture[str]) -> None:
        assert main([*self._arguments(files), "--key-name", "someone-else"]) == 1
        assert capsys.readouterr().out.startswith("FAIL at seq 1: signed by unknown key id")
