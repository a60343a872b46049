"""The gateway's services live as long as their ``services_for`` block, and no longer.

Start-up freezes what it built out of the garbage collector's sight (issue 20); closing the
services must undo that, or a process that opens them again and again (the test suite, a
reloading server) keeps every earlier set alive: 200 MB each, until the kernel kills it."""

from __future__ import annotations

import gc
import weakref

from tests.support.places import Places


async def test_closed_services_are_released(places: Places) -> None:
    async with places.services(gc_freeze=True) as services:
        assert gc.get_freeze_count() > 0
        classifier = weakref.ref(services.classifier)
        del services
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert classifier() is None
