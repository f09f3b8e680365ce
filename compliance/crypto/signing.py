"""Ed25519 keys (RFC 8032) named as signed-note keys, and signatures over audit entry hashes.

A key has a *name* (e.g. ``fairlens``) and a 4-byte *key hash* from the C2SP signed-note spec::

    key_hash = SHA-256(name || "\\n" || 0x01 || public_key_32_bytes)[:4]        key_id = key_hash.hex()

The key id is what exports and checkpoints carry to say which key signed; because it covers the name, the same
public key under another name is another key.

Key files are PEM: PKCS#8 for private keys, SubjectPublicKeyInfo for public keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from compliance.crypto._codec import b64decode, b64encode
from compliance.crypto.canonical import HASH_SIZE, sha256

ED25519_KEY_SIZE = 32
ED25519_SIGNATURE_SIZE = 64
KEY_HASH_SIZE = 4
_SIGNED_NOTE_ED25519 = b"\x01"


class SignatureError(ValueError):
    """A signature is missing, malformed, by an unknown key, or does not verify."""


def check_key_name(name: str) -> str:
    """Return ``name`` if it is a valid signed-note key name (non-empty, no whitespace, no ``+``)."""
    if not isinstance(name, str) or not name:
        raise ValueError("key name must be a non-empty string")
    if "+" in name or any(character.isspace() for character in name):
        raise ValueError(f"key name {name!r} must not contain whitespace or '+'")
    return name


def key_hash_for(name: str, public_raw: bytes) -> bytes:
    """The 4-byte signed-note key hash of an Ed25519 key called ``name``."""
    return sha256(name.encode("utf-8") + b"\n" + _SIGNED_NOTE_ED25519 + public_raw)[:KEY_HASH_SIZE]


@dataclass(frozen=True)
class VerifyingKey:
    """An Ed25519 public key (``raw``: 32 bytes) with its signed-note ``name``."""

    name: str
    raw: bytes

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.raw, bytes) or len(self.raw) != ED25519_KEY_SIZE:
            raise ValueError(f"an Ed25519 public key is {ED25519_KEY_SIZE} bytes")

    @classmethod
    def from_pem(cls, name: str, pem: bytes | str) -> VerifyingKey:
        """Load a SubjectPublicKeyInfo PEM holding an Ed25519 key."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        public_key = serialization.load_pem_public_key(data)
        if not isinstance(public_key, Ed25519PublicKey):
            raise ValueError(f"PEM holds a {type(public_key).__name__}, not an Ed25519 public key")
        return cls(name, public_key.public_bytes_raw())

    def public_pem(self) -> bytes:
        """SubjectPublicKeyInfo PEM."""
        return Ed25519PublicKey.from_public_bytes(self.raw).public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @cached_property
    def key_hash(self) -> bytes:
        """4-byte signed-note key hash."""
        return key_hash_for(self.name, self.raw)

    @property
    def key_id(self) -> str:
        """Hex of the 4-byte signed-note key hash (8 characters)."""
        return self.key_hash.hex()

    def verify(self, message: bytes, signature: bytes) -> None:
        """Return None if ``signature`` is this key's Ed25519 signature of ``message``; raise ``SignatureError``."""
        if len(signature) != ED25519_SIGNATURE_SIZE:
            raise SignatureError(f"an Ed25519 signature is {ED25519_SIGNATURE_SIZE} bytes, got {len(signature)}")
        try:
            Ed25519PublicKey.from_public_bytes(self.raw).verify(bytes(signature), message)
        except InvalidSignature as error:
            raise SignatureError(f"signature does not verify under key {self.name} ({self.key_id})") from error


@dataclass(frozen=True, eq=False)
class SigningKey:
    """An Ed25519 private key with its signed-note ``name``. Compares by identity; ``repr`` omits the secret."""

    name: str
    private_key: Ed25519PrivateKey = field(repr=False)

    def __post_init__(self) -> None:
        check_key_name(self.name)
        if not isinstance(self.private_key, Ed25519PrivateKey):
            raise TypeError("private_key must be an Ed25519PrivateKey")

    @classmethod
    def generate(cls, name: str) -> SigningKey:
        """A fresh random key."""
        return cls(name, Ed25519PrivateKey.generate())

    @classmethod
    def from_private_bytes(cls, name: str, raw: bytes) -> SigningKey:
        """Load the 32-byte RFC 8032 secret key."""
        if len(raw) != ED25519_KEY_SIZE:
            raise ValueError(f"an Ed25519 secret key is {ED25519_KEY_SIZE} bytes, got {len(raw)}")
        return cls(name, Ed25519PrivateKey.from_private_bytes(bytes(raw)))

    @classmethod
    def from_pem(cls, name: str, pem: bytes | str, *, password: bytes | None = None) -> SigningKey:
        """Load a PKCS#8 PEM holding an Ed25519 key (optionally password-protected)."""
        data = pem.encode("ascii") if isinstance(pem, str) else pem
        private_key = serialization.load_pem_private_key(data, password=password)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"PEM holds a {type(private_key).__name__}, not an Ed25519 private key")
        return cls(name, private_key)

    def private_pem(self) -> bytes:
        """Unencrypted PKCS#8 PEM (protect the file it is written to)."""
        return self.private_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )

    def private_bytes(self) -> bytes:
        """The 32-byte RFC 8032 secret key."""
        return self.private_key.private_bytes_raw()

    @cached_property
    def public_key(self) -> VerifyingKey:
        """The matching public key, under the same name."""
        return VerifyingKey(self.name, self.private_key.public_key().public_bytes_raw())

    @property
    def key_hash(self) -> bytes:
        """4-byte signed-note key hash."""
        return self.public_key.key_hash

    @property
    def key_id(self) -> str:
        """Hex of the 4-byte signed-note key hash (8 characters)."""
        return self.public_key.key_id

    def sign(self, message: bytes) -> bytes:
        """64-byte Ed25519 signature of ``message``."""
        return self.private_key.sign(message)


def sign_entry_hash(key: SigningKey, entry_hash: bytes) -> str:
    """Base64 (standard, padded) Ed25519 signature over the 32-byte entry hash."""
    if len(entry_hash) != HASH_SIZE:
        raise ValueError(f"entry hash must be {HASH_SIZE} bytes, got {len(entry_hash)}")
    return b64encode(key.sign(entry_hash))


def verify_entry_signature(verifying_key: VerifyingKey, entry_hash: bytes, signature_b64: str) -> None:
    """Return None if ``signature_b64`` signs ``entry_hash`` under ``verifying_key``; raise ``SignatureError``."""
    if len(entry_hash) != HASH_SIZE:
        raise SignatureError(f"entry hash must be {HASH_SIZE} bytes, got {len(entry_hash)}")
    try:
        signature = b64decode(signature_b64, what="signature")
    except ValueError as error:
        raise SignatureError(str(error)) from error
    verifying_key.verify(entry_hash, signature)
