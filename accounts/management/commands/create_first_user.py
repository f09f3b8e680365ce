"""Create the first admin or the first auditor, on the server (the two-person rule needs someone to start it)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from accounts import services
from accounts.models import PasswordResetToken, User
from core.api.errors import ApplicationError
from core.roles import Role


class Command(BaseCommand):
    help = (
        "Create the first admin or auditor account, only while nobody holds that role. Every later admin or "
        "auditor is requested through the API and approved by an existing one. The person chooses their "
        "password through the link e-mailed to --email (printed here too with --print-link)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--role", required=True, choices=[Role.ADMIN.value, Role.AUDITOR.value])
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--print-link",
            action="store_true",
            help="Also print the one-time link (for a server without working e-mail).",
        )

    def handle(self, *args: Any, role: str, username: str, email: str, print_link: bool, **options: Any) -> None:
        with transaction.atomic():
            holders = User.objects.filter(groups__name=role, is_active=True)
            if role == Role.ADMIN.value:
                holders = holders | User.objects.filter(is_superuser=True, is_active=True)
            if holders.exists():
                raise CommandError(
                    f"An active {role} exists already: new {role}s are requested through the API "
                    f"(POST /api/v1/accounts/users/) and approved by an existing {role}."
                )
            try:
                user = services.user_create(username=username, email=email, role=role, approved=True)
            except ApplicationError as exc:
                raise CommandError(exc.message) from exc
        self.stdout.write(f"created {user.username} ({role}); an invitation link was e-mailed to {email}")
        if print_link:
            # The e-mailed token is not recoverable from its hash: issue a fresh one for the console.
            link, expires_at, _ = services.password_reset_link(user=user, purpose=PasswordResetToken.Purpose.INVITATION)
            self.stdout.write(
                f"one-time link, replacing the e-mailed one (valid until {expires_at:%Y-%m-%d %H:%M} UTC): {link}"
            )
