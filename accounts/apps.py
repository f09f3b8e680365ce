from django.apps import AppConfig
from django.db.models.signals import post_migrate


class AccountsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "accounts"
    verbose_name = "Accounts and roles"

    def ready(self) -> None:
        from accounts import schema  # noqa: F401 - registers the API key scheme with drf-spectacular
        from accounts.mfa import check_decryption_second_factor
        from accounts.role_permissions import sync_role_permissions_after_migrate
        from compliance.field_encryption import install_second_factor_check

        # Compliance decrypts only after this check; it cannot import accounts (a higher layer) to find it.
        install_second_factor_check(check_decryption_second_factor)

        # Later apps add models (and so permissions) after the role groups exist; keep the groups in step.
        post_migrate.connect(sync_role_permissions_after_migrate, dispatch_uid="fairlens-sync-role-permissions")
