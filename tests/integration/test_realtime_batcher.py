"""Bursts of changes are merged per table before a screen sees them, and the
last flush always comes after the last change."""

from __future__ import annotations

import asyncio
import itertools
import random
import time

from services.live.feed import Change, ChangeBatch, ChangeBatcher
from tests.integration.realtime_helpers import until


def change(table: int | None, night: int | None = 7, kind: str = "booking") -> Change:
    return Change(kind=kind, id=1, night=night, tables=() if table is None else (table,), op="update")


async def test_a_burst_in_one_moment_is_one_flush() -> None:
    flushed: list[ChangeBatch] = []
    batcher = ChangeBatcher(flushed.append, every=0.1)
    for n in range(500):
        batcher.add(change(1 + n % 16))
    await batcher.drain()
    assert len(flushed) == 1
    batch = flushed[0]
    assert batch.tables == frozenset(range(1, 17)) and batch.changes == 500
    assert batch.nights == frozenset({7}) and not batch.everything
    assert batch.concerns(7) and not batch.concerns(8)


async def test_a_quiet_change_is_flushed_at_once() -> None:
    flushed: list[float] = []
    batcher = ChangeBatcher(lambda _b: flushed.append(time.monotonic()), every=1.0)
    added = time.monotonic()
    batcher.add(change(3))
    await until(lambda: bool(flushed), timeout=0.5)
    assert flushed[0] - added < 0.5, "the first change does not wait for the interval"


async def test_a_long_burst_flushes_at_most_once_per_interval_and_ends_on_the_last_change() -> None:
    flushed: list[tuple[float, ChangeBatch]] = []
    batcher = ChangeBatcher(lambda b: flushed.append((time.monotonic(), b)), every=0.05)
    rng = random.Random(5)
    sent: set[int] = set()
    started = time.monotonic()
    while time.monotonic() - started < 0.4:
        for _ in range(20):
            table = rng.randint(1, 16)
            sent.add(table)
            batcher.add(change(table))
        await asyncio.sleep(0.002)
    last_table = 99
    batcher.add(change(last_table))
    await batcher.drain()
    times = [t for t, _ in flushed]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert all(g >= 0.045 for g in gaps), f"flushes closer than the interval: {gaps}"
    assert len(flushed) <= 0.4 / 0.05 + 3
    assert set().union(*(b.tables for _, b in flushed)) == sent | {last_table}
    assert last_table in flushed[-1][1].tables
    assert sum(b.changes for _, b in flushed) == batcher.received


async def test_a_slow_consumer_gets_bigger_batches_never_overlapping_ones() -> None:
    running = 0
    overlaps = 0
    batches: list[ChangeBatch] = []

    async def apply(batch: ChangeBatch) -> None:
        nonlocal running, overlaps
        running += 1
        overlaps += running > 1
        await asyncio.sleep(0.1)
        batches.append(batch)
        running -= 1

    batcher = ChangeBatcher(apply, every=0.01)
    for n in range(300):
        batcher.add(change(1 + n % 16))
        if n % 10 == 0:
            await asyncio.sleep(0.005)
    await asyncio.wait_for(batcher.drain(), timeout=5)
    assert overlaps == 0
    assert sum(b.changes for b in batches) == 300
    assert len(batches) < 300 / 10, "changes that came during a flush were merged"


async def test_a_change_without_tables_asks_for_everything() -> None:
    flushed: list[ChangeBatch] = []
    batcher = ChangeBatcher(flushed.append, every=0.05)
    batcher.add(change(None, night=None, kind="venue_table"))
    batcher.add(change(4))
    await batcher.drain()
    assert flushed[0].everything and flushed[0].concerns(123)
    assert flushed[0].kinds == frozenset({"venue_table", "booking"})
    batcher.reload_all()
    await batcher.drain()
    assert flushed[-1].everything


async def test_clear_and_close_drop_what_is_pending() -> None:
    flushed: list[ChangeBatch] = []
    batcher = ChangeBatcher(flushed.append, every=10)
    batcher.add(change(1))
    await batcher.drain()
    batcher.add(change(2))  # waits for the interval
    assert batcher.pending == 1
    batcher.clear()
    await asyncio.wait_for(batcher.drain(), timeout=1)
    batcher.close()
    batcher.add(change(3))
    await asyncio.sleep(0.05)
    assert [b.tables for b in flushed] == [frozenset({1})]
