"""Cryptographic core of the FairLens audit trail. Standard library, ``cryptography`` and ``rfc8785`` only.

* ``canonical``: RFC 8785 canonical JSON, SHA-256, the nine hashed entry fields and the entry hash chain.
* ``merkle``: RFC 6962 Merkle tree hashes, inclusion and consistency proofs and their verification.
* ``signing``: Ed25519 keys with signed-note names and key ids; signatures over entry hashes.
* ``checkpoint``: C2SP tlog-checkpoints as C2SP signed notes.
* ``encryption``: encryption at rest bound to a row context, behind the ``KeyProvider`` interface.

Import from this package; the submodules are its layout, not separate APIs.
"""

from compliance.crypto.canonical import (
    ENTRY_FIELDS,
    GENESIS_HASH,
    HASH_SIZE,
    audit_entry_fields,
    canonical_entry,
    canonical_json,
    chain_hash,
    format_rfc3339_utc,
    is_rfc3339_utc,
    sha256,
)
from compliance.crypto.encryption import (
    DecryptionError,
    EncryptedValue,
    KeyProvider,
    LocalFernetProvider,
    fernet_key_id,
)
from compliance.crypto.keyproviders import provider_from_uri
from compliance.crypto.merkle import (
    EMPTY_ROOT,
    ProofError,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    merkle_root_from_leaf_hashes,
    node_hash,
    verify_consistency,
    verify_inclusion,
)
from compliance.crypto.signing import (
    SignatureError,
    SigningKey,
    VerifyingKey,
    check_key_name,
    sign_entry_hash,
    verify_entry_signature,
)
from compliance.crypto.tree_head import (
    Checkpoint,
    NoteSignature,
    parse_signed_checkpoint,
    split_signed_note,
    verify_signed_note,
)

__all__ = [
    "EMPTY_ROOT",
    "ENTRY_FIELDS",
    "GENESIS_HASH",
    "HASH_SIZE",
    "Checkpoint",
    "DecryptionError",
    "EncryptedValue",
    "KeyProvider",
    "LocalFernetProvider",
    "NoteSignature",
    "ProofError",
    "SignatureError",
    "SigningKey",
    "VerifyingKey",
    "audit_entry_fields",
    "canonical_entry",
    "canonical_json",
    "chain_hash",
    "check_key_name",
    "consistency_proof",
    "fernet_key_id",
    "format_rfc3339_utc",
    "inclusion_proof",
    "is_rfc3339_utc",
    "leaf_hash",
    "merkle_root_from_leaf_hashes",
    "node_hash",
    "parse_signed_checkpoint",
    "provider_from_uri",
    "sha256",
    "sign_entry_hash",
    "split_signed_note",
    "verify_consistency",
    "verify_entry_signature",
    "verify_inclusion",
    "verify_signed_note",
]
