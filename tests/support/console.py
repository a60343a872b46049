"""Driving the staff console over HTTP the way a browser does: cookies, forms, CSRF tokens."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.support.gateway import PASSWORD, Gateway
from tests.support.polling import eventually

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token on the page"
    return found.group(1)


async def sign_in(
    gateway: Gateway, username: str, password: str = PASSWORD
) -> tuple[httpx.AsyncClient, httpx.Response]:
    client = httpx.AsyncClient(base_url=gateway.url, timeout=10)
    form = await client.get("/console/login")
    answer = await client.post(
        "/console/login",
        data={"csrf": csrf_of(form.text), "username": username, "password": password},
    )
    return client, answer


async def console(gateway: Gateway, username: str) -> httpx.AsyncClient:
    client, answer = await sign_in(gateway, username)
    assert answer.status_code == 303, answer.text
    return client


async def post_form(
    client: httpx.AsyncClient, page: str, target: str, /, **fields: str
) -> httpx.Response:
    """Submit a form of ``page`` (its CSRF token included) to ``target``."""
    html = (await client.get(page)).text
    return await client.post(target, data={"csrf": csrf_of(html), **fields})


async def file_complaint(gateway: Gateway, text: str) -> str:
    """A citizen writes on the web chat; the case number the bot answers with."""
    citizen = gateway.citizen()
    await citizen.get("/")
    sent = await citizen.post(
        "/api/v1/webchat/messages", json={"client_message_id": uuid.uuid4().hex, "text": text}
    )
    assert sent.status_code == 202, sent.text

    async def number() -> str | None:
        messages = (await citizen.get("/api/v1/webchat/messages")).json()["messages"]
        return next((m["case_number"] for m in messages if m["case_number"]), None)

    found: str = await eventually(number)
    await citizen.aclose()
    return found
