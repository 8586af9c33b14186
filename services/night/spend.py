"""Spend against the minimum: rows of spend on a party that is in, the running
total against its minimum, the floor's tables short of theirs, the close-out
with the final spend (paid, comped or could not pay), and the night's totals
per floor."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from services.errors import InvalidInput
from services.identity.permissions import Operation
from services.night.ops import NightOps
from services.store.db import Actor

OUTCOMES = ("paid", "comped", "could_not_pay")


@dataclass(frozen=True, slots=True)
class SpendTotal:
    booking_id: int
    ref: str
    guest_name: str
    tables: str
    total: Decimal
    min_spend: Decimal
    closed: str | None  # the close-out's outcome, once closed

    @property
    def short(self) -> Decimal:
        return max(Decimal(0), self.min_spend - self.total)


@dataclass(frozen=True, slots=True)
class FloorSpend:
    floor: str
    bookings: int
    spend: Decimal
    minimums: Decimal
    short: Decimal
    comped: Decimal
    could_not_pay: Decimal


_TOTALS = (
    "select b.id as booking_id, b.ref, g.name as guest_name,"
    " coalesce((select string_agg(vt.number::text, '+' order by vt.number) from backroom.booking_table bt"
    "           join backroom.venue_table vt on vt.id = bt.table_id"
    "           where bt.booking_id = b.id), '') as tables,"
    " coalesce(c.final_spend, (select sum(s.amount) from backroom.spend s where s.booking_id = b.id), 0)"
    "   as total, b.min_spend, c.outcome as closed"
    " from backroom.booking b join backroom.guest g on g.id = b.guest_id"
    " left join backroom.spend_close c on c.booking_id = b.id"
)


class SpendService:
    def __init__(self, ops: NightOps) -> None:
        self._ops = ops
        self._db = ops.db

    async def record(
        self, actor: Actor, booking_id: int, amount: Decimal, note: str = "", *, op_id: str | None = None
    ) -> SpendTotal:
        await self._ops.change(
            actor,
            Operation.SPEND_RECORD,
            "spend_record",
            booking_id,
            Decimal(amount),
            note,
            entity="spend",
            entity_id=booking_id,
            op_id=op_id,
        )
        return await self.total(booking_id)

    async def total(self, booking_id: int) -> SpendTotal:
        async with self._db.transaction(readonly=True) as conn:
            row = await conn.fetchrow(_TOTALS + " where b.id = $1", booking_id)
        if row is None:
            raise InvalidInput(f"There is no booking {booking_id}.")
        return SpendTotal(**dict(row))

    async def short_of_minimum(self, night_id: int) -> list[SpendTotal]:
        """Parties in now whose spend is below their minimum, the furthest short first."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                _TOTALS + " where b.night_id = $1 and b.status = 'arrived' and c.booking_id is null", night_id
            )
        found = [SpendTotal(**dict(r)) for r in rows]
        return sorted((t for t in found if t.short > 0), key=lambda t: (-t.short, t.ref))

    async def close_out(
        self,
        actor: Actor,
        booking_id: int,
        final: Decimal,
        outcome: str = "paid",
        note: str = "",
        *,
        op_id: str | None = None,
    ) -> SpendTotal:
        """The party's final spend, and the booking is completed."""
        if outcome not in OUTCOMES:
            raise InvalidInput("A close-out is paid, comped or could not pay.")
        await self._ops.change(
            actor,
            Operation.SPEND_CLOSE_OUT,
            "spend_close_out",
            booking_id,
            Decimal(final),
            outcome,
            note,
            entity="spend",
            entity_id=booking_id,
            op_id=op_id,
        )
        return await self.total(booking_id)

    async def night_totals(self, night_id: int) -> list[FloorSpend]:
        """Per floor: spend (final where closed out) against the minimums of parties that came."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "with t as (" + _TOTALS + " where b.night_id = $1 and b.status in ('arrived', 'completed'))"
                " , f as (select t.*, (select fl.name from backroom.booking_table bt"
                "   join backroom.venue_table vt on vt.id = bt.table_id"
                "   join backroom.floor fl on fl.id = vt.floor_id"
                "   where bt.booking_id = t.booking_id order by vt.number limit 1) as floor from t)"
                " select coalesce(floor, '') as floor, count(*)::int as bookings, sum(total) as spend,"
                " sum(min_spend) as minimums, sum(greatest(min_spend - total, 0)) as short,"
                " coalesce(sum(total) filter (where closed = 'comped'), 0) as comped,"
                " coalesce(sum(total) filter (where closed = 'could_not_pay'), 0) as could_not_pay"
                " from f group by 1 order by 1",
                night_id,
            )
        return [FloorSpend(**dict(r)) for r in rows]
