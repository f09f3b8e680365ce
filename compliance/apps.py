from django.apps import AppConfig
from django.db.models.signals import post_save


class ComplianceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "compliance"
    verbose_name = "Compliance and audit"

    def ready(self) -> None:
        from django.contrib.admin.models import LogEntry

        from compliance.admin_actions import audit_admin_action

        # The admin writes a LogEntry inside the transaction of every change it makes; auditing it there puts
        # admin actions in the signed log with the change itself.
        post_save.connect(audit_admin_action, sender=LogEntry, dispatch_uid="fairlens-audit-admin-actions")
