"""Sensitive fields encrypted at rest, bound to their row, with audited decryption and resumable key rotation.

The only way back to plaintext is ``decrypt_for``: it requires the auditor role and a reason and writes an audit
entry in the same transaction before decrypting. If that entry cannot be written, nothing is decrypted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from compliance import keyring
from compliance.crypto import DecryptionError, KeyProvider, LocalFernetProvider, provider_from_uri
from compliance.rewrap_lease import enqueue_rewrap, start_rewrap
from compliance.services import audit_append
from core.api.errors import ApplicationError
from core.roles import Role, roles_of

logger = logging.getLogger("fairlens.keys")

# The auditor's fresh second factor at every decryption. Accounts owns MFA and sits above compliance, so it
# installs the check when it is ready (accounts/apps.py) rather than compliance importing it; until then
# decryption fails closed.
SecondFactorCheck = Callable[..., None]
_second_factor_check: SecondFactorCheck | None = None


def install_second_factor_check(check: SecondFactorCheck) -> None:
    """Install ``check(user=..., otp=...)``, which raises unless ``otp`` is a fresh second factor of ``user``."""
    global _second_factor_check
    _second_factor_check = check


@dataclass(frozen=True)
class EncryptedField:
    """A model field holding a ciphertext token, and the field holding the id of the key that made it."""

    model_label: str
    field: str
    key_id_field: str
    # The system itself must read it (a webhook signing secret), so ``system_decrypt`` may open it.
    system_readable: bool = False

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)


# Every encrypted field in FairLens: rotation re-encrypts exactly these.
ENCRYPTED_FIELDS: list[EncryptedField] = [
    EncryptedField("monitoring.IngestionRecord", "encrypted_alert", "alert_key_id"),
    EncryptedField("alerts.Alert", "encrypted_explanation", "explanation_key_id"),
    EncryptedField("alerts.WebhookEndpoint", "encrypted_secret", "secret_key_id", system_readable=True),
]


class KeyProviderUnavailable(ApplicationError):
    status_code = 503
    code = "key_provider_unavailable"


def uses_local_keys() -> bool:
    return settings.KEY_PROVIDER_URI.startswith("local")


def key_provider() -> KeyProvider:
    """The configured key provider: local keys (FERNET_KEYS plus the rotation keyring), Vault or AWS KMS.

    The Vault and KMS clients are optional packages (requirements-optional.txt); without them this raises
    ``KeyProviderUnavailable`` naming the package, instead of an ImportError deep in a request.
    """
    uri = settings.KEY_PROVIDER_URI
    if uri.startswith("local"):
        return LocalFernetProvider(keyring.active_keys())
    try:
        return provider_from_uri(uri)
    except ImportError as exc:
        raise KeyProviderUnavailable(
            f"KEY_PROVIDER_URI={uri} needs a client library that is not installed: {exc} "
            "Install the optional requirements: pip install -r requirements-optional.txt."
        ) from exc


def context_for(obj: models.Model, field: str) -> str:
    """What a ciphertext is bound to: model, primary key and field (a copy in another row will not decrypt)."""
    if obj.pk is None:
        raise ValueError("save the object before encrypting one of its fields: its primary key is part of the context")
    return f"{obj._meta.label_lower}:{obj.pk}:{field}"


def _spec(obj: models.Model, field: str) -> EncryptedField:
    for spec in ENCRYPTED_FIELDS:
        if spec.model_label.lower() == obj._meta.label_lower and spec.field == field:
            return spec
    raise ValueError(f"{obj._meta.label}.{field} is not a registered encrypted field")


def encrypt_for(obj: models.Model, field: str, plaintext: str) -> None:
    """Encrypt ``plaintext`` into ``obj.<field>`` (and its key id); the caller saves ``obj``."""
    spec = _spec(obj, field)
    value = key_provider().encrypt(plaintext.encode(), context=context_for(obj, field))
    setattr(obj, spec.field, value.token)
    setattr(obj, spec.key_id_field, value.key_id)


def decrypt_for(*, user: Any, obj: models.Model, field: str, reason: str, otp: str | None = None) -> str:
    """Decrypt ``obj.<field>`` for an auditor who gives a reason; the access is an audit entry (fail closed).

    Every decryption takes a fresh authenticator code (``otp``), checked now and accepted once, when the auditor
    has enrolled one or FAIRLENS_REQUIRE_MFA is on: a stolen session or password alone reads nothing.
    """
    spec = _spec(obj, field)
    if Role.AUDITOR.value not in roles_of(user):
        raise ApplicationError("Only auditors may decrypt.", code="permission_denied", status_code=403)
    reason = (reason or "").strip()
    if len(reason) < 5:
        raise ApplicationError(
            "Say why you need the plaintext (at least 5 characters).",
            code="reason_required",
            details={"reason": ["required"]},
        )
    if _second_factor_check is None:
        raise ApplicationError(
            "Decryption is unavailable: no second-factor check is installed.",
            code="service_unavailable",
            status_code=503,
        )
    _second_factor_check(user=user, otp=otp)
    token = getattr(obj, spec.field)
    if not token:
        raise ApplicationError("Nothing is encrypted here.", code="not_found", status_code=404)
    with transaction.atomic():
        audit_append(
            action="data.decrypt",
            actor=user,
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            payload={"field": field, "reason": reason, "key_id": getattr(obj, spec.key_id_field)},
        )
        try:
            return key_provider().decrypt(token, context=context_for(obj, field)).decode()
        except DecryptionError as exc:
            raise ApplicationError(
                "This value cannot be decrypted: its key is gone or it does not belong to this record.",
                code="decryption_failed",
                status_code=409,
            ) from exc


REDISPLAY_SECONDS = 60


def redisplay_decrypted(*, user: Any, obj: models.Model, field: str) -> str | None:
    """``obj.<field>`` once more for ``user`` when ``decrypt_for`` audited their decryption of it in the last
    ``REDISPLAY_SECONDS``: the page a decryption form redirects to shows what was just decrypted, without a second
    reason, code or audit entry (it is the same access). None when there is no such entry: nothing is shown."""
    from compliance.models import AuditEntry

    spec = _spec(obj, field)
    if Role.AUDITOR.value not in roles_of(user):
        return None
    since = timezone.now() - timedelta(seconds=REDISPLAY_SECONDS)
    audited = AuditEntry.objects.filter(
        action="data.decrypt",
        actor=user.get_username(),
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk),
        payload__field=field,
        time__gte=since,
    ).exists()
    token = getattr(obj, spec.field)
    if not audited or not token:
        return None
    try:
        return key_provider().decrypt(token, context=context_for(obj, field)).decode()
    except DecryptionError:
        return None


def system_decrypt(obj: models.Model, field: str) -> str:
    """Decrypt a secret the system needs to do its job (signing webhooks). Only fields registered as
    ``system_readable`` open this way; people's access to data goes through ``decrypt_for``."""
    spec = _spec(obj, field)
    if not spec.system_readable:
        raise PermissionError(f"{spec.model_label}.{field} is only readable through decrypt_for")
    return key_provider().decrypt(getattr(obj, spec.field), context=context_for(obj, field)).decode()


def demo_console_decrypt(obj: models.Model, field: str) -> str:
    """The seed's debug echo of a decrypted alert on the console, allowed only in demo mode
    (FAIRLENS_DEMO_ENDPOINTS) and audited as its own action, ``demo.decrypt``: every demo run makes one, and
    auditors reviewing who read data (``data.decrypt``) should not have to wade through them."""
    if not settings.FAIRLENS_DEMO_ENDPOINTS:
        raise PermissionError("console decryption is a demo feature (FAIRLENS_DEMO_ENDPOINTS is off)")
    spec = _spec(obj, field)
    with transaction.atomic():
        audit_append(
            action="demo.decrypt",
            object_type=obj._meta.label_lower,
            object_id=str(obj.pk),
            payload={"field": field, "reason": "demo console echo", "key_id": getattr(obj, spec.key_id_field)},
        )
        return key_provider().decrypt(getattr(obj, spec.field), context=context_for(obj, field)).decode()


def rows_not_under(spec: EncryptedField, key_id: str) -> models.QuerySet:
    return spec.model.objects.exclude(**{spec.field: ""}).filter(~Q(**{spec.key_id_field: key_id}))


def rewrap_batch(spec: EncryptedField, provider: KeyProvider, batch_size: int = 500) -> int:
    """Re-encrypt up to ``batch_size`` rows of ``spec`` under the primary key, in one transaction.

    Rows locked by another rotation worker are skipped, so several workers (or a rerun after a crash) share the
    work without doing any row twice; each batch commits on its own, so an interrupted rotation resumes where it
    stopped. Returns how many rows were re-encrypted.
    """
    with transaction.atomic():
        rows = list(
            rows_not_under(spec, provider.primary_key_id)
            .select_for_update(skip_locked=True)
            .order_by("pk")[:batch_size]
        )
        for row in rows:
            value = provider.rewrap(getattr(row, spec.field), context=context_for(row, spec.field))
            setattr(row, spec.field, value.token)
            setattr(row, spec.key_id_field, value.key_id)
        spec.model.objects.bulk_update(rows, [spec.field, spec.key_id_field])
        return len(rows)


def rewrap_all(*, batch_size: int = 500, max_batches: int | None = None) -> int:
    """Re-encrypt every registered field under the primary key; ``max_batches`` bounds one call's work."""
    provider = key_provider()
    done = batches = 0
    for spec in ENCRYPTED_FIELDS:
        while max_batches is None or batches < max_batches:
            count = rewrap_batch(spec, provider, batch_size)
            batches += 1
            done += count
            if count < batch_size:
                break
    return done


def rewrap_owed() -> bool:
    """Whether a key rotation made here left ciphertexts under an older key. Only for local keys: a rotation in
    Vault or KMS is followed by an explicit re-encryption, and this must not call the key service every minute;
    nor is a key merely added to FERNET_KEYS (no rotation in the keyring) re-encrypted behind the operator."""
    if not settings.KEY_PROVIDER_URI.startswith("local") or not keyring.load_state().generated:
        return False
    primary = key_provider().primary_key_id
    return any(rows_not_under(spec, primary).exists() for spec in ENCRYPTED_FIELDS)


def keys_still_in_use() -> set[str]:
    return {
        key_id
        for spec in ENCRYPTED_FIELDS
        for key_id in spec.model.objects.exclude(**{spec.field: ""})
        .values_list(spec.key_id_field, flat=True)
        .distinct()
    }


def retire_unused_keys() -> list[str]:
    """Retire every key except the primary that no stored ciphertext uses any more.

    Local keys are retired in the keyring file. Keys in Vault or KMS are the key service's to retire (Vault:
    raise ``min_decryption_version``; KMS: drop them from the previous keys, then disable them): FairLens
    records which of them no ciphertext needs any more, so an operator can retire them safely.
    """
    provider = key_provider()
    unused = set(provider.key_ids) - {provider.primary_key_id} - keys_still_in_use()
    if not uses_local_keys():
        audit_append(
            action="keys.rewrap_complete",
            object_type="encryption_key",
            object_id=provider.primary_key_id,
            payload={"primary_key_id": provider.primary_key_id, "unused_key_ids": sorted(unused)},
        )
        return []
    retired = keyring.retire_keys(unused)
    if retired:
        audit_append(
            action="keys.retire",
            object_type="encryption_key",
            object_id=",".join(retired),
            payload={"key_ids": retired},
        )
    return retired


def rotate_encryption_key(*, rotated_by: Any) -> dict[str, Any]:
    """Make a new primary key; stored ciphertexts are re-encrypted in the background (``rewrap_keys_task``),
    and old keys are retired once nothing uses them."""
    if not uses_local_keys():
        raise ApplicationError(
            "Rotate keys in the key service (Vault or KMS); FairLens then re-encrypts with "
            "POST /api/admin/reset_key?rewrap_only=true.",
            code="external_key_service",
            status_code=409,
        )
    previous = key_provider().key_ids
    with transaction.atomic():
        new_key_id = keyring.add_primary_key()
        pending = sum(rows_not_under(spec, new_key_id).count() for spec in ENCRYPTED_FIELDS)
        audit_append(
            action="keys.rotate",
            actor=rotated_by,
            object_type="encryption_key",
            object_id=new_key_id,
            payload={"new_key_id": new_key_id, "previous_key_ids": previous, "rows_to_reencrypt": pending},
        )
        transaction.on_commit(start_rewrap)
    return {"new_key_id": new_key_id, "previous_key_ids": previous, "rows_to_reencrypt": pending}


def rewrap_under_current_key(*, requested_by: Any) -> dict[str, Any]:
    """Re-encrypt every stored ciphertext under the provider's current primary key, without making a key.

    This is the second half of a rotation done outside FairLens: a new Vault transit key version or KMS key
    (or a new first key in FERNET_KEYS). Vault and KMS re-wrap inside the key service, so the plaintext never
    reaches FairLens. The work runs in ``rewrap_keys_task``, in batches that commit on their own and skip rows
    another worker holds, so calling this again while one runs, or after a worker died, resumes the work.
    """
    provider = key_provider()
    primary = provider.primary_key_id
    key_ids = provider.key_ids
    with transaction.atomic():
        pending = sum(rows_not_under(spec, primary).count() for spec in ENCRYPTED_FIELDS)
        audit_append(
            action="keys.rewrap",
            actor=requested_by,
            object_type="encryption_key",
            object_id=primary,
            payload={"primary_key_id": primary, "key_ids": key_ids, "rows_to_reencrypt": pending},
        )
        transaction.on_commit(enqueue_rewrap)
    return {"primary_key_id": primary, "key_ids": key_ids, "rows_to_reencrypt": pending}
