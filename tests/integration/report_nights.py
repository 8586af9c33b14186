"""A quiet night (4 December) with one of everything on it, and the report rows it
should give: shared by the report, export and nights-screen tests."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import asyncpg

from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.models import Booking
from services.reports import (
    ALL_FLOORS,
    ReportRow,
)
from services.store import seed

QUIET_NIGHT = date(2026, 12, 4)


# A clock on the quiet night itself, so its parties can be checked in and marked no-show.
ON_THE_NIGHT = datetime(2026, 12, 4, 23, 45, tzinfo=UTC)


async def open_quiet_night(admin: asyncpg.Connection) -> asyncpg.Record:
    """A night after the sample's fourteen, with no bookings at all."""
    await seed.open_nights(admin, QUIET_NIGHT, 1)
    night = await admin.fetchrow(
        "select id, starts_at, ends_at from backroom.night where date = $1", QUIET_NIGHT
    )
    assert night is not None
    return night


async def book(
    bookings: BookingService,
    services: Services,
    night: asyncpg.Record,
    tables: list[int],
    party: int,
    name: str,
    *,
    deposit: int = 0,
    minutes: int = 0,
) -> Booking:
    return await bookings.create(
        services.actor,
        night_id=night["id"],
        table_ids=tables,
        party_size=party,
        starts_at=night["starts_at"] + timedelta(minutes=minutes),
        guest=GuestDetails(name=name),
        deposit=deposit,
    )


async def a_night_of_everything(services: Services, night: asyncpg.Record) -> None:
    """Upstairs: one party partly in, one cancelled, one no-show; downstairs: one done, one to come.

    Upstairs   1 booking,  4 covers, 3 arrived, 1 no-show, 1 cancelled, deposits 100 + 50
    Downstairs 2 bookings, 15 covers, 3 arrived, deposits 0
    """
    bookings = BookingService(services.db, lambda: ON_THE_NIGHT)
    actor = services.actor
    partly = await book(bookings, services, night, [1], 4, "Ada Partly", deposit=100)
    partly = await bookings.confirm(actor, partly.id, partly.version)
    await bookings.check_in(actor, partly.id, partly.version, 3)
    called_off = await book(bookings, services, night, [2], 2, "Ben Calledoff")
    await bookings.cancel(actor, called_off.id, called_off.version, "Plans changed")
    missing = await book(bookings, services, night, [3], 5, "Cy Missing", deposit=50)
    missing = await bookings.confirm(actor, missing.id, missing.version)
    await bookings.no_show(actor, missing.id, missing.version)
    done = await book(bookings, services, night, [9], 3, "Di Done")
    done = await bookings.check_in(actor, done.id, done.version, 3)
    await bookings.complete(actor, done.id, done.version)
    await book(bookings, services, night, [15, 16], 12, "Ed Later", minutes=120)


EXPECTED = [
    ReportRow("Upstairs", 1, 4, 3, 1, 1, Decimal("150.00")),
    ReportRow("Downstairs", 2, 15, 3, 0, 0, Decimal("0.00")),
    ReportRow(ALL_FLOORS, 3, 19, 6, 1, 1, Decimal("150.00")),
]
