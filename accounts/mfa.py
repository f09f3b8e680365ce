"""Second factor: TOTP devices (django-otp) and one-time recovery codes.

Enrolment is two steps: ``totp_begin`` makes an unconfirmed device and returns its secret for the
authenticator app; ``totp_confirm`` checks the first code, confirms the device and issues recovery codes (shown
once, stored hashed). ``verify_second_factor`` checks a code at sign-in (TOTP or recovery code);
``verify_fresh_totp`` checks a TOTP code for a single sensitive action (decryption). A TOTP code verifies once:
django-otp remembers the last time step used, so a code seen at sign-in, or by an eavesdropper, is refused the
second time.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import RecoveryCode, User
from compliance.services import audit_append
from core.api.errors import ApplicationError
from core.roles import Role, roles_of

RECOVERY_CODE_COUNT = 10
# 16 base32 characters: 80 random bits, so a stolen hash cannot be searched back to its code.
_RECOVERY_CODE_CHARS = 16
MFA_ROLES = frozenset({Role.ADMIN.value, Role.AUDITOR.value})


class OtpRequired(ApplicationError):
    status_code = 401
    code = "otp_required"


class InvalidOtp(ApplicationError):
    status_code = 401
    code = "invalid_otp"


class MfaEnrolmentRequired(ApplicationError):
    status_code = 403
    code = "mfa_enrolment_required"


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str  # base32, what authenticator apps take
    otpauth_url: str
    digits: int
    period: int


def confirmed_totp(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()


def is_enrolled(user: Any) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def mfa_required_for(user: Any) -> bool:
    """Whether ``user`` must pass a second factor: admins and auditors when FAIRLENS_REQUIRE_MFA is on; anyone
    who enrolled, always."""
    if settings.FAIRLENS_REQUIRE_MFA and (roles_of(user) & MFA_ROLES or getattr(user, "pending_role", "")):
        return True
    return is_enrolled(user)


@transaction.atomic
def totp_begin(*, user: User) -> TotpEnrolment:
    """Start enrolment: a new unconfirmed device (replacing earlier unconfirmed ones). Refused once enrolled:
    replacing a working authenticator is done by an admin-independent path (recovery code, then re-enrol)."""
    if is_enrolled(user):
        raise ApplicationError(
            "An authenticator is already enrolled for this account.", code="already_enrolled", status_code=409
        )
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    device = TOTPDevice.objects.create(user=user, name="authenticator", confirmed=False)
    audit_append(action="mfa.enrolment_started", actor=user, object_type="user", object_id=str(user.pk))
    return TotpEnrolment(
        secret=base64.b32encode(device.bin_key).decode(),
        otpauth_url=device.config_url,
        digits=device.digits,
        period=device.step,
    )


def totp_confirm(*, user: User, otp: str) -> list[str]:
    """Confirm the pending device with its first code; returns the recovery codes (shown once)."""
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=False).order_by("-pk").first()
        if device is None:
            raise ApplicationError(
                "No enrolment in progress: start with POST /api/v1/accounts/mfa/totp/.",
                code="no_enrolment",
                status_code=409,
            )
        # Committed either way: a wrong code counts towards django-otp's throttling of the device.
        verified = bool(device.verify_token(_digits(otp)))
    if not verified:
        _raise_if_throttled(device, status_code=401)
        raise InvalidOtp("The code is wrong or expired.", details={"otp": ["wrong or expired code"]})
    with transaction.atomic():
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        codes = _replace_recovery_codes(user)
        audit_append(action="mfa.enrolled", actor=user, object_type="user", object_id=str(user.pk))
    return codes


@transaction.atomic
def recovery_codes_regenerate(*, user: User, otp: str) -> list[str]:
    """New recovery codes (the old ones stop working), against a fresh TOTP code."""
    verify_fresh_totp(user=user, otp=otp, purpose="recovery_codes")
    codes = _replace_recovery_codes(user)
    audit_append(action="mfa.recovery_codes_regenerated", actor=user, object_type="user", object_id=str(user.pk))
    return codes


def recovery_codes_left(user: Any) -> int:
    return RecoveryCode.objects.filter(user=user, used_at__isnull=True).count()


def verify_second_factor(*, user: User, otp: str | None) -> str:
    """Check the second factor at sign-in: a TOTP code, or one unused recovery code. Returns which was used."""
    if not otp or not str(otp).strip():
        raise OtpRequired(
            "This account signs in with a one-time code: send `otp` (authenticator code or recovery code).",
            details={"otp": ["required"]},
        )
    text = str(otp).strip()
    if _digits(text).isdigit() and len(_digits(text)) <= 8:
        if _verify_totp(user, _digits(text)):
            return "totp"
        _refuse_if_throttled(user)
    elif _use_recovery_code(user, text):
        audit_append(
            action="mfa.recovery_code_used",
            actor=user,
            object_type="user",
            object_id=str(user.pk),
            payload={"left": recovery_codes_left(user)},
        )
        return "recovery_code"
    audit_append(action="mfa.failed", actor=user, object_type="user", object_id=str(user.pk))
    raise InvalidOtp("The one-time code is wrong, expired or already used.", details={"otp": ["not accepted"]})


def verify_fresh_totp(*, user: Any, otp: str | None, purpose: str) -> None:
    """Check a TOTP code for one sensitive action, now (a sign-in some time ago does not count).

    Recovery codes are not accepted here: they are for getting back in, not for reading data.
    """
    if not is_enrolled(user):
        raise MfaEnrolmentRequired(
            "Enrol an authenticator first (POST /api/v1/accounts/mfa/totp/): this action needs a fresh code.",
            details={"otp": ["no authenticator enrolled"]},
        )
    if not otp or not str(otp).strip():
        # 403, not 401: the sign-in is fine, this action needs more (a 401 would make clients refresh tokens).
        raise OtpRequired(
            "Send `otp`: a current code from your authenticator app (each code is accepted once).",
            status_code=403,
            details={"otp": ["required"]},
        )
    if not _verify_totp(user, _digits(str(otp))):
        _refuse_if_throttled(user, status_code=403)
        audit_append(
            action="mfa.failed",
            actor=user,
            object_type="user",
            object_id=str(user.pk),
            payload={"purpose": purpose},
        )
        raise InvalidOtp(
            "The code is wrong, expired or already used; wait for the next code.",
            status_code=403,
            details={"otp": ["not accepted"]},
        )


def _verify_totp(user: Any, token: str) -> bool:
    # The row lock serialises two requests carrying the same code: the second sees last_t moved and fails.
    with transaction.atomic():
        device = TOTPDevice.objects.select_for_update().filter(user=user, confirmed=True).order_by("pk").first()
        return device is not None and bool(device.verify_token(token))


def _refuse_if_throttled(user: Any, status_code: int = 401) -> None:
    device = confirmed_totp(user)
    if device is not None:
        _raise_if_throttled(device, status_code=status_code)


def _raise_if_throttled(device: TOTPDevice, *, status_code: int) -> None:
    """django-otp refuses every code for a while after a wrong one (doubling each time): say so, since a right
    code refused without a reason sends people to re-type it, which only lengthens the wait."""
    allowed, details = device.verify_is_allowed()
    if not allowed:
        until = (details or {}).get("locked_until")
        seconds = max(1, int((until - timezone.now()).total_seconds()) + 1) if until else 1
        raise InvalidOtp(
            f"Too many wrong codes: wait {seconds} s, then use a new code.",
            status_code=status_code,
            details={"otp": [f"throttled for {seconds} s"]},
        )


def _digits(otp: str) -> str:
    return "".join(str(otp).split())


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def _hash_code(code: str) -> str:
    return hashlib.sha256(_normalise_code(code).encode()).hexdigest()


def _new_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(10)).decode()[:_RECOVERY_CODE_CHARS]
    return "-".join(raw[i : i + 4] for i in range(0, _RECOVERY_CODE_CHARS, 4))


def _replace_recovery_codes(user: User) -> list[str]:
    RecoveryCode.objects.filter(user=user).delete()
    codes = [_new_code() for _ in range(RECOVERY_CODE_COUNT)]
    RecoveryCode.objects.bulk_create([RecoveryCode(user=user, code_hash=_hash_code(code)) for code in codes])
    return codes


def _use_recovery_code(user: User, code: str) -> bool:
    # One conditional UPDATE: of two requests presenting the same code, exactly one marks it used.
    return bool(
        RecoveryCode.objects.filter(user=user, code_hash=_hash_code(code), used_at__isnull=True).update(
            used_at=timezone.now()
        )
    )


def check_decryption_second_factor(*, user: Any, otp: str | None) -> None:
    """The second factor compliance asks for at each decryption: a fresh TOTP code, accepted once, whenever MFA is
    required (FAIRLENS_REQUIRE_MFA) or the auditor has enrolled one; a stolen session or password alone reads
    nothing."""
    if settings.FAIRLENS_REQUIRE_MFA or is_enrolled(user):
        verify_fresh_totp(user=user, otp=otp, purpose="decrypt")
