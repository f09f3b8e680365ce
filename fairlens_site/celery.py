"""The Celery application, configured from Django settings (``CELERY_*``)."""

import os

from celery import Celery
from celery.signals import worker_process_init, worker_shutdown, worker_shutting_down

import core.broker  # noqa: F401 - registers the embedded broker's atomicfs:// transport

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "fairlens_site.settings.base")

app = Celery("fairlens")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@app.on_after_configure.connect
def _make_filesystem_broker_folders(sender: Celery, **_kwargs: object) -> None:
    """The filesystem transport needs its folders to exist before the first message is sent or read."""
    from pathlib import Path

    options = sender.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "control_folder"):
        if options.get(key):
            Path(options[key]).mkdir(parents=True, exist_ok=True)


@worker_process_init.connect
def _leave_shutdown_to_the_main_process(**_kwargs: object) -> None:
    """Pool processes ignore SIGTERM; the worker's main process stops them once their tasks are done.

    honcho (make run) and systemd's default KillMode signal the whole process group. Without this the pool
    processes die at once, mid-task, and the warm shutdown of the main process reports each as an ERROR.
    A hard time limit still ends a pool process: billiard follows SIGTERM with SIGKILL.
    """
    import signal

    signal.signal(signal.SIGTERM, signal.SIG_IGN)


@worker_shutting_down.connect
def _stop_polling_the_embedded_broker(**_kwargs: object) -> None:
    """A stopping worker stops waiting on the embedded broker at once (see broker.Transport.drain_events).

    Sent from the worker's SIGTERM/SIGINT handler in the main process; only sets an event.
    """
    core.broker.stop_draining.set()


@worker_shutdown.connect
def _skip_the_exit_time_garbage_collection(**_kwargs: object) -> None:
    """The stopped worker's interpreter exits without its final collections over the whole heap.

    Finalisation collects garbage after tearing down the modules; over the worker's heap (Django, pandas,
    scikit-learn) that took 1.4 s of the warm shutdown. Frozen objects are left out of those collections; the
    process is about to end, and reference counting still finalises what is not in a cycle.
    """
    import gc

    gc.freeze()
