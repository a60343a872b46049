"""Long polling for development: ``getUpdates`` in a loop, every update through the same
Dispatcher and routers as the webhook, into the same inbox.

Not aiogram's ``start_polling``: that confirms an update (moves the offset past it) whether or
not its handler succeeded, so an update that arrives while the database is down would be lost.
Here the offset moves past an update only once it is stored; until then it is fetched again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from aiogram.exceptions import AiogramError, TelegramConflictError, TelegramRetryAfter

from civicline.channels.telegram.client import ALLOWED_UPDATES
from civicline.channels.telegram.intake import Intake, IntakeFailed
from civicline.channels.telegram.routers import Telegram

log = logging.getLogger(__name__)

POLL_SECONDS = 25
MIN_DELAY, MAX_DELAY = 1.0, 30.0


async def _pause(stop: asyncio.Event, seconds: float) -> None:
    """Sleep, but wake at once when asked to stop."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)


async def poll(
    telegram: Telegram,
    intake: Intake,
    stop: asyncio.Event,
    *,
    poll_seconds: int = POLL_SECONDS,
    min_delay: float = MIN_DELAY,
) -> int:
    """Fetch and store updates until ``stop`` is set; returns how many updates were handled."""
    bot = telegram.bot
    offset: int | None = None
    delay = min_delay
    handled = 0
    while not stop.is_set():
        fetch = asyncio.ensure_future(
            bot.get_updates(
                offset=offset,
                timeout=poll_seconds,
                allowed_updates=ALLOWED_UPDATES,
                request_timeout=poll_seconds + 10,
            )
        )
        stopping = asyncio.ensure_future(stop.wait())
        await asyncio.wait({fetch, stopping}, return_when=asyncio.FIRST_COMPLETED)
        stopping.cancel()
        if not fetch.done():
            fetch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await fetch
            break
        try:
            updates = fetch.result()
        except TelegramRetryAfter as exc:
            await _pause(stop, exc.retry_after)
            continue
        except TelegramConflictError:
            log.warning("telegram getUpdates conflict: a webhook is set or another poller runs")
            await _pause(stop, delay)
            delay = min(delay * 2, MAX_DELAY)
            continue
        except (AiogramError, TimeoutError, OSError) as exc:
            log.warning("telegram getUpdates failed", extra={"error": type(exc).__name__})
            await _pause(stop, delay)
            delay = min(delay * 2, MAX_DELAY)
            continue
        delay = min_delay
        for update in updates:
            try:
                answer = await telegram.feed(update, intake)
            except IntakeFailed:
                log.error("telegram update not stored", extra={"update_id": update.update_id})
                await _pause(stop, delay)
                delay = min(delay * 2, MAX_DELAY)
                break  # the same offset again: this update comes back
            except Exception as exc:
                # A bug on one update must not stop the others: skip it, loudly.
                log.error(
                    "telegram update failed",
                    extra={"update_id": update.update_id, "error": type(exc).__name__},
                )
            else:
                if answer is not None:
                    try:
                        await bot(answer)
                    except AiogramError as exc:
                        log.warning(
                            "telegram answer failed",
                            extra={"update_id": update.update_id, "error": type(exc).__name__},
                        )
            offset = update.update_id + 1
            handled += 1
    return handled
