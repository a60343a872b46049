"""The Dispatcher and its routers, one per feature. They only map and store: what to answer is
the dialogue's business (``civicline.bots``), later, in a worker.

Each handler gets the update (``event_update``: its id is the provider message id) and the
``intake`` passed to ``feed_update``; it maps the event and stores it. Whatever no router takes
(stickers, voice, group chats, channel posts, update types we never asked for) is simply not
handled, which the webhook acknowledges like any other update.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.dispatcher.event.bases import UNHANDLED
from aiogram.enums import ChatType
from aiogram.methods import AnswerCallbackQuery, TelegramMethod
from aiogram.types import CallbackQuery, Message, TelegramObject, Update
from aiogram.types.update import UpdateTypeLookupError

from civicline.channels.telegram import mapping
from civicline.channels.telegram.intake import Intake

log = logging.getLogger(__name__)

PRIVATE = F.chat.type == ChatType.PRIVATE


def commands_router() -> Router:
    """``/start``, ``/help``, ``/status <number>``, ``/mycases``, ``/lang``: passed on as text."""
    router = Router(name="commands")
    router.message.filter(PRIVATE)

    @router.message(F.text.startswith("/"))
    async def on_command(message: Message, event_update: Update, intake: Intake) -> None:
        await intake.store(mapping.text_message(event_update.update_id, message))

    return router


def text_router() -> Router:
    router = Router(name="text")
    router.message.filter(PRIVATE)

    @router.message(F.text)
    async def on_text(message: Message, event_update: Update, intake: Intake) -> None:
        await intake.store(mapping.text_message(event_update.update_id, message))

    return router


def media_router() -> Router:
    """Photos and documents: file ids only; staff fetch the file when they open it."""
    router = Router(name="media")
    router.message.filter(PRIVATE)

    @router.message(F.photo | F.document)
    async def on_media(message: Message, event_update: Update, intake: Intake) -> None:
        await intake.store(mapping.media_message(event_update.update_id, message))

    return router


def location_router() -> Router:
    router = Router(name="location")
    router.message.filter(PRIVATE)

    @router.message(F.location)
    async def on_location(message: Message, event_update: Update, intake: Intake) -> None:
        inbound = mapping.location_message(event_update.update_id, message)
        if inbound is not None:
            await intake.store(inbound)

    return router


def contact_router() -> Router:
    router = Router(name="contact")
    router.message.filter(PRIVATE)

    @router.message(F.contact)
    async def on_contact(message: Message, event_update: Update, intake: Intake) -> None:
        inbound = mapping.contact_message(event_update.update_id, message)
        if inbound is None:
            log.info(
                "telegram contact of someone else ignored",
                extra={"update_id": event_update.update_id},
            )
            return
        await intake.store(inbound)

    return router


def callbacks_router() -> Router:
    """Inline buttons. Every press is answered at once (the client shows a spinner until then),
    as the webhook's reply, or by the poller calling the method."""
    router = Router(name="callbacks")

    @router.callback_query()
    async def on_button(
        callback: CallbackQuery, event_update: Update, intake: Intake
    ) -> AnswerCallbackQuery:
        inbound = mapping.button_press(event_update.update_id, callback, now=intake.now())
        if inbound is not None:
            await intake.store(inbound)
        return callback.answer()

    return router


def edits_router() -> Router:
    """Edited texts and captions. Edits without words (a live location moving) are dropped."""
    router = Router(name="edits")
    router.edited_message.filter(PRIVATE)

    @router.edited_message(F.text | F.caption)
    async def on_edit(message: Message, event_update: Update, intake: Intake) -> None:
        await intake.store(mapping.edited_message(event_update.update_id, message))

    return router


async def drop_unknown(
    handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
    update: TelegramObject,
    data: dict[str, Any],
) -> Any:
    """Leave out update types this aiogram does not know, before aiogram warns about them
    with the whole update (the citizen's words included) in the warning text."""
    if isinstance(update, Update):
        try:
            update.event_type  # noqa: B018 (raises for an unknown type)
        except UpdateTypeLookupError:
            return UNHANDLED
    return await handler(update, data)


def build_dispatcher() -> Dispatcher:
    """A Dispatcher with every feature router. No FSM: the dialogue keeps its own state."""
    dispatcher = Dispatcher(disable_fsm=True, name="civicline")
    dispatcher.update.outer_middleware(drop_unknown)
    dispatcher.include_routers(
        commands_router(),
        media_router(),
        location_router(),
        contact_router(),
        text_router(),
        callbacks_router(),
        edits_router(),
    )
    return dispatcher


@dataclass
class Telegram:
    """The process's bot and dispatcher (built in the composition root, closed on shutdown)."""

    bot: Bot
    dispatcher: Dispatcher

    async def feed(self, update: Update, intake: Intake) -> TelegramMethod[Any] | None:
        """Run ``update`` through the routers; returns a method to answer with, if any."""
        answer = await self.dispatcher.feed_update(self.bot, update, intake=intake)
        return answer if isinstance(answer, TelegramMethod) else None

    async def close(self) -> None:
        await self.bot.session.close()


def webhook_answer(method: TelegramMethod[Any]) -> dict[str, Any]:
    """A method as the body of a webhook response (Telegram calls it for us, unanswered)."""
    fields = method.model_dump(exclude_none=True, mode="json", warnings=False)
    return {"method": method.__api_method__, **fields}
