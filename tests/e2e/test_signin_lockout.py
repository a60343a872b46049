"""One lockout for every way to sign in: the API's token and the console's form share the count
per name and per client address, so failures on one path lock the other."""

from __future__ import annotations

from datetime import timedelta

import httpx

from tests.support.console import sign_in
from tests.support.gateway import PASSWORD, Gateway, serving
from tests.support.places import Places

TOKEN = "/api/v1/auth/token"


async def _token(gateway: Gateway, username: str, password: str = PASSWORD) -> int:
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
        answer = await client.post(TOKEN, json={"username": username, "password": password})
        return answer.status_code


async def _console(gateway: Gateway, username: str, password: str = PASSWORD) -> int:
    client, answer = await sign_in(gateway, username, password)
    await client.aclose()
    return answer.status_code


async def test_failures_on_one_path_lock_the_other(places: Places) -> None:
    async with (
        places.services(console_lockout_failures=2) as services,
        serving(services) as gateway,
    ):
        # Wrong passwords through the API lock li out of the console too, and the API.
        for _ in range(2):
            assert await _token(gateway, "li", "not the password") == 401
        assert await _console(gateway, "li") == 401
        assert await _token(gateway, "li") == 401
        # The console's failures count with the API's.
        assert await _console(gateway, "zhao", "not the password") == 401
        assert await _token(gateway, "zhao", "not the password") == 401
        assert await _token(gateway, "zhao") == 401
        assert await _console(gateway, "zhao") == 401
        # Another name is not locked; a locked name gets the answer a wrong password gets.
        async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as client:
            assert (
                await client.post(TOKEN, json={"username": "boss", "password": PASSWORD})
            ).status_code == 200
            locked = await client.post(TOKEN, json={"username": "li", "password": PASSWORD})
            wrong = await client.post(TOKEN, json={"username": "boss", "password": "nope"})
        assert (locked.status_code, locked.json()) == (wrong.status_code, wrong.json())
        # The lock ends after console_lockout_minutes.
        later = services.now() + timedelta(minutes=16)
        services.clock = lambda: later
        assert await _token(gateway, "li") == 200
        assert await _console(gateway, "zhao") == 303


async def test_one_address_guessing_many_names_is_locked(places: Places) -> None:
    async with (
        places.services(console_lockout_client_failures=4) as services,
        serving(services) as gateway,
    ):
        for i, attempt in enumerate([_token, _console, _token, _console]):
            assert await attempt(gateway, f"guess-{i}", "password123") == 401
        # Now even a name that never failed, with its right password, is refused from here.
        assert await _token(gateway, "boss") == 401
        assert await _console(gateway, "boss") == 401
        later = services.now() + timedelta(minutes=16)
        services.clock = lambda: later
        assert await _token(gateway, "boss") == 200
