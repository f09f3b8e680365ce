"""Admin for users (role as one choice, separation of duties enforced) and model-client API keys."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.exceptions import ValidationError
from django.http import HttpRequest
from rest_framework_api_key.models import APIKey

from accounts import services
from accounts.admin_sites import ReadOnlyAdmin, auditor_site
from accounts.models import ModelClientKey, User
from accounts.roles import Role, assigned_role, roles_of
from fairlens_site.api.errors import ApplicationError

# The library's own key model is unused (FairLens keys are ModelClientKey, scoped to a model).
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)

KEY_FIELDS = (
    "prefix",
    "name",
    "model",
    "created",
    "created_by",
    "expiry_date",
    "last_used_at",
    "revoked",
    "revoked_at",
    "revoked_by",
)
ROLE_CHOICES = [("", "— no role —"), *Role.choices]


class _RoleFormMixin(forms.Form):
    role = forms.ChoiceField(
        choices=ROLE_CHOICES, required=False, help_text="One role per person. Admin and auditor are never combined."
    )
    # Set by UserAdmin.get_form: who is editing, so nobody can change their own role.
    editing_user: User | None = None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        role = cleaned.get("role") or None
        instance = self.instance
        try:
            services.check_separation_of_duties(
                roles={role} if role else set(), is_superuser=bool(instance.is_superuser)
            )
        except ApplicationError as exc:
            raise ValidationError({"role": exc.message}) from exc
        role_changes = instance.pk is None or assigned_role(instance) != role
        if role_changes and instance.pk and self.editing_user is not None and self.editing_user.pk == instance.pk:
            raise ValidationError({"role": "You cannot change your own role."})
        return cleaned


class UserAdminChangeForm(_RoleFormMixin, UserChangeForm):
    class Meta(UserChangeForm.Meta):
        model = User
        fields = ("username", "email", "first_name", "last_name", "is_active", "password")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.initial["role"] = assigned_role(self.instance) or ""


class UserAdminCreationForm(_RoleFormMixin, AdminUserCreationForm):
    class Meta(AdminUserCreationForm.Meta):
        model = User
        fields = ("username",)


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    """Users with one role each; raw group and permission editing is hidden so roles stay the single truth."""

    form = UserAdminChangeForm
    add_form = UserAdminCreationForm
    list_display = ("username", "email", "role_names", "is_active", "last_login")
    list_filter = ("is_active", "groups")
    fieldsets = (
        (None, {"fields": ("username", "password")}),
        ("Profile", {"fields": ("first_name", "last_name", "email")}),
        ("Access", {"fields": ("role", "is_active")}),
        ("Dates", {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "role", "password1", "password2")}),)
    readonly_fields = ("last_login", "date_joined")

    @admin.display(description="roles")
    def role_names(self, obj: User) -> str:
        return ", ".join(sorted(roles_of(obj))) or "—"

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        form = super().get_form(request, obj, change=change, **kwargs)
        form.editing_user = request.user
        return form

    def save_model(self, request: HttpRequest, obj: User, form: forms.Form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        role = form.cleaned_data.get("role") or None
        if assigned_role(obj) != role:
            services.user_set_role(user=obj, role=role, changed_by=request.user)


@admin.register(ModelClientKey)
class ModelClientKeyAdmin(admin.ModelAdmin):
    """Keys are issued and revoked through the API (the key is shown once there); the admin lists them."""

    list_display = ("prefix", "name", "model", "created", "last_used_at", "revoked", "expiry_date")
    list_filter = ("revoked", "model")
    search_fields = ("prefix", "name", "model__name")
    fields = KEY_FIELDS
    readonly_fields = fields
    actions = ("revoke_selected",)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.action(description="Revoke selected keys (permanent)")
    def revoke_selected(self, request: HttpRequest, queryset: Any) -> None:
        for key in queryset:
            services.model_client_key_revoke(key=key, revoked_by=request.user)
        messages.success(request, f"Revoked {queryset.count()} key(s).")


@admin.register(User, site=auditor_site)
class UserAuditorAdmin(ReadOnlyAdmin):
    list_display = ("username", "role_names", "is_active", "last_login", "date_joined")
    fields = ("username", "email", "is_active", "last_login", "date_joined")
    search_fields = ("username", "email")

    @admin.display(description="roles")
    def role_names(self, obj: User) -> str:
        return ", ".join(sorted(roles_of(obj))) or "—"


@admin.register(ModelClientKey, site=auditor_site)
class ModelClientKeyAuditorAdmin(ReadOnlyAdmin):
    list_display = ("prefix", "name", "model", "created", "last_used_at", "revoked")
    fields = KEY_FIELDS
