"""Undo where the venue needs it, on real Postgres: correcting an arrival count, reversing a
no-show or a completion, reopening a cancelled booking; each with a reason kept in the audit
trail beside who did it, each refused where the table is no longer free, and each refused by
the database itself when asked the wrong way. Also the deposit of a cancelled booking and the
no-show grace."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.errors import IllegalTransition, InvalidInput, NotAllowed, StaleBooking, TableTaken
from services.models import Booking, BookingStatus, Night
from services.reports import audit_words
from services.store.db import Actor, Database

FREE = 11  # downstairs, 2 to 6, free on the sample night
REASON = "Counted the wrong party"


async def confirmed(
    bookings: BookingService,
    maya: Actor,
    night: Night,
    name: str,
    *,
    party: int = 4,
    at: timedelta = timedelta(0),
    table: int = FREE,
) -> Booking:
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[table],
        party_size=party,
        starts_at=night.starts_at + at,
        guest=GuestDetails(name),
    )
    return await bookings.confirm(maya, b.id, b.version)


async def audit(admin: asyncpg.Connection, booking_id: int, operation: str) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select a.staff_id, s.display_name, a.after->>'undo_reason' as reason,"
        " a.before->>'status' as was, a.after->>'status' as now"
        " from backroom.audit_log a left join backroom.staff s on s.id = a.staff_id"
        " where a.entity = 'booking' and a.entity_id = $1 and a.operation = $2"
        " order by a.id desc limit 1",
        booking_id,
        operation,
    )
    assert row is not None, f"no audit row for {operation}"
    return row


async def raw(
    services: Services, actor: Actor, operation: str, sql: str, *args: object, reason: str | None = None
) -> None:
    """A console's statement of its own, under `operation`: what the database allows
    whatever the services check."""
    async with services.db.transaction(actor, operation=operation) as conn:
        if reason is not None:
            await conn.execute("select set_config('backroom.reason', $1, true)", reason)
        await conn.execute(sql, *args)
        await conn.execute("set constraints all immediate")


# Correcting an arrival count ---------------------------------------------------------------


async def test_an_arrival_count_is_corrected_down_and_up_with_who_and_why(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    dora = staff["Dora"]
    b = await confirmed(bookings, staff["Maya"], night, "Eight Counted", party=6)
    b = await bookings.check_in(dora, b.id, b.version, 5)
    b = await bookings.correct_arrivals(dora, b.id, b.version, 3, REASON)
    assert b.status is BookingStatus.ARRIVED and b.arrived_count == 3
    row = await audit(admin, b.id, "correct_arrivals")
    assert row["display_name"] == "Dora" and row["reason"] == REASON
    b = await bookings.correct_arrivals(dora, b.id, b.version, 4, "One more was in the queue")
    assert b.arrived_count == 4
    assert (await audit(admin, b.id, "correct_arrivals"))["reason"] == "One more was in the queue"


async def test_down_to_nobody_the_booking_is_expected_again(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    dora = staff["Dora"]
    b = await confirmed(bookings, staff["Maya"], night, "Wrong Party")
    b = await bookings.check_in(dora, b.id, b.version, 4)
    assert b.arrived_at is not None
    b = await bookings.correct_arrivals(dora, b.id, b.version, 0, "Checked in the wrong booking")
    assert b.status is BookingStatus.CONFIRMED and b.arrived_count == 0 and b.arrived_at is None
    row = await audit(admin, b.id, "correct_arrivals")
    assert (row["was"], row["now"]) == ("arrived", "confirmed")
    # Expected again: the door checks them in as any other party.
    b = await bookings.check_in(dora, b.id, b.version, 2)
    assert b.arrived_count == 2


async def test_a_correction_needs_a_reason_a_role_and_a_party_that_is_in(
    bookings: BookingService, staff: dict[str, Actor], night: Night, services: Services
) -> None:
    dora = staff["Dora"]
    b = await confirmed(bookings, staff["Maya"], night, "No Reason")
    with pytest.raises(IllegalTransition, match="confirmed"):
        await bookings.correct_arrivals(dora, b.id, b.version, 2, REASON)
    b = await bookings.check_in(dora, b.id, b.version, 4)
    with pytest.raises(InvalidInput, match="needs a reason"):
        await bookings.correct_arrivals(dora, b.id, b.version, 2, "  ")
    with pytest.raises(NotAllowed, match="support staff"):
        await bookings.correct_arrivals(staff["Sam"], b.id, b.version, 2, REASON)
    with pytest.raises(InvalidInput, match="at most 4"):
        await bookings.correct_arrivals(dora, b.id, b.version, 5, REASON)
    with pytest.raises(InvalidInput, match="nothing to correct"):
        await bookings.correct_arrivals(dora, b.id, b.version, 4, REASON)
    # The database: lowered only as a correction, and a correction only with a reason.
    lower = "update backroom.booking set arrived_count = 1 where id = $1"
    with pytest.raises(asyncpg.PostgresError, match="lowered only as a correction") as err:
        await raw(services, dora, "check_in", lower, b.id)
    assert err.value.sqlstate == "BRU01"
    with pytest.raises(asyncpg.PostgresError, match="needs a reason"):
        await raw(services, dora, "correct_arrivals", lower, b.id)
    await raw(services, dora, "correct_arrivals", lower, b.id, reason="Door miscounted")
    assert (await bookings.get(b.id)).arrived_count == 1


# Reversing a no-show -------------------------------------------------------------------


async def test_a_no_show_that_turns_up_is_reversed_then_checked_in(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    dora = staff["Dora"]
    b = await confirmed(bookings, staff["Maya"], night, "Came After All")
    b = await bookings.no_show(dora, b.id, b.version)
    with pytest.raises(IllegalTransition, match="no_show and can no longer change"):
        await bookings.check_in(dora, b.id, b.version, 4)
    b = await bookings.reverse_no_show(dora, b.id, b.version, "They were in the smoking area")
    assert b.status is BookingStatus.CONFIRMED
    row = await audit(admin, b.id, "reverse_no_show")
    assert (row["display_name"], row["reason"]) == ("Dora", "They were in the smoking area")
    b = await bookings.check_in(dora, b.id, b.version, 4)
    assert b.status is BookingStatus.ARRIVED


async def test_a_no_show_is_not_reversed_onto_a_table_taken_since(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await confirmed(bookings, maya, night, "Gone Missing")
    b = await bookings.no_show(dora, b.id, b.version)
    walk_in = await bookings.seat_walk_in(
        dora, night_id=night.id, party_size=4, guest=GuestDetails("Walked In"), table_id=FREE
    )
    with pytest.raises(TableTaken, match="Walked In") as err:
        await bookings.reverse_no_show(dora, b.id, b.version, "They came back")
    assert err.value.booking_ref == walk_in.ref
    assert (await bookings.get(b.id)).status is BookingStatus.NO_SHOW


async def test_the_database_keeps_moves_back_to_their_own_operation_and_role(
    bookings: BookingService, staff: dict[str, Actor], night: Night, services: Services
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await confirmed(bookings, maya, night, "Strict Rules")
    b = await bookings.no_show(dora, b.id, b.version)
    back = "update backroom.booking set status = 'confirmed' where id = $1"
    with pytest.raises(asyncpg.PostgresError, match="can no longer change"):
        await raw(services, maya, "confirm", back, b.id, reason="sneaky")
    with pytest.raises(asyncpg.PostgresError, match="needs a reason"):
        await raw(services, dora, "reverse_no_show", back, b.id)
    # A move back makes no forward move: a pending booking is not confirmed by the door.
    pending = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[12],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Pending"),
    )
    with pytest.raises(asyncpg.PostgresError, match="cannot go from pending to confirmed"):
        await raw(services, dora, "reverse_no_show", back, pending.id, reason="sneaky")
    # Door staff reopen nothing, and reverse no completion.
    done = await confirmed(bookings, maya, night, "Done Here", table=10, party=2)
    done = await bookings.check_in(dora, done.id, done.version, 2)
    done = await bookings.complete(maya, done.id, done.version)
    with pytest.raises(asyncpg.PostgresError, match="door staff may not undo") as err:
        await raw(
            services,
            dora,
            "reverse_completion",
            "update backroom.booking set status = 'arrived' where id = $1",
            done.id,
            reason="sneaky",
        )
    assert err.value.sqlstate == "BRU02"
    with pytest.raises(NotAllowed):
        await bookings.reverse_completion(dora, done.id, done.version, "sneaky")


# Reversing a completion ------------------------------------------------------------------


async def test_a_completion_is_reversed_with_its_count_while_the_table_has_room(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await confirmed(bookings, maya, night, "Not Gone Yet", party=5)
    b = await bookings.check_in(dora, b.id, b.version, 3)
    b = await bookings.complete(maya, b.id, b.version)
    b = await bookings.reverse_completion(maya, b.id, b.version, "Completed the wrong table")
    assert b.status is BookingStatus.ARRIVED and b.arrived_count == 3
    row = await audit(admin, b.id, "reverse_completion")
    assert (row["display_name"], row["reason"]) == ("Maya", "Completed the wrong table")

    b = await bookings.complete(maya, b.id, b.version)
    await bookings.seat_walk_in(
        dora, night_id=night.id, party_size=4, guest=GuestDetails("Next Party"), table_id=FREE
    )
    with pytest.raises(TableTaken, match="Next Party"):
        await bookings.reverse_completion(maya, b.id, b.version, "Completed the wrong table")
    assert (await bookings.get(b.id)).status is BookingStatus.COMPLETED


# Reopening a cancelled booking ---------------------------------------------------------------


async def test_a_cancelled_booking_reopens_as_it_stood(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya = staff["Maya"]
    b = await confirmed(bookings, maya, night, "Changed Mind")
    b = await bookings.cancel(maya, b.id, b.version, "Guest called")
    b = await bookings.reopen(maya, b.id, b.version, "Guest called back")
    assert b.status is BookingStatus.CONFIRMED
    row = await audit(admin, b.id, "reopen")
    assert (row["display_name"], row["reason"], row["was"]) == ("Maya", "Guest called back", "cancelled")
    p = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[12],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Never Confirmed"),
    )
    p = await bookings.cancel(maya, p.id, p.version, "Typo")
    p = await bookings.reopen(maya, p.id, p.version, "Not a typo after all")
    assert p.status is BookingStatus.PENDING
    with pytest.raises(NotAllowed, match="door staff"):
        await bookings.reopen(staff["Dora"], b.id, b.version, "why not")


async def test_a_cancelled_booking_does_not_reopen_onto_a_table_booked_since(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya = staff["Maya"]
    b = await confirmed(bookings, maya, night, "First Caller")
    b = await bookings.cancel(maya, b.id, b.version, "Guest called")
    second = await confirmed(bookings, maya, night, "Second Caller")
    with pytest.raises(TableTaken, match="Second Caller") as err:
        await bookings.reopen(maya, b.id, b.version, "Guest called back")
    assert err.value.booking_ref == second.ref
    assert (await bookings.get(b.id)).status is BookingStatus.CANCELLED


# Races: two consoles undoing onto the same table -----------------------------------------------


@pytest.fixture
async def two_consoles(dsn: str, services: Services) -> AsyncIterator[list[BookingService]]:
    dbs = [Database(dsn, min_size=1, max_size=2) for _ in range(2)]
    await asyncio.gather(*(db.open() for db in dbs))
    yield [BookingService(db, services.clock) for db in dbs]
    await asyncio.gather(*(db.close() for db in dbs))


async def test_two_consoles_reopen_and_reverse_onto_one_table_one_wins(
    bookings: BookingService,
    two_consoles: list[BookingService],
    staff: dict[str, Actor],
    night: Night,
    admin: asyncpg.Connection,
) -> None:
    maya, nico, dora = staff["Maya"], staff["Nico"], staff["Dora"]
    for _ in range(3):
        first = await confirmed(bookings, maya, night, "Cancelled Here")
        first = await bookings.cancel(maya, first.id, first.version, "Guest called")
        second = await confirmed(bookings, maya, night, "No-show Here")
        second = await bookings.no_show(dora, second.id, second.version)
        results = await asyncio.gather(
            two_consoles[0].reopen(maya, first.id, first.version, "Called back"),
            two_consoles[1].reverse_no_show(nico, second.id, second.version, "Turned up"),
            return_exceptions=True,
        )
        won = [r for r in results if isinstance(r, Booking)]
        lost = [r for r in results if not isinstance(r, Booking)]
        assert len(won) == 1 and len(lost) == 1, results
        assert isinstance(lost[0], TableTaken | StaleBooking) or "at the same moment" in str(lost[0])
        active = await admin.fetchval(
            "select count(*) from backroom.booking_table bt join backroom.booking b"
            " on b.id = bt.booking_id where bt.table_id = $1 and bt.active and b.night_id = $2",
            FREE,
            night.id,
        )
        assert active == 1
        # Clear the table for the next round.
        winner = won[0]
        if winner.status is BookingStatus.CONFIRMED and winner.id == first.id:
            await bookings.cancel(maya, winner.id, winner.version, "Round over")
        else:
            await bookings.cancel(maya, winner.id, winner.version, "Round over")


# The deposit of a cancelled booking ---------------------------------------------------------


async def test_cancelling_a_paid_deposit_says_kept_or_refunded(
    bookings: BookingService,
    staff: dict[str, Actor],
    night: Night,
    admin: asyncpg.Connection,
    services: Services,
) -> None:
    maya = staff["Maya"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Paid Up"),
        deposit=100,
    )
    b = await bookings.confirm(maya, b.id, b.version)
    await admin.execute("update backroom_private.session set stepped_up_at = clock_timestamp()")
    with pytest.raises(InvalidInput, match="kept or refunded"):
        await bookings.cancel(maya, b.id, b.version, "Guest called")
    with pytest.raises(asyncpg.PostgresError, match="kept or refunded") as err:
        await raw(
            services,
            maya,
            "cancel",
            "update backroom.booking set status = 'cancelled', cancel_reason = 'x' where id = $1",
            b.id,
        )
    assert err.value.sqlstate == "BRU03"
    b = await bookings.cancel(maya, b.id, b.version, "Guest called", deposit="refunded")
    assert b.deposit_outcome == "refunded" and not b.deposit_paid
    # Reopened, the deposit is owed again: no outcome, not paid.
    b = await bookings.reopen(maya, b.id, b.version, "Guest called back")
    assert b.deposit_outcome is None and not b.deposit_paid

    kept = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[12],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Kept"),
        deposit=50,
    )
    kept = await bookings.cancel(maya, kept.id, kept.version, "Late cancel", deposit="kept")
    assert kept.deposit_outcome == "kept" and kept.deposit_paid
    unpaid = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[10],
        party_size=2,
        starts_at=night.starts_at,
        guest=GuestDetails("No Deposit"),
    )
    unpaid = await bookings.cancel(maya, unpaid.id, unpaid.version, "Guest called")
    assert unpaid.deposit_outcome is None


# The no-show grace --------------------------------------------------------------------------


async def test_a_no_show_only_once_late_by_the_venues_grace(
    bookings: BookingService, staff: dict[str, Actor], night: Night, services: Services
) -> None:
    # The clock says 23:30; the grace is the venue's 15 minutes.
    maya, dora = staff["Maya"], staff["Dora"]
    late = await confirmed(bookings, maya, night, "Ten Late", at=timedelta(minutes=80))
    with pytest.raises(InvalidInput, match="due at 23:20 and late now: a no-show only from 23:35"):
        await bookings.no_show(dora, late.id, late.version)
    later = await confirmed(bookings, maya, night, "Fifteen Late", at=timedelta(minutes=75), table=12)
    later = await bookings.no_show(dora, later.id, later.version)
    assert later.status is BookingStatus.NO_SHOW
    # The database itself: a console that says it is earlier than the grace is refused.
    with pytest.raises(asyncpg.PostgresError, match="no-show only from 15 minutes") as err:
        async with services.db.transaction(dora, operation="no_show") as conn:
            await conn.execute(
                "select set_config('backroom.now', $1, true)",
                (night.starts_at + timedelta(minutes=85)).isoformat(),
            )
            await conn.execute("update backroom.booking set status = 'no_show' where id = $1", late.id)
    assert err.value.sqlstate == "BRN01"


# The audit trail in staff words -----------------------------------------------------------


async def test_the_audit_trail_says_who_undid_what_and_why(
    bookings: BookingService,
    staff: dict[str, Actor],
    night: Night,
    services: Services,
    admin: asyncpg.Connection,
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Audited"),
        deposit=80,
    )
    b = await bookings.confirm(maya, b.id, b.version)
    b = await bookings.check_in(dora, b.id, b.version, 4)
    b = await bookings.correct_arrivals(dora, b.id, b.version, 2, "[bold]two[/] left")
    b = await bookings.correct_arrivals(dora, b.id, b.version, 0, "Wrong party")
    await admin.execute("update backroom_private.session set stepped_up_at = clock_timestamp()")
    b = await bookings.cancel(maya, b.id, b.version, "Guest ill", deposit="kept")
    b = await bookings.reopen(maya, b.id, b.version, "Guest better")
    entries = [e for e in await services.reports.audit(booking_id=b.id, limit=50) if e.entity == "booking"]
    said = [(e.operation, e.who, audit_words(e)) for e in reversed(entries)]
    corrections = [(who, w) for op, who, w in said if op == "correct_arrivals"]
    assert corrections[0] == ("Dora", "arrival count corrected: arrived 4 -> 2, why: [bold]two[/] left")
    assert corrections[1][0] == "Dora" and corrections[1][1].endswith("arrived 2 -> 0, why: Wrong party")
    assert "status arrived -> confirmed" in corrections[1][1]
    assert [w for op, _who, w in said if op == "cancel"] == [
        "cancelled: reason None -> Guest ill, deposit kept"
    ]
    assert [(who, w) for op, who, w in said if op == "reopen"] == [("Maya", "reopened: why: Guest better")]


async def test_the_night_report_counts_kept_and_refunded_deposits(
    bookings: BookingService,
    staff: dict[str, Actor],
    night: Night,
    services: Services,
    admin: asyncpg.Connection,
) -> None:
    maya = staff["Maya"]
    before = (await services.reports.night_report(night.id))[-1]
    await admin.execute("update backroom_private.session set stepped_up_at = clock_timestamp()")
    for table, outcome in ((FREE, "kept"), (12, "refunded")):
        b = await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[table],
            party_size=4,
            starts_at=night.starts_at,
            guest=GuestDetails(outcome.title()),
            deposit=100,
        )
        await bookings.cancel(maya, b.id, b.version, "Guest called", deposit=outcome)
    total = (await services.reports.night_report(night.id))[-1]
    assert (
        total.deposits_kept - before.deposits_kept,
        total.deposits_refunded - before.deposits_refunded,
    ) == (1, 1)
    # The refunded deposit is no longer taken; the kept one still is.
    assert total.deposits_taken - before.deposits_taken == 100
    report = await services.reports.night_report_with_bookings(night.id)
    by_guest = {b.guest: b for b in report.bookings}
    assert (by_guest["Kept"].deposits_kept, by_guest["Refunded"].deposits_refunded) == (1, 1)


async def test_outside_its_night_an_undo_says_when_it_can_be_done(
    bookings: BookingService, staff: dict[str, Actor], night: Night, services: Services
) -> None:
    b = await confirmed(bookings, staff["Maya"], night, "Late Count")
    b = await bookings.check_in(staff["Dora"], b.id, b.version, 4)
    after = BookingService(services.db, lambda: night.ends_at + timedelta(minutes=1))
    with pytest.raises(InvalidInput, match=f"the night of {night.date:%a %d %b %Y} is over"):
        await after.correct_arrivals(staff["Dora"], b.id, b.version, 2, REASON)
    early = BookingService(services.db, lambda: night.starts_at - timedelta(hours=13))
    with pytest.raises(InvalidInput, match=r"opens at \d\d:\d\d, and this can be done from \d\d:\d\d"):
        await early.correct_arrivals(staff["Dora"], b.id, b.version, 2, REASON)
    assert (await bookings.get(b.id)).arrived_count == 4
