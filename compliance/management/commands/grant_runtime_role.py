"""Grant the application's PostgreSQL runtime role its privileges: INSERT/SELECT only on audit tables."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DEFAULT_DB_ALIAS, transaction

from compliance.database_roles import RuntimeRoleError, grant_runtime_privileges


class Command(BaseCommand):
    help = (
        "Run as the tables' owner (the migration role) after migrate: gives ROLE, the login the application uses, "
        "ordinary read/write privileges but only INSERT and SELECT on audit entries, checkpoints and anchors."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", help="the existing runtime login role, e.g. fairlens_app")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS, help="database alias (default: default)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            with transaction.atomic(using=options["database"]):  # all grants or none
                statements = grant_runtime_privileges(options["role"], using=options["database"])
        except RuntimeRoleError as exc:
            raise CommandError(str(exc)) from exc
        if options["verbosity"] > 1:
            for statement in statements:
                self.stdout.write(statement)
        self.stdout.write(f"granted runtime privileges to {options['role']} ({len(statements)} statements)")
