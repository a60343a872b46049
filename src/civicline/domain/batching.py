"""Group many small calls into one: the fast path's answer to a round trip (or a model pass)
per request. Storage batches its writes with it, the local classifier its texts.

Calls that arrive while a flush is in flight wait for the next one, so at low load a call is
flushed at once (no timer, no added latency) and under load each flush carries many calls.

One call can never fail another: when a flush fails, its calls are split in halves and each
half flushed again, down to the one call that fails, which alone gets the error. Only errors
that are nobody's input (``shared``: the database or Redis is unreachable) fail the whole
batch at once, since flushing halves could not help.

Standard library only, so every layer may use it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")


def unreachable(exc: BaseException) -> bool:
    """Errors of the connection, not of the items: worth no split."""
    return isinstance(exc, (OSError, TimeoutError))


class Batcher(Generic[T, R]):
    def __init__(
        self,
        flush: Callable[[Sequence[T]], Awaitable[Sequence[R]]],
        *,
        max_size: int = 256,
        shared: Callable[[BaseException], bool] = unreachable,
    ) -> None:
        self._flush = flush
        self._max_size = max_size
        self._shared = shared
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._running: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._running is None:
            self._running = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_size]
                del self._pending[: self._max_size]
                await self._settle(batch)
        finally:
            self._running = None

    async def _settle(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            results = await self._flush([item for item, _ in batch])
            if len(results) != len(batch):
                raise RuntimeError("a batch flush returned the wrong number of results")
        except Exception as exc:
            if len(batch) > 1 and not self._shared(exc):
                middle = len(batch) // 2
                await self._settle(batch[:middle])
                await self._settle(batch[middle:])
                return
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)
