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

from civicline.gateway import console
from civicline.gateway import metrics as metrics_routes
from civicline.gateway.api import hotline as hotline_routes
from civicline.gateway.api import stats as stats_routes
from civicline.gateway.api import supervision as governance_routes
from civicline.gateway.api.cases import attachments as attachment_routes
from civicline.gateway.api.cases import core as staff_routes
from civicline.gateway.api.cases import followup as followup_routes
from civicline.gateway.bootstrap import Services, services_for
from civicline.gateway.deps import ServicesDep
from civicline.gateway.errors import BodyLimit, install_error_handlers
from civicline.gateway.guard import refuse_unstorable
from civicline.gateway.pages import mailbox as mailbox_pages
from civicline.gateway.pages import webchat as webchat_routes
from civicline.gateway.settings import Settings
from civicline.gateway.webhooks import open311 as open311_routes
from civicline.gateway.webhooks import sms as sms_routes
from civicline.gateway.webhooks import telegram as telegram_routes
from civicline.gateway.webhooks import voice as voice_routes

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
    )
    install_error_handlers(app)
    # The mailbox form takes files: its own limit, the files' and a margin for the text.
    letter_bytes = settings.letter_files_max * settings.letter_file_max_bytes + 1_000_000
    app.add_middleware(
        BodyLimit, max_bytes=settings.max_body_bytes, uploads={"/mailbox": letter_bytes}
    )
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.include_router(webchat_routes.router, tags=["webchat"])
    app.include_router(mailbox_pages.router)  # /mailbox, /mailbox/query
    # Before the staff router: its /cases/{number}/{action} would take /pause and /visit.
    app.include_router(followup_routes.router)
    app.include_router(governance_routes.router)  # before it too: /supervision, /ownership
    app.include_router(staff_routes.router)
    app.include_router(hotline_routes.router)
    app.include_router(sms_routes.router)
    app.include_router(voice_routes.router)
    app.include_router(telegram_routes.router)
    app.include_router(attachment_routes.router)
    app.include_router(stats_routes.router)  # /api/v1/stats/rates
    app.include_router(metrics_routes.router)  # /metrics, Prometheus
    open311_routes.install(app)  # Open311 GeoReport v2 under /open311/v2
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
