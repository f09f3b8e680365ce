"""RFC 6962 Merkle trees: published known answers, the transparency-dev/merkle vectors and property tests."""

from __future__ import annotations

import base64
import binascii
import json
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from compliance.crypto import (
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

VECTORS = Path(__file__).parent / "vectors" / "rfc6962" / "testdata"
INCLUSION_VECTORS = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY_VECTORS = sorted((VECTORS / "consistency").rglob("*.json"))

# The eight leaves of the RFC 6962 reference tests (hex-decoded leaf data) and the roots of their prefixes.
RFC_LEAVES = [
    bytes.fromhex(text)
    for text in ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")
]
RFC_ROOTS = {
    1: "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    2: "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    3: "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    4: "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    5: "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    6: "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    7: "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    8: "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
}
RFC_LEAF_HASHES = [leaf_hash(data) for data in RFC_LEAVES]


def _vector_id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _decode(text: str) -> bytes:
    """Base64 as the vectors carry it; undecodable text reaches the verifier as raw bytes, which it must reject."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return text.encode("utf-8")


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


def _sample_leaves(size: int) -> list[bytes]:
    return [leaf_hash(index.to_bytes(4, "big")) for index in range(size)]


def _flip_bit(value: bytes, bit: int) -> bytes:
    changed = bytearray(value)
    changed[bit // 8 % len(changed)] ^= 1 << (bit % 8)
    return bytes(changed)


class TestKnownAnswers:
    def test_empty_root_is_sha256_of_nothing(self) -> None:
        assert EMPTY_ROOT.hex() == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        assert merkle_root_from_leaf_hashes([]) == EMPTY_ROOT

    def test_leaf_hashes(self) -> None:
        assert leaf_hash(b"").hex() == "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
        assert leaf_hash(b"L123456").hex() == "395aa064aa4c29f7010acfe3f25db9485bbd4b91897b6ad7ad547639252b4d56"

    def test_node_hash(self) -> None:
        assert node_hash(b"N123", b"N456").hex() == "aa217fe888e47007fa15edab33c2b492a722cb106c64667fc2b044444de66bbb"

    @pytest.mark.parametrize("size", sorted(RFC_ROOTS))
    def test_roots_of_the_reference_tree_prefixes(self, size: int) -> None:
        assert merkle_root_from_leaf_hashes(RFC_LEAF_HASHES[:size]).hex() == RFC_ROOTS[size]

    @pytest.mark.parametrize("path", [p for p in INCLUSION_VECTORS if p.name == "happy-path.json"], ids=_vector_id)
    def test_generated_inclusion_proofs_match_the_published_ones(self, path: Path) -> None:
        vector = _load(path)
        leaves = RFC_LEAF_HASHES[: vector["treeSize"]]
        assert merkle_root_from_leaf_hashes(leaves) == _decode(vector["root"])
        proof = inclusion_proof(vector["leafIdx"], leaves)
        assert proof == [_decode(item) for item in vector["proof"] or []]

    @pytest.mark.parametrize("path", [p for p in CONSISTENCY_VECTORS if p.name == "happy-path.json"], ids=_vector_id)
    def test_generated_consistency_proofs_match_the_published_ones(self, path: Path) -> None:
        vector = _load(path)
        leaves = RFC_LEAF_HASHES[: vector["size2"]]
        assert merkle_root_from_leaf_hashes(leaves) == _decode(vector["root2"])
        assert consistency_proof(vector["size1"], leaves) == [_decode(item) for item in vector["proof"] or []]


class TestPublishedVectors:
    def test_every_vector_file_was_found(self) -> None:
        # 196 files ship with transparency-dev/merkle; a smaller count means the copy is incomplete.
        assert len(INCLUSION_VECTORS) + len(CONSISTENCY_VECTORS) == 196

    @pytest.mark.parametrize("path", INCLUSION_VECTORS, ids=_vector_id)
    def test_inclusion(self, path: Path) -> None:
        vector = _load(path)
        arguments = {
            "leaf_index": vector["leafIdx"],
            "tree_size": vector["treeSize"],
            "leaf_hash": _decode(vector["leafHash"]),
            "proof": [_decode(item) for item in vector["proof"] or []],
            "root": _decode(vector["root"]),
        }
        if vector["wantErr"]:
            with pytest.raises(ProofError):
                verify_inclusion(**arguments)
        else:
            assert verify_inclusion(**arguments) is None

    @pytest.mark.parametrize("path", CONSISTENCY_VECTORS, ids=_vector_id)
    def test_consistency(self, path: Path) -> None:
        vector = _load(path)
        arguments = {
            "old_size": vector["size1"],
            "new_size": vector["size2"],
            "old_root": _decode(vector["root1"]),
            "new_root": _decode(vector["root2"]),
            "proof": [_decode(item) for item in vector["proof"] or []],
        }
        if vector["wantErr"]:
            with pytest.raises(ProofError):
                verify_consistency(**arguments)
        else:
            assert verify_consistency(**arguments) is None


class TestArguments:
    def test_root_rejects_leaves_that_are_not_hashes(self) -> None:
        with pytest.raises(ValueError, match="leaf hash 1"):
            merkle_root_from_leaf_hashes([bytes(32), b"short"])

    @pytest.mark.parametrize("index", [-1, 3])
    def test_inclusion_proof_index_out_of_range(self, index: int) -> None:
        with pytest.raises(ValueError, match="outside a tree of size 3"):
            inclusion_proof(index, _sample_leaves(3))

    @pytest.mark.parametrize("old_size", [0, 4])
    def test_consistency_proof_old_size_out_of_range(self, old_size: int) -> None:
        with pytest.raises(ValueError, match="between 1 and the tree size 3"):
            consistency_proof(old_size, _sample_leaves(3))

    def test_consistency_proof_between_equal_sizes_is_empty(self) -> None:
        assert consistency_proof(3, _sample_leaves(3)) == []

    @pytest.mark.parametrize("bad_size", [-1, True, 1.0])
    def test_verifiers_reject_sizes_that_are_not_natural_numbers(self, bad_size: Any) -> None:
        leaves = _sample_leaves(2)
        root = merkle_root_from_leaf_hashes(leaves)
        with pytest.raises(ProofError):
            verify_inclusion(leaf_index=0, tree_size=bad_size, leaf_hash=leaves[0], proof=[leaves[1]], root=root)
        with pytest.raises(ProofError):
            verify_consistency(old_size=bad_size, new_size=2, old_root=leaves[0], new_root=root, proof=[leaves[1]])

    def test_proof_component_of_the_wrong_length_is_rejected(self) -> None:
        leaves = _sample_leaves(2)
        root = merkle_root_from_leaf_hashes(leaves)
        with pytest.raises(ProofError, match="component 0"):
            verify_inclusion(leaf_index=0, tree_size=2, leaf_hash=leaves[0], proof=[leaves[1][:31]], root=root)

    def test_consistency_from_the_empty_tree_is_rejected(self) -> None:
        # Every tree extends the empty one, so such a "proof" would vouch for anything.
        with pytest.raises(ProofError, match="empty tree"):
            verify_consistency(old_size=0, new_size=5, old_root=EMPTY_ROOT, new_root=bytes(32), proof=[])


def test_root_of_100000_leaves_is_fast() -> None:
    leaves = _sample_leaves(100_000)
    started = time.perf_counter()
    root = merkle_root_from_leaf_hashes(leaves)
    elapsed = time.perf_counter() - started
    assert len(root) == 32
    assert elapsed < 1.0, f"100,000 leaves took {elapsed:.2f}s"


def test_proofs_against_a_large_tree() -> None:
    leaves = _sample_leaves(100_000)
    root = merkle_root_from_leaf_hashes(leaves)
    old_root = merkle_root_from_leaf_hashes(leaves[:77_777])
    verify_inclusion(
        leaf_index=54_321, tree_size=100_000, leaf_hash=leaves[54_321], proof=inclusion_proof(54_321, leaves), root=root
    )
    proof = consistency_proof(77_777, leaves)
    assert verify_consistency(old_size=77_777, new_size=100_000, old_root=old_root, new_root=root, proof=proof) is None


@st.composite
def _tree_and_index(draw: st.DrawFn) -> tuple[int, int]:
    size = draw(st.integers(min_value=1, max_value=300))
    return size, draw(st.integers(min_value=0, max_value=size - 1))


@st.composite
def _two_sizes(draw: st.DrawFn) -> tuple[int, int]:
    new_size = draw(st.integers(min_value=1, max_value=300))
    return draw(st.integers(min_value=1, max_value=new_size)), new_size


class TestProperties:
    @settings(max_examples=150, deadline=None)
    @given(tree=_tree_and_index(), data=st.data())
    def test_inclusion_proofs_verify_and_any_bit_flip_is_rejected(
        self, tree: tuple[int, int], data: st.DataObject
    ) -> None:
        size, index = tree
        leaves = _sample_leaves(size)
        root = merkle_root_from_leaf_hashes(leaves)
        proof = inclusion_proof(index, leaves)
        assert (
            verify_inclusion(leaf_index=index, tree_size=size, leaf_hash=leaves[index], proof=proof, root=root) is None
        )

        bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
        with pytest.raises(ProofError):
            verify_inclusion(
                leaf_index=index, tree_size=size, leaf_hash=leaves[index], proof=proof, root=_flip_bit(root, bit)
            )
        with pytest.raises(ProofError):
            verify_inclusion(
                leaf_index=index, tree_size=size, leaf_hash=_flip_bit(leaves[index], bit), proof=proof, root=root
            )
        if proof:
            component = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="component")
            tampered = [*proof]
            tampered[component] = _flip_bit(proof[component], bit)
            with pytest.raises(ProofError):
                verify_inclusion(leaf_index=index, tree_size=size, leaf_hash=leaves[index], proof=tampered, root=root)

    @settings(max_examples=150, deadline=None)
    @given(sizes=_two_sizes(), data=st.data())
    def test_consistency_proofs_verify_and_any_bit_flip_is_rejected(
        self, sizes: tuple[int, int], data: st.DataObject
    ) -> None:
        old_size, new_size = sizes
        leaves = _sample_leaves(new_size)
        old_root = merkle_root_from_leaf_hashes(leaves[:old_size])
        new_root = merkle_root_from_leaf_hashes(leaves)
        proof = consistency_proof(old_size, leaves)
        arguments = {"old_size": old_size, "new_size": new_size, "old_root": old_root, "new_root": new_root}
        assert verify_consistency(**arguments, proof=proof) is None

        bit = data.draw(st.integers(min_value=0, max_value=255), label="bit")
        with pytest.raises(ProofError):
            verify_consistency(**{**arguments, "old_root": _flip_bit(old_root, bit)}, proof=proof)
        with pytest.raises(ProofError):
            verify_consistency(**{**arguments, "new_root": _flip_bit(new_root, bit)}, proof=proof)
        if proof:
            component = data.draw(st.integers(min_value=0, max_value=len(proof) - 1), label="component")
            tampered = [*proof]
            tampered[component] = _flip_bit(proof[component], bit)
            with pytest.raises(ProofError):
                verify_consistency(**arguments, proof=tampered)
            with pytest.raises(ProofError):
                verify_consistency(**arguments, proof=proof[:-1])
