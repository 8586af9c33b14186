"""Staff racing each other through the services, and consoles that die
mid-way: exactly one winner, clean answers for the rest, nothing left over."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.errors import StaleBooking, TableTaken
from services.identity.roles import Role
from services.models import Night
from services.store.db import Actor, ConnectionLost, Database

FREE = 11
RACERS = 50


@pytest.fixture
async def crowd(admin: asyncpg.Connection) -> list[Actor]:
    rows = await admin.fetch(
        "insert into backroom.staff (email, display_name, role)"
        " select 'racer' || n || '@backroom.test', 'Racer ' || n, 'manager'"
        " from generate_series(1, $1) n"
        " returning id, display_name, backroom_meta.open_session(id) as token",
        RACERS,
    )
    return [
        Actor(staff_id=r["id"], name=r["display_name"], role=Role.MANAGER, session=r["token"]) for r in rows
    ]


@pytest.fixture
async def consoles(dsn: str, services: Services) -> AsyncIterator[list[BookingService]]:
    """One pool of connections per console, as fifty separate consoles would have."""
    dbs = [Database(dsn, min_size=1, max_size=2) for _ in range(RACERS)]
    await asyncio.gather(*(db.open() for db in dbs))
    yield [BookingService(db, services.clock) for db in dbs]
    await asyncio.gather(*(db.close() for db in dbs))


async def test_fifty_consoles_book_one_table_one_wins(
    consoles: list[BookingService], crowd: list[Actor], night: Night, admin: asyncpg.Connection
) -> None:
    gate = asyncio.Event()

    async def attempt(svc: BookingService, actor: Actor) -> str:
        await gate.wait()
        try:
            await svc.create(
                actor,
                night_id=night.id,
                table_ids=[FREE],
                party_size=4,
                starts_at=night.starts_at + timedelta(hours=1),
                guest=GuestDetails(f"Guest of {actor.name}"),
            )
            return "won"
        except TableTaken as taken:
            assert taken.alternatives, "every loser is offered somewhere else"
            assert taken.booking_ref is not None
            return "taken"

    tasks = [asyncio.create_task(attempt(s, a)) for s, a in zip(consoles, crowd, strict=True)]
    await asyncio.sleep(0.1)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert results.count("won") == 1 and results.count("taken") == RACERS - 1
    active = await admin.fetchval(
        "select count(*) from backroom.booking_table bt join backroom.booking b on b.id = bt.booking_id"
        " where bt.table_id = $1 and bt.active and b.night_id = $2",
        FREE,
        night.id,
    )
    assert active == 1
    refused = await admin.fetchval(
        "select count(*) from backroom.audit_log where operation = 'refused:create'"
    )
    assert refused == RACERS - 1
    # No trace of the losers: no orphan guests.
    guests = await admin.fetchval("select count(*) from backroom.guest where name like 'Guest of Racer%'")
    assert guests == 1


async def test_fifty_consoles_hold_one_table_one_wins(
    consoles: list[BookingService], crowd: list[Actor], night: Night, admin: asyncpg.Connection
) -> None:
    gate = asyncio.Event()

    async def attempt(svc: BookingService, actor: Actor) -> str:
        await gate.wait()
        try:
            await svc.hold(actor, night_id=night.id, table_id=FREE, party_size=4)
            return "won"
        except TableTaken as taken:
            assert taken.holder is not None and taken.alternatives
            return "taken"

    tasks = [asyncio.create_task(attempt(s, a)) for s, a in zip(consoles, crowd, strict=True)]
    await asyncio.sleep(0.1)
    gate.set()
    results = await asyncio.gather(*tasks)
    assert results.count("won") == 1 and results.count("taken") == RACERS - 1
    assert await admin.fetchval("select count(*) from backroom.hold where table_id = $1", FREE) == 1


async def test_two_staff_confirm_the_same_booking(
    consoles: list[BookingService], crowd: list[Actor], night: Night
) -> None:
    b = await consoles[0].create(
        crowd[0],
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Twice"),
    )
    results = await asyncio.gather(
        consoles[1].confirm(crowd[1], b.id, b.version),
        consoles[2].confirm(crowd[2], b.id, b.version),
        return_exceptions=True,
    )
    wins = [r for r in results if not isinstance(r, BaseException)]
    losses = [r for r in results if isinstance(r, BaseException)]
    assert len(wins) == 1 and len(losses) == 1
    assert isinstance(losses[0], StaleBooking)
    assert "since you looked" in str(losses[0])


async def test_hold_of_a_killed_console_lapses_on_time(
    dsn: str, services: Services, crowd: list[Actor], night: Night, admin: asyncpg.Connection
) -> None:
    """A console holds a table, then its connection is killed mid-transaction:
    the hold it had committed lapses by itself and the table is free again."""
    doomed_db = Database(dsn)
    await doomed_db.open()
    doomed = BookingService(doomed_db, services.clock)
    await doomed.hold(crowd[0], night_id=night.id, table_id=FREE, seconds=2)

    # The console starts another change and dies before committing it.
    started = asyncio.Event()

    async def half_done() -> None:
        async with doomed_db.transaction(crowd[0], operation="move") as conn:
            await conn.execute("update backroom.booking set notes = 'half' where id = 1")
            started.set()
            await conn.execute("select pg_sleep(30)")

    task = asyncio.create_task(half_done())
    await started.wait()
    await asyncio.sleep(0.1)
    killed = await admin.fetchval(
        "select count(*) from (select pg_terminate_backend(pid) from pg_stat_activity"
        " where datname = current_database() and query = 'select pg_sleep(30)') k"
    )
    assert killed == 1
    with pytest.raises(ConnectionLost):
        await asyncio.wait_for(task, timeout=5)
    doomed_db._pool.terminate() if doomed_db._pool else None

    assert await admin.fetchval("select notes from backroom.booking where id = 1") != "half"
    other = BookingService(services.db, services.clock)
    with pytest.raises(TableTaken):
        await other.hold(crowd[1], night_id=night.id, table_id=FREE)
    await asyncio.sleep(2.2)
    hold = await other.hold(crowd[1], night_id=night.id, table_id=FREE)
    assert hold.holder == crowd[1].name
