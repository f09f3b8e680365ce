"""Run the shipped webhook receiver (alerts/webhooks/receiver.py) with the default endpoint's secret: the
make-run stand-in for a customer's system, printing each verified delivery."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from alerts.webhooks import receiver


class Command(BaseCommand):
    help = "Receive and verify FairLens webhooks on a local port (demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--db", default=str(settings.VAR_DIR / "demo-receiver.sqlite3"))

    def handle(self, *args: Any, port: int, db: str, **options: Any) -> None:
        if not settings.FAIRLENS_WEBHOOK_SECRET:
            raise CommandError("WEBHOOK_SECRET is not set; the receiver could not verify anything.")
        os.environ["WEBHOOK_SECRET"] = settings.FAIRLENS_WEBHOOK_SECRET
        receiver.main(["--host", "127.0.0.1", "--port", str(port), "--db", db])
