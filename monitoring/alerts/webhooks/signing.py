"""Sender side of Standard Webhooks 1.0 signing (security.md WH-1 … WH-5, WH-7).

Why this module exists as plain Python: the delivery worker, the management commands and the tests all sign
the same way, and a signature bug must be caught by known-answer tests without a database. Nothing here imports
Django.

Signed content is exactly ``{webhook-id}.{webhook-timestamp}.{raw body bytes}`` and the signature is
``v1,<base64 HMAC-SHA256>``. The body passed in must be the exact bytes that go on the wire: callers serialize
once and never re-serialize after signing (WH-2).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets as _secrets
from collections.abc import Sequence

__all__ = [
    "MAX_SECRET_BYTES",
    "MIN_SECRET_BYTES",
    "SECRET_BYTES",
    "SECRET_PREFIX",
    "generate_secret",
    "hmac_sha256",
    "new_message_id",
    "secret_bytes",
    "sign",
    "signature_header",
    "webhook_headers",
]

SECRET_PREFIX = "whsec_"  # noqa: S105 - the public prefix of every secret, not a secret
#: FairLens generates 32-byte secrets; the spec allows 24..64 bytes, so secrets made elsewhere still load.
SECRET_BYTES = 32
MIN_SECRET_BYTES = 24
MAX_SECRET_BYTES = 64
MESSAGE_ID_PREFIX = "msg_"


def generate_secret() -> str:
    """Return a new endpoint secret as ``whsec_<base64 of 32 CSPRNG bytes>`` (WH-3).

    The string form is what the user sees once and what gets encrypted at rest; it is never logged.
    """
    return SECRET_PREFIX + base64.b64encode(_secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def secret_bytes(secret: str) -> bytes:
    """Decode ``whsec_<base64>`` (or bare base64) into the HMAC key.

    Strict on purpose: a secret that silently decodes to the wrong key would make every delivery fail
    verification at the customer, which is much harder to diagnose than an error when the secret is stored.
    Missing base64 padding is tolerated because some tools strip it.
    """
    if not isinstance(secret, str):
        raise ValueError("webhook secret must be a str like 'whsec_<base64>'")
    encoded = secret.removeprefix(SECRET_PREFIX)
    if not encoded:
        raise ValueError("webhook secret is empty; expected 'whsec_<base64>'")
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("webhook secret is not valid base64; expected 'whsec_' followed by standard base64") from None
    if not MIN_SECRET_BYTES <= len(key) <= MAX_SECRET_BYTES:
        raise ValueError(
            f"webhook secret decodes to {len(key)} bytes; Standard Webhooks requires "
            f"{MIN_SECRET_BYTES}..{MAX_SECRET_BYTES} bytes"
        )
    return key


def new_message_id() -> str:
    """Return a fresh ``msg_…`` id: URL-safe alphabet only, so it can never contain ``.`` (WH-4).

    The id is stable across retries of one event; receivers dedupe on it (WH-14).
    """
    return MESSAGE_ID_PREFIX + _secrets.token_urlsafe(18)


def hmac_sha256(key: bytes, data: bytes) -> bytes:
    """HMAC-SHA256 digest; one named primitive so interop vectors (WH-9) test the exact code path we sign with."""
    return hmac.new(key, data, hashlib.sha256).digest()


def _check_id_and_timestamp(msg_id: str, timestamp: int) -> None:
    # "." is the field separator of the signed content; allowing it would let two different (id, timestamp)
    # pairs produce the same signed bytes.
    if not isinstance(msg_id, str) or not msg_id:
        raise ValueError("webhook id must be a non-empty str")
    if "." in msg_id:
        raise ValueError("webhook id must not contain '.' (it separates the signed fields)")
    if isinstance(timestamp, bool) or not isinstance(timestamp, int):
        raise ValueError("webhook timestamp must be an int (Unix seconds)")


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """Return ``v1,<base64 HMAC-SHA256(key, f"{msg_id}.{timestamp}." + body)>`` for one secret."""
    _check_id_and_timestamp(msg_id, timestamp)
    if not isinstance(body, bytes | bytearray | memoryview):
        raise ValueError("body must be the exact bytes sent on the wire")
    content = f"{msg_id}.{timestamp}.".encode() + bytes(body)
    digest = hmac_sha256(secret_bytes(secret), content)
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` value: one ``v1,…`` per secret, space-separated (WH-5).

    During a rotation grace window pass ``[new, old]``: a receiver holding either secret verifies, and the new
    one comes first so up-to-date receivers match on the first comparison. Duplicate secrets are sent once.
    """
    if isinstance(secrets, str):
        # A bare str is a Sequence[str] of characters; failing loudly beats signing with "w", "h", ...
        raise TypeError("pass a list of secrets, e.g. [secret], not a bare str")
    unique = list(dict.fromkeys(secrets))
    if not unique:
        raise ValueError("at least one webhook secret is required")
    return " ".join(sign(secret, msg_id, timestamp, body) for secret in unique)


def webhook_headers(secrets: Sequence[str], msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Return the request headers of one delivery attempt (WH-1).

    ``timestamp`` is the time of *this attempt* (each retry is re-signed); ``msg_id`` is the stable event id.
    """
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, msg_id, timestamp, body),
        "content-type": "application/json",
    }
