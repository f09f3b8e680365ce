from django.apps import AppConfig


class DemoConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "demo"
    verbose_name = "Demo and seed scenarios"

    def ready(self) -> None:
        from demo.receivers import retrain_when_requested
        from monitoring.alerts.signals import retraining_requested

        retraining_requested.connect(retrain_when_requested, dispatch_uid="fairlens-demo-retraining")
