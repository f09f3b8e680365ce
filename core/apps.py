"""The shared plumbing every app builds on: API errors and envelope, roles, middleware, health, outages."""

from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "FairLens core"

    def ready(self) -> None:
        from core import checks  # noqa: F401 - registers the project's system checks
