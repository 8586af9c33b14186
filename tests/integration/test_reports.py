"""Door search, the nights calendar, the night report and the audit browser,
against the sample night on real Postgres."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService
from services.models import BookingStatus
from services.reports import ReportService, describe_change, report_csv

SAMPLE = date(2026, 11, 20)


@pytest.fixture
def reports(services: Services) -> ReportService:
    return ReportService(services.db)


async def tonight(services: Services) -> int:
    night = await services.floor.tonight()
    assert night is not None
    return night.id


async def test_search_by_name_phone_and_reference(reports: ReportService, services: Services) -> None:
    night = await tonight(services)
    by_name = await reports.search(night, "chlo")
    assert by_name[0].booking.guest_name == "Chloe Tanaka"
    by_surname = await reports.search(night, "tana")
    assert by_surname[0].booking.guest_name == "Chloe Tanaka"
    ref = by_name[0].booking.ref
    assert (await reports.search(night, ref.lower()))[0].booking.ref == ref
    by_phone = await reports.search(night, "900103")
    assert [m.booking.guest_name for m in by_phone] == ["Chloe Tanaka"]
    assert await reports.search(night, "   ") == []
    assert await reports.search(night, "zzzz-nobody") == []


async def test_search_puts_those_still_expected_first(reports: ReportService, services: Services) -> None:
    night = await tonight(services)
    # "o" matches many names: the ranking must not be the database's order.
    found = await reports.search(night, "o")
    scores = [m.score for m in found]
    assert scores == sorted(scores)


async def test_expected_lists_who_is_still_to_come(reports: ReportService, services: Services) -> None:
    expected = await reports.expected(await tonight(services))
    statuses = {b.status for b in expected}
    assert statuses <= {BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.ARRIVED}
    partly = [b for b in expected if b.status is BookingStatus.ARRIVED]
    assert partly and all(b.arrived_count < b.party_size for b in partly)


async def test_occupancy_per_floor(reports: ReportService, admin: asyncpg.Connection) -> None:
    nights = await reports.occupancy(SAMPLE, 3)
    assert [n.date for n in nights] == [SAMPLE, date(2026, 11, 21), date(2026, 11, 22)]
    first = nights[0]
    assert [f.floor for f in first.floors] == ["Upstairs", "Downstairs"]
    expected = await admin.fetch(
        "select f.name, count(distinct bt.table_id) as booked from backroom.booking_table bt"
        " join backroom.booking b on b.id = bt.booking_id join backroom.night n on n.id = b.night_id"
        " join backroom.venue_table t on t.id = bt.table_id join backroom.floor f on f.id = t.floor_id"
        " where bt.active and n.date = $1 group by f.name",
        SAMPLE,
    )
    assert {f.floor: f.booked for f in first.floors} == {r["name"]: r["booked"] for r in expected}
    assert all(f.tables == 8 for f in first.floors)
    covers = await admin.fetchval(
        "select sum(party_size) from backroom.booking b join backroom.night n on n.id = b.night_id"
        " where n.date = $1 and b.status in ('pending', 'confirmed', 'arrived')",
        SAMPLE,
    )
    assert sum(f.covers for f in first.floors) == covers
    assert {f.level for n in nights for f in n.floors} <= {"free", "partly", "full"}


async def test_night_report_and_csv(
    reports: ReportService, services: Services, admin: asyncpg.Connection
) -> None:
    rows = await reports.night_report(await tonight(services))
    assert [r.floor for r in rows] == ["Upstairs", "Downstairs", "All floors"]
    total = rows[-1]
    assert total.no_shows == 1 and total.cancellations == 1
    arrived = await admin.fetchval(
        "select sum(arrived_count) from backroom.booking b join backroom.night n on n.id = b.night_id"
        " where n.date = $1",
        SAMPLE,
    )
    assert total.covers_arrived == arrived
    assert total.deposits_taken == sum(r.deposits_taken for r in rows[:-1])
    text = report_csv(rows)
    assert text.splitlines()[0] == (
        "row,floor,ref,guest,tables,starts,status,party_size,"
        "bookings,covers_booked,covers_arrived,no_shows,cancellations,deposits_taken,"
        "deposits_kept,deposits_refunded"
    )
    assert len(text.splitlines()) == 4


async def test_audit_browser_filters_and_pages(reports: ReportService, services: Services) -> None:
    night = await tonight(services)
    snap = await services.floor.snapshot(night)
    pending = next(
        t.booking for t in snap.tables.values() if t.booking and t.booking.status is BookingStatus.PENDING
    )
    assert pending is not None
    await BookingService(services.db, services.clock).confirm(services.actor, pending.id, pending.version)
    entries = await reports.audit(booking_id=pending.id)
    assert entries[0].operation == "confirm" and entries[0].who == "Duty Manager"
    assert "status: pending -> confirmed" in entries[0].change
    assert all(e.entity_id == pending.id for e in entries)
    mine = await reports.audit(staff_id=services.actor.staff_id)
    assert [e.operation for e in mine] == ["confirm"]
    first_page = await reports.audit(limit=5)
    second_page = await reports.audit(limit=5, before_id=first_page[-1].id)
    assert len(first_page) == 5 and second_page[0].id < first_page[-1].id


def test_describe_change() -> None:
    assert (
        describe_change({"status": "pending", "version": 1}, {"status": "confirmed", "version": 2})
        == "status: pending -> confirmed"
    )
    assert describe_change(None, {"ref": "ABC123", "status": "pending"}) == "ref=ABC123, status=pending"
    assert describe_change({"id": 1}, None) == "removed"


async def test_search_text_is_not_a_pattern(reports: ReportService, services: Services) -> None:
    night = await tonight(services)
    assert await reports.search(night, "%") == []
    assert await reports.search(night, "_") == []
