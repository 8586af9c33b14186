"""The hardening rules of migration 0009, held by Postgres whoever writes: the tables a
booking covers, references, holds, the operation an audit row names, refusals, definer
functions and input limits, and the sign-in lock an admin lifts. Raw SQL goes through the
console's own login presenting a real session; the same jobs done the legitimate way
through the services still work. The attacks themselves, as an outsider would make them,
are in test_outsider.py."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime, timedelta

import asyncpg
import pyotp
import pytest

from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.errors import InvalidInput, NotAllowed
from services.guests import NAME_MOST, NOTES_MOST, REASON_MOST
from services.identity.accounts import AccountLocked, Enrolment, IdentityService, SignInFailed
from services.identity.console_login import read_login, with_login
from services.store import seed
from services.store.db import Actor, Database
from tests.conftest import FIXED_NOW
from tests.sessions import signed_in

FREE_TABLE = 11  # 2 to 6 guests, nothing booked on the sample night
OTHER_FREE = 13  # free on the sample night too
PASSWORD = "correct horse battery"
DOOR_EMAIL = seed.DEMO_STAFF[1][0]
Console = Callable[[Actor | None], Awaitable[asyncpg.Connection]]


@pytest.fixture
async def login_dsn(dsn: str) -> str:
    login = await read_login(dsn)
    assert login is not None
    return with_login(dsn, login)


@pytest.fixture
async def console(login_dsn: str) -> AsyncIterator[Console]:
    """Connections of the console's own login, presenting `actor`'s session (or none)."""
    opened: list[asyncpg.Connection] = []

    async def connect(actor: Actor | None) -> asyncpg.Connection:
        conn = await asyncpg.connect(login_dsn)
        opened.append(conn)
        await conn.execute(
            "select set_config('backroom.session', $1, false)", (actor.session if actor else None) or ""
        )
        return conn

    yield connect
    for conn in opened:
        await conn.close()


async def eventually(check: Callable[[], object], seconds: float = 5.0) -> None:
    """Wait until `check()` (or what it awaits) is true."""
    for _ in range(int(seconds / 0.05)):
        value = check()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("it never happened")


@pytest.fixture
async def door(dsn: str) -> Actor:
    return await signed_in(dsn, DOOR_EMAIL)


@pytest.fixture
async def manager(dsn: str) -> Actor:
    return await signed_in(dsn, seed.DEMO_MANAGER)


async def sample_night(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow("select id, starts_at, ends_at from backroom.night where date = '2026-11-20'")
    assert row is not None
    return row


async def a_confirmed_booking(conn: asyncpg.Connection, *, due_by: datetime | None = None) -> asyncpg.Record:
    n = await sample_night(conn)
    row = await conn.fetchrow(
        "select b.id, b.ref, b.version, b.status, bt.table_id from backroom.booking b"
        " join backroom.booking_table bt on bt.booking_id = b.id"
        " where b.night_id = $1 and b.status = 'confirmed' and ($2::timestamptz is not null or b.deposit = 0)"
        " and (select count(*) from backroom.booking_table x where x.booking_id = b.id) = 1"
        " and b.starts_at <= coalesce($2::timestamptz, 'infinity') order by b.id limit 1",
        n["id"],
        due_by,
    )
    assert row is not None
    return row


async def audit_count(admin: asyncpg.Connection) -> int:
    count: int = await admin.fetchval("select count(*) from backroom.audit_log")
    return count


# ------------------------------------------------------------ the tables of a booking


async def test_not_even_the_owner_changes_a_reference(admin: asyncpg.Connection) -> None:
    """Staff and guests quote it (a console's refusal is in test_outsider.py)."""
    booking = await a_confirmed_booking(admin)
    with pytest.raises(asyncpg.PostgresError) as err:
        await admin.execute("update backroom.booking set ref = 'HACKED' where id = $1", booking["id"])
    assert err.value.sqlstate == "BR012"
    assert (
        await admin.fetchval("select ref from backroom.booking where id = $1", booking["id"])
        == booking["ref"]
    )


async def test_a_booking_names_its_real_creator(
    admin: asyncpg.Connection, console: Console, door: Actor, manager: Actor
) -> None:
    n = await sample_night(admin)
    conn = await console(door)
    async with conn.transaction():
        guest = await conn.fetchval("insert into backroom.guest (name) values ('Walk In') returning id")
        booking = await conn.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at,"
            " created_by) values ($1, $2, 2, 'arrived', $3, $4, $5) returning id",
            n["id"],
            guest,
            n["starts_at"],
            n["ends_at"],
            manager.staff_id,
        )
        # The door's own walk-in, made in this transaction: its table may be written.
        await conn.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            booking,
            FREE_TABLE,
            n["starts_at"],
            n["ends_at"],
        )
    assert (
        await admin.fetchval("select created_by from backroom.booking where id = $1", booking)
        == door.staff_id
    )


async def test_a_waitlist_entry_names_its_real_creator(
    admin: asyncpg.Connection, console: Console, manager: Actor, door: Actor
) -> None:
    n = await sample_night(admin)
    conn = await console(manager)
    guest = await conn.fetchval("insert into backroom.guest (name) values ('Wait Long') returning id")
    entry = await conn.fetchval(
        "insert into backroom.waitlist_entry (night_id, guest_id, party_size, created_by)"
        " values ($1, $2, 2, $3) returning id",
        n["id"],
        guest,
        door.staff_id,
    )
    await conn.execute(
        "update backroom.waitlist_entry set created_by = $2 where id = $1", entry, door.staff_id
    )
    assert (
        await admin.fetchval("select created_by from backroom.waitlist_entry where id = $1", entry)
        == manager.staff_id
    )


async def test_every_change_of_a_covered_table_is_audited_and_announced(
    admin: asyncpg.Connection, dsn: str
) -> None:
    booking = await a_confirmed_booking(admin)
    heard: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    listener = await asyncpg.connect(dsn)
    await listener.add_listener("backroom_changes", lambda *args: heard.put_nowait(json.loads(args[3])))
    try:
        start = await admin.fetchval("select max(id) from backroom.audit_log")
        # Even the owner's update, which no console may make any more.
        await admin.execute(
            "update backroom.booking_table set table_id = $1 where booking_id = $2", FREE_TABLE, booking["id"]
        )
        row = await admin.fetchrow(
            "select operation, entity_id, before, after from backroom.audit_log"
            " where id > $1 and entity = 'booking_table'",
            start,
        )
        assert row is not None and row["operation"] == "update" and row["entity_id"] == booking["id"]
        assert json.loads(row["before"])["table_id"] == booking["table_id"]
        assert json.loads(row["after"])["table_id"] == FREE_TABLE
        tables: set[object] = set()
        async with asyncio.timeout(5):
            while {booking["table_id"], FREE_TABLE} - tables:
                payload = await heard.get()
                assert payload["kind"] == "booking" and payload["id"] == booking["id"]
                tables |= set(payload["tables"])  # type: ignore[call-overload]
    finally:
        await listener.close()


async def test_a_no_show_at_the_door_frees_the_table(services: Services, admin: asyncpg.Connection) -> None:
    """The door writes no covered table, yet the copy of the status still follows."""
    booking = await a_confirmed_booking(admin, due_by=FIXED_NOW)
    door = await signed_in(services.db, seed.DEMO_STAFF[1][0])
    current = await services.bookings.get(booking["id"])
    done = await services.bookings.no_show(door, current.id, current.version)
    assert done.status.value == "no_show"
    assert (
        await admin.fetchval(
            "select bool_or(active) from backroom.booking_table where booking_id = $1", booking["id"]
        )
        is False
    )
    ops = await admin.fetch(
        "select operation from backroom.audit_log where entity = 'booking_table'"
        " and entity_id = $1 order by id desc limit 1",
        booking["id"],
    )
    assert [r["operation"] for r in ops] == ["no_show"]


# ------------------------------------------------------------ holds


async def test_a_hold_lies_within_its_night(
    admin: asyncpg.Connection, console: Console, manager: Actor
) -> None:
    """A span beyond the night is cut to it (test_outsider.py); one outside it is refused."""
    n = await sample_night(admin)
    conn = await console(manager)
    holds = await admin.fetchval("select count(*) from backroom.hold")
    with pytest.raises(asyncpg.PostgresError) as err:
        await conn.execute(
            "insert into backroom.hold (table_id, night_id, during, staff_id, holder)"
            " values ($1, $2, tstzrange($3, $4), $5, 'Me')",
            OTHER_FREE,
            n["id"],
            n["ends_at"] + timedelta(days=2),
            n["ends_at"] + timedelta(days=3),
            manager.staff_id,
        )
    assert err.value.sqlstate == "BR003"
    assert await admin.fetchval("select count(*) from backroom.hold") == holds


async def test_a_hold_only_renews(admin: asyncpg.Connection, console: Console, manager: Actor) -> None:
    n = await sample_night(admin)
    conn = await console(manager)
    hold = await conn.fetchval(
        "insert into backroom.hold (table_id, night_id, during, staff_id, holder)"
        " values ($1, $2, tstzrange($3, $4), $5, 'Me') returning id",
        FREE_TABLE,
        n["id"],
        n["starts_at"],
        n["ends_at"],
        manager.staff_id,
    )
    # Moving a hold onto a booked table would skip the check that a new hold gets.
    booked = await a_confirmed_booking(admin)
    with pytest.raises(asyncpg.PostgresError) as err:
        await conn.execute("update backroom.hold set table_id = $1 where id = $2", booked["table_id"], hold)
    assert err.value.sqlstate == "BR013"
    assert await admin.fetchval("select table_id from backroom.hold where id = $1", hold) == FREE_TABLE


# ------------------------------------------------------------ the operation of an audit row


async def test_a_cancel_through_the_service_is_audited_as_cancel(
    services: Services, admin: asyncpg.Connection
) -> None:
    booking = await a_confirmed_booking(admin)
    current = await services.bookings.get(booking["id"])
    await services.bookings.cancel(services.actor, current.id, current.version, "Changed plans")
    ops = await admin.fetch(
        "select distinct operation from backroom.audit_log"
        " where entity in ('booking', 'booking_table') and entity_id = $1"
        " and op_id is not null",
        booking["id"],
    )
    assert [r["operation"] for r in ops] == ["cancel"]


async def test_a_refusal_is_recorded_under_a_console_operation_and_bounded(
    admin: asyncpg.Connection, console: Console, manager: Actor
) -> None:
    """For whom a refusal is recorded is in test_outsider.py; what it may say is here."""
    audited = await audit_count(admin)
    conn = await console(manager)
    for op in ("sign_in", "nonsense"):
        with pytest.raises(asyncpg.PostgresError) as err:
            await conn.execute("select backroom.log_refusal($1, 'booking', 1, null, '{}')", op)
        assert err.value.sqlstate == "BR011"
    for entity, reason in (("booking", json.dumps({"message": "x" * 10_000})), ("staff", "{}")):
        with pytest.raises(asyncpg.InvalidParameterValueError):
            await conn.execute(
                "select backroom.log_refusal('cancel', $1, 1, null, $2::jsonb)", entity, reason
            )
    assert await audit_count(admin) == audited
    await conn.execute("select backroom.log_refusal('cancel', 'booking', 1, null, '{}')")
    row = await admin.fetchrow("select staff_id, operation from backroom.audit_log order by id desc limit 1")
    assert row is not None
    assert dict(row) == {"staff_id": manager.staff_id, "operation": "refused:cancel"}


# ------------------------------------------------------------ definer functions


async def test_every_definer_function_puts_pg_temp_last(admin: asyncpg.Connection) -> None:
    rows = await admin.fetch(
        "select p.oid::regprocedure::text as name, p.proconfig from pg_proc p"
        " join pg_namespace n on n.oid = p.pronamespace"
        " where p.prosecdef and n.nspname not in ('pg_catalog', 'information_schema')"
    )
    assert rows, "the schema has definer functions"
    wrong = []
    for r in rows:
        paths = [c.split("=", 1)[1] for c in r["proconfig"] or [] if c.startswith("search_path=")]
        if not paths or [p.strip() for p in paths[0].split(",")][-1] != "pg_temp":
            wrong.append((r["name"], paths))
    assert wrong == []


# ------------------------------------------------------------ input limits


async def test_limits_hold_in_every_operation(services: Services, admin: asyncpg.Connection) -> None:
    n = await sample_night(admin)
    bookings = services.bookings
    guests, audited = await admin.fetchval("select count(*) from backroom.guest"), await audit_count(admin)
    huge = "x" * 10_000_000
    with pytest.raises(InvalidInput, match=f"Notes are at most {NOTES_MOST} characters"):
        await bookings.create(
            services.actor,
            night_id=n["id"],
            table_ids=[FREE_TABLE],
            party_size=2,
            starts_at=n["starts_at"],
            guest=GuestDetails("Ann Long"),
            notes=huge,
        )
    with pytest.raises(InvalidInput, match=f"at most {NAME_MOST} characters"):
        await bookings.create(
            services.actor,
            night_id=n["id"],
            table_ids=[FREE_TABLE],
            party_size=2,
            starts_at=n["starts_at"],
            guest=GuestDetails("A" * (NAME_MOST + 1)),
        )
    with pytest.raises(InvalidInput, match="control character"):
        await bookings.waitlist_add(
            services.actor, night_id=n["id"], party_size=2, guest=GuestDetails("Ann\x1b[2J")
        )
    with pytest.raises(InvalidInput, match="email"):
        await bookings.create(
            services.actor,
            night_id=n["id"],
            table_ids=[FREE_TABLE],
            party_size=2,
            starts_at=n["starts_at"],
            guest=GuestDetails("Ann", email="a\x07@b.com"),
        )
    with pytest.raises(InvalidInput, match=f"Notes are at most {NOTES_MOST} characters"):
        await bookings.waitlist_add(
            services.actor, night_id=n["id"], party_size=2, guest=GuestDetails("Ann"), notes=huge
        )
    door = await signed_in(services.db, seed.DEMO_STAFF[1][0])
    with pytest.raises(InvalidInput, match="notes are at most"):
        await bookings.seat_walk_in(
            door, night_id=n["id"], party_size=2, guest=GuestDetails("Ann", notes=huge)
        )
    booking = await a_confirmed_booking(admin)
    current = await bookings.get(booking["id"])
    with pytest.raises(InvalidInput, match=f"at most {REASON_MOST} characters"):
        await bookings.cancel(services.actor, current.id, current.version, "r" * (REASON_MOST + 1))
    with pytest.raises(InvalidInput, match=f"Notes are at most {NOTES_MOST} characters"):
        await bookings.amend(services.actor, current.id, current.version, notes=huge)
    assert await admin.fetchval("select count(*) from backroom.guest") == guests
    assert (
        await admin.fetchval("select status from backroom.booking where id = $1", booking["id"])
        == "confirmed"
    )
    assert await audit_count(admin) >= audited  # refusals only


async def test_limits_hold_in_the_database(
    admin: asyncpg.Connection, console: Console, manager: Actor
) -> None:
    booking = await a_confirmed_booking(admin)
    conn = await console(manager)
    for sql, args in (
        ("insert into backroom.guest (name) values ($1)", ("x" * (NAME_MOST + 1),)),
        ("insert into backroom.guest (name) values ($1)", ("Ann\x1b]0;pwned\x07",)),
        ("insert into backroom.guest (name) values ($1)", ("Ann\u0085",)),
        ("insert into backroom.guest (name, email) values ('Ann', $1)", ("a\n@b.com",)),
        ("insert into backroom.guest (name, notes) values ('Ann', $1)", ("n" * 10_000_000,)),
        ("update backroom.booking set notes = $1 where id = $2", ("n" * (NOTES_MOST + 1), booking["id"])),
        (
            "update backroom.booking set status = 'cancelled', cancel_reason = $1 where id = $2",
            ("r" * (REASON_MOST + 1), booking["id"]),
        ),
    ):
        with pytest.raises(asyncpg.CheckViolationError):
            await conn.execute(sql, *args)
    with pytest.raises(asyncpg.CheckViolationError):
        await admin.execute(
            "insert into backroom.staff (email, display_name, role)"
            " values ('eve@backroom.test', E'Eve\\r\\nAdmin', 'door')"
        )
    assert await admin.fetchval("select count(*) from backroom.guest where name like 'Ann%'") == 0


# ------------------------------------------------------------ sign-in


@pytest.fixture
async def identity(login_dsn: str, owner_db: Database) -> AsyncIterator[IdentityService]:
    """The console's identity service on its own login; staff are added by the owner."""
    db = Database(login_dsn)
    await db.open()
    yield IdentityService(db, owner=owner_db)
    await db.close()


@pytest.fixture
async def ann(identity: IdentityService) -> Enrolment:
    return await identity.add_staff(
        None, email="ann@backroom.test", name="Ann", role="manager", password=PASSWORD
    )


async def age_attempts(admin: asyncpg.Connection, seconds: int) -> None:
    await admin.execute("update backroom_private.attempt set at = at - make_interval(secs => $1)", seconds)


async def locked_until(admin: asyncpg.Connection, email: str) -> object:
    return await admin.fetchval(
        "select c.locked_until from backroom_private.credential c"
        " join backroom.staff s on s.id = c.staff_id where s.email = $1",
        email,
    )


async def test_attempts_while_locked_do_not_extend_the_lock_and_an_admin_unlocks(
    identity: IdentityService, ann: Enrolment, admin: asyncpg.Connection
) -> None:
    until = None
    for _ in range(10):
        await age_attempts(admin, 61)  # past the throttle
        try:
            await identity.sign_in(ann.email, "wrong password!", "123456")
        except AccountLocked as locked:
            until = locked.until
        except SignInFailed:
            continue
    assert until is not None
    for password in ("wrong password!", PASSWORD, "wrong again!!"):
        with pytest.raises(AccountLocked) as err:
            await identity.sign_in(ann.email, password, pyotp.TOTP(ann.secret).now())
        assert err.value.until == until
    assert await locked_until(admin, ann.email) == until

    door = await signed_in(identity._db, DOOR_EMAIL)
    with pytest.raises(NotAllowed):
        await identity.unlock(door, ann.email)
    boss = await identity.add_staff(
        None, email="boss@backroom.test", name="Boss", role="admin", password=PASSWORD
    )
    session = await identity.sign_in(boss.email, PASSWORD, pyotp.TOTP(boss.secret).now())
    await identity.unlock(session.actor, ann.email)
    row = await admin.fetchrow(
        "select staff_id, after from backroom.audit_log where operation = 'staff_unlocked'"
    )
    assert row is not None
    assert row["staff_id"] == session.actor.staff_id
    assert await locked_until(admin, ann.email) is None
    assert (await identity.sign_in(ann.email, PASSWORD, pyotp.TOTP(ann.secret).now())).actor.name == "Ann"


async def test_only_an_admin_unlocks_in_the_database(
    identity: IdentityService, ann: Enrolment, admin: asyncpg.Connection, console: Console, manager: Actor
) -> None:
    await admin.execute(
        "update backroom_private.credential c set locked_until = now() + interval '1 hour'"
        " from backroom.staff s where s.id = c.staff_id and s.email = $1",
        ann.email,
    )
    conn = await console(manager)
    with pytest.raises(asyncpg.InsufficientPrivilegeError):
        await conn.execute("select backroom.unlock_staff($1)", ann.email)
    assert await locked_until(admin, ann.email) is not None


# ------------------------------------------------------------ the legitimate jobs


async def test_door_staff_seat_a_walk_in(services: Services, admin: asyncpg.Connection) -> None:
    n = await sample_night(admin)
    door = await signed_in(services.db, seed.DEMO_STAFF[1][0])
    walk_in = await services.bookings.seat_walk_in(
        door, night_id=n["id"], party_size=2, guest=GuestDetails("Sam Door"), table_id=FREE_TABLE
    )
    assert walk_in.status.value == "arrived" and walk_in.table_ids == (FREE_TABLE,)
    row = await admin.fetchrow("select created_by from backroom.booking where id = $1", walk_in.id)
    assert row is not None
    assert row["created_by"] == door.staff_id
    ops = await admin.fetch(
        "select entity, operation from backroom.audit_log where entity_id = $1"
        " and entity in ('booking', 'booking_table') order by id",
        walk_in.id,
    )
    assert [(r["entity"], r["operation"]) for r in ops] == [
        ("booking", "seat_walk_in"),
        ("booking_table", "seat_walk_in"),
    ]


async def test_a_manager_moves_a_booking(services: Services, admin: asyncpg.Connection) -> None:
    booking = await a_confirmed_booking(admin)
    current = await BookingService(services.db).get(booking["id"])
    moved = await services.bookings.move(services.actor, current.id, current.version, table_ids=[FREE_TABLE])
    assert moved.table_ids == (FREE_TABLE,)
    ops = await admin.fetch(
        "select operation, before is null as added from backroom.audit_log"
        " where entity = 'booking_table' and entity_id = $1 and op_id is not null"
        " order by id",
        booking["id"],
    )
    assert [(r["operation"], r["added"]) for r in ops] == [("move", False), ("move", True)]


async def test_a_console_at_the_sign_in_screen_announces_nobody(
    services: Services, admin: asyncpg.Connection, login_dsn: str
) -> None:
    from services.live.presence import PostgresPresence

    db = Database(login_dsn)
    await db.open()
    presence = PostgresPresence(db.listener_connection, Actor(), beat_every=0.1)
    task = asyncio.create_task(presence.run())
    try:

        async def rows() -> int:
            count: int = await admin.fetchval("select count(*) from backroom.presence")
            return count

        await eventually(lambda: presence.beats >= 2)
        assert await rows() == 0
        presence.announce(actor=services.actor)
        await eventually(rows)
        assert await admin.fetchval("select staff_id from backroom.presence") == services.actor.staff_id
        presence.announce(actor=Actor())

        async def gone() -> bool:
            return await rows() == 0

        await eventually(gone)
    finally:
        await presence.stop()
        task.cancel()
        await db.close()
