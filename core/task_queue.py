"""Enqueue a Celery task by its registered name.

A service that must start work in the background names the task instead of importing the task module: task
modules are entry points that call services, so importing them from a service would point an import upwards
(HackSoft's styleguide; docs/architecture.md). ``send_task`` would also send by name, but it ignores
``task_always_eager``, so the embedded defaults and the tests would stop running the real task; this looks the
task up in the app's registry and calls ``apply_async``, which honours it.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from celery.result import AsyncResult


def registered_task(name: str) -> Any:
    """The task registered as ``name``. Outside a worker the task modules are imported on first use, as the
    worker's autodiscovery imports them (``app.autodiscover_tasks()`` in fairlens_site/celery.py)."""
    if name not in current_app.tasks:
        current_app.loader.import_default_modules()
    try:
        return current_app.tasks[name]
    except KeyError:
        raise LookupError(f"No Celery task is registered as {name!r}.") from None


def enqueue(name: str, *args: Any, **options: Any) -> AsyncResult:
    """``apply_async`` of the task registered as ``name`` with positional ``args`` and Celery ``options``."""
    return registered_task(name).apply_async(args=args, **options)
