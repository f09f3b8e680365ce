"""Signed tree heads as C2SP tlog-checkpoints wrapped in C2SP signed notes.

Checkpoint body (every line ends in a newline; the timestamp is an extension line)::

    <origin>
    <tree size, decimal>
    <root hash, base64>
    <timestamp, RFC 3339 UTC>

Signed note = body, one empty line, then one line per signature::

    — <key name> <base64(4-byte key hash || 64-byte Ed25519 signature over the body)>

The first character is U+2014 (em dash). Signature lines by keys the reader does not know are ignored, as the
signed-note spec requires; a signature by a known key that does not verify rejects the note.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from compliance.crypto._codec import b64decode, b64encode
from compliance.crypto.canonical import HASH_SIZE, is_rfc3339_utc
from compliance.crypto.signing import (
    ED25519_SIGNATURE_SIZE,
    KEY_HASH_SIZE,
    SignatureError,
    SigningKey,
    VerifyingKey,
    check_key_name,
)

SIGNATURE_LINE_PREFIX = "\u2014 "
_MAX_SIGNATURES = 100  # the limit Go's golang.org/x/mod/sumdb/note applies; stops unbounded verification work
_DECIMAL = re.compile(r"0|[1-9][0-9]*")
_FORBIDDEN_CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")


@dataclass(frozen=True)
class NoteSignature:
    """One parsed signature line of a signed note."""

    name: str
    key_hash: bytes
    signature: bytes

    @property
    def key_id(self) -> str:
        return self.key_hash.hex()


@dataclass(frozen=True)
class Checkpoint:
    """A signed tree head: ``tree_size`` leaves of the log called ``origin`` have root ``root_hash`` (32 bytes)."""

    origin: str
    tree_size: int
    root_hash: bytes
    timestamp: str

    def __post_init__(self) -> None:
        if not self.origin or "\n" in self.origin or self.origin != self.origin.strip():
            raise ValueError("checkpoint origin must be a non-empty single line without surrounding whitespace")
        if _FORBIDDEN_CONTROL.search(self.origin):
            raise ValueError("checkpoint origin must not contain control characters")
        if isinstance(self.tree_size, bool) or not isinstance(self.tree_size, int) or self.tree_size < 0:
            raise ValueError(f"checkpoint tree size must be a non-negative integer, got {self.tree_size!r}")
        if not isinstance(self.root_hash, bytes) or len(self.root_hash) != HASH_SIZE:
            raise ValueError(f"checkpoint root hash must be {HASH_SIZE} bytes")
        if not is_rfc3339_utc(self.timestamp):
            raise ValueError(f"checkpoint timestamp must be RFC 3339 UTC ending in Z, got {self.timestamp!r}")

    def body(self) -> str:
        """The checkpoint text that is signed (four newline-terminated lines)."""
        return f"{self.origin}\n{self.tree_size}\n{b64encode(self.root_hash)}\n{self.timestamp}\n"

    def signed_note(self, key: SigningKey) -> str:
        """The body followed by a blank line and ``key``'s signature line."""
        body = self.body()
        signature = key.sign(body.encode("utf-8"))
        return f"{body}\n{SIGNATURE_LINE_PREFIX}{key.name} {b64encode(key.key_hash + signature)}\n"

    @classmethod
    def from_body(cls, body: str) -> Checkpoint:
        """Parse an (unverified) checkpoint body; raise ``ValueError`` if it is not exactly the format above."""
        if not body.endswith("\n"):
            raise ValueError("checkpoint body must end with a newline")
        lines = body[:-1].split("\n")
        if len(lines) != 4:
            raise ValueError(f"checkpoint body must have 4 lines (origin, size, root, timestamp), got {len(lines)}")
        origin, size_text, root_text, timestamp = lines
        if not _DECIMAL.fullmatch(size_text):
            raise ValueError(f"checkpoint tree size {size_text!r} is not a decimal number")
        return cls(origin, int(size_text), b64decode(root_text, what="checkpoint root hash"), timestamp)


def split_signed_note(text: str) -> tuple[str, list[NoteSignature]]:
    """Split a signed note into its body and parsed signature lines, without verifying anything."""
    if not isinstance(text, str):
        raise ValueError("signed note must be text")
    if _FORBIDDEN_CONTROL.search(text):
        raise ValueError("signed note must not contain control characters other than newline")
    if not text.endswith("\n"):
        raise ValueError("signed note must end with a newline")
    split_at = text.rfind("\n\n")
    if split_at < 0:
        raise ValueError("signed note has no blank line before its signatures")
    body, signature_block = text[: split_at + 1], text[split_at + 2 :]
    signature_lines = signature_block[:-1].split("\n")
    if len(signature_lines) > _MAX_SIGNATURES:
        raise ValueError(f"signed note has more than {_MAX_SIGNATURES} signatures")
    signatures = [_parse_signature_line(line) for line in signature_lines]
    return body, signatures


def _parse_signature_line(line: str) -> NoteSignature:
    if not line.startswith(SIGNATURE_LINE_PREFIX):
        raise ValueError(f"signature line must start with an em dash and a space: {line[:40]!r}")
    parts = line[len(SIGNATURE_LINE_PREFIX) :].split(" ")
    if len(parts) != 2:
        raise ValueError("signature line must be '— <name> <base64>'")
    name, encoded = parts
    check_key_name(name)
    blob = b64decode(encoded, what=f"signature by {name}")
    if len(blob) <= KEY_HASH_SIZE:
        raise ValueError(f"signature by {name} is too short")
    return NoteSignature(name, blob[:KEY_HASH_SIZE], blob[KEY_HASH_SIZE:])


def _key_list(keys: Mapping[str, VerifyingKey] | Sequence[VerifyingKey] | Iterable[VerifyingKey]) -> list[VerifyingKey]:
    # Mapping keys are only labels for the caller; a key is identified by its own name and key hash.
    return list(keys.values()) if isinstance(keys, Mapping) else list(keys)


def verify_signed_note(
    text: str, keys: Mapping[str, VerifyingKey] | Sequence[VerifyingKey]
) -> tuple[str, list[VerifyingKey]]:
    """Verify a signed note; return its body and the known keys whose signatures verified.

    Raises ``SignatureError`` when no signature is by a known key (same name and key hash) or when a known key's
    signature fails, and ``ValueError`` when the note is malformed.
    """
    body, signatures = split_signed_note(text)
    known = {(key.name, key.key_hash): key for key in _key_list(keys)}
    message = body.encode("utf-8")
    verified: list[VerifyingKey] = []
    for note_signature in signatures:
        key = known.get((note_signature.name, note_signature.key_hash))
        if key is None:
            continue
        if len(note_signature.signature) != ED25519_SIGNATURE_SIZE:
            raise SignatureError(f"signature by {key.name} ({key.key_id}) has the wrong length")
        key.verify(message, note_signature.signature)
        verified.append(key)
    if not verified:
        seen = ", ".join(f"{item.name} ({item.key_id})" for item in signatures)
        raise SignatureError(f"no signature by a known key (signed by: {seen or 'nobody'})")
    return body, verified


def parse_signed_checkpoint(text: str, keys: Mapping[str, VerifyingKey] | Sequence[VerifyingKey]) -> Checkpoint:
    """Verify a signed checkpoint note against ``keys`` and parse its body.

    ``keys`` may be a sequence of ``VerifyingKey`` or a mapping whose values are ``VerifyingKey`` (its keys are not
    used). Raises ``SignatureError`` or ``ValueError`` as ``verify_signed_note`` and ``Checkpoint.from_body`` do.
    """
    body, _ = verify_signed_note(text, keys)
    return Checkpoint.from_body(body)
