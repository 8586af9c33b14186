"""The search for free tables and free times offered when the one asked for is taken."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.bookings.base import BookingsBase
from services.errors import Alternative


def in_the_way(start: str, end: str, night: str, now: str) -> str:
    """SQL: the covered table `bt` (of booking `ob`) is taken somewhere in [start, end).

    Its occupied span counts (from the party's arrival when it came early), and a party
    of the night that is in stays in until it is completed, so past its booked end it
    is there until now at least. The arguments are parameter names such as "$2"."""
    return (
        f"bt.active and case when ob.status = 'arrived' and ob.night_id = {night}"
        f" then tstzrange(least(lower(bt.during), {now}),"
        f" greatest(upper(bt.during), {now} + interval '1 second'))"
        f" else bt.during end && tstzrange({start}, {end})"
    )


SLOT = timedelta(minutes=30)


class AlternativesSearch(BookingsBase):
    """Free tables and free times that fit a party, for a refusal to offer instead."""

    async def _alternatives_for(self, ctx: dict[str, Any], *, other_times: bool = True) -> list[Alternative]:
        if not ctx.get("night_id") or not ctx.get("party") or ctx.get("starts_at") is None:
            return []
        return await self.alternatives(
            ctx["night_id"],
            ctx["party"],
            ctx["starts_at"],
            ctx["ends_at"],
            near_tables=ctx.get("table_ids") or [],
            ignore_booking=ctx.get("booking_id"),
            other_times=other_times and ctx.get("other_times", True),
            exclude_tables=ctx.get("exclude_tables") or [],
        )

    async def alternatives(
        self,
        night_id: int,
        party: int,
        starts_at: datetime,
        ends_at: datetime,
        *,
        near_tables: list[int] | tuple[int, ...] = (),
        ignore_booking: int | None = None,
        other_times: bool = True,
        exclude_tables: list[int] | tuple[int, ...] = (),
        limit: int = 6,
        conn: asyncpg.Connection | None = None,
    ) -> list[Alternative]:
        """Free tables that fit the party: the same floor first, then the other
        floor; then the nearest free times at the tables asked for. Read on `conn`
        when given (inside an operation), else in a transaction of its own."""
        if conn is None:
            async with self._db.transaction(readonly=True) as own:
                return await self.alternatives(
                    night_id,
                    party,
                    starts_at,
                    ends_at,
                    near_tables=near_tables,
                    ignore_booking=ignore_booking,
                    other_times=other_times,
                    exclude_tables=exclude_tables,
                    limit=limit,
                    conn=own,
                )
        free = await conn.fetch(
            """
            select t.id, t.number, f.name as floor_name, t.max_party,
                   (f.id = (select floor_id from backroom.venue_table
                            where id = any($4::smallint[]) limit 1)) as same_floor
            from backroom.venue_table t join backroom.floor f on f.id = t.floor_id
            where $1 between t.min_party and t.max_party
              and t.id <> all($4::smallint[]) and t.id <> all($7::smallint[])
              and not exists (
                  select from backroom.booking_table bt
                  join backroom.booking ob on ob.id = bt.booking_id
                  where bt.table_id = t.id and bt.booking_id <> coalesce($5, 0)
                    and """
            + in_the_way("$2", "$3", "$8", "$9")
            + """)
              and not exists (
                  select from backroom.hold h
                  where h.table_id = t.id and h.during && tstzrange($2, $3)
                    and h.expires_at > clock_timestamp())
            order by same_floor desc nulls last, t.max_party - $1, t.number
            limit $6
            """,
            party,
            starts_at,
            ends_at,
            list(near_tables),
            ignore_booking,
            limit,
            list(exclude_tables),
            night_id,
            self._clock(),
        )
        result = [
            Alternative(
                (r["id"],),
                (r["number"],),
                r["floor_name"],
                starts_at,
                ends_at,
                "same floor" if r["same_floor"] else "other floor",
            )
            for r in free
        ]
        if other_times and near_tables and len(result) < limit:
            result += await self._other_times(
                conn, night_id, list(near_tables), starts_at, ends_at, ignore_booking, limit - len(result)
            )
        return result

    async def _other_times(
        self,
        conn: asyncpg.Connection,
        night_id: int,
        tables: list[int],
        starts_at: datetime,
        ends_at: datetime,
        ignore: int | None,
        limit: int,
    ) -> list[Alternative]:
        night = await conn.fetchrow("select starts_at, ends_at from backroom.night where id = $1", night_id)
        if night is None:
            return []
        info = await conn.fetch(
            "select t.number, f.name from backroom.venue_table t join backroom.floor f"
            " on f.id = t.floor_id where t.id = any($1::smallint[]) order by t.number",
            tables,
        )
        length = ends_at - starts_at
        now = self._clock()
        rows = await conn.fetch(
            "select lower(bt.during) as s, upper(bt.during) as e,"
            " ob.status = 'arrived' and ob.night_id = $5 as seated"
            " from backroom.booking_table bt join backroom.booking ob on ob.id = bt.booking_id"
            " where bt.table_id = any($1::smallint[]) and bt.booking_id <> coalesce($4, 0)"
            " and "
            + in_the_way("$2", "$3", "$5", "$6")
            + " union all select lower(during), upper(during), false from backroom.hold"
            " where table_id = any($1::smallint[]) and during && tstzrange($2, $3)"
            " and expires_at > clock_timestamp()",
            tables,
            night["starts_at"],
            night["ends_at"],
            ignore,
            night_id,
            now,
        )
        # A party still in is there until now at least, whatever its booked end.
        busy = [
            {"s": r["s"], "e": max(r["e"], now + timedelta(seconds=1)) if r["seated"] else r["e"]}
            for r in rows
        ]
        candidates = []
        t = night["starts_at"]
        while t + min(length, SLOT * 2) <= night["ends_at"]:
            end = min(t + length, night["ends_at"])
            if t != starts_at and not any(b["s"] < end and t < b["e"] for b in busy):
                candidates.append((abs(t - starts_at), t, end))
            t += SLOT
        candidates.sort(key=lambda c: c[0])
        floor = info[0]["name"] if info else ""
        numbers = tuple(r["number"] for r in info)
        return [
            Alternative(tuple(tables), numbers, floor, s, e, "another time") for _, s, e in candidates[:limit]
        ]
