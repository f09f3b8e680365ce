"""The asyncio variant: the same queue and sender thread, with methods an event loop can await.

Logging only queues (it never waits on the network), so it is safe in a coroutine; ``flush`` and ``close``
wait in a worker thread so the event loop keeps running.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fairlens_client.client import Client, Model, Stats


class AsyncModel:
    def __init__(self, model: Model) -> None:
        self._model = model

    async def log_prediction(self, id: str, **fields: Any) -> bool:  # noqa: A002
        return self._model.log_prediction(id, **fields)

    async def log_label(self, id: str, y_true: int | bool) -> bool:  # noqa: A002
        return self._model.log_label(id, y_true)

    async def log_frame(self, frame: Any, **columns: Any) -> int:
        return self._model.log_frame(frame, **columns)


class AsyncClient:
    """``Client`` for asyncio code; takes the same arguments."""

    def __init__(self, url: str, api_key: str, **options: Any) -> None:
        self._client = Client(url, api_key, **options)

    def model(self, name: str, version: str) -> AsyncModel:
        return AsyncModel(self._client.model(name, version))

    @property
    def stats(self) -> Stats:
        return self._client.stats

    @property
    def errors(self) -> Any:
        return self._client.errors

    async def flush(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self._client.flush, timeout)

    async def close(self, timeout: float | None = None) -> bool:
        return await asyncio.to_thread(self._client.close, timeout)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
