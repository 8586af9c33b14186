"""The rules Postgres enforces whatever the client: raw SQL, as the console role.

These go around every service on purpose: two consoles racing must be safe
even if the Python code has a bug.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import asyncpg
import pytest

FREE_TABLE = 11  # 2 to 6 guests, nothing booked on the sample night
NEIGHBOUR = 12  # 4 to 10 guests, next to table 11, free on the sample night


async def as_console(conn: asyncpg.Connection, staff_id: int | None = None) -> None:
    """Act as the console's role for the rest of the current transaction, presenting a
    session of a staff member (by default the demo's duty manager) that the owner opens."""
    if staff_id is None:
        staff_id = await conn.fetchval(
            "select id from backroom.staff where email = 'duty.manager@backroom.demo'"
        )
    token = await conn.fetchval("select backroom_meta.open_session($1)", staff_id)
    await conn.execute(
        "select set_config('role', 'backroom_console', true), set_config('backroom.session', $1, true)",
        token,
    )


async def night(conn: asyncpg.Connection) -> asyncpg.Record:
    row = await conn.fetchrow("select id, starts_at, ends_at from backroom.night where date = '2026-11-20'")
    assert row is not None
    return row


async def active_tonight(conn: asyncpg.Connection, table: int) -> int:
    return int(
        await conn.fetchval(
            "select count(*) from backroom.booking_table bt join backroom.booking b on b.id = bt.booking_id"
            " join backroom.night n on n.id = b.night_id"
            " where bt.table_id = $1 and bt.active and n.date = '2026-11-20'",
            table,
        )
    )


async def new_guest(conn: asyncpg.Connection, name: str = "Test Guest") -> int:
    return int(await conn.fetchval("insert into backroom.guest (name) values ($1) returning id", name))


async def book(
    conn: asyncpg.Connection,
    tables: tuple[int, ...],
    party: int,
    *,
    start: int = 0,
    end: int | None = None,
    status: str = "pending",
    guest: int | None = None,
    staff_id: int | None = None,
) -> int:
    """One booking written the way any client could: booking row plus its tables."""
    n = await night(conn)
    starts = n["starts_at"] + timedelta(minutes=start)
    ends = n["ends_at"] if end is None else n["starts_at"] + timedelta(minutes=end)
    async with conn.transaction():
        await as_console(conn, staff_id)
        guest = guest or await new_guest(conn)
        booking_id = await conn.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
            " values ($1, $2, $3, $4, $5, $6) returning id",
            n["id"],
            guest,
            party,
            status,
            starts,
            ends,
        )
        for table in tables:
            await conn.execute(
                "insert into backroom.booking_table (booking_id, table_id, during, active)"
                " values ($1, $2, tstzrange($3, $4), true)",
                booking_id,
                table,
                starts,
                ends,
            )
    return int(booking_id)


async def set_status(
    conn: asyncpg.Connection, booking_id: int, status: str, reason: str | None = None
) -> None:
    async with conn.transaction():
        await as_console(conn)
        await conn.execute(
            "update backroom.booking set status = $2, cancel_reason = coalesce($3, cancel_reason)"
            " where id = $1",
            booking_id,
            status,
            reason,
        )


async def test_overlapping_bookings_of_one_table_are_refused(admin: asyncpg.Connection) -> None:
    await book(admin, (FREE_TABLE,), 4, start=0, end=120)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await book(admin, (FREE_TABLE,), 4, start=60, end=180)
    # Back to back is fine: ranges are half-open.
    await book(admin, (FREE_TABLE,), 4, start=120, end=240)
    assert await active_tonight(admin, FREE_TABLE) == 2


async def test_a_cancelled_booking_frees_its_table(admin: asyncpg.Connection) -> None:
    first = await book(admin, (FREE_TABLE,), 4)
    await set_status(admin, first, "cancelled", "Guest called")
    await book(admin, (FREE_TABLE,), 3)


async def test_no_overlap_holds_for_each_table_of_a_joined_booking(admin: asyncpg.Connection) -> None:
    await book(admin, (FREE_TABLE, NEIGHBOUR), 14)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await book(admin, (NEIGHBOUR,), 5)


async def test_joined_tables_must_be_neighbours_on_one_floor(admin: asyncpg.Connection) -> None:
    for apart in ((10, NEIGHBOUR), (6, FREE_TABLE)):  # same floor but apart; two floors
        with pytest.raises(asyncpg.PostgresError, match="not next to each other") as err:
            await book(admin, apart, 8)
        assert err.value.sqlstate == "BR008"


@pytest.mark.parametrize("party", [7, 1])
async def test_party_outside_capacity_is_refused(admin: asyncpg.Connection, party: int) -> None:
    with pytest.raises(asyncpg.PostgresError, match="does not fit table 11") as err:
        await book(admin, (FREE_TABLE,), party)
    assert err.value.sqlstate == "BR002" and err.value.detail is not None
    assert json.loads(err.value.detail) == {"party": party, "max": 6, "min": 2, "tables": "11"}


async def test_growing_a_party_past_capacity_is_refused(admin: asyncpg.Connection) -> None:
    booking = await book(admin, (FREE_TABLE,), 6)
    with pytest.raises(asyncpg.PostgresError) as err:
        async with admin.transaction():
            await as_console(admin)
            await admin.execute("update backroom.booking set party_size = 9 where id = $1", booking)
    assert err.value.sqlstate == "BR002"
    assert await admin.fetchval("select party_size from backroom.booking where id = $1", booking) == 6


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        (["cancelled"], "confirmed"),
        (["confirmed", "arrived"], "pending"),
        (["confirmed", "no_show"], "arrived"),
        (["expired"], "confirmed"),
        ([], "completed"),
        (["confirmed"], "expired"),
    ],
)
async def test_illegal_transitions_are_refused(
    admin: asyncpg.Connection, path: list[str], illegal: str
) -> None:
    booking = await book(admin, (FREE_TABLE,), 4)
    for step in path:
        await set_status(admin, booking, step, "Test" if step == "cancelled" else None)
    with pytest.raises(asyncpg.PostgresError) as err:
        await set_status(admin, booking, illegal, "Test")
    assert err.value.sqlstate in ("BR001", "BR006")
    assert await admin.fetchval("select status from backroom.booking where id = $1", booking) == (
        path[-1] if path else "pending"
    )


async def test_legal_lifecycle_and_version(admin: asyncpg.Connection) -> None:
    booking = await book(admin, (FREE_TABLE,), 4)
    for step in ("confirmed", "arrived", "completed"):
        await set_status(admin, booking, step)
    row = await admin.fetchrow(
        "select status, version, arrived_count, expires_at from backroom.booking where id = $1", booking
    )
    assert row is not None
    assert dict(row) == {"status": "completed", "version": 4, "arrived_count": 4, "expires_at": None}
    # Completed frees the table.
    await book(admin, (FREE_TABLE,), 2)


async def test_cancel_needs_a_reason(admin: asyncpg.Connection) -> None:
    booking = await book(admin, (FREE_TABLE,), 4)
    with pytest.raises(asyncpg.CheckViolationError):
        await set_status(admin, booking, "cancelled")


async def test_booking_outside_the_nights_hours_is_refused(admin: asyncpg.Connection) -> None:
    with pytest.raises(asyncpg.PostgresError) as err:
        await book(admin, (FREE_TABLE,), 4, start=-60, end=60)
    assert err.value.sqlstate == "BR003"


async def test_a_guest_holds_at_most_two_tables_a_night(admin: asyncpg.Connection) -> None:
    guest = await new_guest(admin, "Greedy Guest")
    await book(admin, (FREE_TABLE,), 4, guest=guest)
    await book(admin, (NEIGHBOUR,), 4, guest=guest)
    with pytest.raises(asyncpg.PostgresError) as err:
        await book(admin, (10,), 2, start=240, guest=guest)
    assert err.value.sqlstate == "BR005"
    await admin.execute("update backroom.venue set max_tables_per_guest = 3")
    await book(admin, (10,), 2, start=240, guest=guest)


async def test_holds_are_exclusive_and_block_bookings(admin: asyncpg.Connection) -> None:
    n = await night(admin)
    ann = await admin.fetchval(
        "insert into backroom.staff (email, display_name, role) values ('ann@example.com', 'Ann', 'manager') returning id"
    )
    bob = await admin.fetchval(
        "insert into backroom.staff (email, display_name, role) values ('bob@example.com', 'Bob', 'manager') returning id"
    )

    async def hold(staff: int, name: str, table: int, seconds: int = 30) -> None:
        async with admin.transaction():
            await as_console(admin, staff)
            await admin.execute(
                "insert into backroom.hold (table_id, night_id, during, holder, expires_at)"
                " values ($1, $2, tstzrange($3, $4), $5, clock_timestamp() + make_interval(secs => $6))",
                table,
                n["id"],
                n["starts_at"],
                n["ends_at"],
                name,
                seconds,
            )

    await hold(ann, "Ann", FREE_TABLE)
    with pytest.raises(asyncpg.ExclusionViolationError):
        await hold(bob, "Bob", FREE_TABLE)
    with pytest.raises(asyncpg.PostgresError, match="held by Ann") as err:
        await book(admin, (FREE_TABLE,), 4, staff_id=bob)
    assert err.value.sqlstate == "BR004"
    # The holder herself may book the table she holds.
    await book(admin, (FREE_TABLE,), 4, staff_id=ann)

    # A table already booked cannot be held.
    with pytest.raises(asyncpg.PostgresError) as err:
        await hold(bob, "Bob", 1)
    assert err.value.sqlstate == "BR007"

    # A lapsed hold no longer counts, even before anyone sweeps it.
    await hold(ann, "Ann", NEIGHBOUR, seconds=30)
    await admin.execute(
        "update backroom.hold set expires_at = clock_timestamp() - interval '1 second' where table_id = $1",
        NEIGHBOUR,
    )
    await hold(bob, "Bob", NEIGHBOUR)
    holder = await admin.fetchval("select holder from backroom.hold where table_id = $1", NEIGHBOUR)
    assert holder == "Bob"


async def test_sweep_expires_due_pending_bookings_and_lapsed_holds(admin: asyncpg.Connection) -> None:
    booking = await book(admin, (FREE_TABLE,), 4)
    await admin.execute(
        "update backroom.booking set expires_at = now() - interval '1 minute' where id = $1", booking
    )
    async with admin.transaction():
        await as_console(admin)
        assert await admin.fetchval("select backroom.sweep()") >= 1
    assert await admin.fetchval("select status from backroom.booking where id = $1", booking) == "expired"
    op = await admin.fetchval(
        "select operation from backroom.audit_log where entity = 'booking' and entity_id = $1"
        " order by id desc limit 1",
        booking,
    )
    assert op == "expire"


async def test_every_change_writes_an_audit_row(admin: asyncpg.Connection) -> None:
    start = await admin.fetchval("select coalesce(max(id), 0) from backroom.audit_log")
    booking = await book(admin, (FREE_TABLE,), 4, staff_id=None)
    await set_status(admin, booking, "confirmed")
    await set_status(admin, booking, "cancelled", "Changed plans")
    rows = await admin.fetch(
        "select entity, operation, before, after from backroom.audit_log where id > $1 order by id", start
    )
    booking_rows = [r for r in rows if r["entity"] == "booking"]
    assert [r["operation"] for r in booking_rows] == ["insert", "update", "update"]
    assert booking_rows[0]["before"] is None
    assert json.loads(booking_rows[1]["before"])["status"] == "pending"
    assert json.loads(booking_rows[1]["after"])["status"] == "confirmed"
    assert json.loads(booking_rows[2]["after"])["cancel_reason"] == "Changed plans"
    # The cancellation frees the table: its copy of the booking's activity changes too.
    table_rows = [r for r in rows if r["entity"] == "booking_table"]
    assert [r["operation"] for r in table_rows] == ["insert", "update"]
    assert json.loads(table_rows[1]["after"])["active"] is False


async def test_a_refused_change_leaves_no_trace(admin: asyncpg.Connection) -> None:
    counts = "select (select count(*) from backroom.booking), (select count(*) from backroom.audit_log)"
    before = await admin.fetchrow(counts)
    with pytest.raises(asyncpg.PostgresError):
        await book(admin, (FREE_TABLE,), 40)
    assert await admin.fetchrow(counts) == before


async def test_notifications_arrive_on_commit_only(admin: asyncpg.Connection, dsn: str) -> None:
    listener = await asyncpg.connect(dsn)
    got: asyncio.Queue[dict[str, object]] = asyncio.Queue()
    await listener.add_listener("backroom_changes", lambda *args: got.put_nowait(json.loads(args[3])))
    try:
        n = await night(admin)
        tx = admin.transaction()
        await tx.start()
        await as_console(admin)
        guest = await new_guest(admin)
        booking = await admin.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, starts_at, ends_at)"
            " values ($1, $2, 4, $3, $4) returning id",
            n["id"],
            guest,
            n["starts_at"],
            n["ends_at"],
        )
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            booking,
            FREE_TABLE,
            n["starts_at"],
            n["ends_at"],
        )
        await asyncio.sleep(0.2)
        assert got.empty(), "nothing may be announced before commit"
        await tx.commit()
        first = await asyncio.wait_for(got.get(), timeout=2)
        payloads = [first]
        while not got.empty():
            payloads.append(got.get_nowait())
        assert {p["kind"] for p in payloads} == {"booking"}
        assert all(p["night"] == n["id"] and p["id"] == booking for p in payloads)
        assert any(p.get("tables") == [FREE_TABLE] for p in payloads)
        assert all(len(json.dumps(p)) < 300 for p in payloads)
    finally:
        await listener.close()


async def test_racing_connections_book_one_table_once(dsn: str, admin: asyncpg.Connection) -> None:
    """Twenty connections commit the same table and time at the same moment: one wins."""
    racers = 20
    conns = [await asyncpg.connect(dsn) for _ in range(racers)]
    gate = asyncio.Event()

    async def race(conn: asyncpg.Connection) -> str:
        await gate.wait()
        try:
            await book(conn, (FREE_TABLE,), 4, start=30)
            return "won"
        except asyncpg.ExclusionViolationError:
            return "taken"

    try:
        tasks = [asyncio.create_task(race(c)) for c in conns]
        await asyncio.sleep(0.05)
        gate.set()
        results = await asyncio.gather(*tasks)
    finally:
        for c in conns:
            await c.close()
    assert results.count("won") == 1
    assert results.count("taken") == racers - 1
    assert await active_tonight(admin, FREE_TABLE) == 1


async def test_racing_status_changes_apply_once(dsn: str, admin: asyncpg.Connection) -> None:
    """Two consoles confirm and cancel the same pending booking at once: the second sees the first."""
    booking = await book(admin, (FREE_TABLE,), 4)
    a, b = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        results = await asyncio.gather(
            set_status(a, booking, "confirmed"),
            set_status(b, booking, "expired"),
            return_exceptions=True,
        )
    finally:
        await a.close()
        await b.close()
    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1 and getattr(failures[0], "sqlstate", None) in ("BR001", "BR006")
    row = await admin.fetchrow("select status, version from backroom.booking where id = $1", booking)
    assert row is not None
    assert row["status"] in ("confirmed", "expired") and row["version"] == 2


async def test_console_role_cannot_touch_what_it_does_not_own(admin: asyncpg.Connection) -> None:
    statements = [
        "insert into backroom.audit_log (operation, entity) values ('forged', 'booking')",
        "update backroom.audit_log set operation = 'forged'",
        "delete from backroom.booking",
        "update backroom.venue_table set max_party = 100",
        "delete from backroom.audit_log",
        "select * from backroom_meta.migration",
    ]
    for sql in statements:
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with admin.transaction():
                await as_console(admin)
                await admin.execute(sql)


async def test_a_staff_id_named_in_a_setting_is_nobody(admin: asyncpg.Connection) -> None:
    """Only a session token names who acts: the old setting, or a token no sign-in handed
    out, writes nothing."""
    guests = await admin.fetchval("select count(*) from backroom.guest")
    manager = await admin.fetchval("select id from backroom.staff where email = 'duty.manager@backroom.demo'")
    for setting, value in (("backroom.staff_id", str(manager)), ("backroom.session", "made-up")):
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            async with admin.transaction():
                await admin.execute(
                    "select set_config('role', 'backroom_console', true), set_config($1, $2, true)",
                    setting,
                    value,
                )
                assert await admin.fetchval("select backroom.current_staff_id()") is None
                await admin.execute("insert into backroom.guest (name) values ('Nobody')")
    assert await admin.fetchval("select count(*) from backroom.guest") == guests
