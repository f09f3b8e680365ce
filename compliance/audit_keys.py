"""The audit signing key, loaded once per process, and the public keys that verify old entries."""

from __future__ import annotations

from functools import lru_cache

from django.conf import settings

from compliance.crypto import SigningKey, VerifyingKey
from compliance.models import SigningKeyRecord


@lru_cache(maxsize=1)
def _signing_key(pem: str, name: str) -> SigningKey:
    return SigningKey.from_pem(name, pem.encode())


def signing_key() -> SigningKey:
    """The current Ed25519 signing key (AUDIT_SIGNING_KEY); its public key is recorded on first use."""
    key = _signing_key(settings.AUDIT_SIGNING_KEY, settings.AUDIT_KEY_NAME)
    SigningKeyRecord.objects.get_or_create(
        key_id=key.key_id, defaults={"name": key.name, "public_pem": key.public_key.public_pem().decode()}
    )
    return key


def verifying_keys() -> dict[str, VerifyingKey]:
    """Every public key that ever signed for this log, by key id (rotation keeps old ones)."""
    signing_key()
    return {
        record.key_id: VerifyingKey.from_pem(record.name, record.public_pem.encode())
        for record in SigningKeyRecord.objects.all()
    }
