"""Supabase Realtime as the change transport and as presence, against the
Realtime stand-in: changes reach the ChangeFeed, every kind of loss is
reported and followed by a reconnection and a resync, and presence joins and
leaves."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import pytest

from services.identity.roles import Role
from services.live.feed import Change, ChangeFeed, FeedState, FeedStatus
from services.live.presence import PresenceEntry
from services.store.db import Actor
from services.supabase.config import SupabaseConfig
from services.supabase.realtime import PhoenixSocket, SupabasePresence, SupabaseTransport, socket_url
from tests.supabase.conftest import API_KEY, JWT_KEY, SupabaseDb
from tests.supabase.standins import RealtimeStandIn, mint, staff_claims

CHANGES = "realtime:backroom:changes"
DAY = 24 * 3600


def signed(sub: str | None = None, *, seconds: int = DAY) -> str:
    """An access token of the project (signed with its JWT secret) for user `sub`."""
    return mint(JWT_KEY, staff_claims(sub or str(uuid.uuid4()), seconds=seconds))


STAFF_TOKEN = signed()


async def until(predicate: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


def token(value: str = STAFF_TOKEN) -> Callable[[], Awaitable[str | None]]:
    async def source() -> str | None:
        return value

    return source


@dataclass
class Running:
    feed: ChangeFeed
    changes: list[Change] = field(default_factory=list)
    statuses: list[FeedStatus] = field(default_factory=list)
    resyncs: int = 0

    def states(self) -> list[FeedState]:
        return [s.state for s in self.statuses]


@contextlib.asynccontextmanager
async def running_feed(
    config: SupabaseConfig, source: Callable[[], Awaitable[str | None]] | None = None
) -> AsyncIterator[Running]:
    holder: list[Running] = []

    async def resync() -> None:
        holder[0].resyncs += 1

    run = Running(feed=None)  # type: ignore[arg-type]
    holder.append(run)
    run.feed = ChangeFeed(
        SupabaseTransport(config, source or token(), timeout=1.0),
        on_change=run.changes.append,
        on_status=run.statuses.append,
        resync=resync,
        ping_every=0.2,
        ping_timeout=0.5,
        open_timeout=2.0,
        backoff_base=0.05,
        backoff_cap=0.2,
        offline_after=5.0,
    )
    task = asyncio.create_task(run.feed.run())
    try:
        yield run
    finally:
        await run.feed.stop()
        await asyncio.wait_for(task, 5)


@pytest.fixture
def config(realtime: RealtimeStandIn) -> SupabaseConfig:
    return SupabaseConfig(realtime.url, API_KEY)


def change(booking: int, tables: list[int]) -> dict[str, object]:
    return {
        "kind": "booking",
        "id": booking,
        "night": 1,
        "tables": tables,
        "op": "update",
        "version": 2,
        "ts": time.time(),
    }


async def test_broadcast_changes_reach_the_feed(realtime: RealtimeStandIn, config: SupabaseConfig) -> None:
    async with running_feed(config) as run:
        await until(lambda: run.feed.status.state is FeedState.LIVE)
        assert run.resyncs == 1
        join = next(m for m in realtime.received if m["event"] == "phx_join")
        assert join["topic"] == CHANGES and join["payload"]["config"]["private"] is True
        assert join["payload"]["access_token"] == STAFF_TOKEN
        await realtime.broadcast("backroom:changes", "something_else", {"kind": "noise"})
        await realtime.broadcast("backroom:changes", "change", change(5, [3, 4]))
        await until(lambda: bool(run.changes))
        assert [(c.kind, c.id, c.tables, c.version) for c in run.changes] == [("booking", 5, (3, 4), 2)]
        assert run.feed.latency.summary().count == 1


@pytest.mark.parametrize("loss", ["socket closed", "channel error", "token expired", "silent server"])
async def test_loss_is_reported_then_reconnect_and_resync(
    realtime: RealtimeStandIn, config: SupabaseConfig, loss: str
) -> None:
    async with running_feed(config) as run:
        await until(lambda: run.feed.status.state is FeedState.LIVE)
        lost_at = time.monotonic()
        if loss == "socket closed":
            await realtime.drop()
        elif loss == "channel error":
            await realtime.channel_error("backroom:changes")
        elif loss == "token expired":
            await realtime.token_expired("backroom:changes")
        else:
            realtime.silent = True
        await until(lambda: FeedState.RECONNECTING in run.states())
        noticed = time.monotonic() - lost_at
        assert noticed < run.feed.detection_bound + 0.5
        realtime.silent = False
        await until(lambda: run.feed.status.state is FeedState.LIVE and run.resyncs == 2)
        assert run.feed.reconnects == 1
        assert realtime.connections == 2
        # What was missed is covered by the resync; what comes next arrives.
        await realtime.broadcast("backroom:changes", "change", change(9, [1]))
        await until(lambda: any(c.id == 9 for c in run.changes))


async def test_a_refused_join_never_reports_live(realtime: RealtimeStandIn, config: SupabaseConfig) -> None:
    realtime.authorize = lambda topic, tok: False
    async with running_feed(config) as run:
        await until(lambda: len(run.statuses) >= 2)
        assert run.feed.status.state is FeedState.RECONNECTING
        assert "Unauthorized" in (run.feed.status.error or "")
        assert run.resyncs == 0
        realtime.authorize = lambda topic, tok: tok == STAFF_TOKEN
        await until(lambda: run.feed.status.state is FeedState.LIVE)
        assert run.resyncs == 1


@pytest.mark.parametrize("forged", ["another secret", "expired"])
async def test_a_token_the_project_did_not_sign_is_refused(
    realtime: RealtimeStandIn, config: SupabaseConfig, forged: str
) -> None:
    bad = (
        mint(b"not the project's jwt secret", staff_claims(str(uuid.uuid4())))
        if forged == "another secret"
        else signed(seconds=-5)
    )
    async with running_feed(config, token(bad)) as run:
        await until(lambda: len(run.statuses) >= 2)
        assert run.feed.status.state is FeedState.RECONNECTING
        assert "Invalid JWT" in (run.feed.status.error or "")
        assert run.resyncs == 0


async def test_a_wrong_api_key_is_refused_before_any_channel(realtime: RealtimeStandIn) -> None:
    async with running_feed(SupabaseConfig(realtime.url, "not-the-key")) as run:
        await until(lambda: len(run.statuses) >= 2)
        assert run.feed.status.state is FeedState.RECONNECTING
        assert "403" in (run.feed.status.error or "")


async def test_a_refreshed_token_reaches_the_channel(
    realtime: RealtimeStandIn, config: SupabaseConfig
) -> None:
    fresh = [signed() for _ in range(3)]
    tokens = iter(fresh)
    current = [STAFF_TOKEN]

    async def source() -> str | None:
        return current[0]

    async with running_feed(config, source) as run:
        await until(lambda: run.feed.status.state is FeedState.LIVE)
        current[0] = next(tokens)
        await until(lambda: realtime.tokens(CHANGES) == [fresh[0]])
        sent = [m for m in realtime.received if m["event"] == "access_token"]
        assert sent and sent[-1]["payload"] == {"access_token": fresh[0]}


async def test_from_the_database_trigger_to_the_feed(
    realtime: RealtimeStandIn, config: SupabaseConfig, supabase_db: SupabaseDb
) -> None:
    """The database's realtime.send, relayed by the stand-in as Realtime relays
    realtime.messages, arrives at the feed as a Change."""
    relay = await asyncpg.connect(supabase_db.dsn)
    forwarded: list[asyncio.Task[int]] = []

    def forward(_conn: object, _pid: int, _channel: str, payload: object) -> None:
        message = json.loads(str(payload))
        forwarded.append(
            asyncio.ensure_future(realtime.broadcast(message["topic"], message["event"], message["payload"]))
        )

    await relay.add_listener("standin_realtime", forward)
    writer = await asyncpg.connect(supabase_db.dsn)
    try:
        async with running_feed(config) as run:
            await until(lambda: run.feed.status.state is FeedState.LIVE)
            session = await writer.fetchval("select backroom_meta.open_session($1)", supabase_db.manager_id)
            async with writer.transaction():
                await writer.execute(
                    "select set_config('role', 'backroom_console', true),"
                    " set_config('backroom.session', $1, true)",
                    session,
                )
                hold = await writer.fetchval(
                    "insert into backroom.hold (table_id, night_id, during, holder)"
                    " select 14, n.id, tstzrange(n.starts_at, n.starts_at + interval '1 hour'), 'test'"
                    " from backroom.night n order by n.date limit 1 returning id"
                )
            await until(lambda: any(c.kind == "hold" and c.id == hold for c in run.changes))
            got = next(c for c in run.changes if c.kind == "hold")
            assert got.tables == (14,) and got.op == "insert" and got.committed_at is not None
    finally:
        await writer.execute("delete from backroom.hold where holder = 'test'")
        await writer.close()
        await relay.close()


# Presence ------------------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def present(
    config: SupabaseConfig,
    actor: Actor,
    rosters: list[tuple[PresenceEntry, ...]] | None = None,
    source: Callable[[], Awaitable[str | None]] | None = None,
) -> AsyncIterator[tuple[SupabasePresence, asyncio.Task[None]]]:
    presence = SupabasePresence(
        config,
        actor,
        access_token=source or token(),
        on_change=None if rosters is None else rosters.append,
        beat_every=0.2,
        timeout=1.0,
        backoff_base=0.05,
        backoff_cap=0.2,
    )
    task = asyncio.create_task(presence.run())
    try:
        yield presence, task
    finally:
        await presence.stop()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.wait_for(task, 5)


async def test_consoles_see_each_other_join_announce_and_leave(
    config: SupabaseConfig, realtime: RealtimeStandIn
) -> None:
    manager = Actor(staff_id=1, name="Duty Manager", role=Role.MANAGER)
    door = Actor(staff_id=2, name="Door Team", role=Role.DOOR)
    seen: list[tuple[PresenceEntry, ...]] = []
    async with present(config, manager, seen) as (a, _task_a):
        await until(lambda: a.connected and len(a.online()) == 1)
        async with present(config, door) as (b, _task_b):
            await until(lambda: len(a.others()) == 1 and len(b.others()) == 1)
            assert a.others()[0].staff_name == "Door Team" and a.others()[0].role == "door"
            assert b.others()[0].console_id == a.console_id
            b.announce(screen="door", night_id=1, selected_table=4)
            await until(lambda: bool(a.others()) and a.others()[0].looks_at(4, 1))
            assert a.others()[0].screen == "door"
        # b said goodbye (untrack, leave): gone at once.
        await until(lambda: not a.others(), timeout=1.0)
        join = next(m for m in realtime.received if m["event"] == "phx_join")
        assert join["payload"]["config"]["presence"] == {"key": a.console_id, "enabled": True}
        assert all(
            "token" not in json.dumps(m["payload"]) for m in realtime.received if m["event"] == "presence"
        )
    assert [len(r) for r in seen][:2] == [1, 2]


async def test_a_console_that_dies_drops_out(config: SupabaseConfig, realtime: RealtimeStandIn) -> None:
    async with present(config, Actor(1, "Duty Manager", Role.MANAGER)) as (a, _task):
        doomed = SupabasePresence(
            config, Actor(2, "Door Team", Role.DOOR), access_token=token(), beat_every=0.2, timeout=1.0
        )
        task = asyncio.create_task(doomed.run())
        await until(lambda: len(a.others()) == 1)
        task.cancel()  # no goodbye: its socket just goes
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await until(lambda: not a.others(), timeout=2.0)


async def test_a_close_that_is_itself_cancelled_stays_cancelled(
    config: SupabaseConfig, realtime: RealtimeStandIn
) -> None:
    socket = PhoenixSocket(socket_url(config), on_message=lambda _m: None, on_closed=lambda _r: None)
    await socket.connect(1.0)
    closing = asyncio.create_task(socket.close())
    await asyncio.sleep(0)  # close() is now waiting for its reader to end
    closing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(closing, 2.0)
    assert not socket.is_open


async def test_presence_survives_a_server_restart_of_sockets(
    config: SupabaseConfig, realtime: RealtimeStandIn
) -> None:
    async with (
        present(config, Actor(1, "Duty Manager", Role.MANAGER)) as (a, _ta),
        present(config, Actor(2, "Door Team", Role.DOOR)) as (b, _tb),
    ):
        await until(lambda: len(a.online()) == 2 and len(b.online()) == 2)
        await realtime.drop()
        await until(lambda: realtime.connections >= 4 and len(a.online()) == 2 and a.connected)
        assert a.tracks >= 2


async def test_presence_is_refused_to_non_staff(config: SupabaseConfig, realtime: RealtimeStandIn) -> None:
    realtime.authorize = lambda topic, tok: tok == STAFF_TOKEN
    async with present(config, Actor(None, "Somebody", None), source=token(signed())) as (p, _task):
        await until(lambda: p.error is not None)
        assert not p.connected and "Unauthorized" in (p.error or "")
        assert p.online() == ()
