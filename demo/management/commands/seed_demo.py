"""Create the demo users admin, auditor and monitor (idempotent)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.models import User
from core.roles import Role, assigned_role

DEMO_USERS = (("admin", Role.ADMIN), ("auditor", Role.AUDITOR), ("monitor", Role.MONITOR))


class Command(BaseCommand):
    help = (
        "Create the demo users admin, auditor and monitor with passwords from ADMIN_PASSWORD, AUDITOR_PASSWORD "
        "and MONITOR_PASSWORD. Existing users keep their password unless --reset-passwords is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--reset-passwords",
            action="store_true",
            help="Set the passwords of existing demo users from the environment again.",
        )
        parser.add_argument("--dry-run", action="store_true", help="Say what would change, change nothing.")

    def handle(self, *args: Any, reset_passwords: bool = False, dry_run: bool = False, **options: Any) -> None:
        passwords = settings.FAIRLENS_DEMO_PASSWORDS
        if not settings.DEBUG:
            defaults = [name for name, _ in DEMO_USERS if passwords[name] == settings.FAIRLENS_DEMO_DEFAULT_PASSWORD]
            if defaults:
                raise CommandError(
                    f"Refusing to create demo users with the default password ({', '.join(defaults)}) while "
                    "DEBUG is off. Set ADMIN_PASSWORD, AUDITOR_PASSWORD and MONITOR_PASSWORD."
                )
        with transaction.atomic():
            for username, role in DEMO_USERS:
                self._ensure_user(username, role.value, passwords[username], reset_passwords, dry_run)
            if dry_run:
                transaction.set_rollback(True)

    def _ensure_user(self, username: str, role: str, password: str, reset_password: bool, dry_run: bool) -> None:
        user = User.objects.filter(username=username).first()
        prefix = "[dry run] " if dry_run else ""
        if user is None:
            # A server command: the demo roles are granted at once, as create_first_user grants the first ones.
            services.user_create(username=username, password=password, role=role, validate=False, approved=True)
            self.stdout.write(f"{prefix}created {username} ({role})")
            return
        changes = []
        if assigned_role(user) != role:
            services.user_set_role(user=user, role=role, changed_by=None, approved=True)
            changes.append(f"role -> {role}")
        if reset_password:
            user.set_password(password)
            user.save(update_fields=["password"])
            services.revoke_all_refresh_tokens(user=user, reason="demo_password_reset")
            changes.append("password reset")
        self.stdout.write(f"{prefix}{username}: " + (", ".join(changes) if changes else "unchanged"))
