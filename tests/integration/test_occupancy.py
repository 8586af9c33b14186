"""A party that is in occupies its table, on real Postgres.

From the moment it arrived until it is completed, whatever its booked time: a
party checked in early holds its table from its arrival, and one still in past
its booked end still holds its seats. Walk-ins, "free now", moves and check-ins
respect both, and the database refuses what the services would not do, also
when two consoles race at any isolation level.

The sample night of 2026-11-20 opens at 22:00 (GMT). On it, Kemi Adeyemi has a
party of 10 booked at table 8 (6 to 12 guests) from 00:00, and Isla MacLeod a
party of 4 at table 9 (2 to 4) from 00:00; table 12 (4 to 10) is free all night.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.errors import TableTaken
from services.floor import FloorService
from services.models import Night
from services.store.db import Actor
from tests.sessions import new_staff

OPENS = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
KEMI_TABLE, ISLA_TABLE, FREE_ALL_NIGHT = 8, 9, 12
LEVELS = ["read committed", "repeatable read", "serializable"]
# What the loser of a race may be told: the rule's own refusal, or "try again".
REFUSALS = {"23P01", "BRS01", "40001", "40P01"}


class Clock:
    """The consoles' clock, moved by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def at(self, hour: int, minute: int = 0) -> None:
        day = OPENS.date() if hour >= 12 else OPENS.date() + timedelta(days=1)
        self.now = datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC)


def at(hour: int, minute: int = 0) -> datetime:
    clock = Clock(OPENS)
    clock.at(hour, minute)
    return clock.now


@pytest.fixture
def clock() -> Clock:
    return Clock(OPENS)


@pytest.fixture
def bookings(services: Services, clock: Clock) -> BookingService:
    return BookingService(services.db, clock)


@pytest.fixture
def floor(services: Services, clock: Clock) -> FloorService:
    return FloorService(services.db, clock)


@pytest.fixture
async def door(admin: asyncpg.Connection) -> Actor:
    return await new_staff(admin, "dina@backroom.test", "Dina", "door")


@pytest.fixture
async def manager(admin: asyncpg.Connection) -> Actor:
    return await new_staff(admin, "marc@backroom.test", "Marc", "manager")


async def booking_at(admin: asyncpg.Connection, night: Night, table: int) -> int:
    """The confirmed booking of `table` on the sample night."""
    found: int = await admin.fetchval(
        "select b.id from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
        " where b.night_id = $1 and bt.table_id = $2 and b.status = 'confirmed'",
        night.id,
        table,
    )
    assert found is not None
    return found


async def check_in(bookings: BookingService, actor: Actor, booking_id: int, count: int) -> None:
    current = await bookings.get(booking_id)
    await bookings.check_in(actor, booking_id, current.version, count)


async def party_in(
    admin: asyncpg.Connection,
    night: Night,
    table: int,
    party: int,
    starts: datetime,
    ends: datetime,
    name: str = "Otto Late",
) -> int:
    """A party in at `table` for `starts` to `ends`, written by another client (so with no
    arrival time: it came at its booked time): past `ends` it is still in, as nobody marked
    it completed."""
    async with admin.transaction():
        guest = await admin.fetchval("insert into backroom.guest (name) values ($1) returning id", name)
        booking: int = await admin.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at,"
            " ends_at) values ($1, $2, $3, 'arrived', $4, $5) returning id",
            night.id,
            guest,
            party,
            starts,
            ends,
        )
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id) values ($1, $2)", booking, table
        )
    return booking


async def overlaps(admin: asyncpg.Connection, night: Night) -> int:
    """Pairs of active bookings of one table whose occupied spans overlap."""
    n: int = await admin.fetchval(
        "select count(*) from backroom.booking_table a join backroom.booking_table b"
        " on (a.booking_id, a.table_id) < (b.booking_id, b.table_id)"
        " and a.table_id = b.table_id and a.during && b.during and a.active and b.active"
        " join backroom.booking ba on ba.id = a.booking_id where ba.night_id = $1",
        night.id,
    )
    return n


async def over_capacity(admin: asyncpg.Connection, night: Night) -> list[int]:
    """Tables where the parties in seat more than the table does."""
    rows = await admin.fetch(
        "select bt.table_id from backroom.booking b"
        " join backroom.booking_table bt on bt.booking_id = b.id"
        " join backroom.venue_table vt on vt.id = bt.table_id"
        " where b.night_id = $1 and b.status = 'arrived'"
        " group by bt.table_id, vt.max_party having sum(b.party_size) > vt.max_party",
        night.id,
    )
    return [r["table_id"] for r in rows]


# ------------------------------------------------------------------ the measured cases


async def test_a_walk_in_is_not_seated_where_a_party_came_early(
    bookings: BookingService, clock: Clock, door: Actor, night: Night, admin: asyncpg.Connection
) -> None:
    kemi = await booking_at(admin, night, KEMI_TABLE)
    clock.at(21, 5)
    await check_in(bookings, door, kemi, 4)

    clock.at(22, 0)
    walk_in = await bookings.seat_walk_in(
        door, night_id=night.id, party_size=11, guest=GuestDetails("Walk-in")
    )
    assert walk_in.table_ids != (KEMI_TABLE,)
    assert walk_in.table_ids == (16,) and walk_in.ends_at == at(23, 30)  # 15+16 from 23:30
    # Kemi's party holds table 8 from its arrival.
    assert await admin.fetchval(
        "select lower(during) from backroom.booking_table where booking_id = $1", kemi
    ) == at(21, 5)

    with pytest.raises(TableTaken) as taken:
        await bookings.seat_walk_in(
            door, night_id=night.id, party_size=2, guest=GuestDetails("Walk-in"), table_id=KEMI_TABLE
        )
    assert "Kemi Adeyemi's party (4 of 10, since 21:05)" in str(taken.value)
    assert KEMI_TABLE not in [t for a in taken.value.alternatives for t in a.table_ids]
    assert await overlaps(admin, night) == 0 and await over_capacity(admin, night) == []


async def test_a_walk_in_of_two_is_not_seated_with_islas_two(
    bookings: BookingService, clock: Clock, door: Actor, night: Night, admin: asyncpg.Connection
) -> None:
    isla = await booking_at(admin, night, ISLA_TABLE)
    clock.at(22, 0)
    await check_in(bookings, door, isla, 2)
    walk_in = await bookings.seat_walk_in(
        door, night_id=night.id, party_size=2, guest=GuestDetails("Walk-in")
    )
    assert walk_in.table_ids == (10,)  # the other table for 2 to 4 that is free now
    assert await overlaps(admin, night) == 0


async def test_the_database_refuses_a_party_over_an_early_arrival(
    bookings: BookingService,
    clock: Clock,
    door: Actor,
    manager: Actor,
    night: Night,
    admin: asyncpg.Connection,
) -> None:
    kemi = await booking_at(admin, night, KEMI_TABLE)
    clock.at(21, 5)
    await check_in(bookings, door, kemi, 4)
    # Another client, with no service in front of it.
    with pytest.raises(asyncpg.ExclusionViolationError):
        await party_in(admin, night, KEMI_TABLE, 6, at(22, 0), at(23, 30))
    # A booking for before Kemi's time, now that Kemi's party is in.
    clock.at(22, 0)
    with pytest.raises(TableTaken) as taken:
        await bookings.create(
            manager,
            night_id=night.id,
            table_ids=[KEMI_TABLE],
            party_size=6,
            starts_at=at(22, 30),
            ends_at=at(23, 30),
            guest=GuestDetails("Ana"),
        )
    assert "Kemi Adeyemi's party" in str(taken.value)


async def test_an_early_check_in_onto_a_table_still_taken_is_refused(
    bookings: BookingService,
    clock: Clock,
    door: Actor,
    manager: Actor,
    night: Night,
    admin: asyncpg.Connection,
) -> None:
    # Table 14: a party of 3 pending from 23:30; before it, a party of 2 until 23:30.
    later = await admin.fetchval(
        "select b.id from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
        " where b.night_id = $1 and bt.table_id = 14",
        night.id,
    )
    first = await bookings.create(
        manager,
        night_id=night.id,
        table_ids=[14],
        party_size=2,
        starts_at=at(22, 0),
        ends_at=at(23, 30),
        guest=GuestDetails("Pia First"),
    )
    await check_in(bookings, door, first.id, 2)
    clock.at(23, 0)
    with pytest.raises(TableTaken) as taken:
        await check_in(bookings, door, later, 3)
    assert "Pia First's party (2 of 2" in str(taken.value)
    assert (await bookings.get(later)).arrived_count == 0
    assert await overlaps(admin, night) == 0


async def test_free_now_never_lists_an_occupied_table(
    bookings: BookingService,
    floor: FloorService,
    clock: Clock,
    door: Actor,
    night: Night,
    admin: asyncpg.Connection,
) -> None:
    clock.at(21, 5)
    await check_in(bookings, door, await booking_at(admin, night, KEMI_TABLE), 4)
    clock.at(23, 0)
    await check_in(bookings, door, await booking_at(admin, night, ISLA_TABLE), 2)
    await party_in(admin, night, FREE_ALL_NIGHT, 6, at(22, 0), at(23, 0))  # still in at 23:30
    clock.at(23, 30)

    snapshot = await floor.snapshot(night.id, door)
    free = snapshot.free_now(clock.now, clock.now + timedelta(hours=1))
    occupied = {
        r["table_id"]
        for r in await admin.fetch(
            "select bt.table_id from backroom.booking b join backroom.booking_table bt"
            " on bt.booking_id = b.id where b.night_id = $1 and b.status = 'arrived'",
            night.id,
        )
    }
    assert {KEMI_TABLE, ISLA_TABLE, FREE_ALL_NIGHT, 2, 5, 13} <= occupied
    assert free and not {s.table.id for s in free} & occupied
    assert all(not s.seated for s in free)
    for table in occupied:
        assert snapshot.tables[table].seated, f"table {table}"

    # A walk-in of 9 fits 8, 12 and 16 only: 8 and 12 have parties in, 16 is booked from 23:30.
    with pytest.raises(TableTaken):
        await bookings.seat_walk_in(door, night_id=night.id, party_size=9, guest=GuestDetails("Walk-in"))
    alternatives = await bookings.alternatives(night.id, 9, clock.now, clock.now + timedelta(hours=1))
    assert not {t for a in alternatives for t in a.table_ids} & occupied


async def test_a_party_past_its_booked_end_still_holds_its_seats(
    bookings: BookingService,
    clock: Clock,
    door: Actor,
    manager: Actor,
    night: Night,
    admin: asyncpg.Connection,
) -> None:
    otto = await party_in(admin, night, FREE_ALL_NIGHT, 6, at(22, 0), at(23, 0))
    clock.at(23, 30)
    with pytest.raises(TableTaken) as taken:
        await bookings.seat_walk_in(
            door, night_id=night.id, party_size=4, guest=GuestDetails("Walk-in"), table_id=FREE_ALL_NIGHT
        )
    assert "Otto Late's party (6 of 6)" in str(taken.value)

    # Booked (at 22:30) from Otto's booked end: the table is theirs, but not while Otto's
    # party fills it.
    clock.at(22, 30)
    big = await bookings.create(
        manager,
        night_id=night.id,
        table_ids=[FREE_ALL_NIGHT],
        party_size=6,
        starts_at=at(23, 0),
        ends_at=at(1, 0),
        guest=GuestDetails("Bea Big"),
    )
    clock.at(23, 30)
    with pytest.raises(TableTaken) as full:
        await check_in(bookings, door, big.id, 6)
    words = str(full.value)
    assert "Table 12 seats 10" in words and "Otto Late's party of 6" in words and "12" in words
    assert (await bookings.get(big.id)).arrived_count == 0
    # Four more fit beside Otto's six.
    await bookings.move(manager, big.id, big.version, party_size=4)
    await check_in(bookings, door, big.id, 4)
    assert await over_capacity(admin, night) == []

    # A manager cannot move another party onto it either.
    other = await bookings.create(
        manager,
        night_id=night.id,
        table_ids=[11],
        party_size=4,
        starts_at=at(23, 30),
        ends_at=at(1, 0),
        guest=GuestDetails("Cy"),
    )
    await admin.execute("update backroom.booking set status = 'completed' where id = $1", big.id)
    with pytest.raises(TableTaken):
        await bookings.move(manager, other.id, other.version, table_ids=[FREE_ALL_NIGHT])
    # Once Otto's party is completed, the table is free again.
    await admin.execute("update backroom.booking set status = 'completed' where id = $1", otto)
    moved = await bookings.move(manager, other.id, other.version, table_ids=[FREE_ALL_NIGHT])
    assert moved.table_ids == (FREE_ALL_NIGHT,)


async def test_the_arrival_time_is_kept_and_never_in_the_future(
    bookings: BookingService, clock: Clock, door: Actor, night: Night, admin: asyncpg.Connection
) -> None:
    kemi = await booking_at(admin, night, KEMI_TABLE)
    clock.at(21, 5)
    await check_in(bookings, door, kemi, 4)
    clock.at(23, 0)
    await check_in(bookings, door, kemi, 3)  # more of the party: the arrival stays 21:05
    assert (await bookings.get(kemi)).arrived_at == at(21, 5)
    # A client naming a time to come gets now.
    isla = await booking_at(admin, night, ISLA_TABLE)
    arrived = await admin.fetchval(
        "update backroom.booking set status = 'arrived', arrived_at = now() + interval '1 day'"
        " where id = $1 returning arrived_at <= clock_timestamp()",
        isla,
    )
    assert arrived


# ------------------------------------------------------------------ races, every level


async def as_console(dsn: str, staff_id: int) -> asyncpg.Connection:
    """The console role for good, presenting a session of `staff_id`."""
    conn = await asyncpg.connect(dsn)
    token = await conn.fetchval("select backroom_meta.open_session($1)", staff_id)
    await conn.execute("set role backroom_console")
    await conn.execute("select set_config('backroom.session', $1, false)", token)
    return conn


@pytest.fixture
async def consoles(dsn: str, admin: asyncpg.Connection) -> AsyncIterator[list[asyncpg.Connection]]:
    staff = [await new_staff(admin, f"race{n}@backroom.test", f"Racer {n}", "manager") for n in range(2)]
    conns = [await as_console(dsn, s.staff_id or 0) for s in staff]
    yield conns
    for c in conns:
        await c.close()


Step = Callable[[asyncpg.Connection], Awaitable[object]]


async def in_one(conn: asyncpg.Connection, level: str, *steps: Step) -> str:
    """Steps in one transaction: 'committed' or the SQLSTATE that refused it."""
    await conn.execute(f"begin isolation level {level}")
    try:
        for step in steps:
            await step(conn)
        await conn.execute("commit")
    except asyncpg.PostgresError as err:
        await conn.execute("rollback")
        return str(err.sqlstate)
    return "committed"


def walk_in(night: Night, table: int, party: int, starts: datetime, ends: datetime) -> Step:
    async def run(conn: asyncpg.Connection) -> None:
        guest = await conn.fetchval("insert into backroom.guest (name) values ('Walk-in') returning id")
        booking = await conn.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at,"
            " ends_at, arrived_at) values ($1, $2, $3, 'arrived', $4, $5, $4) returning id",
            night.id,
            guest,
            party,
            starts,
            ends,
        )
        await conn.execute(
            "insert into backroom.booking_table (booking_id, table_id) values ($1, $2)", booking, table
        )

    return run


def arrive(booking: int, count: int, when: datetime) -> Step:
    async def run(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "update backroom.booking set status = 'arrived', arrived_count = $2, arrived_at = $3"
            " where id = $1",
            booking,
            count,
            when,
        )

    return run


def snapshot(conn: asyncpg.Connection) -> Awaitable[object]:
    return conn.fetchval("select count(*) from backroom.booking_table")


async def sits(admin: asyncpg.Connection, table: int, name: str = "Walk-in") -> int:
    n: int = await admin.fetchval(
        "select count(*) from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
        " join backroom.guest g on g.id = b.guest_id"
        " where bt.table_id = $1 and b.status = 'arrived' and g.name = $2",
        table,
        name,
    )
    return n


@pytest.mark.parametrize("level", LEVELS)
async def test_two_walk_ins_for_the_last_seats(
    consoles: list[asyncpg.Connection], level: str, night: Night, admin: asyncpg.Connection
) -> None:
    mine, rival = consoles
    # Otto's six are still in at table 12 (10 seats): four seats are left.
    await party_in(admin, night, FREE_ALL_NIGHT, 6, at(22, 0), at(23, 0))
    seat = walk_in(night, FREE_ALL_NIGHT, 4, at(23, 30), at(1, 0))

    # The first takes its snapshot, the rival seats its walk-in, then the first tries.
    await mine.execute(f"begin isolation level {level}")
    await snapshot(mine)
    assert await in_one(rival, level, seat) == "committed"
    try:
        await seat(mine)
        await mine.execute("commit")
        outcome = "committed"
    except asyncpg.PostgresError as err:
        await mine.execute("rollback")
        outcome = str(err.sqlstate)
    assert outcome in REFUSALS
    assert await sits(admin, FREE_ALL_NIGHT) == 1

    # Both at once, for the last free table for two at 23:30 on this race's own table.
    results = await asyncio.gather(
        in_one(mine, level, snapshot, walk_in(night, 11, 2, at(23, 30), at(1, 0))),
        in_one(rival, level, snapshot, walk_in(night, 11, 2, at(23, 30), at(1, 0))),
    )
    assert sorted(results).count("committed") == 1 and set(results) - {"committed"} <= REFUSALS
    assert await sits(admin, 11) == 1
    assert await overlaps(admin, night) == 0 and await over_capacity(admin, night) == []


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("first", ["walk-in", "arrival"])
async def test_a_walk_in_against_an_early_arrival(
    consoles: list[asyncpg.Connection], level: str, first: str, night: Night, admin: asyncpg.Connection
) -> None:
    mine, rival = consoles
    kemi = await booking_at(admin, night, KEMI_TABLE)
    seat = walk_in(night, KEMI_TABLE, 6, at(22, 0), at(0, 0))  # until Kemi's booked time
    early = arrive(kemi, 4, at(21, 5))
    rival_step, my_step = (seat, early) if first == "walk-in" else (early, seat)

    await mine.execute(f"begin isolation level {level}")
    await snapshot(mine)
    assert await in_one(rival, level, rival_step) == "committed"
    try:
        await my_step(mine)
        await mine.execute("commit")
        outcome = "committed"
    except asyncpg.PostgresError as err:
        await mine.execute("rollback")
        outcome = str(err.sqlstate)
    assert outcome in REFUSALS
    in_now = await admin.fetchval(
        "select count(*) from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
        " where bt.table_id = $1 and b.status = 'arrived'",
        KEMI_TABLE,
    )
    assert in_now == 1
    assert await overlaps(admin, night) == 0

    # And both at once, on a fresh pair: table 9, Isla's early two against a walk-in.
    isla = await booking_at(admin, night, ISLA_TABLE)
    results = await asyncio.gather(
        in_one(mine, level, snapshot, arrive(isla, 2, at(22, 10))),
        in_one(rival, level, snapshot, walk_in(night, ISLA_TABLE, 2, at(22, 10), at(0, 0))),
    )
    assert results.count("committed") == 1 and set(results) - {"committed"} <= REFUSALS
    assert await overlaps(admin, night) == 0


async def confirmed(
    admin: asyncpg.Connection,
    night: Night,
    table: int,
    party: int,
    starts: datetime,
    ends: datetime,
    name: str,
) -> int:
    async with admin.transaction():
        guest = await admin.fetchval("insert into backroom.guest (name) values ($1) returning id", name)
        booking: int = await admin.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at,"
            " ends_at) values ($1, $2, $3, 'confirmed', $4, $5) returning id",
            night.id,
            guest,
            party,
            starts,
            ends,
        )
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id) values ($1, $2)", booking, table
        )
    return booking


def arrive_on_time(booking: int, count: int) -> Step:
    """A check-in naming no arrival time: the database's clock is long past the sample
    night, so the party counts as come at its booked time and its span stays as booked."""

    async def run(conn: asyncpg.Connection) -> None:
        await conn.execute(
            "update backroom.booking set status = 'arrived', arrived_count = $2 where id = $1", booking, count
        )

    return run


@pytest.mark.parametrize("level", LEVELS)
async def test_two_check_ins_for_the_last_seats_beside_a_party_still_in(
    consoles: list[asyncpg.Connection], level: str, night: Night, admin: asyncpg.Connection
) -> None:
    """No span overlaps here, so only the seats rule stands between them."""
    mine, rival = consoles
    await party_in(admin, night, FREE_ALL_NIGHT, 6, at(22, 0), at(23, 0))
    first = await confirmed(admin, night, FREE_ALL_NIGHT, 4, at(23, 0), at(0, 0), "Ada Four")
    second = await confirmed(admin, night, FREE_ALL_NIGHT, 4, at(0, 0), at(1, 0), "Bo Four")

    results = await asyncio.gather(
        in_one(mine, level, snapshot, arrive_on_time(first, 4)),
        in_one(rival, level, snapshot, arrive_on_time(second, 4)),
    )
    assert results.count("committed") == 1 and set(results) - {"committed"} <= REFUSALS
    assert await over_capacity(admin, night) == []

    # And one after the other: the rival in first, then this one, from an older snapshot.
    await admin.execute(
        "update backroom.booking set status = 'completed' where id = any($1::int[]) and status = 'arrived'",
        [first, second],
    )
    third = await confirmed(admin, night, FREE_ALL_NIGHT, 4, at(1, 0), at(2, 0), "Cy Four")
    fourth = await confirmed(admin, night, FREE_ALL_NIGHT, 4, at(2, 0), at(3, 0), "Di Four")
    await mine.execute(f"begin isolation level {level}")
    await snapshot(mine)
    assert await in_one(rival, level, arrive_on_time(third, 4)) == "committed"
    try:
        await arrive_on_time(fourth, 4)(mine)
        await mine.execute("commit")
        outcome = "committed"
    except asyncpg.PostgresError as err:
        await mine.execute("rollback")
        outcome = str(err.sqlstate)
    assert outcome in {"BRS01", "40001", "40P01"}
    assert await over_capacity(admin, night) == []
