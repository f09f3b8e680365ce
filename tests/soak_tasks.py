"""A tiny task for the broker soak test (tests/test_broker_soak.py); workers load it with ``--include``."""

from __future__ import annotations

from pathlib import Path

from celery import shared_task


@shared_task(name="tests.soak_tasks.record_arrival")
def record_arrival(ledger: str, index: int, padding: str = "") -> None:
    """Append ``index`` to the ledger file: one short O_APPEND write per run, so lines never interleave.

    ``padding`` only makes the message bigger, so writing its file takes longer.
    """
    with Path(ledger).open("a") as file:
        file.write(f"{index}\n")
