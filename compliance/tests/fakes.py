"""In-memory fakes of the key-management clients outside this machine (hvac's transit engine, boto3's KMS): the
few methods the adapters call, with the same shapes and errors, so the adapters are tested without a network."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# The alias a fake KMS resolves to its first key.
ALIAS = "arn:aws:kms:eu-west-1:111122223333:alias/fairlens"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class FakeInvalidRequest(Exception):
    """Stands in for hvac.exceptions.InvalidRequest (HTTP 400)."""


class FakeTransit:
    """A derived-key transit engine: each version's key is specialised per context, as Vault does with derived=true."""

    def __init__(self, mount: str = "transit", name: str = "fairlens") -> None:
        self.mount, self.name = mount, name
        self.versions = {1: os.urandom(32)}
        self.min_decryption_version = 1
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def rotate(self) -> None:
        self.versions[max(self.versions) + 1] = os.urandom(32)

    def _check_key(self, name: str, mount_point: str) -> None:
        if (name, mount_point) != (self.name, self.mount):
            raise FakeInvalidRequest(f"no key {mount_point}/{name}")

    def _derived(self, version: int, context: str | None) -> bytes:
        if not context:
            raise FakeInvalidRequest("missing 'context' for key derivation")
        return hmac.new(self.versions[version], base64.b64decode(context), hashlib.sha256).digest()

    def read_key(self, name: str, mount_point: str = "transit") -> dict[str, Any]:
        self._check_key(name, mount_point)
        return {
            "data": {
                "keys": {str(version): 1767225600 for version in self.versions},
                "latest_version": max(self.versions),
                "min_decryption_version": self.min_decryption_version,
                "derived": True,
            }
        }

    def encrypt_data(self, name: str, plaintext: str, context: str | None = None, mount_point: str = "transit") -> Any:
        self.calls.append(("encrypt", {"name": name, "plaintext": plaintext, "context": context}))
        self._check_key(name, mount_point)
        version, nonce = max(self.versions), os.urandom(12)
        sealed = AESGCM(self._derived(version, context)).encrypt(nonce, base64.b64decode(plaintext), None)
        return {"data": {"ciphertext": f"vault:v{version}:{b64(nonce + sealed)}", "key_version": version}}

    def decrypt_data(self, name: str, ciphertext: str, context: str | None = None, mount_point: str = "transit") -> Any:
        self.calls.append(("decrypt", {"name": name, "ciphertext": ciphertext, "context": context}))
        self._check_key(name, mount_point)
        _, version_text, blob = ciphertext.split(":", 2)
        version = int(version_text[1:])
        if version < self.min_decryption_version or version not in self.versions:
            raise FakeInvalidRequest("ciphertext or signature version is disallowed by policy (too old)")
        raw = base64.b64decode(blob)
        try:
            plaintext = AESGCM(self._derived(version, context)).decrypt(raw[:12], raw[12:], None)
        except InvalidTag:
            raise FakeInvalidRequest("cipher: message authentication failed") from None
        return {"data": {"plaintext": b64(plaintext)}}

    def rewrap_data(self, name: str, ciphertext: str, context: str | None = None, mount_point: str = "transit") -> Any:
        plaintext = self.decrypt_data(name, ciphertext, context, mount_point)["data"]["plaintext"]
        return self.encrypt_data(name, plaintext, context, mount_point)


class FakeClientError(Exception):
    """Shaped like botocore's ClientError: the error code is in response["Error"]["Code"]."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.response = {"Error": {"Code": code, "Message": code}}


class FakeKms:
    """Symmetric KMS keys that wrap data keys with AES-GCM, binding the EncryptionContext unless told not to."""

    def __init__(self, *arns: str, bind_context: bool = True) -> None:
        self.master = {arn: AESGCM.generate_key(bit_length=256) for arn in arns}
        self.aliases = {ALIAS: arns[0]}
        self.bind_context = bind_context
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _resolve(self, key_id: str) -> str:
        arn = self.aliases.get(key_id, key_id)
        if arn not in self.master:
            raise FakeClientError("NotFoundException")
        return arn

    def _aad(self, context: dict[str, str]) -> bytes:
        return json.dumps(context, sort_keys=True).encode() if self.bind_context else b""

    def _wrap(self, arn: str, data_key: bytes, context: dict[str, str]) -> bytes:
        nonce = os.urandom(12)
        return arn.encode() + b"\n" + nonce + AESGCM(self.master[arn]).encrypt(nonce, data_key, self._aad(context))

    def _unwrap(self, blob: bytes, context: dict[str, str], key_id: str | None) -> tuple[str, bytes]:
        arn_bytes, _, rest = blob.partition(b"\n")
        arn = arn_bytes.decode()
        if arn not in self.master or (key_id is not None and self._resolve(key_id) != arn):
            raise FakeClientError("IncorrectKeyException")
        try:
            return arn, AESGCM(self.master[arn]).decrypt(rest[:12], rest[12:], self._aad(context))
        except InvalidTag:
            raise FakeClientError("InvalidCiphertextException") from None

    def describe_key(self, KeyId: str) -> dict[str, Any]:  # noqa: N803 - boto3's parameter names
        arn = self._resolve(KeyId)
        return {"KeyMetadata": {"Arn": arn, "KeyId": arn.rsplit("/", 1)[-1]}}

    def generate_data_key(self, KeyId: str, KeySpec: str, EncryptionContext: dict[str, str]) -> dict[str, Any]:  # noqa: N803
        self.calls.append(
            ("generate_data_key", {"KeyId": KeyId, "KeySpec": KeySpec, "EncryptionContext": EncryptionContext})
        )
        arn = self._resolve(KeyId)
        data_key = os.urandom(32)
        return {"CiphertextBlob": self._wrap(arn, data_key, EncryptionContext), "Plaintext": data_key, "KeyId": arn}

    def decrypt(self, CiphertextBlob: bytes, EncryptionContext: dict[str, str], KeyId: str | None = None) -> Any:  # noqa: N803
        self.calls.append(("decrypt", {"KeyId": KeyId, "EncryptionContext": EncryptionContext}))
        arn, data_key = self._unwrap(CiphertextBlob, EncryptionContext, KeyId)
        return {"Plaintext": data_key, "KeyId": arn}

    def re_encrypt(  # noqa: N803 - boto3's parameter names
        self,
        CiphertextBlob: bytes,
        SourceEncryptionContext: dict[str, str],
        DestinationKeyId: str,
        DestinationEncryptionContext: dict[str, str],
        SourceKeyId: str | None = None,
    ) -> dict[str, Any]:
        source_arn, data_key = self._unwrap(CiphertextBlob, SourceEncryptionContext, SourceKeyId)
        destination = self._resolve(DestinationKeyId)
        blob = self._wrap(destination, data_key, DestinationEncryptionContext)
        return {"CiphertextBlob": blob, "KeyId": destination, "SourceKeyId": source_arn}
