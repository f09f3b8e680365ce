"""RFC 6962 Merkle trees: tree hashes, inclusion and consistency proofs, and their verification.

Hashes (RFC 6962 §2.1, SHA-256)::

    leaf_hash(d)    = SHA-256(0x00 || d)
    node_hash(l, r) = SHA-256(0x01 || l || r)
    MTH({})         = SHA-256("")                      (EMPTY_ROOT)
    MTH(D[n])       = node_hash(MTH(D[0:k]), MTH(D[k:n])), k = largest power of two < n

Functions that take ``leaf_hashes`` expect already-hashed leaves (32 bytes each); for the audit log a leaf is
``leaf_hash(entry_hash)``. Proofs are lists of 32-byte hashes ordered from the leaf level upwards, exactly as
RFC 6962 §2.1.1/§2.1.2 define them. Verification follows the algorithms of RFC 9162 §2.1.3.2 and §2.1.4.2.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from compliance.crypto.canonical import HASH_SIZE

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"

EMPTY_ROOT = hashlib.sha256(b"").digest()


class ProofError(ValueError):
    """A Merkle inclusion or consistency proof does not verify (or is malformed)."""


def leaf_hash(data: bytes) -> bytes:
    """``SHA-256(0x00 || data)``."""
    return hashlib.sha256(_LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def merkle_root_from_leaf_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """Root hash of the tree over ``leaf_hashes``; ``EMPTY_ROOT`` for no leaves.

    Works level by level: hashing adjacent pairs and carrying an unpaired last node up unchanged builds exactly
    the RFC 6962 tree (the left subtree is always the largest complete power of two), in O(n) hashes.
    """
    level = list(leaf_hashes)
    for position, item in enumerate(level):
        if len(item) != HASH_SIZE:
            raise ValueError(f"leaf hash {position} must be {HASH_SIZE} bytes, got {len(item)}")
    if not level:
        return EMPTY_ROOT
    sha = hashlib.sha256
    while len(level) > 1:
        paired = [sha(_NODE_PREFIX + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def _largest_power_of_two_below(size: int) -> int:
    """Largest power of two strictly less than ``size`` (``size`` >= 2)."""
    return 1 << ((size - 1).bit_length() - 1)


def _check_size(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ProofError(f"{name} must be an integer, got {type(value).__name__}")
    if value < 0:
        raise ProofError(f"{name} must not be negative, got {value}")
    return value


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree over all of ``leaf_hashes`` (RFC 6962 §2.1.1 PATH)."""
    size = len(leaf_hashes)
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is outside a tree of size {size}")
    # PATH(m, D[lo:hi]) descends into the half holding m and appends the other half's root; collected top-down.
    top_down: list[bytes] = []
    lo, hi, m = 0, size, index
    while hi - lo > 1:
        split = _largest_power_of_two_below(hi - lo)
        if m < split:
            top_down.append(merkle_root_from_leaf_hashes(leaf_hashes[lo + split : hi]))
            hi = lo + split
        else:
            top_down.append(merkle_root_from_leaf_hashes(leaf_hashes[lo : lo + split]))
            lo, m = lo + split, m - split
    return top_down[::-1]


def consistency_proof(old_size: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Proof that the tree of the first ``old_size`` leaves is a prefix of the tree over all ``leaf_hashes``.

    RFC 6962 §2.1.2 PROOF(m, D[n]); ``old_size`` must satisfy 1 <= old_size <= n (equal sizes give ``[]``).
    """
    size = len(leaf_hashes)
    if not 1 <= old_size <= size:
        raise ValueError(f"old size {old_size} must be between 1 and the tree size {size}")
    # SUBPROOF(m, D[lo:hi], complete) unrolled; components are collected top-down and reversed at the end.
    top_down: list[bytes] = []
    lo, hi, m, complete = 0, size, old_size, True
    while m != hi - lo:
        split = _largest_power_of_two_below(hi - lo)
        if m <= split:
            top_down.append(merkle_root_from_leaf_hashes(leaf_hashes[lo + split : hi]))
            hi = lo + split
        else:
            top_down.append(merkle_root_from_leaf_hashes(leaf_hashes[lo : lo + split]))
            lo, m, complete = lo + split, m - split, False
    if not complete:
        top_down.append(merkle_root_from_leaf_hashes(leaf_hashes[lo:hi]))
    return top_down[::-1]


def _check_proof_hashes(proof: Sequence[bytes] | None) -> list[bytes]:
    hashes = list(proof or ())
    for position, item in enumerate(hashes):
        if not isinstance(item, bytes | bytearray) or len(item) != HASH_SIZE:
            raise ProofError(f"proof component {position} is not a {HASH_SIZE}-byte hash")
    return [bytes(item) for item in hashes]


def verify_inclusion(
    *, leaf_index: int, tree_size: int, leaf_hash: bytes, proof: Sequence[bytes] | None, root: bytes
) -> None:
    """Check that ``leaf_hash`` sits at ``leaf_index`` in the tree of ``tree_size`` leaves with ``root``.

    Returns None on success; raises ``ProofError`` describing the first failure otherwise (RFC 9162 §2.1.3.2).
    """
    leaf_index = _check_size("leaf index", leaf_index)
    tree_size = _check_size("tree size", tree_size)
    if leaf_index >= tree_size:
        raise ProofError(f"leaf index {leaf_index} is outside a tree of size {tree_size}")
    if len(leaf_hash) != HASH_SIZE:
        raise ProofError(f"leaf hash must be {HASH_SIZE} bytes, got {len(leaf_hash)}")
    path = _check_proof_hashes(proof)

    fn, sn = leaf_index, tree_size - 1
    computed = bytes(leaf_hash)
    for sibling in path:
        if sn == 0:
            raise ProofError(f"proof has more components than a tree of size {tree_size} needs")
        if fn & 1 or fn == sn:
            computed = node_hash(sibling, computed)
            if not fn & 1:
                # The node was carried up from an incomplete right edge: skip the levels where it had no sibling.
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            computed = node_hash(computed, sibling)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has fewer components than a tree of size {tree_size} needs")
    if not hmac.compare_digest(computed, bytes(root)):
        raise ProofError("inclusion proof does not lead to the given root")


def verify_consistency(
    *, old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes] | None
) -> None:
    """Check that the tree of ``old_size`` leaves with ``old_root`` is a prefix of the one with ``new_root``.

    Returns None on success; raises ``ProofError`` otherwise (RFC 9162 §2.1.4.2). Equal sizes need an empty proof
    and equal roots. An empty old tree is rejected: every tree extends it, so such a proof would vouch for nothing.
    """
    old_size = _check_size("old size", old_size)
    new_size = _check_size("new size", new_size)
    if old_size > new_size:
        raise ProofError(f"old size {old_size} is larger than new size {new_size}")
    if old_size == 0:
        raise ProofError("consistency with an empty tree proves nothing; old size must be at least 1")
    path = _check_proof_hashes(proof)
    if old_size == new_size:
        if path:
            raise ProofError("sizes are equal, so the proof must be empty")
        if not hmac.compare_digest(bytes(old_root), bytes(new_root)):
            raise ProofError("sizes are equal but the roots differ")
        return
    if not path:
        raise ProofError("consistency proof is empty")

    if old_size & (old_size - 1) == 0:
        # The old tree is a complete subtree of the new one, so its root is the first node of the path.
        path = [bytes(old_root), *path]
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    old_computed = new_computed = path[0]
    for component in path[1:]:
        if sn == 0:
            raise ProofError(f"proof has more components than sizes {old_size} -> {new_size} need")
        if fn & 1 or fn == sn:
            old_computed = node_hash(component, old_computed)
            new_computed = node_hash(component, new_computed)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            new_computed = node_hash(new_computed, component)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError(f"proof has fewer components than sizes {old_size} -> {new_size} need")
    if not hmac.compare_digest(old_computed, bytes(old_root)):
        raise ProofError("consistency proof does not lead to the old root")
    if not hmac.compare_digest(new_computed, bytes(new_root)):
        raise ProofError("consistency proof does not lead to the new root")
