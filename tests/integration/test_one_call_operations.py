"""Confirm and check-in in one call of a database function (migration 0020): what
it refuses changes nothing and comes back in the same staff words, a repeat with
the same operation id is the first answer, and the console's login may call it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import timedelta
from urllib.parse import quote, urlsplit, urlunsplit

import asyncpg
import pytest

from services.bookings import BookingService, GuestDetails, new_op_id
from services.bookings.runner import booking_from_json
from services.errors import NotAllowed, StaleBooking
from services.identity.console_login import login_of
from services.models import Booking, BookingStatus, Night
from services.store.db import Actor

FREE = 11  # downstairs, 2 to 6, free on the sample night
CONFIRM = "select backroom.confirm_booking($1, $2::uuid, $3, $4, $5, $6)"


@pytest.fixture
async def console(dsn: str, admin: asyncpg.Connection) -> AsyncIterator[asyncpg.Connection]:
    """A connection as the console's own login, which is what calls the functions."""
    login = await login_of(admin)
    assert login is not None
    parts = urlsplit(dsn)
    where = parts.netloc.rsplit("@", 1)[-1]
    conn = await asyncpg.connect(
        urlunsplit(
            parts._replace(netloc=f"{quote(login.role, safe='')}:{quote(login.password, safe='')}@{where}")
        )
    )
    try:
        yield conn
    finally:
        await conn.close()


async def pending(bookings: BookingService, maya: Actor, night: Night) -> Booking:
    return await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at + timedelta(hours=1),
        guest=GuestDetails("Rita Hale", phone="+44 7700 900999"),
    )


async def operation_rows(admin: asyncpg.Connection, op_id: str) -> int:
    return int(await admin.fetchval("select count(*) from backroom.operation where op_id = $1", op_id))


async def test_the_answer_is_the_booking_as_the_service_reads_it(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya = staff["Maya"]
    b = await pending(bookings, maya, night)
    op_id = new_op_id()
    confirmed = await bookings.confirm(maya, b.id, b.version, deposit=50, op_id=op_id)
    assert confirmed == await bookings.get(b.id)
    assert confirmed.status is BookingStatus.CONFIRMED and confirmed.deposit_paid
    stored = await admin.fetchval("select result from backroom.operation where op_id = $1", op_id)
    assert booking_from_json(json.loads(stored)) == confirmed


async def test_a_repeat_with_the_same_op_id_is_the_first_answer(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await pending(bookings, maya, night)
    op_id = new_op_id()
    first = await bookings.confirm(maya, b.id, b.version, op_id=op_id)
    again = await bookings.confirm(maya, b.id, b.version, op_id=op_id)
    assert again == first and first.version == b.version + 1
    check_op = new_op_id()
    arrived = await bookings.check_in(dora, b.id, first.version, 2, op_id=check_op)
    assert await bookings.check_in(dora, b.id, first.version, 2, op_id=check_op) == arrived
    assert (await bookings.get(b.id)).arrived_count == 2
    assert await operation_rows(admin, op_id) == 1 and await operation_rows(admin, check_op) == 1


async def test_a_stale_version_changes_nothing_and_says_who_changed_it(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya, nico = staff["Maya"], staff["Nico"]
    b = await pending(bookings, maya, night)
    await bookings.confirm(nico, b.id, b.version)
    op_id = new_op_id()
    with pytest.raises(StaleBooking, match="changed by Nico"):
        await bookings.confirm(maya, b.id, b.version, op_id=op_id)
    assert await operation_rows(admin, op_id) == 0
    assert (await bookings.get(b.id)).version == b.version + 1


async def test_the_function_refuses_a_stale_version_and_records_nothing(
    bookings: BookingService,
    staff: dict[str, Actor],
    night: Night,
    admin: asyncpg.Connection,
    console: asyncpg.Connection,
) -> None:
    maya = staff["Maya"]
    b = await pending(bookings, maya, night)
    op_id = new_op_id()
    with pytest.raises(asyncpg.PostgresError) as refused:
        await console.fetchval(CONFIRM, maya.session, op_id, maya.staff_id, b.id, b.version + 1, None)
    assert refused.value.sqlstate == "BR0F0"
    assert await operation_rows(admin, op_id) == 0
    answer = json.loads(
        await console.fetchval(CONFIRM, maya.session, op_id, maya.staff_id, b.id, b.version, None)
    )
    assert answer["status"] == "confirmed" and answer["version"] == b.version + 1
    # The connection is the login's again after the call: no role, no session.
    assert await console.fetchval("select current_user") != "backroom_console"
    assert await console.fetchval("select current_setting('backroom.session', true)") in (None, "")


async def test_the_functions_answer_for_the_console_login(
    bookings: BookingService, staff: dict[str, Actor], night: Night, console: asyncpg.Connection
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await pending(bookings, maya, night)
    confirmed = json.loads(
        await console.fetchval(CONFIRM, maya.session, new_op_id(), maya.staff_id, b.id, b.version, 20)
    )
    assert confirmed["status"] == "confirmed" and confirmed["deposit"] == "20.00"
    arrived = json.loads(
        await console.fetchval(
            "select backroom.check_in_booking($1, $2::uuid, $3, $4, $5, $6, $7, $8)",
            dora.session,
            new_op_id(),
            dora.staff_id,
            b.id,
            confirmed["version"],
            3,
            night.starts_at + timedelta(hours=1),
            timedelta(hours=12),
        )
    )
    assert arrived["status"] == "arrived" and arrived["arrived_count"] == 3
    assert booking_from_json(arrived) == await bookings.get(b.id)


async def test_who_may_not_confirm_is_refused_by_the_database_too(
    bookings: BookingService,
    staff: dict[str, Actor],
    night: Night,
    admin: asyncpg.Connection,
    console: asyncpg.Connection,
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await pending(bookings, maya, night)
    with pytest.raises(NotAllowed):
        await bookings.confirm(dora, b.id, b.version)
    # Without a session the database refuses the call itself, and writes nothing.
    op_id = new_op_id()
    with pytest.raises(asyncpg.PostgresError) as refused:
        await console.fetchval(CONFIRM, "", op_id, maya.staff_id, b.id, b.version, None)
    assert refused.value.sqlstate == "42501"
    with pytest.raises(asyncpg.PostgresError):
        await console.fetchval(CONFIRM, "not-a-session", op_id, maya.staff_id, b.id, b.version, None)
    assert await operation_rows(admin, op_id) == 0
    assert (await bookings.get(b.id)).status is BookingStatus.PENDING


async def test_the_console_login_may_call_the_functions_and_no_more(console: asyncpg.Connection) -> None:
    for function in ("confirm_booking", "check_in_booking"):
        assert await console.fetchval(
            "select bool_and(has_function_privilege(p.oid, 'execute')) from pg_proc p"
            " where p.pronamespace = 'backroom'::regnamespace and p.proname = $1",
            function,
        )
        assert not await console.fetchval(
            "select bool_or(p.prosecdef) from pg_proc p"
            " where p.pronamespace = 'backroom'::regnamespace and p.proname = $1",
            function,
        )
