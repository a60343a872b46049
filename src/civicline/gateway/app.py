"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from civicline.gateway import api, console, metrics, pages, webhooks
from civicline.gateway.api.webchat import WebchatFastLane
from civicline.gateway.bootstrap import Services, services_for
from civicline.gateway.deps import ServicesDep
from civicline.gateway.errors import EVERY_REQUEST, BodyLimit, install_error_handlers
from civicline.gateway.guard import refuse_unstorable
from civicline.gateway.pages.board_cache import ServeCachedBoard
from civicline.gateway.proxies import TrustedProxies
from civicline.gateway.settings import Settings
from civicline.gateway.webhooks.sms import TwilioSmsFastLane

HERE = Path(__file__).parent
PROBE_TIMEOUT = 2.0


def create_app(settings: Settings, services: Services | None = None) -> FastAPI:
    """The gateway. Given ``services``, it uses them (and leaves closing them to the caller)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if services is not None:
            app.state.services = services
            yield
            return
        async with services_for(settings) as own:
            app.state.services = own
            yield

    app = FastAPI(
        title="Civicline",
        summary="A city's multi-channel complaint gateway",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(refuse_unstorable)],  # no NUL or lone surrogate, anywhere
        responses=EVERY_REQUEST,
    )
    install_error_handlers(app)
    # The letter forms (the mailbox, the registry's page) and the reception's take files:
    # their own limit, the files' and a margin for the text.
    letter_bytes = settings.letter_files_max * settings.letter_file_max_bytes + 1_000_000
    letter_forms = (
        *("/mailbox", "/console/letters/new", "/console/letters/suggest"),
        *("/console/visits/new", "/console/visits/suggest"),
    )
    # Innermost: the usual web chat message and SMS, answered before routing (gateway/lanes.py).
    app.add_middleware(WebchatFastLane, path=api.PREFIX + "/webchat/messages")
    app.add_middleware(TwilioSmsFastLane)
    app.add_middleware(
        BodyLimit,
        max_bytes=settings.max_body_bytes,
        uploads=dict.fromkeys(letter_forms, letter_bytes),
    )
    # Who the client is (CIVICLINE_TRUSTED_PROXIES) before anything asks.
    app.add_middleware(TrustedProxies, trusted=settings.proxies)
    # Outermost: the public board's cached pages, answered before any routing.
    app.add_middleware(ServeCachedBoard)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # Requests try routers in this order: the webhooks and the API (the hot paths) first.
    app.include_router(webhooks.router)  # Twilio and Telegram under /webhooks
    app.include_router(api.router)  # the JSON API under /api/v1
    app.include_router(pages.router)  # the public pages: the web chat at /, /mailbox
    webhooks.install_open311(app)  # Open311 GeoReport v2 under /open311/v2
    app.include_router(metrics.router)  # /metrics, Prometheus
    console.install(app)  # the staff console under /console

    @app.get("/healthz", tags=["health"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    async def readyz(services: ServicesDep) -> JSONResponse:
        checks = {
            "database": _check(_ping_database(services)),
            "redis": _check(services.redis.ping()),
            # Rasa may time out before the local classifier answers: allow for both.
            "nlu": _check(
                services.classifier.classify("你好"),
                PROBE_TIMEOUT + services.settings.rasa_timeout_seconds,
            ),
        }
        results = dict(zip(checks, await asyncio.gather(*checks.values()), strict=True))
        ok = all(r == "ok" for r in results.values())
        return JSONResponse(
            {"status": "ok" if ok else "unavailable", "checks": results}, 200 if ok else 503
        )

    return app


async def _ping_database(services: Services) -> None:
    async with services.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))


async def _check(probe: Awaitable[object], seconds: float = PROBE_TIMEOUT) -> str:
    try:
        await asyncio.wait_for(probe, seconds)
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"
