"""``civicline telegram``: point Telegram at the webhook, look at it, or poll instead.

``set-webhook`` calls setWebhook with the public URL (``CIVICLINE_TELEGRAM_WEBHOOK_URL``, else
``CIVICLINE_PUBLIC_BASE_URL`` + ``/webhooks/telegram``), the webhook secret and the update
types the routers handle. ``info`` shows getMe and getWebhookInfo. ``delete-webhook`` removes
it. ``poll`` is for development without a public URL: it deletes the webhook and long-polls,
storing updates exactly as the webhook does (and, unless ``--no-worker``, processes them and
sends the answers in the same process). Nothing here prints the bot token.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer
from pydantic import ValidationError

from civicline.gateway import logs
from civicline.gateway.bootstrap import intake_for, services_for
from civicline.gateway.settings import Settings
from civicline.gateway.stopping import StopSignals
from civicline.gateway.worker import build_worker, stop_worker

if TYPE_CHECKING:
    from aiogram import Bot

WEBHOOK_PATH = "/webhooks/telegram"
T = TypeVar("T")

telegram_app = typer.Typer(
    help="The Telegram bot: webhook, info, long polling.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals hold the token
)


def _settings() -> Settings:
    try:
        settings = Settings()
    except ValidationError as exc:
        for error in exc.errors():
            typer.echo(f"error: {error['msg']}", err=True)
        raise typer.Exit(2) from None
    logs.configure(settings.log_level)
    if settings.telegram_bot_token is None:
        typer.echo("error: Telegram is off: set CIVICLINE_TELEGRAM_BOT_TOKEN", err=True)
        raise typer.Exit(2)
    return settings


@asynccontextmanager
async def _bot(settings: Settings) -> AsyncIterator[Bot]:
    assert settings.telegram_bot_token is not None
    # aiogram takes seconds to import: only for the telegram commands, not `civicline --help`.
    from civicline.channels.telegram import make_bot

    bot = make_bot(
        settings.telegram_bot_token.get_secret_value(), api_url=settings.telegram_api_url
    )
    try:
        yield bot
    finally:
        await bot.session.close()


def _call(settings: Settings, work: Callable[[Bot], Awaitable[T]]) -> T:
    """Run ``work`` with a bot; a Bot API refusal or an unreachable API ends the command."""
    from aiogram.exceptions import AiogramError, TelegramAPIError, TelegramNetworkError

    async def main() -> T:
        async with _bot(settings) as bot:
            return await work(bot)

    try:
        return asyncio.run(main())
    except TelegramNetworkError as exc:
        typer.echo(
            f"error: cannot reach the Bot API at {settings.telegram_api_url} "
            f"({type(exc.__cause__ or exc).__name__})",
            err=True,
        )
        raise typer.Exit(1) from None
    except TelegramAPIError as exc:
        # Telegram's description; aiogram's decoration (a chat id) is left out.
        typer.echo(f"error: Telegram answered: {exc.message.splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    except (AiogramError, OSError, TimeoutError) as exc:
        typer.echo(f"error: the Bot API call failed ({type(exc).__name__})", err=True)
        raise typer.Exit(1) from None


async def _describe(bot: Bot) -> list[str]:
    me = await bot.get_me()
    info = await bot.get_webhook_info()
    lines = [
        f"bot: @{me.username} (id {me.id})",
        f"webhook: {info.url or '(none: updates wait for getUpdates)'}",
        f"pending updates: {info.pending_update_count}",
    ]
    if info.allowed_updates:
        lines.append(f"allowed updates: {', '.join(info.allowed_updates)}")
    if info.max_connections:
        lines.append(f"max connections: {info.max_connections}")
    if info.last_error_date:
        lines.append(f"last error: {info.last_error_date:%Y-%m-%d %H:%M:%S} UTC")
        lines.append(f"last error message: {info.last_error_message}")
    return lines


def webhook_url(settings: Settings) -> str:
    return settings.telegram_webhook_url or settings.public_base_url.rstrip("/") + WEBHOOK_PATH


@telegram_app.command("set-webhook")
def set_webhook(
    url: Annotated[
        str | None, typer.Option(help="public HTTPS URL; default: the configured one")
    ] = None,
    drop_pending_updates: Annotated[
        bool, typer.Option(help="discard the updates Telegram holds for the bot")
    ] = False,
    max_connections: Annotated[
        int | None, typer.Option(min=1, max=100, help="parallel webhook requests")
    ] = None,
) -> None:
    """Tell Telegram to post updates to the gateway's webhook, with the secret."""
    settings = _settings()
    target = url or webhook_url(settings)
    secret = settings.telegram_webhook_secret
    assert secret is not None

    async def work(bot: Bot) -> tuple[bool, list[str]]:
        from civicline.channels.telegram import ALLOWED_UPDATES

        ok = await bot.set_webhook(
            url=target,
            secret_token=secret.get_secret_value(),
            allowed_updates=ALLOWED_UPDATES,
            drop_pending_updates=drop_pending_updates or None,
            max_connections=max_connections,
        )
        return ok, await _describe(bot)

    ok, lines = _call(settings, work)
    typer.echo(f"setWebhook {target}: Telegram answered ok={str(ok).lower()}")
    typer.echo("\n".join(lines))


@telegram_app.command("delete-webhook")
def delete_webhook(
    drop_pending_updates: Annotated[
        bool, typer.Option(help="discard the updates Telegram holds for the bot")
    ] = False,
) -> None:
    """Stop the webhook (updates then wait for ``poll``)."""
    settings = _settings()

    async def work(bot: Bot) -> bool:
        return await bot.delete_webhook(drop_pending_updates=drop_pending_updates or None)

    ok = _call(settings, work)
    typer.echo(f"deleteWebhook: Telegram answered ok={str(ok).lower()}")


@telegram_app.command()
def info() -> None:
    """The bot and its webhook as Telegram sees them (getMe, getWebhookInfo)."""
    settings = _settings()
    typer.echo("\n".join(_call(settings, _describe)))


@telegram_app.command()
def poll(
    worker: Annotated[
        bool, typer.Option(help="also process the updates and send the answers here")
    ] = True,
) -> None:
    """Long polling for development: deletes the webhook, then stores updates like it would.

    Stops on Ctrl-C, TERM or HUP (an update being stored is finished first)."""
    settings = _settings()

    async def main() -> int:
        with StopSignals().caught() as signals:
            async with services_for(settings) as services:
                assert services.telegram is not None
                await services.telegram.bot.delete_webhook()
                work = await build_worker(services) if worker else None
                running = asyncio.create_task(work.async_run()) if work is not None else None
                typer.echo("polling Telegram; Ctrl-C stops")
                try:
                    return await poll_updates(
                        services.telegram, intake_for(services), signals.requested
                    )
                finally:
                    if work is not None and running is not None:
                        await stop_worker(work, running)

    from aiogram.exceptions import TelegramAPIError

    from civicline.channels.telegram.polling import poll as poll_updates

    try:
        handled = asyncio.run(main())
    except TelegramAPIError as exc:
        typer.echo(f"error: Telegram answered: {exc.message.splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"stopped after {handled} updates")
