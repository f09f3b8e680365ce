"""Recompute prediction rollups from the stored predictions."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.ingestion.services import rebuild_rollups
from registry.models import ModelVersion


class Command(BaseCommand):
    help = "Recompute the hourly rollups of one model version (or all) from its stored predictions."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--model", help="Model name; with --model-version, only that version.")
        parser.add_argument("--model-version", help="Version of --model.")

    def handle(self, *args: Any, model: str | None = None, model_version: str | None = None, **options: Any) -> None:
        versions = ModelVersion.objects.select_related("model").order_by("model__name", "version")
        if model_version and not model:
            raise CommandError("--model-version needs --model.")
        if model:
            versions = versions.filter(model__name=model)
        if model_version:
            versions = versions.filter(version=model_version)
        if not versions.exists():
            raise CommandError("No such model version.")
        for version in versions:
            count = rebuild_rollups(model_version=version)
            self.stdout.write(f"{version}: rebuilt rollups from {count} predictions")
