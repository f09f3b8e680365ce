"""Encryption at rest: the local Fernet provider, context binding, key ids and rotation."""

from __future__ import annotations

import base64
import hashlib
import json

import pytest
from cryptography.fernet import Fernet

from compliance.crypto import (
    DecryptionError,
    EncryptedValue,
    KeyProvider,
    LocalFernetProvider,
    fernet_key_id,
    provider_from_uri,
)

CONTEXT = "monitoring.alert:42:explanation"
OTHER_CONTEXT = "monitoring.alert:43:explanation"
SECRET = b"the model's decision rested on the zip code"


@pytest.fixture(scope="module")
def old_key() -> str:
    return LocalFernetProvider.generate_key()


@pytest.fixture(scope="module")
def new_key() -> str:
    return LocalFernetProvider.generate_key()


class TestLocalFernetProvider:
    def test_round_trip(self, old_key: str) -> None:
        provider = LocalFernetProvider([old_key])
        encrypted = provider.encrypt(SECRET, context=CONTEXT)
        assert isinstance(encrypted, EncryptedValue)
        assert SECRET not in encrypted.token.encode()
        assert provider.decrypt(encrypted.token, context=CONTEXT) == SECRET

    def test_empty_and_binary_plaintexts(self, old_key: str) -> None:
        provider = LocalFernetProvider([old_key])
        for plaintext in (b"", bytes(range(256))):
            assert provider.decrypt(provider.encrypt(plaintext, context=CONTEXT).token, context=CONTEXT) == plaintext

    def test_key_id_is_the_start_of_sha256_of_the_raw_key(self, old_key: str) -> None:
        expected = hashlib.sha256(base64.urlsafe_b64decode(old_key)).hexdigest()[:8]
        provider = LocalFernetProvider([old_key])
        assert fernet_key_id(old_key) == expected
        assert provider.primary_key_id == expected
        assert provider.encrypt(SECRET, context=CONTEXT).key_id == expected

    def test_the_token_holds_the_documented_envelope(self, old_key: str) -> None:
        token = LocalFernetProvider([old_key]).encrypt(SECRET, context=CONTEXT).token
        envelope = Fernet(old_key).decrypt(token)
        assert json.loads(envelope) == {"v": 1, "ctx": CONTEXT, "data": base64.b64encode(SECRET).decode()}
        assert envelope.startswith(b'{"ctx":')  # canonical JSON: keys sorted, no spaces

    def test_token_copied_to_another_row_is_refused(self, old_key: str) -> None:
        provider = LocalFernetProvider([old_key])
        token = provider.encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError, match="another context"):
            provider.decrypt(token, context=OTHER_CONTEXT)

    def test_corrupted_token_is_refused(self, old_key: str) -> None:
        provider = LocalFernetProvider([old_key])
        token = provider.encrypt(SECRET, context=CONTEXT).token
        corrupted = token[:20] + ("A" if token[20] != "A" else "B") + token[21:]
        with pytest.raises(DecryptionError):
            provider.decrypt(corrupted, context=CONTEXT)
        with pytest.raises(DecryptionError):
            provider.decrypt("not a token", context=CONTEXT)

    def test_fernet_token_without_envelope_is_refused(self, old_key: str) -> None:
        provider = LocalFernetProvider([old_key])
        with pytest.raises(DecryptionError, match="envelope"):
            provider.decrypt(Fernet(old_key).encrypt(SECRET).decode(), context=CONTEXT)

    def test_token_of_an_unknown_key_is_refused(self, old_key: str, new_key: str) -> None:
        token = LocalFernetProvider([new_key]).encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError, match="any configured key"):
            LocalFernetProvider([old_key]).decrypt(token, context=CONTEXT)

    def test_empty_context_is_refused(self, old_key: str) -> None:
        with pytest.raises(ValueError, match="context"):
            LocalFernetProvider([old_key]).encrypt(SECRET, context="")

    def test_is_a_key_provider(self, old_key: str) -> None:
        assert isinstance(LocalFernetProvider([old_key]), KeyProvider)

    def test_repr_shows_key_ids_only(self, old_key: str) -> None:
        text = repr(LocalFernetProvider([old_key]))
        assert old_key not in text
        assert fernet_key_id(old_key) in text

    def test_needs_a_key(self) -> None:
        with pytest.raises(ValueError, match="at least one key"):
            LocalFernetProvider([])

    def test_invalid_key(self) -> None:
        with pytest.raises(ValueError, match="not a valid Fernet key"):
            LocalFernetProvider(["not a key"])

    def test_duplicate_key(self, old_key: str) -> None:
        with pytest.raises(ValueError, match="twice"):
            LocalFernetProvider([old_key, old_key])

    def test_a_single_key_string_is_not_a_key_list(self, old_key: str) -> None:
        with pytest.raises(TypeError):
            LocalFernetProvider(old_key)


class TestRotation:
    def test_key_ids_newest_first(self, old_key: str, new_key: str) -> None:
        provider = LocalFernetProvider([new_key, old_key])
        assert provider.key_ids == [fernet_key_id(new_key), fernet_key_id(old_key)]
        assert provider.primary_key_id == fernet_key_id(new_key)

    def test_old_tokens_still_decrypt_after_adding_a_key(self, old_key: str, new_key: str) -> None:
        token = LocalFernetProvider([old_key]).encrypt(SECRET, context=CONTEXT).token
        assert LocalFernetProvider([new_key, old_key]).decrypt(token, context=CONTEXT) == SECRET

    def test_rewrap_moves_the_value_to_the_primary_key(self, old_key: str, new_key: str) -> None:
        old_value = LocalFernetProvider([old_key]).encrypt(SECRET, context=CONTEXT)
        rotated = LocalFernetProvider([new_key, old_key]).rewrap(old_value.token, context=CONTEXT)

        assert rotated.key_id == fernet_key_id(new_key) != old_value.key_id
        assert LocalFernetProvider([new_key]).decrypt(rotated.token, context=CONTEXT) == SECRET
        with pytest.raises(DecryptionError):
            LocalFernetProvider([old_key]).decrypt(rotated.token, context=CONTEXT)
        with pytest.raises(DecryptionError, match="another context"):
            LocalFernetProvider([new_key]).decrypt(rotated.token, context=OTHER_CONTEXT)

    def test_rewrap_refuses_a_token_from_another_row(self, old_key: str, new_key: str) -> None:
        token = LocalFernetProvider([old_key]).encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError, match="another context"):
            LocalFernetProvider([new_key, old_key]).rewrap(token, context=OTHER_CONTEXT)


class TestProviderFromUri:
    def test_local(self, old_key: str) -> None:
        provider = provider_from_uri("local:", keys=[old_key])
        assert isinstance(provider, LocalFernetProvider)
        assert provider.primary_key_id == fernet_key_id(old_key)

    def test_local_needs_keys(self) -> None:
        with pytest.raises(ValueError, match="keys"):
            provider_from_uri("local:")

    def test_local_refuses_unknown_options(self, old_key: str) -> None:
        with pytest.raises(TypeError, match="region_name"):
            provider_from_uri("local:", keys=[old_key], region_name="eu-west-1")

    @pytest.mark.parametrize("uri", ["", "file:///keys", "vault://transit/key", "hcvault://nokey", "aws-kms://"])
    def test_unknown_or_incomplete_uris(self, uri: str) -> None:
        with pytest.raises(ValueError, match=r"unknown key provider URI|expected (hcvault|aws-kms)://"):
            provider_from_uri(uri)
