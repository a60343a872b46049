"""A real gateway on a loopback port with its worker, driven over HTTP like a browser would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
import uvicorn

from civicline.domain.accounts import Role
from civicline.gateway.app import create_app
from civicline.gateway.bootstrap import Services
from civicline.gateway.users import create_user
from civicline.gateway.worker import build_worker, stop_worker
from tests.support.ports import free_port

PASSWORD = "correct horse battery"


@dataclass
class Gateway:
    url: str
    services: Services

    def citizen(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)

    async def staff(self, username: str) -> httpx.AsyncClient:
        client = httpx.AsyncClient(base_url=self.url, timeout=10)
        answer = await client.post(
            "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
        )
        assert answer.status_code == 200, answer.text
        client.headers["Authorization"] = f"Bearer {answer.json()['access_token']}"
        return client


@asynccontextmanager
async def serving(services: Services, port: int | None = None) -> AsyncIterator[Gateway]:
    """The gateway app on a loopback port with its worker, and three staff accounts."""
    for name, role, department in [
        ("li", Role.STAFF, "housing_construction"),
        ("zhao", Role.STAFF, "transport"),
        ("boss", Role.SUPERVISOR, None),
    ]:
        await create_user(
            services.uow(), services.taxonomy, name, PASSWORD, role, department, now=services.now()
        )
    port = port or free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(services.settings, services),
            host="127.0.0.1",
            port=port,
            log_config=None,
            access_log=False,
        )
    )
    running = asyncio.create_task(server.serve())
    while not server.started:
        if running.done():
            running.result()
        await asyncio.sleep(0.02)
    worker = await build_worker(services, sweep_at_start=False)
    working = asyncio.create_task(worker.async_run())
    try:
        yield Gateway(f"http://127.0.0.1:{port}", services)
    finally:
        server.should_exit = True
        await running
        await stop_worker(worker, working)
