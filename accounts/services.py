"""Writes for accounts: users and roles (with separation of duties), model-client keys, token revocation."""

from __future__ import annotations

import hashlib
import logging
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import models, transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts import mfa
from accounts.models import ModelClientKey, PasswordResetToken, RefreshTokenRevocation, User
from compliance.services import audit_append
from core.api.errors import ApplicationError
from core.client_ip import client_ip
from core.roles import INCOMPATIBLE_ROLES, Role, assigned_role, primary_role, roles_of

security_log = logging.getLogger("fairlens.security")

# How stale last_used_at may get before a request writes it again: one UPDATE a minute per key at most,
# instead of one per ingestion request.
KEY_LAST_USED_RESOLUTION = timedelta(seconds=60)
# Roles granted only with a second person's approval (two-person rule).
APPROVED_ROLES = frozenset({Role.ADMIN.value, Role.AUDITOR.value})
# Claim in the JWTs of a sign-in that passed the second factor: the Unix time it was verified.
MFA_CLAIM = "mfa_at"


class SeparationOfDutiesError(ApplicationError):
    status_code = 400
    code = "separation_of_duties"


def check_separation_of_duties(*, roles: set[str] | frozenset[str], is_superuser: bool = False) -> None:
    """Raise ``SeparationOfDutiesError`` if these roles would let one person both administer and audit."""
    effective = set(roles) | ({Role.ADMIN.value} if is_superuser else set())
    if effective >= INCOMPATIBLE_ROLES:
        raise SeparationOfDutiesError(
            "A user cannot be both admin and auditor: those who administer FairLens must not audit it.",
            details={"role": ["admin and auditor are mutually exclusive"]},
        )


def _validated_password(password: str, user: User) -> str:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise ApplicationError(
            "The password is too weak.", code="weak_password", details={"password": exc.messages}
        ) from exc
    return password


@transaction.atomic
def user_create(
    *,
    username: str,
    role: str | None,
    email: str = "",
    password: str | None = None,
    validate: bool = True,
    created_by: User | None = None,
    approved: bool = False,
) -> User:
    """Create a user holding at most one role.

    Without ``password`` (the API) the account has no usable password: an invitation link is e-mailed so the
    person chooses their own, and whoever created the account never knows it. An admin or auditor role is only
    requested (``pending_role``) until another holder of that role approves it. ``approved=True`` grants the
    role at once and ``validate=False`` skips password rules: server commands (first user, demo seed) and test
    fixtures only; the API never passes them.
    """
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(f"The username {username!r} is taken.", code="conflict", status_code=409)
    if password is None and not email:
        raise ApplicationError(
            "An e-mail address is needed to send the invitation link.", details={"email": ["required"]}
        )
    user = User(username=username, email=email)
    if password is None:
        user.set_unusable_password()
    else:
        if validate:
            _validated_password(password, user)
        user.set_password(password)
    granted = role if approved or role not in APPROVED_ROLES else None
    user.is_staff = granted == Role.ADMIN.value
    if role in APPROVED_ROLES and not approved:
        user.pending_role = role
        user.pending_role_requested_by = created_by
        user.pending_role_requested_at = timezone.now()
    user.save()
    if granted:
        user.groups.set([Group.objects.get(name=granted)])
    audit_append(
        action="user.create",
        actor=created_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "role": granted, "pending_role": user.pending_role or None},
    )
    if password is None:
        _send_link(user=user, purpose=PasswordResetToken.Purpose.INVITATION, created_by=created_by)
    if role == Role.AUDITOR.value:
        notify_auditors(
            f"New auditor account {user.username}",
            f"{_who(created_by)} created the account {user.username} ({user.email or 'no e-mail'}) as auditor. "
            + (
                "It has no auditor rights until an existing auditor approves it "
                f"(POST /api/v1/accounts/users/{user.pk}/approve/). Approve only if you know this person."
                if not approved
                else "It was created on the server with the role granted."
            ),
        )
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str | None, changed_by: User | None, approved: bool = False) -> User:
    """Give ``user`` exactly ``role`` (or none). Nobody changes their own role; admin+auditor is refused.

    Taking roles away, or giving monitor, is immediate. Admin and auditor are requested: the user keeps their
    current role until another holder of the requested role approves (``user_approve_role``). ``approved=True``
    (server commands only) grants at once.
    """
    if changed_by is not None and changed_by.pk == user.pk:
        raise ApplicationError("You cannot change your own role.", code="own_role", status_code=403)
    new_roles = {role} if role else set()
    check_separation_of_duties(roles=new_roles, is_superuser=user.is_superuser)
    previous = assigned_role(user)
    if role in APPROVED_ROLES and not approved and previous != role:
        user.pending_role = role
        user.pending_role_requested_by = changed_by
        user.pending_role_requested_at = timezone.now()
        user.save(update_fields=["pending_role", "pending_role_requested_by", "pending_role_requested_at"])
        audit_append(
            action="user.role_requested",
            actor=changed_by,
            object_type="user",
            object_id=str(user.pk),
            payload={"username": user.username, "role": role, "current_role": previous},
        )
        security_log.info("role requested user=%s role=%s by=%s", user.username, role, _who(changed_by))
        if Role.AUDITOR.value in (role, previous):
            notify_auditors(
                f"Role change requested for {user.username}",
                f"{_who(changed_by)} asked to make {user.username} ({user.email or 'no e-mail'}) {role} "
                f"(now: {previous or 'no role'}). It takes effect only when an existing {role} approves it "
                f"(POST /api/v1/accounts/users/{user.pk}/approve/).",
            )
        return user
    _grant_role(user, role)
    audit_append(
        action="user.role_change",
        actor=changed_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "role": role, "previous_role": previous},
    )
    security_log.info("role changed user=%s role=%s by=%s", user.username, role or "-", _who(changed_by))
    if Role.AUDITOR.value in (role, previous) and role != previous:
        notify_auditors(
            f"Auditor role changed for {user.username}",
            f"{_who(changed_by)} changed the role of {user.username} from {previous or 'no role'} to "
            f"{role or 'no role'}.",
        )
    return user


@transaction.atomic
def user_approve_role(*, user: User, approved_by: User) -> User:
    """Grant ``user`` their requested admin or auditor role: the second person of the two-person rule.

    The approver must already hold that role, and be neither the requester nor the user. So an admin can
    neither create nor promote an auditor by themselves, and no admin makes another admin alone.
    """
    user = User.objects.select_for_update().get(pk=user.pk)
    role = user.pending_role
    if not role:
        raise ApplicationError(
            f"{user.username} has no role waiting for approval.", code="no_pending_role", status_code=409
        )
    if approved_by.pk == user.pk:
        raise ApplicationError("You cannot approve your own role.", code="own_approval", status_code=403)
    if user.pending_role_requested_by_id is not None and approved_by.pk == user.pending_role_requested_by_id:
        raise ApplicationError(
            "The person who requested a role cannot also approve it (two-person rule).",
            code="two_person_rule",
            status_code=403,
        )
    if role not in roles_of(approved_by):
        raise ApplicationError(
            f"Only an existing {role} can approve a new {role}.", code="two_person_rule", status_code=403
        )
    previous = assigned_role(user)
    check_separation_of_duties(roles={role}, is_superuser=user.is_superuser)
    requested_by = user.pending_role_requested_by
    _grant_role(user, role)
    audit_append(
        action="user.role_approved",
        actor=approved_by,
        object_type="user",
        object_id=str(user.pk),
        payload={
            "username": user.username,
            "role": role,
            "previous_role": previous,
            "requested_by": requested_by.username if requested_by else None,
        },
    )
    security_log.info("role approved user=%s role=%s by=%s", user.username, role, approved_by.username)
    if Role.AUDITOR.value in (role, previous):
        notify_auditors(
            f"{user.username} is now {role}",
            f"{approved_by.username} approved the {role} role of {user.username} (requested by {_who(requested_by)}).",
        )
    return user


def _grant_role(user: User, role: str | None) -> None:
    user.groups.set(list(Group.objects.filter(name__in={role} if role else set())))
    user.is_staff = role == Role.ADMIN.value or user.is_superuser
    user.pending_role = ""
    user.pending_role_requested_by = None
    user.pending_role_requested_at = None
    user.save(update_fields=["is_staff", "pending_role", "pending_role_requested_by", "pending_role_requested_at"])
    user._fairlens_roles = None


def _who(user: User | None) -> str:
    return user.username if user is not None else "The server"


def notify_auditors(subject: str, body: str) -> int:
    """E-mail every active auditor. Fails closed: if the auditors cannot be told, the change does not happen
    (the caller's transaction rolls back), so a privileged change can never go unnoticed by a mail outage."""
    recipients = sorted(
        set(
            User.objects.filter(groups__name=Role.AUDITOR.value, is_active=True)
            .exclude(email="")
            .values_list("email", flat=True)
        )
    )
    if recipients:
        _mail(f"[FairLens] {subject}", body, recipients)
    return len(recipients)


def _mail(subject: str, body: str, recipients: list[str]) -> None:
    try:
        send_mail(subject, body, None, recipients, fail_silently=False)
    except Exception as exc:  # smtplib errors, refused connections, DNS failures: all mean not sent
        security_log.error("mail not sent subject=%r error=%s", subject, type(exc).__name__)
        raise ApplicationError(
            "E-mail could not be sent; nothing was changed. Try again later.", code="mail_unavailable", status_code=503
        ) from exc


# --- Password resets and invitations: the user sets their own password ------------------------------------


def _token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def password_reset_link(
    *, user: User, purpose: str, created_by: User | None = None
) -> tuple[str, datetime, PasswordResetToken]:
    """A new one-time link for ``user`` (their older unused links stop working): (url, expiry, row)."""
    now = timezone.now()
    PasswordResetToken.objects.filter(user=user, used_at__isnull=True).update(used_at=now)
    lifetime = (
        timedelta(hours=settings.FAIRLENS_INVITATION_HOURS)
        if purpose == PasswordResetToken.Purpose.INVITATION
        else timedelta(minutes=settings.FAIRLENS_PASSWORD_RESET_MINUTES)
    )
    raw = secrets.token_urlsafe(32)
    row = PasswordResetToken.objects.create(
        user=user, token_hash=_token_hash(raw), purpose=purpose, created_by=created_by, expires_at=now + lifetime
    )
    return f"{settings.FAIRLENS_PUBLIC_URL}/password-reset/?token={raw}", row.expires_at, row


def _send_link(*, user: User, purpose: str, created_by: User | None) -> PasswordResetToken:
    """Make a one-time link and e-mail it to the user (nobody else ever sees it)."""
    if not user.email:
        raise ApplicationError(
            f"{user.username} has no e-mail address to send the link to.", details={"email": ["missing"]}
        )
    link, expires_at, row = password_reset_link(user=user, purpose=purpose, created_by=created_by)
    what = "Your FairLens account was created" if purpose == "invitation" else "A password reset was started"
    _mail(
        "[FairLens] Choose your password",
        f"{what} for {user.username} by {_who(created_by)}.\n\nChoose your password here (valid until "
        f"{expires_at:%Y-%m-%d %H:%M} UTC, usable once):\n{link}\n\nOr POST the token to "
        "/api/v1/accounts/password-reset/complete. If you did not expect this, tell your auditors.",
        [user.email],
    )
    return row


@transaction.atomic
def password_reset_start(*, user: User, requested_by: User | None) -> PasswordResetToken:
    """Start a reset that only the user can complete: a one-time, expiring link goes to the user's e-mail.

    The password stays as it is until the user completes the reset; a second factor stays enrolled, so a reset
    alone never hands an account to whoever started it.
    """
    row = _send_link(user=user, purpose=PasswordResetToken.Purpose.RESET, created_by=requested_by)
    audit_append(
        action="user.password_reset_started",
        actor=requested_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "expires_at": row.expires_at.isoformat()},
    )
    if Role.AUDITOR.value in roles_of(user) or user.pending_role == Role.AUDITOR.value:
        notify_auditors(
            f"Password reset started for auditor {user.username}",
            f"{_who(requested_by)} started a password reset for {user.username}; the link went to "
            f"{user.email}. If {user.username} did not ask for it, treat it as an incident.",
        )
    return row


@transaction.atomic
def password_reset_complete(*, token: str, password: str) -> User:
    """Set the password chosen by the holder of a valid reset or invitation link; the link is then spent."""
    row = (
        PasswordResetToken.objects.select_for_update()
        .select_related("user")
        .filter(token_hash=_token_hash(token or ""))
        .first()
    )
    if row is None or row.used_at is not None or row.expires_at <= timezone.now():
        raise ApplicationError(
            "This link is invalid, expired or already used; ask for a new one.",
            code="invalid_reset_token",
            details={"token": ["invalid, expired or already used"]},
        )
    user = row.user
    user.set_password(_validated_password(password, user))
    user.save(update_fields=["password"])
    row.used_at = timezone.now()
    row.save(update_fields=["used_at"])
    audit_append(
        action="user.password_reset_completed",
        actor=user,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "purpose": row.purpose},
    )
    revoke_all_refresh_tokens(user=user, reason="password_reset")
    return user


@transaction.atomic
def user_update(*, user: User, changed_by: User | None, **fields: object) -> User:
    """Update profile fields and ``is_active``; deactivation ends the user's sessions at once."""
    allowed = {"email", "first_name", "last_name", "is_active"}
    unknown = set(fields) - allowed
    if unknown:
        raise ApplicationError(f"Cannot update: {', '.join(sorted(unknown))}.")
    if fields.get("is_active") is False and changed_by is not None and changed_by.pk == user.pk:
        raise ApplicationError("You cannot deactivate yourself.", code="own_account", status_code=403)
    old_email = user.email
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields) or None)
    # Reset links go to this address: an auditor's changed address is something every auditor should see.
    if (
        "email" in fields
        and user.email != old_email
        and (Role.AUDITOR.value in roles_of(user) or user.pending_role == Role.AUDITOR.value)
    ):
        notify_auditors(
            f"E-mail address changed for auditor {user.username}",
            f"{_who(changed_by)} changed the e-mail address of {user.username} from {old_email or '(none)'} to "
            f"{user.email or '(none)'}.",
        )
    audit_append(
        action="user.update",
        actor=changed_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "fields": sorted(fields), "is_active": user.is_active},
    )
    if fields.get("is_active") is False:
        revoke_all_refresh_tokens(user=user, reason="deactivated")
    return user


def issue_tokens(user: User, *, mfa_at: int | None = None) -> dict[str, object]:
    """A fresh access/refresh pair for ``user`` and the role the login answer reports. ``mfa_at``: when the
    second factor was verified for this sign-in (carried over on refresh)."""
    refresh = RefreshToken.for_user(user)
    if mfa_at is not None:
        refresh[MFA_CLAIM] = int(mfa_at)
    roles = roles_of(user)
    return {
        "access_token": str(refresh.access_token),
        "refresh_token": str(refresh),
        "token_type": "Bearer",
        "expires_in": int(refresh.access_token.lifetime.total_seconds()),
        "role": primary_role(roles),
        "roles": sorted(roles),
    }


def revoke_all_refresh_tokens(*, user: User, reason: str) -> int:
    """Blacklist every outstanding refresh token of ``user``; returns how many were newly revoked."""
    outstanding = OutstandingToken.objects.filter(user=user, expires_at__gt=timezone.now()).exclude(
        blacklistedtoken__isnull=False
    )
    outstanding = list(outstanding)
    created = BlacklistedToken.objects.bulk_create(
        [BlacklistedToken(token=token) for token in outstanding], ignore_conflicts=True
    )
    RefreshTokenRevocation.objects.bulk_create(
        [RefreshTokenRevocation(token=token, reason=RefreshTokenRevocation.Reason.REVOKED) for token in outstanding],
        ignore_conflicts=True,
    )
    security_log.warning("refresh tokens revoked user=%s count=%s reason=%s", user.username, len(created), reason)
    audit_append(
        action="auth.tokens_revoked",
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "count": len(created), "reason": reason},
    )
    return len(created)


@transaction.atomic
def model_client_key_create(
    *, model: models.Model, name: str, created_by: User | None, expires_at: datetime | None = None
) -> tuple[ModelClientKey, str]:
    """Issue an API key for ``model`` (a ``registry.MLModel``: the key's foreign key names it, accounts imports
    nothing of registry). Returns the row and the key, which is never retrievable again."""
    if expires_at is not None and expires_at <= timezone.now():
        raise ApplicationError("The expiry time is in the past.", details={"expires_at": ["must be in the future"]})
    key, raw_key = ModelClientKey.objects.create_key(
        model=model, name=name, created_by=created_by, expiry_date=expires_at
    )
    audit_append(
        action="api_key.create",
        actor=created_by,
        object_type="api_key",
        object_id=key.prefix,
        payload={"model": model.name, "name": name, "expires_at": expires_at.isoformat() if expires_at else None},
    )
    return key, raw_key


@transaction.atomic
def model_client_key_revoke(*, key: ModelClientKey, revoked_by: User | None) -> ModelClientKey:
    """Revoke a key for good; the next request that presents it is refused."""
    if not key.revoked:
        key.revoked = True
        key.revoked_at = timezone.now()
        key.revoked_by = revoked_by
        key.save(update_fields=["revoked", "revoked_at", "revoked_by"])
        audit_append(
            action="api_key.revoke",
            actor=revoked_by,
            object_type="api_key",
            object_id=key.prefix,
            payload={"model": key.model.name},
        )
    return key


def model_client_key_mark_used(key: ModelClientKey) -> None:
    """Record that ``key`` was used, at most once per ``KEY_LAST_USED_RESOLUTION``, in one conditional UPDATE."""
    now = timezone.now()
    ModelClientKey.objects.filter(pk=key.pk).filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - KEY_LAST_USED_RESOLUTION)
    ).update(last_used_at=now)


# --- Sessions (JWT) --------------------------------------------------------------------------------------


class InvalidCredentials(ApplicationError):
    status_code = 401
    code = "invalid_credentials"


class LockedOut(ApplicationError):
    status_code = 429
    code = "locked_out"


class InvalidToken(ApplicationError):
    status_code = 401
    code = "token_not_valid"


class ApprovalPending(ApplicationError):
    status_code = 403
    code = "approval_pending"


@dataclass(frozen=True)
class SignIn:
    user: User
    # Unix time the second factor was verified; None when the account has none (yet).
    mfa_at: int | None
    # The account must enrol an authenticator before anything else (FAIRLENS_REQUIRE_MFA, admin or auditor).
    must_enrol: bool


def authenticate_user(*, request: HttpRequest, username: str, password: str, otp: str | None = None) -> SignIn:
    """Check a username and password through Django's backends (django-axes first, which counts failures), then
    the second factor of an enrolled account.

    Raises ``LockedOut`` once django-axes has locked this username/address pair (even for the right
    password), ``InvalidCredentials`` otherwise. The message never says whether the username exists. An account
    whose admin or auditor role still waits for approval, and holds no other role, cannot sign in. A wrong
    one-time code counts as a failed login for django-axes.
    """
    user = authenticate(request, username=username, password=password)
    client = {"username_sha256": _fingerprint(username), "address": client_ip(request)}
    if getattr(request, "axes_locked_out", False):
        audit_append(action="auth.locked_out", object_type="login", payload=client)
        raise LockedOut("Too many failed login attempts.")
    if user is None or not user.is_active:
        security_log.warning("login failed username_hash=%s", client["username_sha256"])
        audit_append(action="auth.login_failed", object_type="login", payload=client)
        raise InvalidCredentials("Invalid username or password.")
    if user.pending_role and not roles_of(user):
        audit_append(action="auth.approval_pending", actor=user, object_type="user", object_id=str(user.pk))
        raise ApprovalPending(
            f"This account's {user.pending_role} role waits for approval by an existing {user.pending_role}."
        )
    mfa_at = None
    must_enrol = False
    if mfa.is_enrolled(user):
        try:
            method = mfa.verify_second_factor(user=user, otp=otp)
        except mfa.InvalidOtp:
            user_login_failed.send(sender=__name__, credentials={"username": username}, request=request)
            raise
        mfa_at = int(time.time())
        client["mfa"] = method
    elif mfa.mfa_required_for(user):
        must_enrol = True
        client["mfa"] = "enrolment_required"
    # The same signal a session login sends: django-axes resets the failure count on it, and Django records
    # last_login.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    audit_append(
        action="auth.login",
        actor=user,
        object_type="user",
        object_id=str(user.pk),
        payload={k: v for k, v in client.items() if k != "username_sha256"},
    )
    return SignIn(user=user, mfa_at=mfa_at, must_enrol=must_enrol)


def _fingerprint(value: str) -> str:
    # Failed usernames are often passwords typed in the wrong box: log a short hash, never the text.
    return hashlib.sha256(value.encode()).hexdigest()[:16]


def _decode_refresh(raw_token: str) -> dict[str, object]:
    """Verify signature, expiry, audience and issuer; return the claims of a refresh token."""
    try:
        payload = token_backend.decode(raw_token, verify=True)
    except TokenBackendError as exc:
        raise InvalidToken("The refresh token is invalid or expired.") from exc
    if payload.get(jwt_settings.TOKEN_TYPE_CLAIM) != "refresh" or not payload.get(jwt_settings.JTI_CLAIM):
        raise InvalidToken("This is not a refresh token.")
    return payload


def refresh_session(*, raw_refresh: str) -> dict[str, object]:
    """Exchange a refresh token for a new access token and a new refresh token (rotation).

    The old refresh token is blacklisted as rotated. Presenting a rotated-away token again is treated as theft
    (someone holds a copy): every refresh token of that user is revoked, which signs all of the user's
    sessions out, and a security event is logged. A token that was logged out, or revoked with all sessions,
    is only refused: the user did that on purpose, and nobody else is signed out.
    """
    payload = _decode_refresh(raw_refresh)
    user = User.objects.filter(pk=payload.get(jwt_settings.USER_ID_CLAIM)).first()
    if user is None or not user.is_active:
        raise InvalidToken("No active account for this token.")
    if payload.get(jwt_settings.REVOKE_TOKEN_CLAIM) != get_md5_hash_password(user.password):
        raise InvalidToken("The password changed since this token was issued.")
    revoked, earlier_reason = _blacklist_once(raw_refresh, payload, user, RefreshTokenRevocation.Reason.ROTATED)
    if revoked:
        # The second factor was passed at sign-in; refreshing keeps that sign-in's time, never renews it.
        mfa_at = payload.get(MFA_CLAIM)
        return issue_tokens(user, mfa_at=int(mfa_at) if isinstance(mfa_at, int) else None)
    if earlier_reason == RefreshTokenRevocation.Reason.ROTATED:
        # Outside the rotation's transaction: the revocation must stand although this request fails.
        revoke_all_refresh_tokens(user=user, reason="refresh_token_reuse")
        raise InvalidToken(
            "This refresh token was already used; all sessions of this account were signed out.", code="token_reused"
        )
    if earlier_reason == RefreshTokenRevocation.Reason.LOGGED_OUT:
        raise InvalidToken("This refresh token was logged out; sign in again.", code="token_logged_out")
    raise InvalidToken("This refresh token was revoked; sign in again.", code="token_revoked")


@transaction.atomic
def _blacklist_once(
    raw_refresh: str, payload: dict[str, object], user: User | None, reason: str
) -> tuple[bool, str | None]:
    """Blacklist the token for ``reason``. Returns (True, None) if this call revoked it, else (False, the reason
    it was revoked for earlier; None if unrecorded). The row lock makes concurrent reuse lose the race."""
    outstanding, _ = OutstandingToken.objects.select_for_update().get_or_create(
        jti=payload[jwt_settings.JTI_CLAIM],
        defaults={
            "user": user,
            "token": raw_refresh,
            "expires_at": datetime.fromtimestamp(int(payload["exp"]), tz=UTC),
        },
    )
    _, created = BlacklistedToken.objects.get_or_create(token=outstanding)
    if created:
        RefreshTokenRevocation.objects.update_or_create(token=outstanding, defaults={"reason": reason})
        return True, None
    earlier = RefreshTokenRevocation.objects.filter(token=outstanding).values_list("reason", flat=True).first()
    return False, earlier


def logout_session(*, raw_refresh: str) -> bool:
    """Revoke a refresh token. Returns False when it was already revoked (logging out twice is harmless)."""
    payload = _decode_refresh(raw_refresh)
    user = User.objects.filter(pk=payload.get(jwt_settings.USER_ID_CLAIM)).first()
    revoked, _ = _blacklist_once(raw_refresh, payload, user, RefreshTokenRevocation.Reason.LOGGED_OUT)
    return revoked
