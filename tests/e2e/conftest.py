"""The e2e fixture: a real gateway on a loopback port with its worker (tests/support/gateway.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from civicline.gateway.bootstrap import Services
from tests.support.gateway import Gateway, serving


@pytest.fixture
async def gateway(services: Services) -> AsyncIterator[Gateway]:
    async with serving(services) as live:
        yield live
