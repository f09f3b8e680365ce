"""Writes for accounts: users and roles (with separation of duties), model-client keys, token revocation."""

from __future__ import annotations

import hashlib
import logging
from datetime import UTC, datetime, timedelta

from django.contrib.auth import authenticate
from django.contrib.auth.models import Group
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.signals import user_logged_in
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone
from rest_framework_simplejwt.exceptions import TokenBackendError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.state import token_backend
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken
from rest_framework_simplejwt.utils import get_md5_hash_password

from accounts.models import ModelClientKey, RefreshTokenRevocation, User
from accounts.roles import INCOMPATIBLE_ROLES, Role, assigned_role, primary_role, roles_of
from compliance.services import audit_append
from fairlens_site.api.errors import ApplicationError
from fairlens_site.client_ip import client_ip
from registry.models import MLModel

security_log = logging.getLogger("fairlens.security")

# How stale last_used_at may get before a request writes it again: one UPDATE a minute per key at most,
# instead of one per ingestion request.
KEY_LAST_USED_RESOLUTION = timedelta(seconds=60)


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
    password: str,
    role: str | None,
    email: str = "",
    validate: bool = True,
    created_by: User | None = None,
) -> User:
    """Create a user holding at most one role. ``validate=False`` skips password rules (demo seeding only)."""
    if User.objects.filter(username__iexact=username).exists():
        raise ApplicationError(f"The username {username!r} is taken.", code="conflict", status_code=409)
    user = User(username=username, email=email)
    if validate:
        _validated_password(password, user)
    user.set_password(password)
    user.is_staff = role == Role.ADMIN.value
    user.save()
    if role:
        user.groups.set([Group.objects.get(name=role)])
    audit_append(
        action="user.create",
        actor=created_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "role": role},
    )
    return user


@transaction.atomic
def user_set_role(*, user: User, role: str | None, changed_by: User | None) -> User:
    """Give ``user`` exactly ``role`` (or none). Nobody changes their own role; admin+auditor is refused."""
    if changed_by is not None and changed_by.pk == user.pk:
        raise ApplicationError("You cannot change your own role.", code="own_role", status_code=403)
    new_roles = {role} if role else set()
    check_separation_of_duties(roles=new_roles, is_superuser=user.is_superuser)
    previous = assigned_role(user)
    user.groups.set(list(Group.objects.filter(name__in=new_roles)))
    user.is_staff = role == Role.ADMIN.value or user.is_superuser
    user.save(update_fields=["is_staff"])
    user._fairlens_roles = None
    audit_append(
        action="user.role_change",
        actor=changed_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username, "role": role, "previous_role": previous},
    )
    security_log.info(
        "role changed user=%s role=%s by=%s", user.username, role or "-", changed_by.username if changed_by else "-"
    )
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
    for name, value in fields.items():
        setattr(user, name, value)
    user.save(update_fields=list(fields) or None)
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


@transaction.atomic
def user_set_password(*, user: User, password: str, changed_by: User | None = None) -> User:
    """Set a new password; every token issued before stops working (CHECK_REVOKE_TOKEN)."""
    user.set_password(_validated_password(password, user))
    user.save(update_fields=["password"])
    audit_append(
        action="user.password_change",
        actor=changed_by,
        object_type="user",
        object_id=str(user.pk),
        payload={"username": user.username},
    )
    revoke_all_refresh_tokens(user=user, reason="password_changed")
    return user


def issue_tokens(user: User) -> dict[str, object]:
    """A fresh access/refresh pair for ``user`` and the role the login answer reports."""
    refresh = RefreshToken.for_user(user)
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
    *, model: MLModel, name: str, created_by: User | None, expires_at: datetime | None = None
) -> tuple[ModelClientKey, str]:
    """Issue an API key for ``model``. Returns the row and the key, which is never retrievable again."""
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


def authenticate_user(*, request: HttpRequest, username: str, password: str) -> User:
    """Check a username and password through Django's backends (django-axes first, which counts failures).

    Raises ``LockedOut`` once django-axes has locked this username/address pair (even for the right
    password), ``InvalidCredentials`` otherwise. The message never says whether the username exists.
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
    # The same signal a session login sends: django-axes resets the failure count on it, and Django records
    # last_login.
    user_logged_in.send(sender=user.__class__, request=request, user=user)
    audit_append(
        action="auth.login",
        actor=user,
        object_type="user",
        object_id=str(user.pk),
        payload={"address": client["address"]},
    )
    return user


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
        return issue_tokens(user)
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
