"""Offline verifier for an exported audit log: no database, no Django, only the export and public keys.

Usage::

    python -m compliance.crypto.verify --entries export.jsonl --checkpoint cp.txt --public-key key.pem \
        [--public-key ...]

Export format: UTF-8 JSON Lines ordered by ``seq``, one object per entry with exactly these keys::

    {"seq": 1, "time": "2026-03-02T09:15:00.123456Z", "actor": "...", "role": "...", "action": "...",
     "object_type": "...", "object_id": "...", "request_id": "...", "payload": {...},
     "prev_hash": "<64 hex>", "entry_hash": "<64 hex>", "signature": "<base64>", "key_id": "<8 hex>"}

Checks, stopping at the first problem:

1. ``seq`` starts at 1 and grows by exactly 1 (catches gaps, duplicates, reordering);
2. ``prev_hash`` is the previous ``entry_hash`` (``GENESIS_HASH`` for seq 1);
3. ``entry_hash == chain_hash(prev_hash, canonical_entry(the nine fields))``;
4. ``signature`` verifies under the given public key whose key id is ``key_id``;
5. the checkpoint's signed note verifies under a given public key, covers no more entries than the export has,
   and its root equals the Merkle root over ``leaf_hash(entry_hash)`` of seq 1..tree_size.

Exit status 0 prints ``OK: N entries, checkpoint at size M verified``; 1 prints ``FAIL at seq K: <problem>`` (or
``FAIL at checkpoint: <problem>`` when no single entry is at fault); 2 means the inputs could not be read.

With ``--document FILE`` (repeatable) it also shows that a document FairLens issued existed unchanged when the
checkpoint was signed: a JSON bundle must match its own ``bundle_sha256`` and any other file (a signed PDF) the
SHA-256 of its bytes, and the export must hold a ``report.export`` entry recording that digest at a seq the
checkpoint covers. Each document adds a line ``document <file>: ...``; one that is not found fails the run.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from compliance.crypto import (
    ENTRY_FIELDS,
    GENESIS_HASH,
    HASH_SIZE,
    SignatureError,
    VerifyingKey,
    canonical_entry,
    canonical_json,
    chain_hash,
    check_key_name,
    leaf_hash,
    merkle_root_from_leaf_hashes,
    parse_signed_checkpoint,
    split_signed_note,
    verify_entry_signature,
)
from compliance.crypto._codec import b64encode, hex_decode
from compliance.crypto.canonical import sorted_json_sha256

DEFAULT_KEY_NAME = "fairlens"
EXPORT_FIELDS: tuple[str, ...] = (*ENTRY_FIELDS, "prev_hash", "entry_hash", "signature", "key_id")


@dataclass(frozen=True)
class VerificationResult:
    """Outcome of ``verify_export``.

    ``checked`` counts entries that passed every per-entry check; ``first_bad_seq`` is the seq where verification
    stopped (None when it succeeded, or when only the checkpoint is at fault); ``problem`` is empty on success.
    """

    ok: bool
    checked: int
    first_bad_seq: int | None
    problem: str
    checkpoint_size: int | None = None

    def summary(self) -> str:
        """The one line the command prints."""
        if self.ok:
            return f"OK: {self.checked} entries, checkpoint at size {self.checkpoint_size} verified"
        where = f"seq {self.first_bad_seq}" if self.first_bad_seq is not None else "checkpoint"
        return f"FAIL at {where}: {self.problem}"


class _EntryProblem(Exception):
    def __init__(self, seq: int, message: str) -> None:
        super().__init__(message)
        self.seq = seq
        self.message = message


def format_export_line(
    fields: Mapping[str, Any], *, prev_hash: bytes, entry_hash: bytes, signature: str, key_id: str
) -> str:
    """One export line (canonical JSON, no trailing newline) for an entry with the nine ``fields``."""
    record = {
        **{name: fields[name] for name in ENTRY_FIELDS},
        "prev_hash": prev_hash.hex(),
        "entry_hash": entry_hash.hex(),
        "signature": signature,
        "key_id": key_id,
    }
    return canonical_json(record).decode("utf-8")


def verify_export(
    entries_lines: Iterable[str | bytes],
    checkpoint_text: str,
    public_keys: Sequence[VerifyingKey | bytes | str],
    *,
    key_name: str | None = None,
    origin: str | None = None,
) -> VerificationResult:
    """Verify an export (an iterable of JSON lines) against a signed checkpoint note and trusted public keys.

    ``public_keys`` holds ``VerifyingKey`` objects (their names count) and/or SubjectPublicKeyInfo PEMs. A PEM has
    no name, so it is tried under ``key_name`` if given, else under ``"fairlens"`` and the names on the
    checkpoint's signature lines; the key id (which covers the name) must still match. ``origin``, if given, must
    equal the checkpoint's origin. Raises ``ValueError`` only for unusable keys; everything about the export and
    the checkpoint is reported in the result.
    """
    keys_by_id = _candidate_keys(public_keys, _key_names(checkpoint_text, key_name))
    if isinstance(entries_lines, str):
        # Only "\n" ends a line: splitlines() would also split at U+2028 and others, which JSON strings may hold raw.
        entries_lines = entries_lines.split("\n")
    elif isinstance(entries_lines, bytes):
        entries_lines = entries_lines.split(b"\n")

    previous_hash = GENESIS_HASH
    leaves: list[bytes] = []
    for line in entries_lines:
        if not line.strip():
            continue
        expected_seq = len(leaves) + 1
        try:
            entry_hash = _check_entry(line, expected_seq, previous_hash, keys_by_id)
        except _EntryProblem as problem:
            return VerificationResult(False, len(leaves), problem.seq, problem.message)
        leaves.append(leaf_hash(entry_hash))
        previous_hash = entry_hash
    return _check_checkpoint(checkpoint_text, keys_by_id, leaves, origin)


def _key_names(checkpoint_text: str, key_name: str | None) -> list[str]:
    if key_name is not None:
        return [key_name]
    names = [DEFAULT_KEY_NAME]
    try:
        _, signatures = split_signed_note(checkpoint_text)
    except ValueError:
        return names  # the checkpoint check reports the malformed note
    for signature in signatures:
        if signature.name not in names:
            names.append(signature.name)
    return names


def _candidate_keys(public_keys: Sequence[VerifyingKey | bytes | str], names: list[str]) -> dict[str, VerifyingKey]:
    keys_by_id: dict[str, VerifyingKey] = {}
    for item in public_keys:
        candidates = [item] if isinstance(item, VerifyingKey) else [VerifyingKey.from_pem(name, item) for name in names]
        for key in candidates:
            keys_by_id.setdefault(key.key_id, key)
    if not keys_by_id:
        raise ValueError("at least one public key is needed")
    return keys_by_id


def _reject_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # With duplicate keys a JSON reader keeps one of the values; which one differs between tools.
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"duplicate key {key!r}")
        result[key] = value
    return result


def _reject_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


def _check_entry(
    line: str | bytes, expected_seq: int, previous_hash: bytes, keys_by_id: Mapping[str, VerifyingKey]
) -> bytes:
    """Run checks 1-4 on one line; return its entry hash or raise ``_EntryProblem``."""
    try:
        text = line.decode("utf-8") if isinstance(line, bytes) else line
    except UnicodeDecodeError:
        raise _EntryProblem(expected_seq, "line is not valid UTF-8") from None
    try:
        record = json.loads(text, object_pairs_hook=_reject_duplicate_keys, parse_constant=_reject_constant)
    except ValueError as error:
        raise _EntryProblem(expected_seq, f"line is not a valid JSON entry ({error})") from None
    if not isinstance(record, dict):
        raise _EntryProblem(expected_seq, "line is not a JSON object")

    seq = record.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise _EntryProblem(expected_seq, "seq is missing or not an integer")
    if seq != expected_seq:
        if seq > expected_seq:
            raise _EntryProblem(expected_seq, f"seq {expected_seq} is missing (the next line has seq {seq})")
        raise _EntryProblem(expected_seq, f"expected seq {expected_seq} but found seq {seq} again or out of order")

    keys = set(record)
    if keys != set(EXPORT_FIELDS):
        missing, extra = sorted(set(EXPORT_FIELDS) - keys), sorted(keys - set(EXPORT_FIELDS))
        raise _EntryProblem(seq, f"entry fields do not match the export format: missing {missing}, unexpected {extra}")

    try:
        prev_hash = hex_decode(record["prev_hash"], what="prev_hash", size=HASH_SIZE)
        entry_hash = hex_decode(record["entry_hash"], what="entry_hash", size=HASH_SIZE)
    except ValueError as error:
        raise _EntryProblem(seq, str(error)) from None
    if not hmac.compare_digest(prev_hash, previous_hash):
        previous = "the genesis hash" if seq == 1 else f"the entry_hash of seq {seq - 1}"
        raise _EntryProblem(seq, f"prev_hash does not match {previous}")

    try:
        canonical = canonical_entry({name: record[name] for name in ENTRY_FIELDS})
    except (TypeError, ValueError) as error:
        raise _EntryProblem(seq, f"entry fields are invalid: {error}") from None
    if not hmac.compare_digest(chain_hash(prev_hash, canonical), entry_hash):
        raise _EntryProblem(seq, "entry_hash does not match the entry's contents and prev_hash")

    key_id, signature = record["key_id"], record["signature"]
    key = keys_by_id.get(key_id) if isinstance(key_id, str) else None
    if key is None:
        raise _EntryProblem(seq, f"signed by unknown key id {key_id!r}")
    if not isinstance(signature, str):
        raise _EntryProblem(seq, "signature is not a base64 string")
    try:
        verify_entry_signature(key, entry_hash, signature)
    except SignatureError as error:
        raise _EntryProblem(seq, f"signature does not verify: {error}") from None
    return entry_hash


def _check_checkpoint(
    checkpoint_text: str, keys_by_id: Mapping[str, VerifyingKey], leaves: list[bytes], origin: str | None
) -> VerificationResult:
    """Check 5, once every entry has passed."""
    entry_count = len(leaves)
    try:
        checkpoint = parse_signed_checkpoint(checkpoint_text, list(keys_by_id.values()))
    except ValueError as error:  # SignatureError is a ValueError too
        return VerificationResult(False, entry_count, None, f"checkpoint does not verify: {error}")
    if origin is not None and checkpoint.origin != origin:
        return VerificationResult(
            False, entry_count, None, f"checkpoint is for log {checkpoint.origin!r}, not {origin!r}"
        )
    if checkpoint.tree_size > entry_count:
        return VerificationResult(
            False,
            entry_count,
            entry_count + 1,
            f"entries end at seq {entry_count} but the checkpoint covers {checkpoint.tree_size}",
            checkpoint.tree_size,
        )
    root = merkle_root_from_leaf_hashes(leaves[: checkpoint.tree_size])
    if not hmac.compare_digest(root, checkpoint.root_hash):
        return VerificationResult(
            False,
            entry_count,
            None,
            f"Merkle root of seq 1..{checkpoint.tree_size} is {b64encode(root)}, "
            f"but the checkpoint says {b64encode(checkpoint.root_hash)}",
            checkpoint.tree_size,
        )
    return VerificationResult(True, entry_count, None, "", checkpoint.tree_size)


@dataclass(frozen=True)
class DocumentResult:
    """Where an issued document's digest is recorded: the ``report.export`` entry and whether it is covered."""

    name: str
    ok: bool
    message: str

    def summary(self) -> str:
        return f"document {self.name}: {'OK' if self.ok else 'FAIL'}: {self.message}"


def document_digest(content: bytes) -> tuple[str, str, str | None]:
    """(payload key, digest, problem) for a document file: a JSON bundle by its recomputed ``bundle_sha256``,
    any other file by the SHA-256 of its bytes. ``problem`` says when a bundle no longer matches its digest."""
    try:
        bundle = json.loads(content)
    except (UnicodeDecodeError, ValueError):
        bundle = None
    if isinstance(bundle, dict) and isinstance(bundle.get("bundle_sha256"), str):
        stated = bundle.pop("bundle_sha256")
        recomputed = sorted_json_sha256(bundle)
        problem = (
            None
            if hmac.compare_digest(stated, recomputed)
            else f"content changed (digest {recomputed}, stated {stated})"
        )
        return "bundle_sha256", stated, problem
    return "document_sha256", hashlib.sha256(content).hexdigest(), None


def locate_document(
    entries_lines: Iterable[str | bytes], name: str, content: bytes, *, tree_size: int
) -> DocumentResult:
    """Find the export entry that recorded ``content``'s digest (entries already verified by ``verify_export``)."""
    key, digest, problem = document_digest(content)
    if problem is not None:
        return DocumentResult(name, False, problem)
    for line in entries_lines:
        if not line.strip():
            continue
        entry = json.loads(line)
        payload = entry.get("payload") or {}
        if entry.get("action") == "report.export" and payload.get(key) == digest:
            kind = f"{payload.get('document', 'report')} ({payload.get('format')})"
            where = f"{kind} exported at seq {entry['seq']}, {entry['time']}, by {entry['actor'] or 'system'}"
            if entry["seq"] > tree_size:
                return DocumentResult(
                    name, False, f"{where}, after the checkpoint (size {tree_size}); export a newer one"
                )
            return DocumentResult(name, True, f"{where}; covered by the checkpoint at size {tree_size}")
    return DocumentResult(name, False, f"no report.export entry records {key} {digest}")


def _parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m compliance.crypto.verify",
        description="Verify an exported FairLens audit log against a signed checkpoint, offline.",
    )
    parser.add_argument("--entries", type=Path, required=True, help="JSON Lines export, ordered by seq")
    parser.add_argument("--checkpoint", type=Path, required=True, help="signed checkpoint note (text)")
    parser.add_argument(
        "--public-key",
        type=Path,
        action="append",
        required=True,
        dest="public_keys",
        help="Ed25519 public key PEM (SubjectPublicKeyInfo); repeat for rotated keys",
    )
    parser.add_argument(
        "--key-name",
        default=None,
        help=f"signed-note key name of the PEM keys (default: {DEFAULT_KEY_NAME!r}, or the name on the "
        "checkpoint's signature line when the key id matches)",
    )
    parser.add_argument("--origin", default=None, help="require this checkpoint origin (log name)")
    parser.add_argument(
        "--document",
        type=Path,
        action="append",
        default=[],
        dest="documents",
        help="a document FairLens issued (JSON bundle or signed PDF) to find in the export; repeatable",
    )
    arguments = parser.parse_args(argv)
    if arguments.key_name is not None:
        try:
            check_key_name(arguments.key_name)
        except ValueError as error:
            parser.error(f"--key-name: {error}")
    return arguments


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    arguments = _parse_arguments(argv)
    try:
        checkpoint_text = arguments.checkpoint.read_text(encoding="utf-8")
        public_keys = [path.read_bytes() for path in arguments.public_keys]
        for path, pem in zip(arguments.public_keys, public_keys, strict=True):
            try:
                VerifyingKey.from_pem(DEFAULT_KEY_NAME, pem)
            except ValueError as error:
                raise ValueError(f"{path}: not an Ed25519 public key PEM ({error})") from None
        with arguments.entries.open("rb") as entries:
            result = verify_export(
                entries, checkpoint_text, public_keys, key_name=arguments.key_name, origin=arguments.origin
            )
        documents = [(path.name, path.read_bytes()) for path in arguments.documents]
    except (OSError, ValueError) as error:  # unreadable inputs, not verification failures
        sys.stderr.write(f"error: {error}\n")
        return 2
    sys.stdout.write(result.summary() + "\n")
    if not result.ok:
        return 1
    found = []
    for name, content in documents:
        with arguments.entries.open("rb") as entries:
            found.append(locate_document(entries, name, content, tree_size=result.checkpoint_size or 0))
        sys.stdout.write(found[-1].summary() + "\n")
    return 0 if all(item.ok for item in found) else 1


if __name__ == "__main__":
    sys.exit(main())
