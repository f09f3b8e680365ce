"""Run the shipped webhook receiver (alerts/webhooks/receiver.py) with the default endpoint's secret: the
make-run stand-in for a customer's system, printing each verified delivery.

The port is DEMO_RECEIVER_PORT (settings.FAIRLENS_DEMO_RECEIVER_PORT). Under honcho, one process exiting stops
all of them, so ``--optional`` (the Procfile's choice) never exits on a failure: a busy port is reported once
and retried until it is free, anything else is reported and the process waits to be stopped.
"""

from __future__ import annotations

import errno
import logging
import os
import signal
import time
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from monitoring.alerts.webhooks import receiver

logger = logging.getLogger("fairlens.demo_receiver")
BIND_RETRY_SECONDS = 2.0


def _stop(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # the receiver closes its socket and returns; the process exits 0


class Command(BaseCommand):
    help = "Receive and verify FairLens webhooks on a local port (demo)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=None, help="default: DEMO_RECEIVER_PORT")
        parser.add_argument("--db", default=str(settings.VAR_DIR / "demo-receiver.sqlite3"))
        parser.add_argument(
            "--optional",
            action="store_true",
            help="on a failure, report it and keep running instead of exiting (process managers such as "
            "honcho stop every process when one exits)",
        )

    def handle(self, *args: Any, port: int | None, db: str, optional: bool, **options: Any) -> None:
        signal.signal(signal.SIGTERM, _stop)
        port = settings.FAIRLENS_DEMO_RECEIVER_PORT if port is None else port
        try:
            try:
                self._serve(port, db, optional=optional)
            except Exception as exc:
                if not optional:
                    raise
                logger.error("demo receiver stopped: %s; FairLens keeps running without it", exc)
                self._idle()
        except KeyboardInterrupt:
            return

    def _serve(self, port: int, db: str, *, optional: bool) -> None:
        if not settings.FAIRLENS_WEBHOOK_SECRET:
            raise CommandError("WEBHOOK_SECRET is not set; the receiver could not verify anything.")
        os.environ["WEBHOOK_SECRET"] = settings.FAIRLENS_WEBHOOK_SECRET
        reported = False
        while True:
            try:
                receiver.main(["--host", "127.0.0.1", "--port", str(port), "--db", db])
                return
            except OSError as exc:
                if not optional or exc.errno not in (errno.EADDRINUSE, errno.EACCES):
                    raise
                if not reported:
                    logger.error(
                        "demo receiver: port %s on 127.0.0.1 is in use (%s); webhooks to the default endpoint "
                        "fail until it is free. Waiting for it; set DEMO_RECEIVER_PORT to use another port.",
                        port,
                        exc.strerror,
                    )
                    reported = True
                time.sleep(BIND_RETRY_SECONDS)

    @staticmethod
    def _idle() -> None:
        while True:
            time.sleep(3600)
