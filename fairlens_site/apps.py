"""Project-level app configs."""

from django.contrib.admin.apps import AdminConfig


class FairLensAdminConfig(AdminConfig):
    """Django admin whose default site admits only the admin role (see core.admin_sites)."""

    default_site = "core.admin_sites.FairLensAdminSite"
