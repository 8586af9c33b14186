"""The feed through real outages, on a Postgres server of this module's own:
the server stopped and started again, and a network path that goes silent
(a proxy on loopback that stops forwarding without closing anything).

The server lives in a directory from tempfile.mkdtemp, not under pytest's
tmp_path: a new pytest run resets that tree's permissions, which breaks a
server running as its own user.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from services.embedded.server import EmbeddedPostgres, ServerInfo
from services.floor import FloorService
from services.identity import staff
from services.live.feed import (
    LISTEN_APPLICATION,
    Change,
    ChangeFeed,
    FeedState,
    FeedStatus,
    ListenTransport,
)
from services.models import FloorSnapshot
from services.store import migrations, seed
from services.store.db import Actor, Database
from tests.conftest import SAMPLE_NIGHT, fixed_clock
from tests.faults import SilentProxy
from tests.integration.realtime_helpers import until

DATABASE = "backroom"
LOGIN, PASSWORD = "floor_console", "s3cret-for-tests"
DETECTION_BOUND = 5.0  # the bound for noticing a silent connection


@dataclass
class OwnServer:
    pg: EmbeddedPostgres

    @property
    def info(self) -> ServerInfo:
        info = self.pg.running()
        assert info is not None, "the module's server is not running"
        return info

    @property
    def owner_dsn(self) -> str:
        return self.info.dsn(database=DATABASE)

    async def manager(self) -> Actor:
        """The sample's duty manager, signed in (the owner opens the session)."""
        return await staff.owner_session(self.owner_dsn, seed.DEMO_MANAGER)

    def tcp_dsn(self, port: int) -> str:
        """The console's login over TCP, to `port` (the server's, or a proxy's)."""
        return f"postgresql://{LOGIN}:{PASSWORD}@127.0.0.1:{port}/{DATABASE}"


@pytest.fixture(scope="module")
async def own_server() -> AsyncIterator[OwnServer]:
    data = Path(tempfile.mkdtemp(prefix="backroom-realtime-pg-"))
    pg = EmbeddedPostgres(
        data, extra_settings={"fsync": "off", "synchronous_commit": "off", "full_page_writes": "off"}
    )
    try:
        info = await asyncio.to_thread(pg.start)
        root = await asyncpg.connect(info.dsn())
        try:
            await root.execute(f"create database {DATABASE}")
        finally:
            await root.close()
        conn = await asyncpg.connect(info.dsn(database=DATABASE))
        try:
            await migrations.migrate(conn)
            await seed.seed_venue(conn, seed.load_layout())
            await seed.seed_sample(conn, SAMPLE_NIGHT, days=2)
            # A console's own login: not the owner, a member of the console role.
            await conn.execute(f"create role {LOGIN} login password '{PASSWORD}'")
            await conn.execute(f"grant backroom_console to {LOGIN}")
        finally:
            await conn.close()
        yield OwnServer(pg)
    finally:
        await asyncio.to_thread(pg.stop)
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
async def server(own_server: OwnServer) -> OwnServer:
    await asyncio.to_thread(own_server.pg.start)  # a test that failed half-way may have left it down
    return own_server


class FloorConsole:
    """A console without a screen: its feed, and the floor its resync last read."""

    def __init__(
        self,
        dsn: str,
        actor: Actor,
        *,
        connect_gate: asyncio.Event | None = None,
        transport: type[ListenTransport] = ListenTransport,
    ) -> None:
        self.db = Database(dsn, min_size=1, max_size=2)
        self.db.acting = lambda: actor
        self.floor = FloorService(self.db, fixed_clock)
        self.gate = connect_gate
        self.snapshot: FloorSnapshot | None = None
        self.changes: list[Change] = []
        self.statuses: list[tuple[float, FeedStatus]] = []
        self.transport = transport(self._connect)
        self.feed = ChangeFeed(
            self.transport,
            on_change=self.changes.append,
            on_status=lambda s: self.statuses.append((time.monotonic(), s)),
            resync=self._resync,
            backoff_base=0.1,
            backoff_cap=1.0,
        )
        self.task: asyncio.Task[None] | None = None
        self.before_resync: Callable[[], None] | None = None

    async def _connect(self) -> asyncpg.Connection:
        if self.gate is not None:
            await self.gate.wait()
        return await self.db.listener_connection()

    async def _resync(self) -> None:
        if self.before_resync is not None:
            self.before_resync()
        night = await self.floor.tonight()
        assert night is not None
        self.snapshot = await self.floor.snapshot(night.id)

    def notes_of(self, booking_id: int) -> str | None:
        """The booking's notes in what the console shows."""
        assert self.snapshot is not None
        for state in self.snapshot.tables.values():
            for booking in state.bookings:
                if booking.id == booking_id:
                    return booking.notes
        return None

    def reported(self, state: FeedState, after: float) -> float | None:
        return next((t for t, s in self.statuses if t >= after and s.state is state), None)

    @property
    def live(self) -> bool:
        return self.feed.status.state is FeedState.LIVE

    async def start(self) -> FloorConsole:
        await self.db.open()
        self.task = asyncio.create_task(self.feed.run())
        await until(lambda: self.live, timeout=10)
        return self

    async def stop(self) -> None:
        await self.feed.stop()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, timeout=5)
        self.db._pool.terminate() if self.db._pool is not None else None


async def change_a_booking(dsn: str) -> tuple[int, str]:
    """Another client writes new notes on a booking of tonight; returns (id, notes)."""
    notes = f"changed {time.monotonic_ns()}"
    conn = await asyncpg.connect(dsn)
    try:
        booking_id: int = await conn.fetchval(
            "update backroom.booking set notes = $2 where id = ("
            " select b.id from backroom.booking b join backroom.night n on n.id = b.night_id"
            " join backroom.booking_table bt on bt.booking_id = b.id"
            " where n.date = $1 and b.status in ('pending', 'confirmed', 'arrived')"
            " order by random() limit 1) returning id",
            SAMPLE_NIGHT,
            notes,
        )
    finally:
        await conn.close()
    assert booking_id is not None, "the sample night has bookings"
    return booking_id, notes


async def test_postgres_stopped_and_started_again(server: OwnServer) -> None:
    gate = asyncio.Event()
    gate.set()
    console = await FloorConsole(server.owner_dsn, await server.manager(), connect_gate=gate).start()
    try:
        stopped_at = time.monotonic()
        await asyncio.to_thread(server.pg.stop)
        await until(lambda: console.reported(FeedState.RECONNECTING, stopped_at) is not None)
        assert not console.live
        # Reconnection attempts fail while the server is down; hold them while it comes
        # back, so a change can be made before the console reconnects.
        await until(lambda: console.feed.status.attempt >= 2, timeout=10)
        gate.clear()
        await asyncio.to_thread(server.pg.start)
        booking_id, notes = await change_a_booking(server.owner_dsn)
        assert console.notes_of(booking_id) != notes, "the console has not seen it yet"
        gate.set()
        await until(lambda: console.live, timeout=15)
        assert console.notes_of(booking_id) == notes, "the resync read it"
        assert console.feed.reconnects == 1

        # And it is live again: the next change arrives as a notification.
        later, _ = await change_a_booking(server.owner_dsn)
        await until(lambda: any(c.id == later for c in console.changes))
    finally:
        gate.set()
        await console.stop()


class TimedPings(ListenTransport):
    """The real transport, noting when each ping was answered."""

    def __init__(self, connect: Callable[[], object]) -> None:
        super().__init__(connect)  # type: ignore[arg-type]
        self.answered: list[float] = []

    async def ping(self) -> float:
        server_time = await super().ping()
        self.answered.append(time.monotonic())
        return server_time


async def test_a_silent_hang_is_noticed_within_five_seconds_and_recovered(server: OwnServer) -> None:
    proxy = SilentProxy(server.info.port)
    port = await proxy.start()
    console = await FloorConsole(server.tcp_dsn(port), await server.manager(), transport=TimedPings).start()
    try:
        pings = console.transport
        assert isinstance(pings, TimedPings)
        # The worst moment to go silent is just after a ping was answered.
        answered = len(pings.answered)
        await until(lambda: len(pings.answered) > answered, timeout=5)
        proxy.hang()
        hung_at = time.monotonic()

        await until(
            lambda: console.reported(FeedState.RECONNECTING, hung_at) is not None, timeout=DETECTION_BOUND + 3
        )
        noticed_at = console.reported(FeedState.RECONNECTING, hung_at)
        assert noticed_at is not None
        took = noticed_at - hung_at
        print(f"\nsilent hang noticed after {took:.2f} s (bound {console.feed.detection_bound:.1f} s)")
        assert took <= DETECTION_BOUND, f"a silent connection went unnoticed for {took:.2f} s"
        assert "no answer" in (console.feed.status.error or "")

        # While the path is silent: a change, and reconnection attempts that get nowhere.
        booking_id, notes = await change_a_booking(server.owner_dsn)
        await asyncio.sleep(0.5)
        assert not console.live and console.notes_of(booking_id) != notes

        proxy.resume()
        await until(lambda: console.live, timeout=15)
        assert console.notes_of(booking_id) == notes, "the resync read it"
        assert console.feed.reconnects == 1
        later, _ = await change_a_booking(server.owner_dsn)
        await until(lambda: any(c.id == later for c in console.changes))
    finally:
        await console.stop()
        await proxy.close()


OFFLINE_AFTER = 10.0  # the feed's default: an outage this long reads Offline


async def test_a_freeze_in_the_middle_of_a_resync_still_turns_offline_on_time(server: OwnServer) -> None:
    proxy = SilentProxy(server.info.port)
    port = await proxy.start()
    console = await FloorConsole(server.tcp_dsn(port), await server.manager()).start()
    try:
        console.before_resync = proxy.hang  # the next resync meets a silent path
        admin = await asyncpg.connect(server.owner_dsn)
        try:
            await admin.execute(
                "select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1",
                LISTEN_APPLICATION,
            )
        finally:
            await admin.close()
        lost_at = time.monotonic()
        await until(
            lambda: console.reported(FeedState.OFFLINE, lost_at) is not None, timeout=OFFLINE_AFTER + 5
        )
        offline_at = console.reported(FeedState.OFFLINE, lost_at)
        assert offline_at is not None and offline_at - lost_at <= OFFLINE_AFTER + 1.5

        console.before_resync = None
        proxy.resume()
        await until(lambda: console.live, timeout=20)
    finally:
        await console.stop()
        await proxy.close()
