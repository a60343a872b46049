"""Stop signals: TERM, INT and HUP stop a command in order, with everything it started.

uvicorn's own handling is left out: it listens to TERM and INT only, and after its graceful
shutdown raises the signal again, so the process died there, before the worker and the
embedded Redis it had started were stopped (the Redis server lived on, adopted by init).
Here the first signal asks for a graceful stop and a later one makes uvicorn hurry (drop open
connections); each command stops what it started on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)


class Server(uvicorn.Server):
    """uvicorn's server without its signal handlers (``StopSignals.serve`` stops it)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class StopSignals:
    def __init__(self) -> None:
        self.requested = asyncio.Event()
        self.hurry = asyncio.Event()

    def _received(self) -> None:
        (self.hurry if self.requested.is_set() else self.requested).set()

    @contextlib.contextmanager
    def caught(self) -> Iterator[StopSignals]:
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self._received)
        try:
            yield self
        finally:
            for sig in STOP_SIGNALS:
                loop.remove_signal_handler(sig)

    async def serve(self, server: uvicorn.Server) -> None:
        """Serve until a stop signal; uvicorn then shuts down, its lifespan included."""

        async def relay() -> None:
            await self.requested.wait()
            server.should_exit = True
            await self.hurry.wait()
            server.force_exit = True

        relaying = asyncio.create_task(relay())
        try:
            await server.serve()
        finally:
            relaying.cancel()

    async def wait(self, task: asyncio.Task[None]) -> None:
        """Until a stop signal, or until ``task`` ends by itself."""
        stopping = asyncio.create_task(self.requested.wait())
        try:
            await asyncio.wait({task, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
