"""A bounded wait never loses the cancel of the task that waits."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest

from services.waiting import within


async def cancelled_as_it_wakes(wait: Callable[[Awaitable[bool], float], Awaitable[bool]]) -> bool:
    """A background loop that waits on an event, cancelled in the same instant the event is
    set: whether the cancel ended it (rather than being swallowed, the loop running on)."""
    event = asyncio.Event()

    async def loop() -> None:
        while True:
            await wait(event.wait(), 10.0)
            event.clear()

    task = asyncio.create_task(loop())
    await asyncio.sleep(0.01)
    event.set()
    task.cancel()
    done, _ = await asyncio.wait([task], timeout=0.5)
    if not done:
        task.cancel()
        await asyncio.wait([task], timeout=0.5)
    return bool(done) and task.cancelled()


async def test_within_keeps_a_cancel_that_comes_as_the_wait_ends() -> None:
    assert all([await cancelled_as_it_wakes(within) for _ in range(20)])


async def test_within_bounds_the_wait() -> None:
    with pytest.raises(TimeoutError):
        await within(asyncio.Event().wait(), 0.01)
    assert await within(asyncio.sleep(0, "done"), 1.0) == "done"
