"""Start the demo prediction stream again from drift 0 (make run does this at every start)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from demo import stream as demo_stream


class Command(BaseCommand):
    help = "Reset the demo stream so its drift ramps up again from 0."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--reset", action="store_true", help="Forget the stream's start time.")

    def handle(self, *args: Any, reset: bool, **options: Any) -> None:
        if reset:
            demo_stream.reset()
            self.stdout.write("demo stream reset: drift ramps up from 0 at the next tick")
