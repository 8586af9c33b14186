"""What the support screens read besides the health report itself: the server's
connection limit, the names presence refers to by id, and the audit trail
filtered as staff type it (a booking's reference, part of a staff name)."""

from __future__ import annotations

import asyncpg

from console.wiring import Services
from services.bookings import BookingService
from services.live.health import directory, gather_health
from services.models import BookingStatus
from tests.conftest import SAMPLE_NIGHT


async def test_health_counts_connections_against_the_servers_limit(
    services: Services, admin: asyncpg.Connection
) -> None:
    report = await gather_health(services.db)
    limit = int(await admin.fetchval("show max_connections"))
    everyone = await admin.fetchval(
        "select count(*) from pg_stat_activity where backend_type = 'client backend'"
    )
    assert report.max_connections == limit
    # Read as the console role, which cannot see what other sessions do, only that they exist.
    assert report.server_connections is not None and report.connections is not None
    assert report.connections <= report.server_connections <= everyone + 2
    assert report.server_connections >= 2  # the console's pool and the admin connection
    data = report.to_dict()
    assert data["max_connections"] == limit and data["server_connections"] == report.server_connections


async def test_directory_names_tables_and_nights(services: Services, admin: asyncpg.Connection) -> None:
    night = await admin.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    found = await directory(services.db, [night, night, 999_999])
    assert found.timezone == "Europe/London"
    numbers = {r["id"]: r["number"] for r in await admin.fetch("select id, number from backroom.venue_table")}
    assert found.tables == numbers and len(numbers) == 16
    assert found.nights == {night: SAMPLE_NIGHT}


async def test_audit_filters_as_staff_type_them(services: Services) -> None:
    reports = services.reports
    night = await services.floor.tonight()
    assert night is not None
    snap = await services.floor.snapshot(night.id)
    pending = next(
        t.booking for t in snap.tables.values() if t.booking and t.booking.status is BookingStatus.PENDING
    )
    assert pending is not None
    await BookingService(services.db, services.clock).confirm(services.actor, pending.id, pending.version)

    by_ref = await reports.audit(booking=pending.ref.lower())
    by_id = await reports.audit(booking=f" {pending.id} ")
    assert by_ref and [e.id for e in by_ref] == [e.id for e in by_id]
    assert all(e.ref == pending.ref for e in by_ref)
    newest = by_ref[0]
    assert newest.operation == "confirm"
    assert newest.before is not None and newest.after is not None
    assert newest.before["status"] == "pending" and newest.after["status"] == "confirmed"
    assert newest.staff_id == services.actor.staff_id

    assert await reports.audit(booking="NO-SUCH") == []
    by_name = await reports.audit(staff="duty man")
    assert [e.operation for e in by_name] == ["confirm"]
    assert await reports.audit(staff=str(services.actor.staff_id)) == by_name
    # Typed text is matched as it is: % is not a wildcard.
    assert await reports.audit(staff="%") == []
