"""Which Django model permissions each role group holds (used by the admin sites).

The API decides with ``accounts.permissions.HasRole``; these permissions drive the Django admin, so both
agree. Rules are per app label: which actions of add/change/delete/view each role gets on every model of
that app. The compliance app is view-only for everyone: audit entries cannot be changed through the admin.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps as global_apps

from core.roles import Role

ALL = ("add", "change", "delete", "view")
VIEW = ("view",)

ROLE_PERMISSION_RULES: dict[str, dict[str, tuple[str, ...]]] = {
    Role.ADMIN.value: {
        "accounts": ALL,
        "registry": ALL,
        "monitoring": ALL,
        "alerts": ALL,
        "django_celery_beat": ALL,
        "compliance": VIEW,
        "axes": ("view", "delete"),
        "token_blacklist": VIEW,
    },
    Role.AUDITOR.value: {
        "accounts": VIEW,
        "registry": VIEW,
        "monitoring": VIEW,
        "alerts": VIEW,
        "compliance": VIEW,
        "django_celery_beat": VIEW,
        "axes": VIEW,
    },
    Role.MONITOR.value: {
        "registry": VIEW,
        "monitoring": VIEW,
        "alerts": VIEW,
    },
}


def sync_role_permissions(apps: Any = global_apps) -> None:
    """Create the role groups if missing and set each group's permissions to exactly what the rules say."""
    from django.contrib.auth.management import create_permissions

    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    # Permissions are normally created after migrate finishes; make sure those of every app exist now.
    for app_config in apps.get_app_configs():
        # Historical app configs (inside a migration) have no models_module, which create_permissions needs.
        original = getattr(app_config, "models_module", None)
        app_config.models_module = original or True
        try:
            create_permissions(app_config, verbosity=0, apps=apps)
        finally:
            app_config.models_module = original

    for role, rules in ROLE_PERMISSION_RULES.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = [
            permission.pk
            for permission in permission_model.objects.select_related("content_type")
            if permission.content_type.app_label in rules
            and permission.codename.split("_", 1)[0] in rules[permission.content_type.app_label]
        ]
        group.permissions.set(wanted)


def sync_role_permissions_after_migrate(sender: Any, **kwargs: Any) -> None:
    if sender.name != "accounts":
        return
    sync_role_permissions(kwargs.get("apps") or global_apps)
