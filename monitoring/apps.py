from django.apps import AppConfig


class MonitoringConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "monitoring"
    verbose_name = "Fairness monitoring"

    def ready(self) -> None:
        from core.api.exceptions import answer_as_bad_input
        from monitoring.checks.services import enqueue_ingestion_check
        from monitoring.fairness.errors import FairnessInputError
        from monitoring.signals import predictions_stored

        # The engine's input errors (a missing column, a bad value) are the client's mistake: 400, not 500.
        answer_as_bad_input(FairnessInputError)
        # Ingestion sits below the checks, so it announces new data and the checks act on it.
        predictions_stored.connect(enqueue_ingestion_check, dispatch_uid="fairlens-check-after-ingestion")
