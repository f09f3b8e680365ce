"""Canonical JSON, SHA-256 and the hash chain of audit entries.

An audit entry is hashed as the RFC 8785 (JCS) serialization of exactly nine fields::

    {"action", "actor", "object_id", "object_type", "payload", "request_id", "role", "seq", "time"}

and chained as ``entry_hash = SHA-256(prev_hash || canonical_entry)``, with ``prev_hash`` of the first entry equal
to ``GENESIS_HASH`` (32 zero bytes). JCS fixes key order, whitespace, string escaping and number formatting, so any
implementation that parses an exported entry can recompute the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import rfc8785

HASH_SIZE = 32
GENESIS_HASH = bytes(HASH_SIZE)

ENTRY_FIELDS: tuple[str, ...] = (
    "seq",
    "time",
    "actor",
    "role",
    "action",
    "object_type",
    "object_id",
    "request_id",
    "payload",
)

# RFC 3339 in UTC with a literal "Z" and at most microsecond precision: the one spelling entries are written in.
_RFC3339_UTC = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?Z")
_JSON_SAFE_INTEGER = 2**53 - 1


def sha256(data: bytes) -> bytes:
    """SHA-256 digest (32 bytes)."""
    return hashlib.sha256(data).digest()


def canonical_json(value: Any) -> bytes:
    """Serialize ``value`` as RFC 8785 canonical JSON (UTF-8 bytes).

    Raises ``ValueError`` for values JSON cannot carry exactly: NaN and infinities, integers beyond ±(2**53 - 1)
    (I-JSON, RFC 7493), non-string object keys and non-JSON types. The message names the offending location.
    """
    try:
        return rfc8785.dumps(value)
    except rfc8785.FloatDomainError as error:
        location = _find(value, lambda item: isinstance(item, float) and not math.isfinite(item))
        raise ValueError(f"canonical JSON cannot represent NaN or infinity (found at {location})") from error
    except rfc8785.IntegerDomainError as error:
        location = _find(
            value, lambda item: isinstance(item, int) and not isinstance(item, bool) and abs(item) > _JSON_SAFE_INTEGER
        )
        raise ValueError(
            f"canonical JSON cannot represent integers beyond ±(2**53 - 1) exactly (found at {location})"
        ) from error
    except rfc8785.CanonicalizationError as error:
        raise ValueError(f"value cannot be written as canonical JSON: {error}") from error


def jcs_sha256(value: Any) -> str:
    """Hex SHA-256 of the RFC 8785 (JCS) canonical JSON of ``value``: the digest audit payloads record of values
    they do not carry (a policy, a model's metadata, a summary)."""
    return sha256(canonical_json(value)).hex()


def sorted_json_sha256(value: Any) -> str:
    """Hex SHA-256 of ``value`` as Python writes sorted, compact JSON (``sort_keys``, ``(",", ":")`` separators,
    UTF-8 text): the digest of a check's inputs and of an audit report's inputs and bundle.

    Not JCS (Python spells floats such as ``1.0`` and ``1e-07`` its own way), and kept so: every stored check
    cites a digest made this way, and a digest must stay recomputable by the algorithm it was made with."""
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hashlib.sha256(encoded).hexdigest()


def _find(value: Any, is_offending: Callable[[Any], bool], path: str = "$") -> str:
    """JSONPath-like location of the first item for which ``is_offending`` holds (only called on the error path)."""
    if is_offending(value):
        return path
    if isinstance(value, Mapping):
        for key, item in value.items():
            found = _find(item, is_offending, f"{path}.{key}")
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            found = _find(item, is_offending, f"{path}[{index}]")
            if found:
                return found
    return ""


def format_rfc3339_utc(moment: datetime) -> str:
    """Format an aware datetime as the entry ``time`` string, e.g. ``2026-03-02T09:15:00.123456Z``."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("audit timestamps must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def is_rfc3339_utc(text: object) -> bool:
    """True for an RFC 3339 UTC timestamp ending in ``Z`` that names a real instant."""
    if not isinstance(text, str) or not _RFC3339_UTC.fullmatch(text):
        return False
    try:
        datetime.fromisoformat(text)
    except ValueError:
        return False
    return True


def audit_entry_fields(
    *,
    seq: int,
    time: str,
    actor: str,
    role: str,
    action: str,
    object_type: str,
    object_id: str,
    request_id: str,
    payload: Mapping[str, Any],
) -> dict[str, Any]:
    """Validate and collect the nine hashed fields of an audit entry.

    ``seq`` is a positive integer, ``time`` an RFC 3339 UTC string (see ``format_rfc3339_utc``), ``action`` a
    non-empty string, ``actor``/``role``/``object_type``/``object_id``/``request_id`` strings (possibly empty) and
    ``payload`` a JSON object. Raises ``TypeError``/``ValueError`` on anything else.
    """
    if isinstance(seq, bool) or not isinstance(seq, int):
        raise TypeError(f"seq must be an integer, got {type(seq).__name__}")
    if seq < 1:
        raise ValueError(f"seq must be >= 1, got {seq}")
    if not is_rfc3339_utc(time):
        raise ValueError(f"time must be an RFC 3339 UTC timestamp like 2026-03-02T09:15:00.123456Z, got {time!r}")
    text_fields = {
        "actor": actor,
        "role": role,
        "action": action,
        "object_type": object_type,
        "object_id": object_id,
        "request_id": request_id,
    }
    for name, text in text_fields.items():
        if not isinstance(text, str):
            raise TypeError(f"{name} must be a string, got {type(text).__name__}")
    if not action:
        raise ValueError("action must not be empty")
    if not isinstance(payload, Mapping):
        raise TypeError(f"payload must be a JSON object, got {type(payload).__name__}")
    return {"seq": seq, "time": time, **text_fields, "payload": dict(payload)}


def canonical_entry(fields: Mapping[str, Any]) -> bytes:
    """Canonical JSON of exactly the nine entry fields (see ``ENTRY_FIELDS``); other key sets raise ``ValueError``."""
    keys = set(fields)
    expected = set(ENTRY_FIELDS)
    if keys != expected:
        missing = sorted(expected - keys)
        extra = sorted(keys - expected)
        raise ValueError(f"audit entry fields do not match: missing {missing}, unexpected {extra}")
    return canonical_json(audit_entry_fields(**fields))


def chain_hash(prev_hash: bytes, canonical: bytes) -> bytes:
    """``SHA-256(prev_hash || canonical)``: the entry hash that links an entry to its predecessor."""
    if len(prev_hash) != HASH_SIZE:
        raise ValueError(f"prev_hash must be {HASH_SIZE} bytes, got {len(prev_hash)}")
    return sha256(bytes(prev_hash) + canonical)
