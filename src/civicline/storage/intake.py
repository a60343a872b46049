"""The inbox writer of the webhook path: many inbound messages, one INSERT and one commit.

Webhooks answer as soon as their message is stored. Storing each in its own transaction costs
a round trip and a commit per request; here every message waiting to be stored goes in one
multi-row ``INSERT … ON CONFLICT DO NOTHING RETURNING`` (PostgreSQL and SQLite alike), and
each caller still hears back only once its row is committed. A message the database refuses
fails alone: the batcher stores the others without it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.domain.batching import Batcher
from civicline.domain.messages import InboundMessage
from civicline.storage.database import unreachable
from civicline.storage.inbox import inbound_from_row, inbound_values
from civicline.storage.tables import InboundMessageRow
from civicline.storage.upsert import insert_for

Key = tuple[str, str]


def _key(message: InboundMessage) -> Key:
    return (str(message.channel), message.provider_message_id)


class SqlInboxWriter:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self._batcher: Batcher[InboundMessage, tuple[InboundMessage, bool]] = Batcher(
            self.add_many, shared=unreachable
        )

    async def add(self, message: InboundMessage) -> tuple[InboundMessage, bool]:
        """Store ``message`` unless its provider id was seen; returns it and whether it is new."""
        return await self._batcher.submit(message)

    async def add_many(
        self, messages: Sequence[InboundMessage]
    ) -> list[tuple[InboundMessage, bool]]:
        first = {_key(m): m for m in reversed(messages)}  # the first of each key wins
        table = InboundMessageRow.__table__
        async with self.engine.begin() as conn:
            # One cached statement, many parameter sets: SQLAlchemy sends them as multi-row
            # VALUES batches ("insertmanyvalues") without compiling SQL per batch size.
            inserted = await conn.execute(
                insert_for(conn.dialect.name, table)
                .on_conflict_do_nothing(index_elements=["channel", "provider_message_id"])
                .returning(table.c.id, table.c.channel, table.c.provider_message_id),
                [inbound_values(m) for m in first.values()],
            )
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
