"""What every part of the booking service shares: the database, the clock, the
venue's time zone for messages, and reading one booking."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from zoneinfo import ZoneInfo

import asyncpg

from services.errors import NotFound
from services.floor import BOOKING_SELECT, booking_from_row, utc_now
from services.guests import GuestService
from services.models import Booking
from services.store.db import Database

_ONE_BOOKING = BOOKING_SELECT + " where b.id = $1 group by b.id, g.id"


class BookingsBase:
    """The database, the clock and the venue's time zone every part of the service uses."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._tz: ZoneInfo | None = None
        # The guests on file, for the forms that look a guest up while a booking is typed.
        self.guests = GuestService(db, clock)

    async def _local(self, moment: datetime) -> datetime:
        """A moment in the venue's time zone, for messages."""
        if self._tz is None:
            async with self._db.transaction(readonly=True) as conn:
                self._tz = ZoneInfo(await conn.fetchval("select timezone from backroom.venue limit 1"))
        return moment.astimezone(self._tz)

    async def get(self, booking_id: int) -> Booking:
        async with self._db.transaction(readonly=True) as conn:
            return await self._read(conn, booking_id)

    async def _read(self, conn: asyncpg.Connection, booking_id: int) -> Booking:
        row = await conn.fetchrow(_ONE_BOOKING, booking_id)
        if row is None:
            raise NotFound(f"There is no booking {booking_id}.")
        return booking_from_row(row)
