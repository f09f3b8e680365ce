"""Users and model-client API keys."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class User(AbstractUser):
    """A person using FairLens. Roles are Django groups (see ``core.roles``).

    Admin and auditor are granted by two people: the request sets ``pending_role``, and the role group is given
    only when another holder of that role approves (``accounts.services.user_approve_role``).
    """

    pending_role = models.CharField(
        max_length=16,
        blank=True,
        default="",
        choices=[("admin", "Admin"), ("auditor", "Auditor")],
        help_text="A requested admin or auditor role, waiting for approval by another holder of that role.",
    )
    pending_role_requested_by = models.ForeignKey(
        "self", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    pending_role_requested_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("username",)


class PasswordResetToken(models.Model):
    """A one-time, expiring link that lets a user choose their own password (after a reset or an invitation).

    Only a SHA-256 of the token is stored; the token itself exists in the e-mail sent to the user. Nobody but the
    user ever sets a password.
    """

    class Purpose(models.TextChoices):
        RESET = "reset", "password reset"
        INVITATION = "invitation", "new account"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at",)

    def __str__(self) -> str:
        return f"{self.purpose} for user {self.user_id}"


class RecoveryCode(models.Model):
    """A one-time code that stands in for the TOTP code at sign-in when the authenticator is lost. Hashed."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=("user", "code_hash"), name="recovery_code_unique_per_user")]

    def __str__(self) -> str:
        return f"recovery code of user {self.user_id}"


class ModelClientKey(AbstractAPIKey):
    """An API key for a model client, scoped to one registered model.

    Only a hash of the key is stored; the key itself is shown once, at creation. The 8-character prefix stays
    visible so people can tell keys apart. Revocation is permanent.
    """

    model = models.ForeignKey("registry.MLModel", on_delete=models.PROTECT, related_name="client_keys")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "model client API key"
        verbose_name_plural = "model client API keys"
        ordering = ("-created",)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class ModelClientPrincipal:
    """``request.user`` for a request authenticated with a model-client API key (it is not a person)."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    is_model_client = True
    pk = None
    id = None

    def __init__(self, key: ModelClientKey) -> None:
        self.key = key
        self.model_id = key.model_id
        self.throttle_ident = f"key:{key.prefix}"

    def get_username(self) -> str:
        return f"api-key:{self.key.prefix}"

    def has_perm(self, perm: str, obj: object = None) -> bool:
        return False

    def has_module_perms(self, app_label: str) -> bool:
        return False

    def __str__(self) -> str:
        return self.get_username()


class RefreshTokenRevocation(models.Model):
    """Why a refresh token was revoked. simplejwt's blacklist only says *that* it was; the reason decides what
    presenting it again means: a rotated-away token in use again is a theft signal (someone kept a copy),
    while a logged-out or otherwise revoked token is merely refused."""

    class Reason(models.TextChoices):
        ROTATED = "rotated", "replaced by a newer token on refresh"
        LOGGED_OUT = "logged_out", "logged out"
        REVOKED = "revoked", "revoked with all of the user's sessions"

    token = models.OneToOneField(
        "token_blacklist.OutstandingToken", on_delete=models.CASCADE, primary_key=True, related_name="revocation"
    )
    reason = models.CharField(max_length=16, choices=Reason.choices)
    revoked_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.token_id}: {self.reason}"
