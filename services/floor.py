"""Reading the venue and one night's floor: tables, bookings, holds."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.models import (
    Booking,
    BookingStatus,
    Floor,
    FloorSnapshot,
    Hold,
    Night,
    Table,
    TableState,
    TileStatus,
)
from services.store.db import Actor, Database


def utc_now() -> datetime:
    return datetime.now(UTC)


_VENUE = (
    "select id, name, timezone, opens_at, closes_at, no_show_grace_minutes from backroom.venue"
    " order by id limit 1"
)
_NIGHT_COLUMNS = "id, date, starts_at, ends_at, status"

_FLOORS = "select id, code, name, position from backroom.floor order by position"
_TABLES = """
    select id, number, name, floor_id, min_party, max_party, vip, min_spend, grid_row, grid_col
    from backroom.venue_table order by number
"""
BOOKING_SELECT = """
    select b.id, b.ref, b.status, g.name as guest_name, g.vip as guest_vip, b.party_size,
           b.arrived_count, b.starts_at, b.ends_at, b.version, b.deposit, b.notes, b.arrived_at,
           b.deposit_paid, b.deposit_outcome, b.undo_reason,
           coalesce((select s.display_name from backroom.staff s where s.id = b.updated_by), '')
               as changed_by,
           coalesce(array_agg(bt.table_id order by bt.table_id)
                    filter (where bt.table_id is not null), '{}') as table_ids
    from backroom.booking b
    join backroom.guest g on g.id = b.guest_id
    left join backroom.booking_table bt on bt.booking_id = b.id
"""
_BOOKINGS = (
    BOOKING_SELECT
    + """
    where b.night_id = $1
    group by b.id, g.id
    order by b.starts_at, b.id
"""
)
_HOLDS = """
    select id, table_id, holder, expires_at, staff_id from backroom.hold
    where night_id = $1 and expires_at > $2
"""


def booking_from_row(row: Mapping[str, Any] | asyncpg.Record) -> Booking:
    values = {k: v for k, v in dict(row).items() if k not in ("status", "table_ids")}
    return Booking(**values, status=BookingStatus(row["status"]), table_ids=tuple(row["table_ids"]))


def business_date(now: datetime, timezone: str, closes_hour: int) -> date:
    """The night a moment belongs to: until closing time it is still last night."""
    local = now.astimezone(ZoneInfo(timezone))
    return (local - timedelta(hours=closes_hour)).date()


def tile_for(table: Table, bookings: list[Booking], hold: Hold | None, now: datetime) -> TableState:
    """Which booking a table shows: the party sitting there now, else the next active one.

    A party that is in (arrived) occupies the table from its arrival until it is
    completed, whatever its booked time: one that came early for a later booking,
    or stays past its booked end, is still the one sitting there."""
    seated = tuple(
        sorted(
            (b for b in bookings if b.status is BookingStatus.ARRIVED), key=lambda b: (b.occupied_from, b.id)
        )
    )
    active = [b for b in bookings if b.status.active and b.ends_at > now]
    shown = seated[0] if seated else (active[0] if active else None)
    if hold is not None:
        status = TileStatus.HELD
    elif shown is None:
        status = TileStatus.FREE
    else:
        status = TileStatus(shown.status.value)
    return TableState(
        table=table, status=status, booking=shown, hold=hold, bookings=tuple(bookings), seated=seated
    )


class FloorService:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock

    async def tonight(self) -> Night | None:
        """The night under way now, or the next one to come."""
        async with self._db.transaction(readonly=True) as conn:
            venue = await conn.fetchrow(_VENUE)
            if venue is None:
                return None
            today = business_date(self._clock(), venue["timezone"], venue["closes_at"].hour)
            row = await conn.fetchrow(
                f"select {_NIGHT_COLUMNS} from backroom.night where date >= $1 order by date limit 1",
                today,
            )
        return _night(row) if row else None

    async def nights(self, start: date, days: int) -> list[Night]:
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                f"select {_NIGHT_COLUMNS} from backroom.night where date >= $1 and date < $2 order by date",
                start,
                start + timedelta(days=days),
            )
        return [_night(r) for r in rows]

    async def snapshot(self, night_id: int, actor: Actor | None = None) -> FloorSnapshot:
        """Everything the floor shows for a night, read in one consistent snapshot."""
        async with self._db.transaction(actor, readonly=True, isolation="repeatable_read") as conn:
            venue = await conn.fetchrow(_VENUE)
            night_row = await conn.fetchrow(
                f"select {_NIGHT_COLUMNS} from backroom.night where id = $1", night_id
            )
            if venue is None or night_row is None:
                raise LookupError(f"night {night_id} does not exist")
            floors = [Floor(**dict(r)) for r in await conn.fetch(_FLOORS)]
            tables = [Table(**dict(r)) for r in await conn.fetch(_TABLES)]
            bookings = [booking_from_row(r) for r in await conn.fetch(_BOOKINGS, night_id)]
            now = self._clock()
            holds = {r["table_id"]: Hold(**dict(r)) for r in await conn.fetch(_HOLDS, night_id, now)}

        by_table: dict[int, list[Booking]] = {t.id: [] for t in tables}
        for booking in bookings:
            for table_id in booking.table_ids:
                by_table.setdefault(table_id, []).append(booking)
        return FloorSnapshot(
            venue_name=venue["name"],
            timezone=venue["timezone"],
            night=_night(night_row),
            floors=tuple(floors),
            tables={t.id: tile_for(t, by_table[t.id], holds.get(t.id), now) for t in tables},
            loaded_at=now,
            no_show_grace=timedelta(minutes=venue["no_show_grace_minutes"]),
        )


def _night(row: object) -> Night:
    r = dict(row)  # type: ignore[call-overload]
    return Night(
        id=r["id"], date=r["date"], starts_at=r["starts_at"], ends_at=r["ends_at"], status=r["status"]
    )
