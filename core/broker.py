"""The embedded Celery broker: kombu's filesystem transport with atomic message files.

kombu's own filesystem transport creates a message file, then locks and writes it. A consumer listing the
folder in between moves the still-empty file away (the lock is advisory; a rename ignores it) and fails to
parse it: ``Unrecoverable error: JSONDecodeError`` stops the whole worker. Its consumers also move claimed
files into the system temp folder, which is a copy plus delete (not atomic, so two consumers can both get a
message) whenever that folder is on another filesystem.

Here a message is written under a hidden temporary name and renamed into the queue folder only when
complete, so a consumer only ever sees whole messages; a consumer claims one by renaming it into a hidden
folder beside the queue, which exactly one consumer can win. The file names and folder layout are kombu's,
so messages queued by the plain transport are still read. ``atomicfs://`` selects it (settings map
``filesystem://`` to it as well).
"""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import uuid
from pathlib import Path
from queue import Empty
from time import monotonic
from typing import Any

from kombu.exceptions import ChannelError
from kombu.transport import TRANSPORT_ALIASES, filesystem, virtual
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads
from kombu.utils.objects import cached_property

__all__ = ["SCHEME", "Channel", "Transport"]

SCHEME = "atomicfs"
logger = logging.getLogger("fairlens.broker")


def _write_atomically(path: Path, data: bytes, *, replace: bool) -> None:
    """Write ``data`` to a hidden temporary file beside ``path``, then give it its real name in one step.

    ``replace=False`` creates ``path`` only if it does not exist yet (FileExistsError otherwise).
    """
    temporary = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
    try:
        with temporary.open("xb") as file:
            file.write(data)
        if replace:
            os.replace(temporary, path)
        else:
            os.link(temporary, path)  # fails if path exists: creation is atomic and never overwrites
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()


class Channel(filesystem.Channel):
    """A filesystem channel whose readers can never see a message that is still being written."""

    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:
        # kombu's name (millisecond timestamp first, so a sorted listing is roughly first in, first out).
        filename = f"{int(round(monotonic() * 1000))}_{uuid.uuid4()}.{queue}.msg"
        path = Path(self.data_folder_out) / filename
        try:
            _write_atomically(path, str_to_bytes(dumps(payload)), replace=True)
        except OSError as exc:
            raise ChannelError(f"Cannot add file {str(path)!r} to directory") from exc

    def _get(self, queue: str) -> Any:
        wanted = f"{queue}.msg"
        folder = Path(self.data_folder_in)
        for filename in sorted(os.listdir(folder)):
            if filename.startswith(".") or filename.partition(".")[2] != wanted:
                continue  # temporary files, claim folders and other queues' messages
            claimed = self.claimed_folder / filename
            try:
                # A rename within one filesystem is atomic: exactly one consumer gets each message.
                os.rename(folder / filename, claimed)
            except FileNotFoundError:
                continue  # another consumer claimed it first
            try:
                payload = claimed.read_bytes()
            except OSError as exc:
                raise ChannelError(f"Cannot read file {str(claimed)!r} from queue.") from exc
            try:
                message = loads(bytes_to_str(payload))
            except ValueError:
                # Never written by this transport (every file here is complete), but a file truncated by a
                # crash or copied in by hand must not stop the worker: keep it for inspection, go on.
                os.replace(claimed, self.corrupt_folder / filename)
                logger.error("broker message %s is not valid JSON; moved to %s", filename, self.corrupt_folder)
                continue
            if self.store_processed:
                os.replace(claimed, Path(self.processed_folder) / filename)
            else:
                claimed.unlink()
            return message
        raise Empty()

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        # kombu creates a missing exchange table with open("wb") and only then locks it, so a reader may
        # parse the empty file; create it complete instead and let kombu update an existing one under its lock.
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        if not file.exists():
            entry = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
            try:
                _write_atomically(file, str_to_bytes(dumps([entry])), replace=False)
                return
            except FileExistsError:
                pass  # created meanwhile by another process: add this binding to it below
            except OSError as exc:
                raise ChannelError(f"Cannot open {file}") from exc
        super()._queue_bind(exchange, routing_key, pattern, queue)

    @cached_property
    def claimed_folder(self) -> Path:
        return self._hidden_folder(".claimed")

    @cached_property
    def corrupt_folder(self) -> Path:
        return self._hidden_folder(".corrupt")

    def _hidden_folder(self, name: str) -> Path:
        # Inside the queue folder, so moving a message there is a rename on the same filesystem.
        folder = Path(self.data_folder_in) / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder


# Set once the worker has been asked to stop (fairlens_site/celery.py, on worker_shutting_down).
stop_draining = threading.Event()


class Transport(filesystem.Transport):
    """``atomicfs://``: the filesystem transport with :class:`Channel`."""

    Channel = Channel
    # State is per transport class in kombu; this one keeps its own, as the plain transport does.
    global_state = virtual.BrokerState()
    driver_type = SCHEME
    driver_name = SCHEME

    def drain_events(self, connection: Any, timeout: float | None = None) -> None:
        """kombu's polling loop, but it returns as soon as the worker is stopping.

        Celery's loop for a transport without an event loop (synloop) drains with a 2 s timeout, checks for a
        stop request, and drains once more after seeing one (its check sits in a ``try/finally`` around the
        drain). Polling out both timeouts was 4 of the 7 s a warm shutdown took, longer than honcho waits
        before SIGKILL. A stopping worker takes no new message anyway: it has cancelled its consumers.
        """
        started = monotonic()
        polling_interval = self.polling_interval
        if timeout and polling_interval and polling_interval > timeout:
            polling_interval = timeout
        while True:
            if stop_draining.is_set():
                raise TimeoutError()
            try:
                self.cycle.get(self._deliver, timeout=timeout)
            except Empty:
                if timeout is not None and monotonic() - started >= timeout:
                    raise TimeoutError() from None
                if polling_interval is not None:
                    stop_draining.wait(polling_interval)
            else:
                return


TRANSPORT_ALIASES.setdefault(SCHEME, f"{__name__}:Transport")
