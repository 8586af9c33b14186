"""Every rule the triggers check by reading holds at every isolation level.

Two raw-SQL transactions act as two managers' consoles (the console role,
Row Level Security applying). The first begins at the chosen level and takes
its snapshot; the rival then makes a change that conflicts with what the
first is about to do, and commits; then the first does its write. Whatever
the first is told (the rule's own refusal, or a serialization failure), the
rule must hold afterwards. A short randomized race per level follows.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.errors import BookingError, HoldExpired

LEVELS = ["read committed", "repeatable read", "serializable"]
# What the first transaction may be told: a rule's refusal, or "try again".
REFUSALS = {"BR002", "BR004", "BR005", "BR007", "BR008", "23P01", "40001", "40P01"}
OPENS = datetime(2027, 2, 10, 22, 0, tzinfo=UTC)
CLOSES = OPENS + timedelta(hours=5)
START, END = OPENS + timedelta(hours=1), OPENS + timedelta(hours=3)

Step = Callable[[asyncpg.Connection], Awaitable[object]]


@dataclass
class World:
    night: int
    managers: list[int]
    guests: list[int]
    tables: dict[int, int]  # number -> id


async def as_console(dsn: str, staff_id: int) -> asyncpg.Connection:
    """A connection as the console role for good, presenting a session of `staff_id` that
    the owner opened on it first."""
    conn = await asyncpg.connect(dsn)
    token = await conn.fetchval("select backroom_meta.open_session($1)", staff_id)
    await conn.execute("set role backroom_console")
    await conn.execute("select set_config('backroom.session', $1, false)", token)
    assert await conn.fetchval("select backroom.current_staff_id()") == staff_id
    return conn


@pytest.fixture
async def world(admin: asyncpg.Connection) -> World:
    night = await admin.fetchval(
        "insert into backroom.night (venue_id, date, starts_at, ends_at) values (1, $1, $2, $3) returning id",
        OPENS.date(),
        OPENS,
        CLOSES,
    )
    managers = [
        r["id"]
        for r in await admin.fetch(
            "insert into backroom.staff (email, display_name, role)"
            " select 'iso' || n || '@backroom.test', 'Manager ' || n, 'manager'"
            " from generate_series(1, 4) n returning id"
        )
    ]
    guests = [
        r["id"]
        for r in await admin.fetch(
            "insert into backroom.guest (name) select 'Racing guest ' || n"
            " from generate_series(1, 4) n returning id"
        )
    ]
    tables = {r["number"]: r["id"] for r in await admin.fetch("select id, number from backroom.venue_table")}
    return World(night, managers, guests, tables)


@pytest.fixture
async def consoles(dsn: str, world: World) -> AsyncIterator[list[asyncpg.Connection]]:
    conns = [await as_console(dsn, m) for m in world.managers]
    yield conns
    for c in conns:
        await c.close()


# ------------------------------------------------------------------ raw writes


async def new_booking(conn: asyncpg.Connection, w: World, guest: int, party: int = 2) -> int:
    booking: int = await conn.fetchval(
        "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
        " values ($1, $2, $3, 'confirmed', $4, $5) returning id",
        w.night,
        guest,
        party,
        START,
        END,
    )
    return booking


async def add_table(conn: asyncpg.Connection, w: World, booking: int, number: int) -> None:
    await conn.execute(
        "insert into backroom.booking_table (booking_id, table_id) values ($1, $2)", booking, w.tables[number]
    )


async def book(conn: asyncpg.Connection, w: World, guest: int, *numbers: int, party: int = 2) -> int:
    booking = await new_booking(conn, w, guest, party)
    for n in numbers:
        await add_table(conn, w, booking, n)
    return booking


async def hold(conn: asyncpg.Connection, w: World, number: int) -> None:
    await conn.execute(
        "insert into backroom.hold (table_id, night_id, during, holder)"
        " values ($1, $2, tstzrange($3, $4), 'on the phone')",
        w.tables[number],
        w.night,
        START,
        END,
    )


async def in_one(conn: asyncpg.Connection, level: str, *steps: Step) -> str:
    """Run steps in one transaction; 'committed' or the SQLSTATE that refused it."""
    await conn.execute(f"begin isolation level {level}")
    try:
        for step in steps:
            await step(conn)
        await conn.execute("commit")
    except asyncpg.PostgresError as err:
        await conn.execute("rollback")
        return str(err.sqlstate)
    return "committed"


# ------------------------------------------------------------------ what must hold


async def clashes(admin: asyncpg.Connection, w: World) -> int:
    """Live holds overlapping another staff member's active booking of the same table."""
    n: int = await admin.fetchval(
        "select count(*) from backroom.hold h"
        " join backroom.booking_table bt on bt.table_id = h.table_id and bt.active"
        "  and bt.during && h.during"
        " join backroom.booking b on b.id = bt.booking_id"
        " where h.night_id = $1 and h.expires_at > clock_timestamp()"
        "  and h.staff_id is distinct from b.created_by",
        w.night,
    )
    return n


async def most_tables_of_a_guest(admin: asyncpg.Connection, w: World) -> int:
    n: int = await admin.fetchval(
        "select coalesce(max(n), 0) from (select count(distinct bt.table_id) n"
        " from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id and bt.active"
        " where b.night_id = $1 group by b.guest_id) t",
        w.night,
    )
    return n


async def misfits(admin: asyncpg.Connection, w: World) -> int:
    """Active bookings whose party does not fit their tables, or whose tables stand apart."""
    rows = await admin.fetch(
        "select b.party_size, array_agg(vt.id) ids, sum(vt.max_party) most, min(vt.min_party) least,"
        " count(distinct vt.floor_id) floors, array_agg(vt.neighbours) near"
        " from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id and bt.active"
        " join backroom.venue_table vt on vt.id = bt.table_id"
        " where b.night_id = $1 group by b.id",
        w.night,
    )
    wrong = 0
    for r in rows:
        ids = set(r["ids"])
        apart = len(ids) > 1 and any(not ids & set(near) for near in r["near"])
        if apart or r["floors"] > 1 or not r["least"] <= r["party_size"] <= r["most"]:
            wrong += 1
    return wrong


async def overlapping_holds(admin: asyncpg.Connection, w: World) -> int:
    n: int = await admin.fetchval(
        "select count(*) from backroom.hold a join backroom.hold b on a.id < b.id"
        " and a.table_id = b.table_id and a.during && b.during"
        " where a.night_id = $1 and a.expires_at > clock_timestamp()"
        " and b.expires_at > clock_timestamp()",
        w.night,
    )
    return n


async def double_bookings(admin: asyncpg.Connection, w: World) -> int:
    n: int = await admin.fetchval(
        "select count(*) from backroom.booking_table a join backroom.booking_table b"
        " on (a.booking_id, a.table_id) < (b.booking_id, b.table_id)"
        " and a.table_id = b.table_id and a.during && b.during and a.active and b.active"
        " join backroom.booking ba on ba.id = a.booking_id where ba.night_id = $1",
        w.night,
    )
    return n


# ------------------------------------------------------------------ one race per rule


@dataclass
class Race:
    """setup (owner), the first's snapshot step, the rival's change, the first's write."""

    setup: Callable[[asyncpg.Connection, World], Awaitable[dict[str, int]]]
    snapshot: Callable[[World, dict[str, int]], Step]
    rival: Callable[[World, dict[str, int]], Step]
    write: Callable[[World, dict[str, int]], Step]
    broken: Callable[[asyncpg.Connection, World], Awaitable[int]]
    refusal: str  # what read committed says


async def _nothing(_admin: asyncpg.Connection, _w: World) -> dict[str, int]:
    return {}


async def _one_booking_of_guest(admin: asyncpg.Connection, w: World) -> dict[str, int]:
    async with admin.transaction():
        b = await book(admin, w, w.guests[0], 1)
    return {"booking": b}


async def _a_booking_on_one_and_two(admin: asyncpg.Connection, w: World) -> dict[str, int]:
    # Four tables allowed, so that only the rule raced is in the way.
    await admin.execute("update backroom.venue set max_tables_per_guest = 4")
    async with admin.transaction():
        b = await book(admin, w, w.guests[0], 1, 2, party=4)
    return {"booking": b}


async def _stash(state: dict[str, int], key: str, value: Awaitable[int]) -> None:
    state[key] = await value


async def _over_limit(admin: asyncpg.Connection, w: World) -> int:
    return max(0, await most_tables_of_a_guest(admin, w) - 2)


async def _a_hold_about_to_lapse(admin: asyncpg.Connection, w: World) -> dict[str, int]:
    """Manager 2's hold of table 1, lapsing in a second."""
    held: int = await admin.fetchval(
        "insert into backroom.hold (table_id, night_id, during, staff_id, holder, expires_at)"
        " values ($1, $2, tstzrange($3, $4), $5, 'on the phone', clock_timestamp() + interval '1 second')"
        " returning id",
        w.tables[1],
        w.night,
        START,
        END,
        w.managers[1],
    )
    return {"hold": held}


async def _after_the_lapse(conn: asyncpg.Connection, w: World, state: dict[str, int]) -> None:
    await asyncio.sleep(1.2)
    await add_table(conn, w, state["mine"], 1)


def _read(sql: str) -> Callable[[World, dict[str, int]], Step]:
    return lambda _w, _s: lambda c: c.fetchval(sql)


RACES: dict[str, Race] = {
    # A booking begun, a hold committed meanwhile, then the booking's table.
    "booking vs hold": Race(
        _nothing,
        lambda w, s: lambda c: _stash(s, "mine", new_booking(c, w, w.guests[0])),
        lambda w, _s: lambda c: hold(c, w, 1),
        lambda w, s: lambda c: add_table(c, w, s["mine"], 1),
        clashes,
        "BR004",
    ),
    # A hold begun, a booking of the table committed meanwhile, then the hold.
    "hold vs booking": Race(
        _nothing,
        _read("select count(*) from backroom.booking_table"),
        lambda w, _s: lambda c: book(c, w, w.guests[0], 1),
        lambda w, _s: lambda c: hold(c, w, 1),
        clashes,
        "BR007",
    ),
    # The guest has one table; a second and a third are booked at once.
    "guest table limit": Race(
        _one_booking_of_guest,
        lambda w, s: lambda c: _stash(s, "mine", new_booking(c, w, w.guests[0])),
        lambda w, _s: lambda c: book(c, w, w.guests[0], 2),
        lambda w, s: lambda c: add_table(c, w, s["mine"], 3),
        _over_limit,
        "BR005",
    ),
    # 4 on 1+2; the rival gives up table 2 (4 fit table 1), the first makes it 8 (8 fit 1+2).
    "party fits": Race(
        _a_booking_on_one_and_two,
        _read("select count(*) from backroom.booking_table"),
        lambda _w, s: (
            lambda c: c.execute(
                "delete from backroom.booking_table where booking_id = $1 and table_id = 2", s["booking"]
            )
        ),
        lambda _w, s: (
            lambda c: c.execute("update backroom.booking set party_size = 8 where id = $1", s["booking"])
        ),
        misfits,
        "BR002",
    ),
    # 1+2; the rival gives up 2, the first adds 3 (next to 2, not to 1).
    "tables together": Race(
        _a_booking_on_one_and_two,
        _read("select count(*) from backroom.booking_table"),
        lambda _w, s: (
            lambda c: c.execute(
                "delete from backroom.booking_table where booking_id = $1 and table_id = 2", s["booking"]
            )
        ),
        lambda w, s: lambda c: add_table(c, w, s["booking"], 3),
        misfits,
        "BR008",
    ),
    # The first's snapshot has the hold about to lapse; the rival renews it; the
    # first books the table once the old expiry has passed.
    "booking vs renewal": Race(
        _a_hold_about_to_lapse,
        lambda w, s: lambda c: _stash(s, "mine", new_booking(c, w, w.guests[0])),
        lambda _w, s: (
            lambda c: c.execute(
                "update backroom.hold set expires_at = clock_timestamp() + interval '30 seconds'"
                " where id = $1",
                s["hold"],
            )
        ),
        lambda w, s: lambda c: _after_the_lapse(c, w, s),
        clashes,
        "BR004",
    ),
    "hold vs hold": Race(
        _nothing,
        _read("select count(*) from backroom.hold"),
        lambda w, _s: lambda c: hold(c, w, 1),
        lambda w, _s: lambda c: hold(c, w, 1),
        overlapping_holds,
        "23P01",
    ),
    "booking vs booking": Race(
        _nothing,
        lambda w, s: lambda c: _stash(s, "mine", new_booking(c, w, w.guests[1])),
        lambda w, _s: lambda c: book(c, w, w.guests[0], 1),
        lambda w, s: lambda c: add_table(c, w, s["mine"], 1),
        double_bookings,
        "23P01",
    ),
}


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("rule", list(RACES))
async def test_a_rival_committed_after_the_snapshot_is_seen(
    rule: str,
    level: str,
    world: World,
    consoles: list[asyncpg.Connection],
    admin: asyncpg.Connection,
) -> None:
    race = RACES[rule]
    state = await race.setup(admin, world)
    first, rival = consoles[0], consoles[1]
    await first.execute(f"begin isolation level {level}")
    await race.snapshot(world, state)(first)
    assert await in_one(rival, level, race.rival(world, state)) == "committed"
    try:
        await race.write(world, state)(first)
        await first.execute("commit")
        outcome = "committed"
    except asyncpg.PostgresError as err:
        await first.execute("rollback")
        outcome = str(err.sqlstate)
    assert await race.broken(admin, world) == 0, f"{rule} broken at {level} ({outcome})"
    assert outcome in REFUSALS, outcome
    if level == "read committed":
        assert outcome == race.refusal


# ------------------------------------------------------------------ a randomized race per level

ROUNDS = 30


async def _jitter() -> None:
    await asyncio.sleep(random.random() * 0.004)


async def _racer(conn: asyncpg.Connection, level: str, write: Step) -> str:
    async def snapshot(c: asyncpg.Connection) -> None:
        await _jitter()
        await c.fetchval("select count(*) from backroom.hold")
        await _jitter()

    return await in_one(conn, level, snapshot, write)


@pytest.mark.parametrize("level", LEVELS)
async def test_random_races_break_no_rule(
    level: str, world: World, consoles: list[asyncpg.Connection], admin: asyncpg.Connection
) -> None:
    """Each round: one manager holds table 1 while another books it for a guest, and
    two more book tables 2 and 3 for the same guest (two tables at most)."""
    broken = {"clash": 0, "over limit": 0}
    outcomes: dict[str, int] = {}
    guest = world.guests[0]
    for _ in range(ROUNDS):
        await admin.execute("delete from backroom.hold where night_id = $1", world.night)
        await admin.execute("delete from backroom.booking where night_id = $1", world.night)
        results = await asyncio.gather(
            _racer(consoles[0], level, lambda c: hold(c, world, 1)),
            _racer(consoles[1], level, lambda c: book(c, world, guest, 1)),
            _racer(consoles[2], level, lambda c: book(c, world, guest, 2)),
            _racer(consoles[3], level, lambda c: book(c, world, guest, 3)),
        )
        for r in results:
            outcomes[r] = outcomes.get(r, 0) + 1
        broken["clash"] += await clashes(admin, world) > 0
        broken["over limit"] += await most_tables_of_a_guest(admin, world) > 2
    assert broken == {"clash": 0, "over limit": 0}, (broken, outcomes)
    assert set(outcomes) <= REFUSALS | {"committed"}, outcomes
    assert outcomes.get("committed", 0) >= ROUNDS, outcomes


async def test_a_lapsed_hold_is_not_renewed(
    world: World, consoles: list[asyncpg.Connection], admin: asyncpg.Connection
) -> None:
    await hold(consoles[0], world, 1)
    await admin.execute("update backroom.hold set expires_at = clock_timestamp() - interval '1 second'")
    with pytest.raises(asyncpg.PostgresError) as refused:
        await consoles[0].execute(
            "update backroom.hold set expires_at = clock_timestamp() + interval '30 seconds'"
        )
    assert refused.value.sqlstate == "BR014"


@pytest.mark.parametrize("failure", [asyncpg.SerializationError, asyncpg.DeadlockDetectedError])
async def test_staff_are_told_to_try_again(services: Services, failure: type[asyncpg.PostgresError]) -> None:
    told = await services.bookings._explain(failure("could not serialize access"), {})
    assert type(told) is BookingError
    assert str(told) == (
        "Someone changed this table, booking or guest at the same moment; nothing was saved. Try again."
    )
    lapsed = asyncpg.PostgresError.new({"C": "BR014", "M": "this hold lapsed"})
    assert isinstance(await services.bookings._explain(lapsed, {}), HoldExpired)
