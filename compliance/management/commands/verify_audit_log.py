"""Verify the audit log: exit status 0 if intact, 1 with the first bad seq otherwise."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from compliance.verification import verify_log


class Command(BaseCommand):
    help = "Verify every audit entry, signature and checkpoint; exits 1 and names the first bad seq on failure."

    def handle(self, *args: Any, **options: Any) -> None:
        run = verify_log()
        if not run.ok:
            raise CommandError(f"FAIL at seq {run.first_bad_seq}: {run.problem}")
        size = run.checkpoint.tree_size if run.checkpoint else "none yet"
        self.stdout.write(f"OK: {run.checked_entries} entries verified; checkpoint size {size}")
