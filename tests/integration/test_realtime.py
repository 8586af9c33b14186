"""The change feed against real Postgres: changes arrive, and a lost
connection is noticed, re-established and followed by a resync."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg

from services.live.feed import (
    LISTEN_APPLICATION,
    ChangeFeed,
    FeedState,
    FeedStatus,
    ListenTransport,
)
from tests.integration.realtime_helpers import Recorder, confirm_one_pending, start_feed, stop_feed, until


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
    gate = asyncio.Event()
    gate.set()
    feed, task, db = await start_feed(dsn, rec, gate=gate, backoff_base=0.05)
    try:
        gate.clear()  # hold the reconnection until the change is made
        killed = await admin.fetchval(
            "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and application_name = $1) k",
            LISTEN_APPLICATION,
        )
        assert killed == 1
        await until(lambda: feed.status.state is not FeedState.LIVE)
        # A change made while the listener is away is covered by the resync.
        away = await confirm_one_pending(admin)
        assert rec.resyncs == 1
        gate.set()
        await until(lambda: rec.resyncs == 2 and feed.status.state is FeedState.LIVE)
        assert away in rec.confirmed, "the resync read the change made while away"
        assert FeedState.RECONNECTING in rec.states()
        assert feed.reconnects == 1
        booking_id = await confirm_one_pending(admin)
        await until(lambda: any(c.id == booking_id for c in rec.changes))
    finally:
        await stop_feed(feed, task, db)


async def test_unreachable_server_is_reconnecting_then_offline_and_keeps_trying(dsn: str) -> None:
    rec = Recorder()
    attempts = 0

    async def refuse() -> asyncpg.Connection:
        nonlocal attempts
        attempts += 1
        raise OSError("connection refused")

    stamped: list[tuple[float, FeedStatus]] = []

    def on_status(status: FeedStatus) -> None:
        rec.statuses.append(status)
        stamped.append((time.monotonic(), status))

    feed = ChangeFeed(
        ListenTransport(refuse),
        on_change=rec.changes.append,
        on_status=on_status,
        resync=rec.resync,
        backoff_base=0.01,
        backoff_cap=0.05,
        offline_after=0.5,
    )
    started = time.monotonic()
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.status.state is FeedState.OFFLINE)
        offline_at = attempts
        await until(lambda: attempts >= offline_at + 3)  # Offline, and still trying
        assert FeedState.LIVE not in rec.states()
        first = rec.statuses[0]
        assert first.state is FeedState.RECONNECTING and first.attempt == 1 and first.error
        reconnecting = [s for s in rec.statuses if s.state is FeedState.RECONNECTING]
        assert [s.attempt for s in reconnecting[:3]] == [1, 2, 3], "attempt n counts up"
        went_offline = next(t for t, s in stamped if s.state is FeedState.OFFLINE)
        assert went_offline - started >= 0.5, "Offline only after a sustained failure"
        assert feed.status.attempt > offline_at and feed.status.down_since is not None
        assert rec.resyncs == 0 and feed.age_of_data() is None
    finally:
        await feed.stop()
        await asyncio.wait_for(task, timeout=5)


async def test_a_short_outage_never_shows_offline(dsn: str, admin: asyncpg.Connection) -> None:
    rec = Recorder()
    feed, task, db = await start_feed(dsn, rec, backoff_base=0.05, offline_after=30)
    try:
        await admin.execute(
            "select pg_terminate_backend(pid) from pg_stat_activity"
            " where datname = current_database() and application_name = $1",
            LISTEN_APPLICATION,
        )
        await until(lambda: feed.reconnects == 1 and feed.status.state is FeedState.LIVE)
        after_first_live = rec.states()[rec.states().index(FeedState.LIVE) :]
        assert FeedState.OFFLINE not in after_first_live
    finally:
        await stop_feed(feed, task, db)


def test_backoff_grows_with_jitter_and_is_capped() -> None:
    async def never() -> asyncpg.Connection:
        raise OSError

    async def nothing() -> None:
        return None

    feed = ChangeFeed(
        ListenTransport(never),
        on_change=print,
        on_status=print,
        resync=nothing,
        backoff_base=0.25,
        backoff_cap=4.0,
    )
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
        await admin.execute(
            """select pg_notify('backroom_changes', '{"kind": "hold", "id": 5, "tables": [3], "op": "insert"}')"""
        )
        await until(lambda: len(rec.changes) == 1)
        assert rec.changes[0].tables == (3,)
        assert feed.status.state is FeedState.LIVE
    finally:
        await stop_feed(feed, task, db)


async def test_changes_carry_their_commit_time_and_the_feed_measures_latency(
    dsn: str, admin: asyncpg.Connection
) -> None:
    rec = Recorder()
    feed, task, db = await start_feed(dsn, rec)
    try:
        assert feed.clock.known, "the first ping syncs the clock"
        # One machine, one clock: the estimated offset is within the ping's round trip.
        assert abs(feed.clock.offset) < 0.05
        before = time.time()
        booking_id = await confirm_one_pending(admin)
        after = time.time()
        await until(lambda: any(c.id == booking_id for c in rec.changes))
        change = next(c for c in rec.changes if c.id == booking_id)
        assert change.committed_at is not None
        assert before - 0.05 <= change.committed_at <= after + 0.05
        figures = feed.latency.summary()
        assert figures.count >= 1 and figures.p50 is not None and 0 <= figures.p50 < 1.0
        since = feed.since_commit(change)
        assert since is not None and since >= 0
        age = feed.age_of_last_event()
        assert age is not None and age < 5
        data_age = feed.age_of_data()
        assert data_age is not None and data_age <= feed.detection_bound
    finally:
        await stop_feed(feed, task, db)


class SilentTransport:
    """Opens fine, then stops answering pings, as a hung peer does."""

    def __init__(self) -> None:
        self.opened = 0
        self.hung = False

    async def open(self, on_payload: Callable[[str], None], on_lost: Callable[[str], None]) -> None:
        self.opened += 1

    async def ping(self) -> float | None:
        if self.hung:
            await asyncio.Event().wait()
        return None

    async def close(self) -> None:
        self.hung = False  # the next connection works again


async def test_a_silent_transport_is_noticed_within_the_bound() -> None:
    rec = Recorder()
    transport = SilentTransport()
    stamped: list[tuple[float, FeedStatus]] = []
    feed = ChangeFeed(
        transport,
        on_change=rec.changes.append,
        on_status=lambda s: stamped.append((time.monotonic(), s)),
        resync=rec.resync,
        ping_every=0.2,
        ping_timeout=0.3,
        backoff_base=0.01,
    )
    task = asyncio.create_task(feed.run())
    try:
        await until(lambda: feed.status.state is FeedState.LIVE)
        transport.hung = True
        hung_at = time.monotonic()
        # Reconnecting can be over before a poll sees it: look at what was reported.
        await until(lambda: any(t >= hung_at and s.state is not FeedState.LIVE for t, s in stamped))
        noticed = next(t for t, s in stamped if t >= hung_at and s.state is not FeedState.LIVE)
        assert noticed - hung_at <= feed.detection_bound + 0.1
        assert any("no answer" in (s.error or "") for _, s in stamped)
        await until(lambda: feed.status.state is FeedState.LIVE and transport.opened == 2)
        assert feed.reconnects == 1 and rec.resyncs == 2
    finally:
        await feed.stop()
        await asyncio.wait_for(task, timeout=5)
    assert feed.status.state is FeedState.OFFLINE


async def test_stop_is_prompt_even_during_a_long_backoff() -> None:
    async def refuse() -> asyncpg.Connection:
        raise OSError("connection refused")

    async def nothing() -> None:
        return None

    feed = ChangeFeed(
        ListenTransport(refuse),
        on_change=print,
        on_status=lambda s: None,
        resync=nothing,
        backoff_base=30,
        backoff_cap=30,
    )
    task = asyncio.create_task(feed.run())
    await until(lambda: feed.status.state is FeedState.RECONNECTING)
    started = time.monotonic()
    await feed.stop()
    await asyncio.wait_for(task, timeout=5)
    assert time.monotonic() - started < 1.0
    assert feed.status.state is FeedState.OFFLINE
