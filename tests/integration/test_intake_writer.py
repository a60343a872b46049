"""The inbox writer's flush: rate-limit hits counted with the store, and PostgreSQL's intake
engine (autocommit, no pre-ping) surviving sessions the server ended."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime

import pytest
import redis.asyncio as aioredis
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from civicline.domain.messages import Channel, InboundMessage
from civicline.storage import database
from civicline.storage.database import UnstorableText
from civicline.storage.intake import SqlInboxWriter
from civicline.storage.queue import connect
from civicline.storage.rate_limit import RateLimiter
from civicline.storage.tables import InboundMessageRow
from tests.support.services import terminate_backends


def _message(provider_id: str, text: str = "路灯坏了", address: str = "c" * 32) -> InboundMessage:
    return InboundMessage(
        channel=Channel.WEBCHAT,
        provider_message_id=provider_id,
        sender_address=address,
        text=text,
        received_at=datetime.now(UTC),
    )


async def _stored(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(select(func.count(InboundMessageRow.id)))).scalar_one())


@pytest.fixture
async def limiter(redis_url: str) -> AsyncIterator[RateLimiter]:
    redis = await connect(redis_url)
    yield RateLimiter(redis, limit=2, window_seconds=60, prefix="test")
    await redis.aclose()


class Counting:
    """A limit that counts its calls and the keys it was given."""

    def __init__(self, limit: RateLimiter) -> None:
        self.limit = limit
        self.calls: list[list[str]] = []

    async def count(self, keys: Sequence[str]) -> list[bool]:
        self.calls.append(list(keys))
        return await self.limit.count(keys)


@pytest.mark.parametrize("db_url", ["sqlite", "postgres"], indirect=True)
async def test_hits_are_counted_in_the_flush_and_over_the_limit_nothing_is_stored(
    engine: AsyncEngine, limiter: RateLimiter
) -> None:
    writer = SqlInboxWriter(engine)
    counting = Counting(limiter)
    added = await asyncio.gather(
        *(writer.add_within(_message(f"m{i}", address="a" * 32), counting, "a") for i in range(3)),
        writer.add_within(_message("other", address="b" * 32), counting, "b"),
    )
    assert [a is not None for a in added] == [True, True, False, True]
    assert sum(len(keys) for keys in counting.calls) == 4
    assert len(counting.calls) <= 2  # one call per flush (the first flush may carry one hit)
    assert await _stored(engine) == 3
    assert await writer.add_within(_message("m9", address="a" * 32), counting, "a") is None
    assert await _stored(engine) == 3
    stored, created = await writer.add(_message("plain"))  # no limit
    assert created and stored.id is not None


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_a_refused_row_splits_the_batch_without_counting_hits_twice(
    engine: AsyncEngine, limiter: RateLimiter
) -> None:
    writer = SqlInboxWriter(engine)
    counting = Counting(limiter)
    held = asyncio.create_task(writer.add(_message("first")))  # the next ones queue behind it
    posts = [
        asyncio.create_task(
            writer.add_within(_message(f"k{i}", address=f"{i}" * 32), counting, f"k{i}")
        )
        for i in range(6)
    ]
    poisoned = asyncio.create_task(writer.add(_message("poison", text="坏\x00了")))
    await held
    with pytest.raises(UnstorableText):
        await poisoned
    assert all(added is not None and added[1] for added in await asyncio.gather(*posts))
    assert sorted(key for keys in counting.calls for key in keys) == [f"k{i}" for i in range(6)]


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_with_redis_away_the_message_is_stored_uncounted(engine: AsyncEngine) -> None:
    redis = aioredis.Redis.from_url("redis://127.0.0.1:1/0")  # nothing listens there
    writer = SqlInboxWriter(engine)
    try:
        limit = RateLimiter(redis, limit=1, window_seconds=60, prefix="test")
        for i in range(3):
            added = await writer.add_within(_message(f"r{i}"), limit, "c")
            assert added is not None and added[1]
    finally:
        await redis.aclose()


@pytest.mark.parametrize("db_url", ["postgres"], indirect=True)
async def test_the_intake_engine_outlives_ended_sessions(db_url: str) -> None:
    """No pre-ping: a session the server ended is found by the insert itself, refused by
    asyncpg before anything is sent, and the flush runs again on a new connection."""
    engine = database.create_intake_engine(db_url)
    assert engine is not None
    writer = SqlInboxWriter(engine)
    try:
        for round_ in range(5):
            batch = [writer.add(_message(f"t{round_}-{i}")) for i in range(20)]
            assert all(created for _, created in await asyncio.gather(*batch))
            assert await terminate_backends(db_url) >= 1
            await asyncio.sleep(0.2)  # the server's FATAL reaches the idle connection
        stored, created = await writer.add(_message("after"))
        assert created and stored.id is not None
        replay, again = await writer.add(_message("after"))
        assert not again and replay.id == stored.id
        assert await _stored(engine) == 101
    finally:
        await engine.dispose()
