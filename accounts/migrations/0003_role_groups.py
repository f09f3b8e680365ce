"""Create the role groups monitor, auditor and admin with their Django permissions."""

from django.db import migrations


def create_role_groups(apps, schema_editor):  # noqa: ANN001 - migration signature
    from accounts.role_permissions import sync_role_permissions

    sync_role_permissions(apps)


def remove_role_groups(apps, schema_editor):  # noqa: ANN001 - migration signature
    apps.get_model("auth", "Group").objects.filter(name__in=["monitor", "auditor", "admin"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_modelclientkey_scope"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_role_groups, remove_role_groups)]
