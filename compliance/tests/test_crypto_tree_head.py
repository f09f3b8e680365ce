"""Checkpoints (C2SP tlog-checkpoint) as signed notes (C2SP signed-note)."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable

import pytest

from compliance.crypto import (
    Checkpoint,
    SignatureError,
    SigningKey,
    VerifyingKey,
    parse_signed_checkpoint,
    split_signed_note,
    verify_signed_note,
)

ROOT = hashlib.sha256(b"root").digest()
ROOT_B64 = base64.b64encode(ROOT).decode()
TIMESTAMP = "2026-03-02T09:15:00.123456Z"
GO_NOTE = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
    "\n"
    "\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n"
)
GO_NOTE_PUBLIC = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("fairlens")


@pytest.fixture(scope="module")
def checkpoint() -> Checkpoint:
    return Checkpoint("fairlens.example/audit", 1234, ROOT, TIMESTAMP)


def _sign_text(body: str, key: SigningKey) -> str:
    """A signed note over arbitrary text, for feeding malformed bodies through a valid signature."""
    blob = base64.b64encode(key.key_hash + key.sign(body.encode())).decode()
    return f"{body}\n\u2014 {key.name} {blob}\n"


class TestFormat:
    def test_body(self, checkpoint: Checkpoint) -> None:
        assert checkpoint.body() == f"fairlens.example/audit\n1234\n{ROOT_B64}\n{TIMESTAMP}\n"

    def test_signed_note_layout(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        note = checkpoint.signed_note(key)
        body, signature_block = note.split("\n\n")
        assert body + "\n" == checkpoint.body()
        assert signature_block.startswith("\u2014 fairlens ")
        assert signature_block.endswith("\n")
        blob = base64.b64decode(signature_block.removeprefix("\u2014 fairlens ").strip(), validate=True)
        assert blob[:4] == key.key_hash
        key.private_key.public_key().verify(blob[4:], checkpoint.body().encode())

    def test_round_trip(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        assert parse_signed_checkpoint(checkpoint.signed_note(key), [key.public_key]) == checkpoint

    def test_keys_may_be_given_as_a_mapping(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        assert parse_signed_checkpoint(checkpoint.signed_note(key), {key.key_id: key.public_key}) == checkpoint

    def test_empty_tree(self, key: SigningKey) -> None:
        empty = Checkpoint("log", 0, hashlib.sha256(b"").digest(), TIMESTAMP)
        assert parse_signed_checkpoint(empty.signed_note(key), [key.public_key]).tree_size == 0

    def test_from_body(self, checkpoint: Checkpoint) -> None:
        assert Checkpoint.from_body(checkpoint.body()) == checkpoint

    def test_go_signed_note_example_verifies(self) -> None:
        body, signers = verify_signed_note(GO_NOTE, [VerifyingKey("PeterNeumann", GO_NOTE_PUBLIC)])
        assert body.startswith("If you think cryptography")
        assert [signer.key_id for signer in signers] == ["c74f20a3"]

    def test_split_signed_note(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        body, signatures = split_signed_note(checkpoint.signed_note(key))
        assert body == checkpoint.body()
        assert [(signature.name, signature.key_id) for signature in signatures] == [("fairlens", key.key_id)]


class TestSignatures:
    def test_unknown_key_is_rejected(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        stranger = SigningKey.generate("fairlens")
        with pytest.raises(SignatureError, match="no signature by a known key"):
            parse_signed_checkpoint(checkpoint.signed_note(stranger), [key.public_key])

    def test_same_key_under_another_name_is_unknown(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        with pytest.raises(SignatureError, match="no signature by a known key"):
            parse_signed_checkpoint(checkpoint.signed_note(key), [VerifyingKey("other", key.public_key.raw)])

    def test_changed_body_is_rejected(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        note = checkpoint.signed_note(key).replace("\n1234\n", "\n1235\n")
        with pytest.raises(SignatureError, match="does not verify"):
            parse_signed_checkpoint(note, [key.public_key])

    def test_extra_signature_by_an_unknown_key_is_ignored(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        witness = SigningKey.generate("witness.example")
        note = checkpoint.signed_note(key)
        witness_line = checkpoint.signed_note(witness).split("\n\n")[1]
        assert parse_signed_checkpoint(note + witness_line, [key.public_key]) == checkpoint

    def test_bad_signature_by_a_known_key_rejects_the_note(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        other = SigningKey.generate("other")
        good = checkpoint.signed_note(key)
        forged = Checkpoint(checkpoint.origin, 1, ROOT, TIMESTAMP).signed_note(other).split("\n\n")[1]
        with pytest.raises(SignatureError):
            parse_signed_checkpoint(good + forged, [key.public_key, other.public_key])

    def test_rotated_keys(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        new_key = SigningKey.generate("fairlens")
        assert parse_signed_checkpoint(checkpoint.signed_note(new_key), [key.public_key, new_key.public_key])

    def test_truncated_signature_by_a_known_key(self, checkpoint: Checkpoint, key: SigningKey) -> None:
        blob = base64.b64encode(key.key_hash + bytes(10)).decode()
        with pytest.raises(SignatureError, match="wrong length"):
            parse_signed_checkpoint(f"{checkpoint.body()}\n\u2014 fairlens {blob}\n", [key.public_key])


class TestMalformed:
    @pytest.mark.parametrize(
        "body",
        [
            f"log\n12\n{ROOT_B64}\n",  # no timestamp line
            f"log\n12\n{ROOT_B64}\n{TIMESTAMP}\nextra\n",
            f"log\n012\n{ROOT_B64}\n{TIMESTAMP}\n",
            f"log\n-1\n{ROOT_B64}\n{TIMESTAMP}\n",
            f"log\n12\n{base64.b64encode(bytes(31)).decode()}\n{TIMESTAMP}\n",
            f"log\n12\nnot base64\n{TIMESTAMP}\n",
            f"log\n12\n{ROOT_B64}\n2026-03-02T09:15:00+01:00\n",
            f" log\n12\n{ROOT_B64}\n{TIMESTAMP}\n",
        ],
    )
    def test_signed_but_malformed_bodies(self, body: str, key: SigningKey) -> None:
        with pytest.raises(ValueError, match="checkpoint"):
            parse_signed_checkpoint(_sign_text(body, key), [key.public_key])

    @pytest.mark.parametrize(
        ("mangle", "message"),
        [
            (lambda note: note.rstrip("\n"), "end with a newline"),
            (lambda note: note.replace("\n\n", "\n"), "no blank line"),
            (lambda note: note.replace("\u2014", "-"), "em dash"),
            (lambda note: note.replace("\u2014 fairlens ", "\u2014 fairlens  "), "'\u2014 <name> <base64>'"),
            (lambda note: note[:-3] + "!!\n", "not valid base64"),
            (lambda note: note.replace("fairlens.example", "fairlens\x00example"), "control characters"),
        ],
        ids=["no-final-newline", "no-blank-line", "hyphen", "double-space", "bad-base64", "control-character"],
    )
    def test_malformed_notes(
        self, checkpoint: Checkpoint, key: SigningKey, mangle: Callable[[str], str], message: str
    ) -> None:
        with pytest.raises(ValueError, match=re.escape(message)):
            parse_signed_checkpoint(mangle(checkpoint.signed_note(key)), [key.public_key])

    @pytest.mark.parametrize(
        "arguments",
        [
            ("", 1, ROOT, TIMESTAMP),
            ("two\nlines", 1, ROOT, TIMESTAMP),
            ("log", -1, ROOT, TIMESTAMP),
            ("log", True, ROOT, TIMESTAMP),
            ("log", 1, ROOT[:31], TIMESTAMP),
            ("log", 1, ROOT, "2026-03-02"),
        ],
    )
    def test_invalid_checkpoints_cannot_be_built(self, arguments: tuple[object, ...]) -> None:
        with pytest.raises(ValueError, match="checkpoint"):
            Checkpoint(*arguments)  # type: ignore[arg-type]
