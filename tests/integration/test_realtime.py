"""The change feed against real Postgres: changes arrive, and a lost
connection is noticed, re-established and followed by a resync."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import asyncpg

from services.db import Database
from services.realtime import Change, ChangeFeed, FeedState, FeedStatus, ListenTransport


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Recorder:
    def __init__(self) -> None:
        self.changes: list[Change] = []
        self.statuses: list[FeedStatus] = []
        self.resyncs = 0

    def states(self) -> list[FeedState]:
        return [s.state for s in self.statuses]

    async def resync(self) -> None:
        self.resyncs += 1


async def start_feed(dsn: str, rec: Recorder, **kwargs: float) -> tuple[ChangeFeed, asyncio.Task[None], Database]:
    db = Database(dsn)
    await db.open()
    feed = ChangeFeed(
        ListenTransport(db.listener_connection),
        on_change=rec.changes.append,
        on_status=rec.statuses.append,
        resync=rec.resync,
        **kwargs,
    )
    task = asyncio.create_task(feed.run())
    await until(lambda: feed.status.state is FeedState.LIVE)
    return feed, task, db


async def stop_feed(feed: ChangeFeed, task: asyncio.Task[None], db: Database) -> None:
    await feed.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    await db.close()


async def confirm_one_pending(admin: asyncpg.Connection) -> int:
    booking_id: int = await admin.fetchval(
        "update backroom.booking set status = 'confirmed' where id = ("
        " select b.id from backroom.booking b join backroom.night n on n.id = b.night_id"
        " where b.status = 'pending' and n.date = '2026-11-20' order by b.id limit 1) returning id"
    )
    return booking_id


async def test_a_committed_change_reaches_the_feed(dsn: str, admin: asyncpg.Connection) -> None:
    rec = Recorder()
    feed, task, db = await start_feed(dsn, rec)
    try:
        assert rec.resyncs == 1
        booking_id = await confirm_one_pending(admin)
        await until(lambda: any(c.id == booking_id for c in rec.changes))
        change = next(c for c in rec.changes if c.id == booking_id)
        assert change.kind == "booking" and change.op == "update" and change.tables
    finally:
        await stop_feed(feed, task, db)
    assert rec.states()[-1] is FeedState.OFFLINE


async def test_killed_listener_reconnects_and_resyncs(dsn: str, admin: asyncpg.Connection) -> None:
    rec = Recorder()
    feed, task, db = await start_feed(dsn, rec, backoff_base=0.05)
    try:
        killed = await admin.fetchval(
            "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and query like 'LISTEN%') k"
        )
        assert killed == 1
        # A change made while the listener is away is covered by the resync.
        await confirm_one_pending(admin)
        await until(lambda: rec.resyncs == 2 and feed.status.state is FeedState.LIVE)
        assert FeedState.RECONNECTING in rec.states()
        assert feed.reconnects == 1
        booking_id = await confirm_one_pending(admin)
        await until(lambda: any(c.id == booking_id for c in rec.changes))
    finally:
        await stop_feed(feed, task, db)


async def test_unreachable_server_goes_offline_and_keeps_trying(dsn: str) -> None:
    rec = Recorder()
    attempts = 0

    async def refuse() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        raise OSError("connection refused")

    feed = ChangeFeed(
        ListenTransport(refuse), on_change=rec.changes.append, on_status=rec.statuses.append,
        resync=rec.resync, backoff_base=0.01, backoff_cap=0.05,
    )
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: attempts >= 4)
        assert FeedState.LIVE not in rec.states()
        assert rec.statuses[0].state is FeedState.RECONNECTING
        assert feed.status.state is FeedState.OFFLINE and feed.status.attempt >= 3
        assert rec.resyncs == 0
    finally:
        await feed.stop()
        await asyncio.wait_for(task, timeout=5)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    async def never() -> asyncpg.Connection:
        raise OSError

    async def nothing() -> None:
        return None

    feed = ChangeFeed(ListenTransport(never), on_change=print, on_status=print, resync=nothing,
                      backoff_base=0.25, backoff_cap=4.0)
    waits = {n: [feed.backoff(n) for _ in range(200)] for n in (1, 2, 3, 10)}
    assert all(0.125 <= w <= 0.25 for w in waits[1])
    assert all(0.25 <= w <= 0.5 for w in waits[2])
    assert all(2.0 <= w <= 4.0 for w in waits[10])
    assert len(set(waits[3])) > 50, "waits must be jittered"


async def test_malformed_payloads_are_ignored(dsn: str, admin: asyncpg.Connection) -> None:
    rec = Recorder()
    feed, task, db = await start_feed(dsn, rec)
    try:
        await admin.execute("select pg_notify('backroom_changes', 'not json')")
        await admin.execute("""select pg_notify('backroom_changes', '{"kind": "hold", "id": 5, "tables": [3], "op": "insert"}')""")
        await until(lambda: len(rec.changes) == 1)
        assert rec.changes[0].tables == (3,)
        assert feed.status.state is FeedState.LIVE
    finally:
        await stop_feed(feed, task, db)
