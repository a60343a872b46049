"""A failing Rasa server: ``POST /model/parse`` answers as set in ``mode``, each answer
echoing the text it was sent (as Rasa's own answers and error pages do), so a test can see
whether the text or the token travels any further.

Modes: ``error`` (HTTP 500 with the text in the body), ``garbage`` (200, not a parse
result, the text in it), ``slow`` (answers after ``delay`` seconds).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


@dataclass
class FakeRasa:
    token: str
    mode: str = "error"
    delay: float = 5.0
    url: str = ""
    requests: int = 0

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/model/parse", self._parse, methods=["POST"])])

    async def _parse(self, request: Request) -> Response:
        self.requests += 1
        text = (await request.json()).get("text", "")
        token = request.query_params.get("token", "")
        if self.mode == "slow":
            await asyncio.sleep(self.delay)
        if self.mode == "garbage":
            return JSONResponse({"text": text, "intent": f"{text} {token}", "entities": text})
        return JSONResponse({"error": f"failed to parse {text!r} for {token}"}, status_code=500)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[no-untyped-def]
        yield


@contextlib.asynccontextmanager
async def running_fake_rasa(token: str) -> AsyncIterator[FakeRasa]:
    fake = FakeRasa(token)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(fake.app(), log_level="warning", lifespan="off", access_log=False)
    server = _Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        fake.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        yield fake
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, timeout=5)
