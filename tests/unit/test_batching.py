"""The batcher: calls that arrive together share one flush; errors reach every caller."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from civicline.storage.batching import Batcher


class Recorder:
    def __init__(self, fail_on: int | None = None) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = fail_on

    async def flush(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0.01)
        if self.fail_on in items:
            raise ValueError("flush failed")
        return [item * 10 for item in items]


async def test_a_lone_call_is_flushed_at_once() -> None:
    recorder = Recorder()
    assert await asyncio.wait_for(Batcher(recorder.flush).submit(1), 1) == 10
    assert recorder.batches == [[1]]


async def test_calls_arriving_during_a_flush_share_the_next_one() -> None:
    recorder = Recorder()
    batcher = Batcher(recorder.flush, max_size=50)
    first = asyncio.create_task(batcher.submit(0))
    await asyncio.sleep(0)  # the first flush is now in flight
    rest = [asyncio.create_task(batcher.submit(i)) for i in range(1, 120)]
    results = await asyncio.gather(first, *rest)
    assert results == [i * 10 for i in range(120)]
    assert [len(b) for b in recorder.batches] == [1, 50, 50, 19]


async def test_a_failed_flush_fails_its_callers_only() -> None:
    recorder = Recorder(fail_on=3)
    batcher = Batcher(recorder.flush, max_size=2)
    tasks = [asyncio.create_task(batcher.submit(i)) for i in range(1, 7)]
    results = await asyncio.gather(*tasks, return_exceptions=True)
    assert results[0:2] == [10, 20]
    assert all(isinstance(r, ValueError) for r in results[2:4])
    assert results[4:] == [50, 60]


async def test_a_flush_must_answer_every_call() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return []

    with pytest.raises(RuntimeError, match="wrong number"):
        await Batcher(short).submit(1)
