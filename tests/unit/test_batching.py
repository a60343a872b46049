"""The batcher: calls that arrive together share one flush; a call that fails fails alone."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from civicline.domain.batching import Batcher


class Recorder:
    def __init__(self, *fail_on: int, error: type[Exception] = ValueError) -> None:
        self.batches: list[list[int]] = []
        self.fail_on = set(fail_on)
        self.error = error

    async def flush(self, items: Sequence[int]) -> list[int]:
        self.batches.append(list(items))
        await asyncio.sleep(0.01)
        if self.fail_on & set(items):
            raise self.error("flush failed")
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


async def _submit_all(batcher: Batcher[int, int], items: range) -> list[int | BaseException]:
    first = asyncio.create_task(batcher.submit(items[0]))
    await asyncio.sleep(0)  # the first flush is in flight: the rest share the next one
    rest = [asyncio.create_task(batcher.submit(i)) for i in items[1:]]
    return await asyncio.gather(first, *rest, return_exceptions=True)


async def test_a_failing_call_fails_alone() -> None:
    recorder = Recorder(17)
    results = await _submit_all(Batcher(recorder.flush), range(1, 31))
    assert isinstance(results[16], ValueError)
    assert results[:16] + results[17:] == [i * 10 for i in range(1, 31) if i != 17]
    assert [1] in recorder.batches and recorder.batches[1] == list(range(2, 31))
    # Halves, not one flush per call: the 29 shared one flush, then 2 per halving (29, 15,
    # 7, 3, 2: four halvings, down to the one) and its neighbour's retry.
    assert len(recorder.batches) == 1 + 1 + 2 * 4 + 2


async def test_several_failing_calls_fail_alone() -> None:
    recorder = Recorder(3, 4, 20)
    results = await _submit_all(Batcher(recorder.flush, max_size=8), range(1, 31))
    failed = [i for i, r in zip(range(1, 31), results, strict=True) if isinstance(r, ValueError)]
    assert failed == [3, 4, 20]
    assert [r for r in results if not isinstance(r, BaseException)] == [
        i * 10 for i in range(1, 31) if i not in (3, 4, 20)
    ]


async def test_an_unreachable_store_fails_the_batch_at_once() -> None:
    recorder = Recorder(*range(1, 31), error=ConnectionRefusedError)
    results = await _submit_all(Batcher(recorder.flush), range(1, 31))
    assert all(isinstance(r, ConnectionRefusedError) for r in results)
    assert [len(b) for b in recorder.batches] == [1, 29]  # no split: it would not help


async def test_a_flush_must_answer_every_call() -> None:
    async def short(items: Sequence[int]) -> list[int]:
        return []

    with pytest.raises(RuntimeError, match="wrong number"):
        await Batcher(short).submit(1)
