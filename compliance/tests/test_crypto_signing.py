"""Ed25519 keys (RFC 8032 known answers), signed-note key ids and entry signatures."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from compliance.crypto import SignatureError, SigningKey, VerifyingKey, sign_entry_hash, verify_entry_signature

# RFC 8032 §7.1, TEST 1 (empty message) and TEST 2 (one byte, 0x72).
RFC8032_TEST1 = {
    "secret": "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
    "public": "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
    "message": "",
    "signature": (
        "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
        "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b"
    ),
}
RFC8032_TEST2 = {
    "secret": "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
    "public": "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
    "message": "72",
    "signature": (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    ),
}

# The example key of golang.org/x/mod/sumdb/note: signer key PRIVATE+KEY+PeterNeumann+c74f20a3+<base64(0x01||seed)>,
# verifier key PeterNeumann+c74f20a3+<base64(0x01||public)>, and its published signature of GO_NOTE_TEXT.
GO_NOTE_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
GO_NOTE_PUBLIC = base64.b64decode("ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")[1:]
GO_NOTE_TEXT = b"If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE_SIGNATURE = "x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM="


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.generate("fairlens")


class TestRfc8032:
    @pytest.mark.parametrize("vector", [RFC8032_TEST1, RFC8032_TEST2], ids=["TEST 1", "TEST 2"])
    def test_known_answers(self, vector: dict[str, str]) -> None:
        signing_key = SigningKey.from_private_bytes("rfc8032", bytes.fromhex(vector["secret"]))
        assert signing_key.public_key.raw.hex() == vector["public"]
        assert signing_key.sign(bytes.fromhex(vector["message"])).hex() == vector["signature"]
        assert (
            signing_key.public_key.verify(bytes.fromhex(vector["message"]), bytes.fromhex(vector["signature"])) is None
        )

    def test_test1_signature_does_not_cover_another_message(self) -> None:
        verifying_key = VerifyingKey("rfc8032", bytes.fromhex(RFC8032_TEST1["public"]))
        with pytest.raises(SignatureError):
            verifying_key.verify(b"\x00", bytes.fromhex(RFC8032_TEST1["signature"]))


class TestKeyIds:
    def test_key_id_is_the_signed_note_key_hash(self, key: SigningKey) -> None:
        expected = hashlib.sha256(b"fairlens\n\x01" + key.public_key.raw).digest()[:4]
        assert key.key_hash == expected
        assert key.key_id == expected.hex()
        assert key.public_key.key_id == key.key_id

    def test_go_signed_note_example_key_and_signature(self) -> None:
        signing_key = SigningKey.from_private_bytes("PeterNeumann", GO_NOTE_SEED)
        assert signing_key.public_key.raw == GO_NOTE_PUBLIC
        assert signing_key.key_id == "c74f20a3"
        blob = base64.b64encode(signing_key.key_hash + signing_key.sign(GO_NOTE_TEXT)).decode()
        assert blob == GO_NOTE_SIGNATURE

    def test_the_name_is_part_of_the_key_id(self, key: SigningKey) -> None:
        renamed = VerifyingKey("other", key.public_key.raw)
        assert renamed.key_id != key.key_id

    @pytest.mark.parametrize("name", ["", "has space", "plus+sign", "tab\there", "new\nline"])
    def test_invalid_key_names(self, name: str) -> None:
        with pytest.raises(ValueError, match="key name"):
            SigningKey.generate(name)


class TestPem:
    def test_private_pem_round_trip(self, key: SigningKey) -> None:
        pem = key.private_pem()
        assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
        loaded = SigningKey.from_pem("fairlens", pem)
        assert loaded.private_bytes() == key.private_bytes()
        assert loaded.key_id == key.key_id

    def test_public_pem_round_trip(self, key: SigningKey) -> None:
        pem = key.public_key.public_pem()
        assert pem.startswith(b"-----BEGIN PUBLIC KEY-----")
        assert VerifyingKey.from_pem("fairlens", pem) == key.public_key
        assert VerifyingKey.from_pem("fairlens", pem.decode()) == key.public_key

    def test_encrypted_private_pem(self, key: SigningKey) -> None:
        pem = key.private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
        assert SigningKey.from_pem("fairlens", pem, password=b"passphrase").key_id == key.key_id

    def test_other_key_types_are_refused(self) -> None:
        ec_key = ec.generate_private_key(ec.SECP256R1())
        private_pem = ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        public_pem = ec_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        with pytest.raises(ValueError, match="not an Ed25519 private key"):
            SigningKey.from_pem("fairlens", private_pem)
        with pytest.raises(ValueError, match="not an Ed25519 public key"):
            VerifyingKey.from_pem("fairlens", public_pem)

    def test_wrong_raw_lengths(self) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            SigningKey.from_private_bytes("fairlens", bytes(31))
        with pytest.raises(ValueError, match="32 bytes"):
            VerifyingKey("fairlens", bytes(33))

    def test_repr_does_not_show_the_secret(self, key: SigningKey) -> None:
        assert key.private_bytes().hex() not in repr(key)
        assert "private_key" not in repr(key)


class TestEntrySignatures:
    ENTRY_HASH = hashlib.sha256(b"entry").digest()

    def test_sign_and_verify(self, key: SigningKey) -> None:
        signature = sign_entry_hash(key, self.ENTRY_HASH)
        assert len(base64.b64decode(signature, validate=True)) == 64
        assert verify_entry_signature(key.public_key, self.ENTRY_HASH, signature) is None

    def test_signature_is_ed25519_over_the_raw_32_byte_hash(self, key: SigningKey) -> None:
        signature = base64.b64decode(sign_entry_hash(key, self.ENTRY_HASH))
        key.private_key.public_key().verify(signature, self.ENTRY_HASH)

    def test_other_hash_is_rejected(self, key: SigningKey) -> None:
        signature = sign_entry_hash(key, self.ENTRY_HASH)
        with pytest.raises(SignatureError, match="does not verify"):
            verify_entry_signature(key.public_key, hashlib.sha256(b"other").digest(), signature)

    def test_other_key_is_rejected(self, key: SigningKey) -> None:
        signature = sign_entry_hash(key, self.ENTRY_HASH)
        with pytest.raises(SignatureError):
            verify_entry_signature(SigningKey.generate("fairlens").public_key, self.ENTRY_HASH, signature)

    @pytest.mark.parametrize("signature", ["not base64!", "", base64.b64encode(bytes(63)).decode(), "AAAA="])
    def test_malformed_signatures_are_rejected(self, key: SigningKey, signature: str) -> None:
        with pytest.raises(SignatureError):
            verify_entry_signature(key.public_key, self.ENTRY_HASH, signature)

    def test_non_canonical_base64_is_rejected(self, key: SigningKey) -> None:
        signature = sign_entry_hash(key, self.ENTRY_HASH)
        last_data_character = signature[-3]
        # The final base64 character before "==" carries 4 unused bits; setting one gives a second spelling.
        alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
        twin = alphabet[alphabet.index(last_data_character) ^ 1]
        malleable = signature[:-3] + twin + "=="
        assert base64.b64decode(malleable) == base64.b64decode(signature)
        with pytest.raises(SignatureError, match="canonical"):
            verify_entry_signature(key.public_key, self.ENTRY_HASH, malleable)

    def test_entry_hash_must_be_32_bytes(self, key: SigningKey) -> None:
        with pytest.raises(ValueError, match="32 bytes"):
            sign_entry_hash(key, b"short")
        with pytest.raises(SignatureError, match="32 bytes"):
            verify_entry_signature(key.public_key, b"short", sign_entry_hash(key, self.ENTRY_HASH))
