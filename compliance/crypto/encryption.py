"""Encryption at rest with key ids, key rotation and binding of ciphertexts to the row they belong to.

Every encryption names a *context*, a string that identifies where the value lives, e.g.
``"monitoring.alert:42:explanation"``. Decryption must be given the same context; a token copied into another row
(another context) fails with ``DecryptionError`` instead of silently decrypting there.

``KeyProvider`` is the interface the application uses; ``LocalFernetProvider`` implements it with keys held by the
application (demo-grade), and ``compliance.crypto.keyproviders`` adapts HashiCorp Vault transit and AWS KMS.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from compliance.crypto._codec import b64decode, b64encode
from compliance.crypto.canonical import canonical_json, sha256

_ENVELOPE_VERSION = 1


class DecryptionError(ValueError):
    """A token cannot be decrypted: wrong or retired key, corrupted token, or a context other than its own."""


@dataclass(frozen=True)
class EncryptedValue:
    """A ciphertext ``token`` (text, safe to store in a column) and the id of the key that produced it."""

    token: str
    key_id: str


@runtime_checkable
class KeyProvider(Protocol):
    """Encrypts values under a current (primary) key and decrypts under any key it still holds.

    ``key_ids`` lists the usable key ids with the primary first; a stored ``EncryptedValue.key_id`` that differs
    from ``primary_key_id`` marks a value that ``rewrap`` should move to the primary key.
    """

    @property
    def primary_key_id(self) -> str: ...

    @property
    def key_ids(self) -> list[str]: ...

    def encrypt(self, plaintext: bytes, *, context: str) -> EncryptedValue: ...

    def decrypt(self, token: str, *, context: str) -> bytes: ...

    def rewrap(self, token: str, *, context: str) -> EncryptedValue: ...


def check_context(context: str) -> str:
    """Return ``context`` if it is a non-empty string; contexts are what bind a ciphertext to its row."""
    if not isinstance(context, str) or not context:
        raise ValueError("encryption context must be a non-empty string")
    return context


def fernet_key_id(key: str | bytes) -> str:
    """First 8 hex characters of SHA-256 over the raw 32 key bytes of a (urlsafe base64) Fernet key."""
    try:
        Fernet(key)  # validates length and alphabet
        raw = base64.urlsafe_b64decode(key)
    except (ValueError, TypeError) as error:
        raise ValueError("not a valid Fernet key (32 bytes, urlsafe base64)") from error
    return sha256(raw).hex()[:8]


class LocalFernetProvider:
    """Fernet (AES-128-CBC + HMAC-SHA256) with the keys held by the application itself.

    Demo-grade: the keys live in environment variables or files next to the application, so anyone who can read
    the process environment or those files can decrypt everything. Use a KMS-backed provider in production.

    ``keys`` are urlsafe-base64 Fernet keys, newest (primary) first; older keys stay for decryption until every
    value has been rewrapped. The token is a plain Fernet token whose plaintext is the canonical JSON envelope
    ``{"ctx": context, "data": base64(plaintext), "v": 1}``; ``ctx`` is checked on every decryption.
    """

    def __init__(self, keys: Sequence[str | bytes]) -> None:
        if isinstance(keys, str | bytes):
            raise TypeError("keys must be a sequence of keys, newest first, not a single key")
        if not keys:
            raise ValueError("LocalFernetProvider needs at least one key")
        ids = [fernet_key_id(key) for key in keys]
        if len(set(ids)) != len(ids):
            raise ValueError("the same key is configured twice")
        self._key_ids = ids
        self._fernets = [Fernet(key) for key in keys]
        self._multi = MultiFernet(self._fernets)

    @staticmethod
    def generate_key() -> str:
        """A new random Fernet key (urlsafe base64 text)."""
        return Fernet.generate_key().decode("ascii")

    @property
    def primary_key_id(self) -> str:
        return self._key_ids[0]

    @property
    def key_ids(self) -> list[str]:
        return list(self._key_ids)

    def encrypt(self, plaintext: bytes, *, context: str) -> EncryptedValue:
        envelope = {"v": _ENVELOPE_VERSION, "ctx": check_context(context), "data": b64encode(bytes(plaintext))}
        token = self._fernets[0].encrypt(canonical_json(envelope)).decode("ascii")
        return EncryptedValue(token, self.primary_key_id)

    def decrypt(self, token: str, *, context: str) -> bytes:
        check_context(context)
        try:
            envelope_bytes = self._multi.decrypt(token)
        except (InvalidToken, TypeError) as error:
            raise DecryptionError("token does not decrypt under any configured key (wrong key or corrupted)") from error
        return _open_envelope(envelope_bytes, context)

    def rewrap(self, token: str, *, context: str) -> EncryptedValue:
        """Re-encrypt under the primary key, keeping plaintext, context and the original Fernet timestamp."""
        self.decrypt(token, context=context)  # refuses tokens of other contexts before they get a fresh ciphertext
        rotated = self._multi.rotate(token).decode("ascii")
        return EncryptedValue(rotated, self.primary_key_id)

    def __repr__(self) -> str:
        return f"LocalFernetProvider(key_ids={self._key_ids!r})"


def _open_envelope(envelope_bytes: bytes, context: str) -> bytes:
    try:
        envelope: Any = json.loads(envelope_bytes)
    except ValueError as error:
        raise DecryptionError("decrypted token is not an envelope") from error
    if not isinstance(envelope, dict) or envelope.get("v") != _ENVELOPE_VERSION:
        raise DecryptionError("decrypted token has an unknown envelope version")
    if envelope.get("ctx") != context:
        raise DecryptionError(f"token was encrypted for another context, not for {context!r}")
    data = envelope.get("data")
    if not isinstance(data, str):
        raise DecryptionError("envelope has no data")
    try:
        return b64decode(data, what="envelope data")
    except ValueError as error:
        raise DecryptionError(str(error)) from error
