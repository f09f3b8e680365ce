from django.apps import AppConfig


class AlertsConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring.alerts"
    label = "alerts"  # migrations, content types and permissions keep the label
    verbose_name = "Alerts and notifications"

    def ready(self) -> None:
        from monitoring.alerts import receivers
        from monitoring.signals import check_stored, checks_dispatching, evidence_resets

        check_stored.connect(receivers.apply_stored_check, dispatch_uid="fairlens-alerts-apply-check")
        evidence_resets.connect(receivers.resolved_subjects, dispatch_uid="fairlens-alerts-evidence-resets")
        checks_dispatching.connect(receivers.ensure_endpoint_before_checks, dispatch_uid="fairlens-alerts-endpoint")
