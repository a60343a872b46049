"""The inbox writer of the webhook path: many inbound messages, one INSERT and one commit.

Webhooks answer as soon as their message is stored. Storing each in its own transaction costs
a round trip and a commit per request; here every message waiting to be stored goes in one
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL and SQLite alike), and
each caller still hears back only once its row is committed. A message the database refuses
fails alone: the batcher stores the others without it.

A rate-limited message (the web chat's) has its hit counted in the same flush, before the
insert: one Redis call per stored batch, and a message over its limit is not inserted. When
Redis is away the hits go uncounted and the messages are stored, as the limit always did.

The gateway gives the writer an engine of its own in autocommit mode without a pre-ping
(``database.create_intake_engine``): the insert is one statement, so it commits by itself, and
a flush is one round trip instead of four (ping, BEGIN, INSERT, COMMIT). A pooled connection
the server ended is found by the statement itself; when asyncpg refuses that statement before
sending it (the connection already reads as closed or broken), the flush runs once more on a
new connection, which is what the pre-ping did. A connection lost while the statement was out
stays an error (503): whether it committed is unknown, as with a lost COMMIT before.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import asyncpg
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.domain.batching import Batcher
from civicline.domain.messages import InboundMessage
from civicline.storage.base import HitCounter
from civicline.storage.database import unreachable
from civicline.storage.inbox import inbound_from_row, inbound_values
from civicline.storage.tables import InboundMessageRow
from civicline.storage.upsert import insert_for

log = logging.getLogger(__name__)

Key = tuple[str, str]
Added = tuple[InboundMessage, bool]


def _key(message: InboundMessage) -> Key:
    return (str(message.channel), message.provider_message_id)


@dataclass(slots=True)
class _Pending:
    message: InboundMessage
    limit: HitCounter | None = None
    key: str = ""
    within: bool | None = None  # counted: kept when a failed batch is flushed again in halves


class _Unsent(Exception):
    """The insert was refused before it reached the server: safe to send again."""


def _never_sent(exc: DBAPIError) -> bool:
    """asyncpg refused the statement on a connection it already knew to be closed or broken
    (the server's FATAL read, the socket's end not yet): nothing reached the server."""
    cause = exc.orig.__cause__ if exc.orig is not None else None
    return exc.connection_invalidated and isinstance(
        cause, (asyncpg.InterfaceError, asyncpg.InternalClientError)
    )


class SqlInboxWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._batcher: Batcher[_Pending, Added | None] = Batcher(self._flush, shared=unreachable)

    async def add(self, message: InboundMessage) -> Added:
        """Store ``message`` unless its provider id was seen; returns it and whether it is new."""
        added = await self._batcher.submit(_Pending(message))
        assert added is not None  # only a rate limit refuses
        return added

    async def add_within(
        self, message: InboundMessage, limit: HitCounter, key: str
    ) -> Added | None:
        """Count a hit on ``key``, then store the message; None (not stored) when over."""
        return await self._batcher.submit(_Pending(message, limit, key))

    async def _flush(self, pending: Sequence[_Pending]) -> list[Added | None]:
        await _count(pending)
        kept = [p.message for p in pending if p.within is not False]
        stored = iter(await self._add_again_if_lost(kept))
        return [next(stored) if p.within is not False else None for p in pending]

    async def _add_again_if_lost(self, messages: Sequence[InboundMessage]) -> list[Added]:
        try:
            return await self._add(messages, resend=True)
        except _Unsent:
            return await self.add_many(messages)  # the pool was invalidated: a new connection

    async def add_many(self, messages: Sequence[InboundMessage]) -> list[Added]:
        return await self._add(messages, resend=False)

    async def _add(self, messages: Sequence[InboundMessage], *, resend: bool) -> list[Added]:
        """``resend``: raise ``_Unsent`` when the insert never reached the server (only then:
        after it, in autocommit, its rows may be committed)."""
        if not messages:
            return []
        first = {_key(m): m for m in reversed(messages)}  # the first of each key wins
        table = InboundMessageRow.__table__
        async with self.engine.begin() as conn:
            # One cached statement, many parameter sets: SQLAlchemy sends them as multi-row
            # VALUES batches ("insertmanyvalues") without compiling SQL per batch size.
            try:
                inserted = await conn.execute(
                    insert_for(conn.dialect.name, table)
                    .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                    .returning(table.c.id, table.c.channel, table.c.provider_message_id),
                    [inbound_values(m) for m in first.values()],
                )
            except DBAPIError as exc:
                if resend and _never_sent(exc):
                    raise _Unsent from exc
                raise
            new_ids = {(row.channel, row.provider_message_id): row.id for row in inserted}
            seen = [key for key in first if key not in new_ids]
            stored: dict[Key, InboundMessage] = {}
            for channel in {channel for channel, _ in seen}:
                # Per channel with IN: one index scan (= ANY). The (channel, id) tuple form was
                # seen scanning the whole table on a young table before ANALYZE.
                ids = [provider_id for c, provider_id in seen if c == channel]
                rows = await conn.execute(
                    select(table).where(
                        table.c.channel == channel, table.c.provider_message_id.in_(ids)
                    )
                )
                stored.update(
                    {(r.channel, r.provider_message_id): inbound_from_row(r) for r in rows}
                )
        for key, message_id in new_ids.items():
            first[key].id = message_id
        results = []
        for message in messages:
            key = _key(message)
            if key in new_ids:
                winner = first[key]
                results.append((winner, winner is message))
            else:
                results.append((stored[key], False))
        return results


async def _count(pending: Sequence[_Pending]) -> None:
    """Count the hits not counted yet, one call per limit (usually one)."""
    uncounted = [p for p in pending if p.limit is not None and p.within is None]
    for limit in {id(p.limit): p.limit for p in uncounted}.values():
        assert limit is not None
        mine = [p for p in uncounted if p.limit is limit]
        try:
            within = await limit.count([p.key for p in mine])
        except (RedisError, OSError) as exc:
            log.warning("rate limit unavailable", extra={"error": type(exc).__name__})
            within = [True] * len(mine)
        for p, ok in zip(mine, within, strict=True):
            p.within = ok
