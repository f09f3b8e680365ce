"""Logging filters."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

# Celery's lines for every task: beat's "Sending due task", the worker's "received" and "succeeded".
_CELERY_TASK_LOGGERS = {"celery.beat", "celery.worker.strategy", "celery.app.trace"}


class QuietPeriodicTasks(logging.Filter):
    """Log Celery's routine INFO lines about the given (frequent, periodic) tasks at DEBUG.

    A sweep every 10 s otherwise prints three lines per tick and buries what matters (alerts, deliveries,
    failures). Only INFO lines are lowered; warnings and errors about those tasks, and the tasks' own log lines,
    are untouched. A lowered line is still shown when its logger is enabled for DEBUG.
    """

    def __init__(self, tasks: Iterable[str] = ()) -> None:
        super().__init__()
        self.tasks = frozenset(tasks)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.INFO or record.name not in _CELERY_TASK_LOGGERS:
            return True
        if self._task_name(record) not in self.tasks:
            return True
        record.levelno, record.levelname = logging.DEBUG, "DEBUG"
        return logging.getLogger(record.name).isEnabledFor(logging.DEBUG)

    @staticmethod
    def _task_name(record: logging.LogRecord) -> object:
        args = record.args
        if isinstance(args, Mapping):
            return args.get("name")  # the worker's lines: {"name": ..., "id": ...}
        if isinstance(args, tuple) and len(args) == 2:
            return args[1]  # beat's line: (entry name, task name)
        return None
