"""Strict text encodings shared by the crypto modules.

Every value that crosses a trust boundary (exports, checkpoints, tokens) is decoded here, so one set of rules
applies everywhere: standard base64 with padding (RFC 4648 §4) and lowercase hex, both in their single canonical
spelling. Accepting alternative spellings would let two different strings stand for the same bytes, which is
harmless for the hashes themselves but confusing for anyone diffing exports.
"""

from __future__ import annotations

import base64
import binascii
import re

_LOWER_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def b64encode(data: bytes) -> str:
    """Standard base64 with padding, as text."""
    return base64.b64encode(data).decode("ascii")


def b64decode(text: str | bytes, *, what: str = "value") -> bytes:
    """Decode canonical standard base64; raise ``ValueError`` naming ``what`` for anything else."""
    try:
        raw_text = text.encode("ascii") if isinstance(text, str) else bytes(text)
        decoded = base64.b64decode(raw_text, validate=True)
    except (UnicodeEncodeError, binascii.Error, TypeError) as error:
        raise ValueError(f"{what} is not valid base64") from error
    # b64decode tolerates non-zero padding bits; re-encoding exposes such second spellings.
    if base64.b64encode(decoded) != raw_text:
        raise ValueError(f"{what} is not canonical base64")
    return decoded


def hex_decode(text: object, *, what: str = "value", size: int | None = None) -> bytes:
    """Decode lowercase hex (no separators); optionally require ``size`` bytes. Raise ``ValueError`` otherwise."""
    if not isinstance(text, str) or not _LOWER_HEX.fullmatch(text):
        raise ValueError(f"{what} is not lowercase hex")
    decoded = bytes.fromhex(text)
    if size is not None and len(decoded) != size:
        raise ValueError(f"{what} must be {size} bytes, got {len(decoded)}")
    return decoded
