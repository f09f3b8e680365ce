"""Periodic account maintenance."""

from __future__ import annotations

from celery import shared_task
from django.core.management import call_command


@shared_task(name="accounts.tasks.flush_expired_tokens_task")
def flush_expired_tokens_task() -> None:
    """Delete expired refresh tokens and their blacklist entries (simplejwt keeps them otherwise)."""
    call_command("flushexpiredtokens")
