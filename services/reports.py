"""What the door, the nights calendar, the night report and the audit browser
read: searches and summaries, all read-only."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.db import Database
from services.floor import BOOKING_SELECT, booking_from_row
from services.models import Booking

_SEARCH = BOOKING_SELECT.replace("select b.id,", "select g.phone, b.id,", 1) + """
    where b.night_id = $1
      and (g.name ilike '%' || $2 || '%' or b.ref ilike $2 || '%'
           or ($3::text is not null
               and regexp_replace(coalesce(g.phone, ''), '[^0-9]', '', 'g') like '%' || $3 || '%'))
    group by b.id, g.id
"""


@dataclass(frozen=True)
class Match:
    booking: Booking
    score: int
    phone: str | None


def _rank(booking: Booking, phone: str | None, text: str, digits: str) -> int:
    """Lower is better: an exact reference, then names starting with the text,
    then words starting with it, then phone numbers, then anything containing it."""
    t = text.lower()
    name = booking.guest_name.lower()
    if booking.ref.lower() == t:
        score = 0
    elif name.startswith(t):
        score = 10
    elif any(word.startswith(t) for word in name.split()):
        score = 20
    elif booking.ref.lower().startswith(t):
        score = 25
    elif digits and len(digits) >= 3 and phone and digits in "".join(c for c in phone if c.isdigit()):
        score = 30
    else:
        score = 40
    # Those still expected come before those already in or gone.
    order = {"confirmed": 0, "pending": 1, "arrived": 2}
    return score + order.get(booking.status.value, 5)


class ReportService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def search(self, night_id: int, text: str, limit: int = 20) -> list[Match]:
        """Tonight's bookings matching a name, phone or reference, best first."""
        text = text.strip()
        if not text:
            return []
        digits = "".join(c for c in text if c.isdigit())
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(_SEARCH, night_id, _literal(text),
                                    digits if len(digits) >= 3 else None)
        found = []
        for r in rows:
            values = dict(r)
            phone = values.pop("phone")
            booking = booking_from_row(values)
            found.append(Match(booking, _rank(booking, phone, text, digits), phone))
        found.sort(key=lambda m: (m.score, m.booking.starts_at, m.booking.ref))
        return found[:limit]

    async def expected(self, night_id: int) -> list[Booking]:
        """Who is still to come tonight: pending, confirmed, and parties partly in."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                BOOKING_SELECT + " where b.night_id = $1 and (b.status in ('pending', 'confirmed')"
                " or (b.status = 'arrived' and b.arrived_count < b.party_size))"
                " group by b.id, g.id order by b.starts_at, b.id",
                night_id,
            )
        return [booking_from_row(r) for r in rows]

    async def occupancy(self, start: date, days: int) -> list[NightOccupancy]:
        """For each night, per floor: tables booked out of all, and covers expected."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                """
                select n.id as night_id, n.date, f.id as floor_id, f.name as floor_name,
                       count(distinct t.id) as tables,
                       count(distinct bt.table_id) filter (where bt.active) as booked,
                       coalesce(sum(distinct_party.party) , 0) as covers
                from backroom.night n
                cross join backroom.floor f
                join backroom.venue_table t on t.floor_id = f.id
                left join backroom.booking_table bt on bt.table_id = t.id and bt.active
                    and bt.booking_id in (select id from backroom.booking where night_id = n.id)
                left join lateral (
                    select b.party_size as party from backroom.booking b
                    where b.id = bt.booking_id
                      and bt.table_id = (select min(table_id) from backroom.booking_table x
                                         where x.booking_id = b.id)
                ) distinct_party on true
                where n.date >= $1 and n.date < $2
                group by n.id, n.date, f.id, f.name, f.position
                order by n.date, f.position
                """,
                start, start + timedelta(days=days),
            )
        by_night: dict[int, NightOccupancy] = {}
        for r in rows:
            night = by_night.setdefault(r["night_id"], NightOccupancy(r["night_id"], r["date"], []))
            night.floors.append(FloorOccupancy(r["floor_name"], r["tables"], r["booked"], int(r["covers"])))
        return list(by_night.values())

    async def night_report(self, night_id: int) -> list[ReportRow]:
        """Covers booked and arrived, no-shows, cancellations and deposits, per floor."""
        async with self._db.transaction(readonly=True, isolation="repeatable_read") as conn:
            rows = await conn.fetch(
                """
                with per_booking as (
                    select distinct on (b.id) b.*, f.name as floor_name, f.position
                    from backroom.booking b
                    join backroom.booking_table bt on bt.booking_id = b.id
                    join backroom.venue_table t on t.id = bt.table_id
                    join backroom.floor f on f.id = t.floor_id
                    where b.night_id = $1
                    order by b.id, t.number
                )
                select floor_name as floor,
                       count(*) filter (where status in ('pending', 'confirmed', 'arrived', 'completed'))
                           as bookings,
                       coalesce(sum(party_size) filter (
                           where status in ('pending', 'confirmed', 'arrived', 'completed')), 0)
                           as covers_booked,
                       coalesce(sum(arrived_count), 0) as covers_arrived,
                       count(*) filter (where status = 'no_show') as no_shows,
                       count(*) filter (where status = 'cancelled') as cancellations,
                       coalesce(sum(deposit) filter (where deposit_paid), 0) as deposits_taken
                from per_booking group by floor_name, position order by position
                """,
                night_id,
            )
        report = [ReportRow(**dict(r)) for r in rows]
        if report:
            report.append(ReportRow(
                floor="All floors",
                **{f.name: sum((getattr(r, f.name) for r in report), type(getattr(report[0], f.name))(0))
                   for f in fields(ReportRow) if f.name != "floor"},
            ))
        return report

    async def audit(self, *, booking_id: int | None = None, staff_id: int | None = None,
                    since: datetime | None = None, until: datetime | None = None,
                    before_id: int | None = None, limit: int = 50) -> list[AuditEntry]:
        """The audit trail, newest first, filtered; page with `before_id`."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                """
                select a.id, a.at, a.operation, a.entity, a.entity_id, a.staff_id,
                       coalesce(s.display_name, a.db_user) as who, a.before, a.after
                from backroom.audit_log a left join backroom.staff s on s.id = a.staff_id
                where ($1::int is null or (a.entity in ('booking', 'booking_table') and a.entity_id = $1))
                  and ($2::int is null or a.staff_id = $2)
                  and ($3::timestamptz is null or a.at >= $3)
                  and ($4::timestamptz is null or a.at < $4)
                  and ($5::bigint is null or a.id < $5)
                order by a.id desc limit $6
                """,
                booking_id, staff_id, since, until, before_id, limit,
            )
        return [AuditEntry(
            id=r["id"], at=r["at"], operation=r["operation"], entity=r["entity"],
            entity_id=r["entity_id"], who=r["who"],
            change=describe_change(_json(r["before"]), _json(r["after"])),
        ) for r in rows]


def _literal(text: str) -> str:
    """Typed text matches itself: % and _ are not wildcards here."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _json(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    loaded = json.loads(value) if isinstance(value, str) else value
    return loaded if isinstance(loaded, dict) else None


_QUIET = {"version", "updated_at", "updated_by", "created_at", "expires_at", "during"}


def describe_change(before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    """A short line: what changed from before to after."""
    if before is None and after is not None:
        keys = [k for k in ("ref", "status", "party_size", "table_id", "holder", "email", "reason",
                            "code", "message") if k in after]
        return ", ".join(f"{k}={after[k]}" for k in keys)
    if after is None and before is not None:
        return "removed"
    if before is None or after is None:
        return ""
    changed = [k for k in after if k not in _QUIET and before.get(k) != after.get(k)]
    return ", ".join(f"{k}: {before.get(k)} -> {after.get(k)}" for k in changed)


@dataclass(frozen=True)
class FloorOccupancy:
    floor: str
    tables: int
    booked: int
    covers: int

    @property
    def level(self) -> str:
        """free, partly booked or full: the colour code of the nights calendar."""
        if self.booked == 0:
            return "free"
        return "full" if self.booked >= self.tables else "partly"


@dataclass(frozen=True)
class NightOccupancy:
    night_id: int
    date: date
    floors: list[FloorOccupancy]


@dataclass(frozen=True)
class ReportRow:
    floor: str
    bookings: int
    covers_booked: int
    covers_arrived: int
    no_shows: int
    cancellations: int
    deposits_taken: Decimal


def report_csv(rows: list[ReportRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([f.name for f in fields(ReportRow)])
    for r in rows:
        writer.writerow([getattr(r, f.name) for f in fields(ReportRow)])
    return out.getvalue()


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    operation: str
    entity: str
    entity_id: int | None
    who: str
    change: str
