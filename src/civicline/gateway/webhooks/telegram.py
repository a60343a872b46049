"""HTTP endpoint of the Telegram channel (see ``civicline.channels.telegram``): its webhook.

``POST /webhooks/telegram`` checks ``X-Telegram-Bot-Api-Secret-Token``, parses the body as an
aiogram ``Update`` and feeds it to the Dispatcher, whose routers store it in the inbox and queue
its processing. It answers once the row is committed; a button press is answered in the same
response (Telegram calls the method named in a webhook's JSON answer).

Answers: 200 (stored, a replay, or something we do not serve), 401 (wrong or missing secret),
400 (not JSON, or not an update), 404 (Telegram is off), 413 (body over the limit),
503 (the inbox could not store it: Telegram delivers it again later).
"""

from __future__ import annotations

import hmac
import json
import logging
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from civicline.gateway.bootstrap import Services, intake_for
from civicline.gateway.deps import telegram_of

if TYPE_CHECKING:
    from aiogram.types import Update

    from civicline.channels.telegram import Telegram

log = logging.getLogger(__name__)
router = APIRouter(prefix="/webhooks", tags=["telegram"])
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (a header name)


def _secret_matches(services: Services, given: str | None) -> bool:
    secret = services.settings.telegram_webhook_secret
    if secret is None or given is None:
        return False
    # Bytes: compare_digest refuses non-ASCII str, and a header may hold anything.
    return hmac.compare_digest(given.encode("latin-1"), secret.get_secret_value().encode())


def _parse(body: bytes, telegram: Telegram) -> Update:
    from aiogram.types import Update

    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        raise HTTPException(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise HTTPException(400, "the body is not a Telegram update (a JSON object)")
    try:
        return Update.model_validate(data, context={"bot": telegram.bot})
    except ValidationError as exc:
        # Where it failed, never the values: they are the citizen's words.
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})[:5]
        raise HTTPException(
            400, f"not a Telegram update: invalid or missing {', '.join(fields)}"
        ) from None


@router.post("/telegram")
async def telegram_webhook(request: Request) -> JSONResponse:
    """An update from Telegram: stored once per update id, processed later by a worker."""
    services: Services = request.app.state.services
    telegram = telegram_of(services)
    # aiogram (seconds to import) only once Telegram is used: never when it is off.
    from civicline.channels.telegram import IntakeFailed
    from civicline.channels.telegram.routers import webhook_answer

    if not _secret_matches(services, request.headers.get(SECRET_HEADER)):
        log.warning("telegram secret rejected", extra={"path": request.url.path})
        raise HTTPException(401, f"invalid or missing {SECRET_HEADER}")
    update = _parse(await request.body(), telegram)
    try:
        answer = await telegram.feed(update, intake_for(services))
    except IntakeFailed as exc:
        log.error("telegram update not stored", extra={"update_id": update.update_id})
        raise HTTPException(503, str(exc)) from None
    body: dict[str, Any] = webhook_answer(answer) if answer is not None else {}
    return JSONResponse(body)
