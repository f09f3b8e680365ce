"""The embedded broker (core/broker.py): readers never see a partial message, each message goes to
exactly one consumer, and a damaged file cannot stop a worker.

kombu's plain filesystem transport fails the first test: with a consumer polling an empty queue while a
producer writes, a few percent of the messages are read before they are written (JSONDecodeError).
"""

from __future__ import annotations

import threading
from pathlib import Path
from queue import Empty

from kombu import Connection

from core.broker import SCHEME
from fairlens_site.celery import app as celery_app

MESSAGES = 2000
PADDING = "x" * 16384  # a bigger file takes longer to write: a wider window for a reader to catch it


def _options(folder: Path) -> dict[str, object]:
    (folder / "queue").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "control_folder": str(folder / "control"),
    }


def test_consumers_polling_during_writes_get_every_message_once_and_whole(tmp_path: Path) -> None:
    options = _options(tmp_path)
    received: list[int] = []
    errors: list[Exception] = []
    produced = threading.Event()
    lock = threading.Lock()

    def consume() -> None:
        with Connection(f"{SCHEME}://", transport_options=options) as connection:
            channel = connection.channel()
            while True:
                try:
                    message = channel._get("soak")
                except Empty:
                    with lock:
                        if produced.is_set() and len(received) + len(errors) >= MESSAGES:
                            return
                    continue
                except Exception as exc:  # noqa: BLE001 - any failure to read is what this test looks for
                    with lock:
                        errors.append(exc)
                    continue
                with lock:
                    received.append(message["index"])

    # given two consumers spinning on an empty queue
    consumers = [threading.Thread(target=consume, daemon=True) for _ in range(2)]
    for consumer in consumers:
        consumer.start()
    # when a producer writes messages into it
    with Connection(f"{SCHEME}://", transport_options=options) as connection:
        channel = connection.channel()
        for index in range(MESSAGES):
            channel._put("soak", {"index": index, "padding": PADDING})
    produced.set()
    for consumer in consumers:
        consumer.join(timeout=60)
    # then every message arrived exactly once, none unreadable
    assert errors == []
    assert sorted(received) == list(range(MESSAGES))


def test_a_damaged_message_file_is_set_aside_and_the_next_message_delivered(tmp_path: Path) -> None:
    options = _options(tmp_path)
    queue_folder = tmp_path / "queue"
    with Connection(f"{SCHEME}://", transport_options=options) as connection:
        channel = connection.channel()
        # given a truncated message file ahead of a good one
        (queue_folder / f"0_{'0' * 36}.jobs.msg").write_text('{"body": ')
        channel._put("jobs", {"index": 7})
        # when the queue is read
        message = channel._get("jobs")
    # then the good message comes out and the damaged file is kept aside for inspection
    assert message == {"index": 7}
    assert [path.name for path in (queue_folder / ".corrupt").iterdir()] == [f"0_{'0' * 36}.jobs.msg"]
    assert [path.name for path in queue_folder.iterdir() if not path.name.startswith(".")] == []


def test_temporary_files_are_never_delivered(tmp_path: Path) -> None:
    options = _options(tmp_path)
    (tmp_path / "queue" / f".2_{'0' * 36}.jobs.msg.abc.part").write_text("")
    with Connection(f"{SCHEME}://", transport_options=options) as connection:
        channel = connection.channel()
        try:
            channel._get("jobs")
        except Empty:
            pass
        else:
            raise AssertionError("a temporary file was delivered as a message")


def test_exchange_bindings_are_written_complete_and_kept(tmp_path: Path) -> None:
    options = _options(tmp_path)
    with Connection(f"{SCHEME}://", transport_options=options) as connection:
        channel = connection.channel()
        channel._queue_bind("events", "", "", "first")
        channel._queue_bind("events", "", "", "second")
        assert sorted(entry.queue for entry in channel.get_table("events")) == ["first", "second"]
    assert [path.name for path in (tmp_path / "control").iterdir()] == ["events.exchange"]


def test_the_embedded_broker_is_the_atomic_transport() -> None:
    from django.conf import settings

    if settings.REDIS_URL:
        assert not celery_app.conf.broker_url.startswith(("filesystem://", f"{SCHEME}://"))
    else:
        assert celery_app.conf.broker_url == f"{SCHEME}://"
        assert celery_app.conf.broker_transport_options["data_folder_in"] == str(settings.BROKER_DIR / "queue")
