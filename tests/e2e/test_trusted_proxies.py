"""Proxy headers are believed only from CIVICLINE_TRUSTED_PROXIES (issue 18, defect 9): the
gateway as ``civicline gateway`` serves it (the CLI's uvicorn settings), over a real socket."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
import pytest

from civicline.gateway.bootstrap import Services
from civicline.gateway.cli.main import _server
from civicline.gateway.settings import Settings
from tests.support.places import Places
from tests.support.ports import free_port


@asynccontextmanager
async def _served(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    settings = services.settings.model_copy(update={"port": free_port()})
    server = _server(settings, services)
    running = asyncio.create_task(server.serve())
    while not server.started:
        if running.done():
            running.result()
        await asyncio.sleep(0.02)
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{settings.port}") as http:
            yield http
    finally:
        server.should_exit = True
        await running


async def _metrics(http: httpx.AsyncClient, **headers: str) -> int:
    return (await http.get("/metrics", headers=headers)).status_code


async def test_no_proxy_is_trusted_by_default(places: Places) -> None:
    async with places.services() as services, _served(services) as http:
        assert await _metrics(http) == 200  # loopback, no proxy in between
        # nginx on the same host, configured with only proxy_set_header X-Real-IP:
        assert await _metrics(http, **{"X-Real-IP": "203.0.113.7"}) == 403
        assert await _metrics(http, **{"X-Forwarded-For": "127.0.0.1"}) == 403
        assert await _metrics(http, Forwarded="for=127.0.0.1") == 403


async def test_a_trusted_proxy_names_the_client(places: Places) -> None:
    async with places.services(trusted_proxies="127.0.0.1") as services, _served(services) as http:
        assert await _metrics(http, **{"X-Forwarded-For": "203.0.113.7"}) == 403
        assert await _metrics(http, **{"X-Forwarded-For": "127.0.0.1"}) == 200
        # A trusted proxy that does not say whom it forwards for: nobody knows the client.
        assert await _metrics(http, **{"X-Real-IP": "127.0.0.1"}) == 403


def test_the_setting_refuses_what_is_not_an_address() -> None:
    assert [str(n) for n in Settings(trusted_proxies="127.0.0.1, 10.0.0.0/8").proxies] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
    ]
    with pytest.raises(ValueError, match=r"proxy\.example"):
        Settings(trusted_proxies="127.0.0.1,proxy.example")
