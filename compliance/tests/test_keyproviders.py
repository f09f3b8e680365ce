"""Vault transit and AWS KMS adapters, exercised against small in-memory fakes of the client methods they use."""

from __future__ import annotations

import base64
import sys
from types import SimpleNamespace
from typing import Any

import pytest

from compliance.crypto import DecryptionError, KeyProvider, provider_from_uri
from compliance.crypto.keyproviders import AwsKmsProvider, VaultTransitProvider
from compliance.tests.fakes import ALIAS, FakeClientError, FakeInvalidRequest, FakeKms, FakeTransit, b64

CONTEXT = "monitoring.alert:42:explanation"
OTHER_CONTEXT = "monitoring.alert:43:explanation"
SECRET = b"explanation text"


def _vault(transit: FakeTransit) -> VaultTransitProvider:
    client = SimpleNamespace(secrets=SimpleNamespace(transit=transit))
    return VaultTransitProvider(
        transit.mount, transit.name, client=client, rejected_ciphertext_errors=(FakeInvalidRequest,)
    )


class TestVaultTransit:
    def test_round_trip_with_version_as_key_id(self) -> None:
        provider = _vault(FakeTransit())
        encrypted = provider.encrypt(SECRET, context=CONTEXT)
        assert encrypted.token.startswith("vault:v1:")
        assert encrypted.key_id == "v1" == provider.primary_key_id
        assert provider.decrypt(encrypted.token, context=CONTEXT) == SECRET

    def test_context_is_sent_as_base64_derivation_context(self) -> None:
        transit = FakeTransit()
        _vault(transit).encrypt(SECRET, context=CONTEXT)
        operation, arguments = transit.calls[-1]
        assert operation == "encrypt"
        assert arguments["context"] == b64(CONTEXT.encode())
        assert arguments["plaintext"] == b64(SECRET)

    def test_token_copied_to_another_row_is_refused(self) -> None:
        provider = _vault(FakeTransit())
        token = provider.encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError, match="Vault rejected"):
            provider.decrypt(token, context=OTHER_CONTEXT)

    def test_rotation_and_rewrap(self) -> None:
        transit = FakeTransit()
        provider = _vault(transit)
        old = provider.encrypt(SECRET, context=CONTEXT)
        transit.rotate()
        assert provider.primary_key_id == "v2"
        assert provider.key_ids == ["v2", "v1"]
        assert provider.decrypt(old.token, context=CONTEXT) == SECRET

        rewrapped = provider.rewrap(old.token, context=CONTEXT)
        assert rewrapped.key_id == "v2"
        assert rewrapped.token.startswith("vault:v2:")
        transit.min_decryption_version = 2
        assert provider.key_ids == ["v2"]
        assert provider.decrypt(rewrapped.token, context=CONTEXT) == SECRET
        with pytest.raises(DecryptionError):
            provider.decrypt(old.token, context=CONTEXT)

    def test_rewrap_refuses_a_token_from_another_row(self) -> None:
        provider = _vault(FakeTransit())
        token = provider.encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError):
            provider.rewrap(token, context=OTHER_CONTEXT)

    @pytest.mark.parametrize("token", ["", "plain text", "vault:v0:AAAA", "vault:1:AAAA", "kms1.a.b.c.d"])
    def test_tokens_that_are_not_vault_ciphertexts(self, token: str) -> None:
        with pytest.raises(DecryptionError, match="not a Vault transit ciphertext"):
            _vault(FakeTransit()).decrypt(token, context=CONTEXT)

    def test_other_vault_errors_propagate(self) -> None:
        transit = FakeTransit()
        provider = _vault(transit)
        token = provider.encrypt(SECRET, context=CONTEXT).token

        def unreachable(**_: Any) -> Any:
            raise ConnectionError("vault is down")

        transit.decrypt_data = unreachable  # type: ignore[method-assign]
        with pytest.raises(ConnectionError):
            provider.decrypt(token, context=CONTEXT)

    def test_is_a_key_provider(self) -> None:
        assert isinstance(_vault(FakeTransit()), KeyProvider)

    @pytest.mark.parametrize(
        ("uri", "mount"), [("hcvault://transit/fairlens", "transit"), ("hcvault://eu/transit/fairlens", "eu/transit")]
    )
    def test_from_uri(self, uri: str, mount: str) -> None:
        transit = FakeTransit(mount=mount)
        client = SimpleNamespace(secrets=SimpleNamespace(transit=transit))
        provider = provider_from_uri(uri, client=client, rejected_ciphertext_errors=(FakeInvalidRequest,))
        assert isinstance(provider, VaultTransitProvider)
        assert (provider.mount, provider.key) == (mount, "fairlens")
        assert provider.decrypt(provider.encrypt(SECRET, context=CONTEXT).token, context=CONTEXT) == SECRET

    def test_missing_hvac_is_explained(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "hvac", None)
        with pytest.raises(ImportError, match=r"hvac.*pip install -r requirements-optional\.txt"):
            VaultTransitProvider("transit", "fairlens")


# --- AWS KMS -------------------------------------------------------------------------------------------------

ARN_1 = "arn:aws:kms:eu-west-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ARN_2 = "arn:aws:kms:eu-west-1:111122223333:key/0987dcba-09fe-87dc-65ba-ab0987654321"


def _swap_part(token: str, index: int, new_part: bytes) -> str:
    parts = token.split(".")
    parts[index] = base64.urlsafe_b64encode(new_part).rstrip(b"=").decode()
    return ".".join(parts)


class TestAwsKms:
    def test_round_trip(self) -> None:
        kms = FakeKms(ARN_1)
        provider = AwsKmsProvider(ARN_1, client=kms)
        encrypted = provider.encrypt(SECRET, context=CONTEXT)
        assert encrypted.token.startswith("kms1.")
        assert encrypted.key_id == "1234abcd-12ab-34cd-56ef-1234567890ab" == provider.primary_key_id
        assert provider.decrypt(encrypted.token, context=CONTEXT) == SECRET

    def test_data_key_request_carries_the_context(self) -> None:
        kms = FakeKms(ARN_1)
        AwsKmsProvider(ARN_1, client=kms).encrypt(SECRET, context=CONTEXT)
        operation, arguments = kms.calls[-1]
        assert operation == "generate_data_key"
        assert arguments == {"KeyId": ARN_1, "KeySpec": "AES_256", "EncryptionContext": {"fairlens:context": CONTEXT}}

    def test_decrypt_names_the_key_and_the_context(self) -> None:
        kms = FakeKms(ARN_1)
        provider = AwsKmsProvider(ARN_1, client=kms)
        provider.decrypt(provider.encrypt(SECRET, context=CONTEXT).token, context=CONTEXT)
        assert kms.calls[-1] == ("decrypt", {"KeyId": ARN_1, "EncryptionContext": {"fairlens:context": CONTEXT}})

    def test_token_copied_to_another_row_is_refused_by_kms(self) -> None:
        provider = AwsKmsProvider(ARN_1, client=FakeKms(ARN_1))
        token = provider.encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError, match="InvalidCiphertextException"):
            provider.decrypt(token, context=OTHER_CONTEXT)

    def test_aes_gcm_binds_the_context_too(self) -> None:
        # Even if the data key were released without checking the context, the sealed value would not open.
        provider = AwsKmsProvider(ARN_1, client=FakeKms(ARN_1, bind_context=False))
        token = provider.encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError, match="does not open"):
            provider.decrypt(token, context=OTHER_CONTEXT)

    def test_tampered_ciphertext_is_refused(self) -> None:
        provider = AwsKmsProvider(ARN_1, client=FakeKms(ARN_1))
        token = provider.encrypt(SECRET, context=CONTEXT).token
        sealed = bytearray(base64.urlsafe_b64decode(token.split(".")[4] + "=="))
        sealed[0] ^= 1
        with pytest.raises(DecryptionError, match="does not open"):
            provider.decrypt(_swap_part(token, 4, bytes(sealed)), context=CONTEXT)

    def test_token_naming_an_unconfigured_key_is_refused_before_kms_is_asked(self) -> None:
        kms = FakeKms(ARN_1, ARN_2)
        token = AwsKmsProvider(ARN_2, client=kms).encrypt(SECRET, context=CONTEXT).token
        calls_before = len(kms.calls)
        with pytest.raises(DecryptionError, match="not configured"):
            AwsKmsProvider(ARN_1, client=kms).decrypt(token, context=CONTEXT)
        assert kms.calls[calls_before:] == []

    @pytest.mark.parametrize("token", ["", "kms1.a.b", "kms2.a.b.c.d", "kms1.!!.b.c.d", "vault:v1:AAAA"])
    def test_malformed_tokens(self, token: str) -> None:
        with pytest.raises(DecryptionError):
            AwsKmsProvider(ARN_1, client=FakeKms(ARN_1)).decrypt(token, context=CONTEXT)

    def test_rotation_and_rewrap(self) -> None:
        kms = FakeKms(ARN_1, ARN_2)
        old = AwsKmsProvider(ARN_1, client=kms).encrypt(SECRET, context=CONTEXT)
        rotated_provider = AwsKmsProvider(ARN_2, client=kms, previous_key_arns=[ARN_1])
        assert rotated_provider.key_ids == ["0987dcba-09fe-87dc-65ba-ab0987654321", old.key_id]
        assert rotated_provider.decrypt(old.token, context=CONTEXT) == SECRET

        rewrapped = rotated_provider.rewrap(old.token, context=CONTEXT)
        assert rewrapped.key_id == rotated_provider.primary_key_id != old.key_id
        assert AwsKmsProvider(ARN_2, client=kms).decrypt(rewrapped.token, context=CONTEXT) == SECRET
        with pytest.raises(DecryptionError):
            AwsKmsProvider(ARN_1, client=kms).decrypt(rewrapped.token, context=CONTEXT)
        # The sealed value itself is untouched: only the data key was re-wrapped, inside KMS.
        assert rewrapped.token.split(".")[3:] == old.token.split(".")[3:]

    def test_rewrap_refuses_a_token_from_another_row(self) -> None:
        kms = FakeKms(ARN_1, ARN_2)
        token = AwsKmsProvider(ARN_1, client=kms).encrypt(SECRET, context=CONTEXT).token
        with pytest.raises(DecryptionError):
            AwsKmsProvider(ARN_2, client=kms, previous_key_arns=[ARN_1]).rewrap(token, context=OTHER_CONTEXT)

    def test_alias_resolves_to_the_key(self) -> None:
        provider = AwsKmsProvider(ALIAS, client=FakeKms(ARN_1))
        assert provider.primary_key_id == "1234abcd-12ab-34cd-56ef-1234567890ab"
        assert provider.decrypt(provider.encrypt(SECRET, context=CONTEXT).token, context=CONTEXT) == SECRET

    def test_other_kms_errors_propagate(self) -> None:
        kms = FakeKms(ARN_1)
        provider = AwsKmsProvider(ARN_1, client=kms)
        token = provider.encrypt(SECRET, context=CONTEXT).token

        def throttled(**_: Any) -> Any:
            raise FakeClientError("ThrottlingException")

        kms.decrypt = throttled  # type: ignore[method-assign]
        with pytest.raises(FakeClientError, match="ThrottlingException"):
            provider.decrypt(token, context=CONTEXT)

    def test_is_a_key_provider(self) -> None:
        assert isinstance(AwsKmsProvider(ARN_1, client=FakeKms(ARN_1)), KeyProvider)

    def test_from_uri(self) -> None:
        provider = provider_from_uri(f"aws-kms://{ARN_1}", client=FakeKms(ARN_1))
        assert isinstance(provider, AwsKmsProvider)
        assert provider.key_arn == ARN_1

    def test_missing_boto3_is_explained(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setitem(sys.modules, "boto3", None)
        with pytest.raises(ImportError, match=r"boto3.*pip install -r requirements-optional\.txt"):
            AwsKmsProvider(ARN_1)
