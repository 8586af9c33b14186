"""Presence: consoles see each other join, announce, leave, and drop out when
they die without a goodbye."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import asyncpg
import pytest

from console.wiring import Services
from services.live.presence import (
    PRESENCE_APPLICATION,
    PostgresPresence,
    PresenceEntry,
    holding,
    looking_at,
)
from services.store import seed
from services.store.db import CONSOLE_ROLE, Actor, Database
from tests.integration.realtime_helpers import until
from tests.sessions import signed_in

# The bound; the design's worst cases are beat_every (killed) and
# ttl + beat_every (hung with its connection open).
DROP_OUT_BOUND = 15.0


class Console:
    """One console's presence, and every roster it was handed."""

    def __init__(self, db: Database, actor: Actor, **kwargs: Any) -> None:
        self.rosters: list[tuple[PresenceEntry, ...]] = []
        self.presence = PostgresPresence(
            db.listener_connection, actor, on_change=self.rosters.append, **kwargs
        )
        self.task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.presence.console_id

    def sees(self, console_id: str) -> bool:
        return any(e.console_id == console_id for e in self.presence.online())

    def entry(self, console_id: str) -> PresenceEntry | None:
        return next((e for e in self.presence.online() if e.console_id == console_id), None)

    async def start(self) -> Console:
        self.task = asyncio.create_task(self.presence.run())
        await until(lambda: self.sees(self.id))
        return self

    async def stop(self) -> None:
        await self.presence.stop()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, timeout=5)


@pytest.fixture
async def consoles(services: Services, dsn: str) -> AsyncIterator[Callable[..., Console]]:
    made: list[Console] = []
    db = Database(dsn)
    await db.open()

    def make(actor: Actor, **kwargs: Any) -> Console:
        console = Console(db, actor, **kwargs)
        made.append(console)
        return console

    yield make
    for console in made:
        await console.stop()
    await db.close()


@pytest.fixture
async def door(services: Services) -> Actor:
    return await signed_in(services.db, seed.DEMO_STAFF[1][0])


async def test_join_announce_and_leave(
    services: Services, door: Actor, consoles: Callable[..., Console]
) -> None:
    manager = await consoles(services.actor).start()
    at_door = await consoles(door).start()
    await until(lambda: manager.sees(at_door.id) and at_door.sees(manager.id))
    seen = manager.entry(at_door.id)
    assert seen is not None and seen.staff_name == door.name and seen.role == "door"
    assert seen.staff_id == door.staff_id and seen.screen is None
    assert [e.console_id for e in manager.presence.others()] == [at_door.id]

    # Announcements reach the other console without waiting for a beat.
    started = time.monotonic()
    manager.presence.announce(screen="floor", night_id=7, selected_table=5, held_table=5)
    await until(lambda: (e := at_door.entry(manager.id)) is not None and e.held_table == 5)
    assert time.monotonic() - started < 1.0
    roster = at_door.presence.online()
    assert [e.console_id for e in looking_at(roster, 5)] == [manager.id]
    assert [e.console_id for e in holding(roster, 5, night_id=7)] == [manager.id]
    assert holding(roster, 5, night_id=8) == [] and looking_at(roster, 6) == []
    entry = at_door.entry(manager.id)
    assert entry is not None and entry.screen == "floor"

    manager.presence.announce(selected_table=None, held_table=None)
    await until(lambda: (e := at_door.entry(manager.id)) is not None and e.selected_table is None)
    assert (at_door.entry(manager.id) or entry).screen == "floor", "unchanged fields are kept"

    # Leaving says goodbye: gone at once, not after a timeout.
    started = time.monotonic()
    await manager.stop()
    await until(lambda: not at_door.sees(manager.id))
    assert time.monotonic() - started < 1.0
    assert not at_door.rosters[-1] or all(e.console_id != manager.id for e in at_door.rosters[-1])


async def test_a_killed_console_drops_out(
    services: Services, door: Actor, consoles: Callable[..., Console]
) -> None:
    watcher = await consoles(door).start()
    doomed = await consoles(services.actor).start()
    await until(lambda: watcher.sees(doomed.id))
    assert doomed.task is not None
    # The process dies: no goodbye, and its connection goes with it.
    doomed.task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(doomed.task, timeout=5)
    killed_at = time.monotonic()
    await until(lambda: not watcher.sees(doomed.id), timeout=DROP_OUT_BOUND + 1)
    took = time.monotonic() - killed_at
    assert took <= DROP_OUT_BOUND
    assert took <= 3.0 + 1.0, "a dead connection counts at the next beat"


async def fake_console(dsn: str, actor: Actor) -> tuple[asyncpg.Connection, str]:
    """A console seen from outside: one beat on its own connection, then nothing."""
    conn = await asyncpg.connect(dsn)
    await conn.execute(
        "select set_config('application_name', $1, false), set_config('role', $2, false),"
        " set_config('backroom.session', $3, false)",
        PRESENCE_APPLICATION,
        CONSOLE_ROLE,
        actor.session,
    )
    console_id = str(uuid.uuid4())
    await conn.fetchval(
        "select backroom.presence_beat($1::uuid, 'door', null, 3::smallint, null, 10)", console_id
    )
    return conn, console_id


async def test_a_console_whose_connection_is_terminated_drops_out(
    dsn: str, door: Actor, admin: asyncpg.Connection, consoles: Callable[..., Console]
) -> None:
    watcher = await consoles(door).start()
    conn, ghost = await fake_console(dsn, door)
    try:
        await until(lambda: watcher.sees(ghost))
        await admin.execute("select pg_terminate_backend($1)", conn.get_server_pid())
        killed_at = time.monotonic()
        await until(lambda: not watcher.sees(ghost), timeout=DROP_OUT_BOUND + 1)
        assert time.monotonic() - killed_at <= DROP_OUT_BOUND
        # The next beat clears it from the table too, not only from view.
        beats = watcher.presence.beats
        await until(lambda: watcher.presence.beats > beats)
        left = await admin.fetchval(
            "select count(*) from backroom.presence where console_id = $1::uuid", ghost
        )
        assert left == 0
    finally:
        conn.terminate()


@pytest.mark.slow
async def test_a_hung_console_drops_out_when_its_beat_goes_stale(
    dsn: str, door: Actor, admin: asyncpg.Connection, consoles: Callable[..., Console]
) -> None:
    watcher = await consoles(door).start()
    conn, ghost = await fake_console(dsn, door)  # connected, never beats again
    try:
        await until(lambda: watcher.sees(ghost))
        hung_at = time.monotonic()
        await until(lambda: not watcher.sees(ghost), timeout=DROP_OUT_BOUND + 1)
        took = time.monotonic() - hung_at
        assert 9.0 <= took <= DROP_OUT_BOUND, f"dropped after {took:.1f} s"
    finally:
        conn.terminate()


async def test_a_console_whose_connection_drops_comes_back(
    services: Services, door: Actor, admin: asyncpg.Connection, consoles: Callable[..., Console]
) -> None:
    watcher = await consoles(door).start()
    alive = await consoles(services.actor, backoff_base=0.05).start()
    alive.presence.announce(screen="door")
    await until(lambda: (e := watcher.entry(alive.id)) is not None and e.screen == "door")
    await admin.execute(
        "select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database()"
        " and application_name = $1 and pid <> pg_backend_pid()"
        " and pid = (select backend_pid from backroom.presence where console_id = $2::uuid)",
        PRESENCE_APPLICATION,
        alive.id,
    )
    await until(lambda: alive.presence.beats >= 2 and alive.presence.connected)
    await until(lambda: (e := watcher.entry(alive.id)) is not None and e.screen == "door")


async def test_the_console_role_cannot_write_presence_rows_directly(dsn: str, door: Actor) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("set role backroom_console")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute(
                "insert into backroom.presence (console_id, staff_name, backend_pid)"
                " values (gen_random_uuid(), 'Mallory', 1)"
            )
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("delete from backroom.presence")
        assert await conn.fetchval("select count(*) from backroom.presence") == 0
    finally:
        await conn.close()


async def test_only_a_session_announces_a_console(dsn: str, door: Actor, admin: asyncpg.Connection) -> None:
    """Naming a staff member is not being them: without a live session of theirs no beat is taken."""
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "select set_config('role', $1, false), set_config('backroom.staff_id', $2, false)",
            CONSOLE_ROLE,
            str(door.staff_id),
        )
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="signed-in staff member"):
            await conn.fetchval(
                "select backroom.presence_beat(gen_random_uuid(), 'door', null, null, null, 10)"
            )
        await admin.execute(
            "update backroom_private.session set ended_at = now(), ended_why = 'closed' where staff_id = $1",
            door.staff_id,
        )
        await conn.execute("select set_config('backroom.session', $1, false)", door.session)
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="signed-in staff member"):
            await conn.fetchval(
                "select backroom.presence_beat(gen_random_uuid(), 'door', null, null, null, 10)"
            )
    finally:
        await conn.close()
    assert await admin.fetchval("select count(*) from backroom.presence") == 0
