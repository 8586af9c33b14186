"""The audit trail in staff words: what happened and who did it, against a real database.

A step-up code reads as a step-up code, not a sign-in; expiries and the seed
are "the system", not the database user; a hold a booking used up names the
table and the booking.
"""

from __future__ import annotations

import asyncio
import time

import asyncpg
import pyotp
import pytest
from textual.widgets.data_table import RowKey

from console.wiring import Services
from screens.audit import AuditEntryScreen, AuditScreen
from services.bookings import BookingService, GuestDetails
from services.identity.accounts import IdentityService, SignInError
from services.models import Night
from services.reports import (
    OPERATION_WORDS,
    THE_SYSTEM,
    AuditEntry,
    audit_words,
    operation_words,
)
from services.store.db import Database
from tests.tui.helpers import screen_text, until
from tests.tui.support_helpers import ConsoleApp, audit_loaded
from widgets.audit_table import AuditTable

FREE = 11  # downstairs, free on the sample night
ALSO_FREE = 12


async def test_every_operation_the_database_records_has_staff_words(admin: asyncpg.Connection) -> None:
    names = [r["name"] for r in await admin.fetch("select name from backroom.audit_operation")]
    assert names
    missing = [n for n in names if n not in OPERATION_WORDS]
    assert not missing, f"operations without staff words: {missing}"
    for name in names:
        assert "_" not in OPERATION_WORDS[name], name
    assert operation_words("refused:check_in") == "check-in refused"
    console = [
        r["name"]
        for r in await admin.fetch("select name from backroom.audit_operation where kind = 'console'")
    ]
    for name in console:
        assert "_" not in operation_words(f"refused:{name}"), name
    assert operation_words("step_up") == "step-up code"
    assert operation_words("step_up_failed") == "wrong step-up code"


def _hold_rows(entries: list[AuditEntry]) -> dict[str, AuditEntry]:
    newest: dict[str, AuditEntry] = {}
    for e in entries:
        if e.entity == "hold":
            newest.setdefault(e.operation, e)
    return newest


async def test_a_hold_used_by_a_booking_and_one_that_lapsed_say_what_happened(
    services: Services, night: Night, admin: asyncpg.Connection
) -> None:
    bookings = BookingService(services.db, services.clock)
    await bookings.hold(services.actor, night_id=night.id, table_id=FREE)
    booking = await bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Held For"),
    )
    await bookings.hold(services.actor, night_id=night.id, table_id=ALSO_FREE, seconds=1)
    await asyncio.sleep(1.2)
    assert await bookings.sweep() >= 1

    number = {
        r["id"]: r["number"]
        for r in await admin.fetch(
            "select id, number from backroom.venue_table where id = any($1::smallint[])", [FREE, ALSO_FREE]
        )
    }
    entries = await services.reports.audit(limit=30)
    by_op = _hold_rows(entries)
    used, lapsed = by_op["create"], by_op["expire"]
    assert audit_words(used) == (f"the hold on table {number[FREE]} was released: booked as {booking.ref}")
    assert used.who == "Duty Manager"
    assert audit_words(lapsed) == f"the hold on table {number[ALSO_FREE]} lapsed"
    # The sweeper runs in whichever console is open: the expiry is nobody's doing.
    assert lapsed.who == THE_SYSTEM
    held = by_op["hold"]
    assert audit_words(held) == f"held table {number[ALSO_FREE]} for Duty Manager"
    assert not any(e.who in ("postgres", e.db_user) for e in entries if e.staff_id is None)

    # The new booking's own row says so in words too.
    made = next(e for e in entries if e.entity == "booking" and e.operation == "create")
    assert audit_words(made).startswith("new booking: ")


async def test_the_seed_is_the_system_and_the_staff_filter_finds_it(services: Services) -> None:
    entries = await services.reports.audit(staff="system", limit=10)
    assert entries and all(e.who == THE_SYSTEM and e.staff_id is None for e in entries)
    assert any(e.operation == "seed" for e in entries)
    assert all(audit_words(e).startswith("set up") for e in entries if e.operation == "seed")


@pytest.fixture
async def enrolled(owner_db: Database, services: Services) -> tuple[IdentityService, str, str, str]:
    """A manager with a password and an authenticator: the console's identity, email,
    password and TOTP secret."""
    email, password = "rita.manager@backroom.test", "correct horse battery"
    enrolment = await IdentityService(owner_db).add_staff(
        None, email=email, name="Rita Manager", role="manager", password=password
    )
    return IdentityService(services.db), email, password, enrolment.secret


async def test_step_up_codes_read_as_step_up_not_sign_in(
    services: Services, enrolled: tuple[IdentityService, str, str, str]
) -> None:
    identity, email, password, secret = enrolled
    totp = pyotp.TOTP(secret, interval=30)
    # Away from a step's edge, so the sign-in's code and the next one stay in their window.
    left = 30 - time.time() % 30
    if left < 5:
        await asyncio.sleep(left + 0.2)
    session = await identity.sign_in(email, password, totp.at(time.time()))
    near = {totp.at(time.time() + 30 * step) for step in (-1, 0, 1, 2)}
    wrong = next(c for c in ("000000", "111111", "222222") if c not in near)
    with pytest.raises(SignInError):
        await identity.verify_code(session.actor, wrong)
    await identity.verify_code(session.actor, totp.at(time.time() + 30))

    services.actor = session.actor
    entries = await services.reports.audit(staff="Rita", limit=10)
    words = [(e.operation, audit_words(e), e.who) for e in entries]
    assert words[:3] == [
        ("step_up", "step-up code", "Rita Manager"),
        ("step_up_failed", "wrong step-up code", "Rita Manager"),
        ("sign_in", "signed in", "Rita Manager"),
    ], words
    assert not any("sign in" in w for _, w, _ in words[:2])


async def test_the_audit_browser_shows_the_words(services: Services, night: Night) -> None:
    bookings = BookingService(services.db, services.clock)
    await bookings.hold(services.actor, night_id=night.id, table_id=FREE)
    booking = await bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Held For"),
    )
    app = ConsoleApp(services, lambda s: AuditScreen(s, page_size=10), feed=False, presence=False)
    async with app.run_test(size=(160, 48)) as pilot:
        screen = await audit_loaded(pilot)
        text = screen_text(pilot.app)
        assert f"was released: booked as {booking.ref}" in text, text
        assert "create: removed" not in text
        table = screen.query_one(AuditTable)
        row = next(i for i, e in enumerate(table.entries) if e.entity == "hold")
        table.move_cursor(row=row)
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, AuditEntryScreen), what="entry")
        assert f"booked as {booking.ref}" in screen_text(pilot.app)


async def test_at_80_columns_a_long_what_takes_more_lines_not_an_ellipsis(
    services: Services, night: Night
) -> None:
    bookings = BookingService(services.db, services.clock)
    await bookings.hold(services.actor, night_id=night.id, table_id=FREE)
    booking = await bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Held For"),
    )
    app = ConsoleApp(services, lambda s: AuditScreen(s, page_size=10), feed=False, presence=False)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await audit_loaded(pilot)
        table = screen.query_one(AuditTable)
        entry = next(e for e in table.entries if e.entity == "hold")
        words = audit_words(entry)
        assert words.endswith(f"booked as {booking.ref}")
        row = table.get_row(str(entry.id))
        assert row[2].plain == words
        assert table.rows[RowKey(str(entry.id))].height > 1
        flat = " ".join(screen_text(pilot.app).split())
        assert "the hold on table" in flat and "…" not in row[2].plain
