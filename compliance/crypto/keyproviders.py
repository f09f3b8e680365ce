"""Key providers backed by a key-management service: HashiCorp Vault transit and AWS KMS.

Both implement ``compliance.crypto.KeyProvider``; ``provider_from_uri`` builds a provider (these or local keys)
from a URI. Their client libraries are optional dependencies, imported only when a provider is built without an
injected client:

* ``VaultTransitProvider`` needs ``hvac``;
* ``AwsKmsProvider`` needs ``boto3``.

Both are pinned in ``requirements-optional.txt`` (``pip install -r requirements-optional.txt``), not in
``requirements.txt``: a deployment with local keys needs neither. ``manage.py check`` reports a configured provider
whose library is missing (fairlens.E020).

Any object with the same few methods can be injected as ``client`` instead (the tests use small in-memory fakes).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import os
import re
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from compliance.crypto.encryption import (
    DecryptionError,
    EncryptedValue,
    KeyProvider,
    LocalFernetProvider,
    check_context,
)

__all__ = ["AwsKmsProvider", "VaultTransitProvider", "provider_from_uri"]

_VAULT_CIPHERTEXT = re.compile(r"vault:v(?P<version>[1-9][0-9]*):\S+")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class VaultTransitProvider:
    """HashiCorp Vault transit secrets engine: Vault holds the keys and does the cryptography.

    The transit key must be created with ``derived=true``: the row context (base64) is then the key-derivation
    context, so a ciphertext only decrypts with the context it was made for. Tokens are Vault ciphertexts,
    ``vault:v<N>:<base64>``, and the key id is the key version ``v<N>``. Rotation is ``vault write -f
    <mount>/keys/<key>/rotate``; ``rewrap`` moves a value to the latest version without revealing the plaintext
    to the application, and raising ``min_decryption_version`` retires old versions.

    Vault errors that mean "this ciphertext is rejected" (hvac's ``InvalidRequest`` by default, or
    ``rejected_ciphertext_errors`` for another client) become ``DecryptionError``; other errors propagate.
    """

    def __init__(
        self,
        mount: str,
        key: str,
        *,
        client: Any = None,
        url: str | None = None,
        token: str | None = None,
        rejected_ciphertext_errors: tuple[type[BaseException], ...] | None = None,
        **client_options: Any,
    ) -> None:
        if not mount or not key or "/" in key:
            raise ValueError("Vault transit needs a mount path and a key name (without '/')")
        self.mount = mount.strip("/")
        self.key = key
        if client is None:
            hvac = _import_optional("hvac", "VaultTransitProvider")
            client = hvac.Client(url=url, token=token, **client_options)
        self._transit = client.secrets.transit
        if rejected_ciphertext_errors is None:
            rejected_ciphertext_errors = _hvac_rejection_errors()
        self._rejected = rejected_ciphertext_errors

    def __repr__(self) -> str:
        return f"VaultTransitProvider(mount={self.mount!r}, key={self.key!r})"

    def _key_info(self) -> Mapping[str, Any]:
        return self._transit.read_key(name=self.key, mount_point=self.mount)["data"]

    @property
    def primary_key_id(self) -> str:
        """The latest key version (asked from Vault on each call, so rotations show up at once)."""
        return f"v{int(self._key_info()['latest_version'])}"

    @property
    def key_ids(self) -> list[str]:
        """Versions that still decrypt (at or above ``min_decryption_version``), newest first."""
        info = self._key_info()
        minimum = int(info.get("min_decryption_version") or 1)
        versions = sorted((int(version) for version in info["keys"]), reverse=True)
        return [f"v{version}" for version in versions if version >= minimum]

    def _context(self, context: str) -> str:
        return _b64(check_context(context).encode("utf-8"))

    def encrypt(self, plaintext: bytes, *, context: str) -> EncryptedValue:
        response = self._transit.encrypt_data(
            name=self.key, plaintext=_b64(bytes(plaintext)), context=self._context(context), mount_point=self.mount
        )
        ciphertext = response["data"]["ciphertext"]
        return EncryptedValue(ciphertext, _vault_key_id(ciphertext))

    def decrypt(self, token: str, *, context: str) -> bytes:
        _vault_key_id(token)
        try:
            response = self._transit.decrypt_data(
                name=self.key, ciphertext=token, context=self._context(context), mount_point=self.mount
            )
        except self._rejected as error:
            raise DecryptionError(f"Vault rejected the ciphertext for context {context!r}: {error}") from error
        try:
            return base64.b64decode(response["data"]["plaintext"], validate=True)
        except (binascii.Error, KeyError, TypeError) as error:
            raise DecryptionError("Vault returned no valid plaintext") from error

    def rewrap(self, token: str, *, context: str) -> EncryptedValue:
        _vault_key_id(token)
        try:
            response = self._transit.rewrap_data(
                name=self.key, ciphertext=token, context=self._context(context), mount_point=self.mount
            )
        except self._rejected as error:
            raise DecryptionError(f"Vault rejected the ciphertext for context {context!r}: {error}") from error
        ciphertext = response["data"]["ciphertext"]
        return EncryptedValue(ciphertext, _vault_key_id(ciphertext))


def _vault_key_id(ciphertext: str) -> str:
    match = _VAULT_CIPHERTEXT.fullmatch(ciphertext) if isinstance(ciphertext, str) else None
    if match is None:
        raise DecryptionError("not a Vault transit ciphertext (expected vault:v<N>:...)")
    return f"v{match['version']}"


def _hvac_rejection_errors() -> tuple[type[BaseException], ...]:
    try:
        from hvac.exceptions import InvalidRequest
    except ImportError:
        return ()
    return (InvalidRequest,)


class AwsKmsProvider:
    """AWS KMS envelope encryption: a fresh AES-256 data key per value, wrapped by a KMS key.

    ``encrypt`` calls ``GenerateDataKey`` and seals the value with AES-256-GCM (random 96-bit nonce, AAD = the row
    context); the wrapped data key carries the context as KMS ``EncryptionContext`` ``{"fairlens:context": ...}``,
    so both KMS and AES-GCM refuse a token moved to another row. ``rewrap`` uses ``ReEncrypt``: the data key is
    re-wrapped under the primary key inside KMS and the sealed value stays as it is.

    Token format (``.``-separated, each part unpadded urlsafe base64 except the prefix)::

        kms1.<key ARN>.<wrapped data key>.<nonce>.<AES-GCM ciphertext and tag>

    The key id is the KMS key id (the UUID at the end of the key ARN). ``previous_key_arns`` are keys that may
    still unwrap old values; tokens naming any other key are refused before KMS is asked.
    """

    CONTEXT_KEY = "fairlens:context"
    _ENVELOPE_FORMAT = "kms1"
    _REJECTION_CODES = frozenset({"InvalidCiphertextException", "IncorrectKeyException"})

    def __init__(
        self,
        key_arn: str,
        *,
        client: Any = None,
        region_name: str | None = None,
        previous_key_arns: Iterable[str] = (),
        **client_options: Any,
    ) -> None:
        if not key_arn:
            raise ValueError("AwsKmsProvider needs a KMS key ARN (or alias ARN)")
        self.key_arn = key_arn
        self.previous_key_arns = tuple(previous_key_arns)
        if client is None:
            boto3 = _import_optional("boto3", "AwsKmsProvider")
            client = boto3.client("kms", region_name=region_name, **client_options)
        self._kms = client
        self._resolved: list[str] | None = None

    def __repr__(self) -> str:
        return f"AwsKmsProvider(key_arn={self.key_arn!r})"

    def _key_arns(self) -> list[str]:
        """Key ARNs (primary first) behind the configured ARNs or aliases, resolved once with ``DescribeKey``."""
        if self._resolved is None:
            resolved = []
            for configured in (self.key_arn, *self.previous_key_arns):
                arn = self._kms.describe_key(KeyId=configured)["KeyMetadata"]["Arn"]
                if arn not in resolved:
                    resolved.append(arn)
            self._resolved = resolved
        return self._resolved

    @property
    def primary_key_id(self) -> str:
        return _kms_key_id(self._key_arns()[0])

    @property
    def key_ids(self) -> list[str]:
        return [_kms_key_id(arn) for arn in self._key_arns()]

    def _encryption_context(self, context: str) -> dict[str, str]:
        return {self.CONTEXT_KEY: check_context(context)}

    def encrypt(self, plaintext: bytes, *, context: str) -> EncryptedValue:
        response = self._kms.generate_data_key(
            KeyId=self.key_arn, KeySpec="AES_256", EncryptionContext=self._encryption_context(context)
        )
        nonce = os.urandom(12)
        sealed = AESGCM(response["Plaintext"]).encrypt(nonce, bytes(plaintext), context.encode("utf-8"))
        arn = response["KeyId"]
        return EncryptedValue(self._token(arn, response["CiphertextBlob"], nonce, sealed), _kms_key_id(arn))

    def decrypt(self, token: str, *, context: str) -> bytes:
        arn, wrapped_key, nonce, sealed = self._parse_token(token)
        with self._kms_rejections(context):
            response = self._kms.decrypt(
                CiphertextBlob=wrapped_key, EncryptionContext=self._encryption_context(context), KeyId=arn
            )
        try:
            return AESGCM(response["Plaintext"]).decrypt(nonce, sealed, context.encode("utf-8"))
        except (InvalidTag, ValueError) as error:
            raise DecryptionError(f"sealed value does not open for context {context!r}") from error

    def rewrap(self, token: str, *, context: str) -> EncryptedValue:
        arn, wrapped_key, nonce, sealed = self._parse_token(token)
        encryption_context = self._encryption_context(context)
        with self._kms_rejections(context):
            response = self._kms.re_encrypt(
                CiphertextBlob=wrapped_key,
                SourceEncryptionContext=encryption_context,
                SourceKeyId=arn,
                DestinationKeyId=self.key_arn,
                DestinationEncryptionContext=encryption_context,
            )
        new_arn = response["KeyId"]
        return EncryptedValue(self._token(new_arn, response["CiphertextBlob"], nonce, sealed), _kms_key_id(new_arn))

    def _token(self, arn: str, wrapped_key: bytes, nonce: bytes, sealed: bytes) -> str:
        parts = (arn.encode("utf-8"), wrapped_key, nonce, sealed)
        encoded = (base64.urlsafe_b64encode(part).rstrip(b"=").decode("ascii") for part in parts)
        return ".".join([self._ENVELOPE_FORMAT, *encoded])

    def _parse_token(self, token: str) -> tuple[str, bytes, bytes, bytes]:
        parts = token.split(".") if isinstance(token, str) else []
        if len(parts) != 5 or parts[0] != self._ENVELOPE_FORMAT:
            raise DecryptionError("not an AWS KMS envelope token (expected kms1.<arn>.<key>.<nonce>.<ciphertext>)")
        try:
            arn_bytes, wrapped_key, nonce, sealed = (
                base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)) for part in parts[1:]
            )
            arn = arn_bytes.decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as error:
            raise DecryptionError("AWS KMS envelope token is corrupted") from error
        if arn not in self._key_arns():
            raise DecryptionError(f"token was wrapped by KMS key {_kms_key_id(arn)}, which is not configured")
        return arn, wrapped_key, nonce, sealed

    @contextmanager
    def _kms_rejections(self, context: str) -> Iterator[None]:
        """Turn KMS "this ciphertext is not yours" errors into ``DecryptionError``; let other errors through.

        botocore raises ``ClientError`` carrying ``response["Error"]["Code"]``; matching on that shape keeps
        botocore out of the import graph.
        """
        try:
            yield
        except Exception as error:
            response = getattr(error, "response", None)
            code = response.get("Error", {}).get("Code") if isinstance(response, Mapping) else None
            if code in self._REJECTION_CODES:
                raise DecryptionError(f"KMS rejected the data key for context {context!r} ({code})") from error
            raise


def _kms_key_id(arn: str) -> str:
    """The key id at the end of a key ARN (``arn:aws:kms:<region>:<account>:key/<id>``); other strings as given."""
    prefix, separator, key_id = arn.rpartition(":key/")
    return key_id if separator and prefix else arn


def _import_optional(module_name: str, provider: str) -> Any:
    try:
        return importlib.import_module(module_name)
    except ImportError as error:
        raise ImportError(
            f"{provider} needs the optional dependency '{module_name}' "
            "(pip install -r requirements-optional.txt), or pass an already configured client=..."
        ) from error


def provider_from_uri(uri: str, **kwargs: Any) -> KeyProvider:
    """Build a key provider from a URI.

    * ``local:`` -> ``LocalFernetProvider(keys=...)`` (pass ``keys``, newest first)
    * ``hcvault://<mount>/<key>`` -> ``VaultTransitProvider`` (kwargs: ``client`` or ``url``/``token``, ...)
    * ``aws-kms://<key-arn>`` -> ``AwsKmsProvider`` (kwargs: ``client`` or ``region_name``, ...)
    """
    if uri in ("local:", "local"):
        keys = kwargs.pop("keys", None)
        if not keys:
            raise ValueError("the local: provider needs keys=[...] (Fernet keys, newest first)")
        if kwargs:
            raise TypeError(f"unexpected options for local: provider: {sorted(kwargs)}")
        return LocalFernetProvider(keys)
    if uri.startswith("hcvault://"):
        mount, separator, key = uri.removeprefix("hcvault://").rpartition("/")
        if not separator or not mount or not key:
            raise ValueError(f"expected hcvault://<mount>/<key>, got {uri!r}")
        return VaultTransitProvider(mount, key, **kwargs)
    if uri.startswith("aws-kms://"):
        key_arn = uri.removeprefix("aws-kms://")
        if not key_arn:
            raise ValueError(f"expected aws-kms://<key-arn>, got {uri!r}")
        return AwsKmsProvider(key_arn, **kwargs)
    raise ValueError(f"unknown key provider URI {uri!r}; expected local:, hcvault://<mount>/<key> or aws-kms://<arn>")
