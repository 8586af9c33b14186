"""What the door, the nights calendar, the night report and the audit browser
read: searches and summaries, all read-only; and the night report saved as CSV."""

from __future__ import annotations

import contextlib
import csv
import errno
import io
import json
import os
import tempfile
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.db import Database
from services.floor import BOOKING_SELECT, booking_from_row, business_date
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

    async def today(self, now: datetime) -> date | None:
        """The business date at `now` in the venue's timezone (until closing it is last night's)."""
        async with self._db.transaction(readonly=True) as conn:
            venue = await conn.fetchrow("select timezone, closes_at from backroom.venue order by id limit 1")
        if venue is None:
            return None
        return business_date(now, venue["timezone"], venue["closes_at"].hour)

    async def occupancy(self, start: date, days: int) -> list[NightOccupancy]:
        """For each night from `start`, per floor: tables sold out of all, and covers expected.

        A table counts as sold for the night while a booking holds it or after one
        has finished there; cancelled, no-show and expired bookings give it back.
        Covers expected are the party sizes of the live bookings, each booking once
        however many tables it covers.
        """
        async with self._db.transaction(readonly=True, isolation="repeatable_read") as conn:
            rows = await conn.fetch(
                """
                with sold as (
                    select b.night_id, bt.table_id, b.party_size, b.status,
                           bt.table_id = min(bt.table_id) over (partition by b.id) as first_table
                    from backroom.booking b
                    join backroom.night n on n.id = b.night_id
                    join backroom.booking_table bt on bt.booking_id = b.id
                    where n.date >= $1 and n.date < $2
                      and b.status in ('pending', 'confirmed', 'arrived', 'completed')
                )
                select n.id as night_id, n.date, f.id as floor_id, f.name as floor_name,
                       count(distinct t.id) as tables,
                       count(distinct s.table_id) as booked,
                       coalesce(sum(s.party_size) filter (
                           where s.first_table and s.status in ('pending', 'confirmed', 'arrived')), 0)
                           as covers
                from backroom.night n
                cross join backroom.floor f
                join backroom.venue_table t on t.floor_id = f.id
                left join sold s on s.night_id = n.id and s.table_id = t.id
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
        """Covers booked and arrived, no-shows, cancellations and deposits, per floor and in total.

        Every floor has its row, a quiet one with zeros. A booking counts on the
        floor of its lowest-numbered table. Raises LookupError for a night that
        does not exist.
        """
        async with self._db.transaction(readonly=True, isolation="repeatable_read") as conn:
            if not await conn.fetchval("select exists (select from backroom.night where id = $1)",
                                       night_id):
                raise LookupError(f"night {night_id} does not exist")
            rows = await conn.fetch(
                """
                with per_booking as (
                    select distinct on (b.id) b.id, b.status, b.party_size, b.arrived_count,
                           b.deposit, b.deposit_paid, t.floor_id
                    from backroom.booking b
                    join backroom.booking_table bt on bt.booking_id = b.id
                    join backroom.venue_table t on t.id = bt.table_id
                    where b.night_id = $1
                    order by b.id, t.number
                )
                select f.name as floor,
                       count(p.id) filter (where p.status in ('pending', 'confirmed', 'arrived', 'completed'))
                           as bookings,
                       coalesce(sum(p.party_size) filter (
                           where p.status in ('pending', 'confirmed', 'arrived', 'completed')), 0)
                           as covers_booked,
                       coalesce(sum(p.arrived_count), 0) as covers_arrived,
                       count(p.id) filter (where p.status = 'no_show') as no_shows,
                       count(p.id) filter (where p.status = 'cancelled') as cancellations,
                       coalesce(sum(p.deposit) filter (where p.deposit_paid), 0)::numeric(12, 2)
                           as deposits_taken
                from backroom.floor f
                left join per_booking p on p.floor_id = f.id
                group by f.id, f.name, f.position order by f.position
                """,
                night_id,
            )
        report = [ReportRow(**dict(r)) for r in rows]
        if report:
            report.append(ReportRow(
                floor=ALL_FLOORS,
                **{f.name: sum((getattr(r, f.name) for r in report), type(getattr(report[0], f.name))(0))
                   for f in fields(ReportRow) if f.name != "floor"},
            ))
        return report

    async def audit(self, *, booking_id: int | None = None, staff_id: int | None = None,
                    since: datetime | None = None, until: datetime | None = None,
                    before_id: int | None = None, limit: int = 50,
                    booking: str | None = None, staff: str | None = None) -> list[AuditEntry]:
        """The audit trail, newest first, filtered; page with `before_id`.

        `booking` is a booking's reference or id as staff type it; `staff` is
        part of a staff member's name or email, or their id.
        """
        booking = (booking or "").strip() or None
        staff = (staff or "").strip() or None
        booking_number = int(booking) if booking and booking.isdigit() and len(booking) < 10 else None
        staff_number = int(staff) if staff and staff.isdigit() and len(staff) < 10 else None
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                """
                select a.id, a.at, a.operation, a.entity, a.entity_id, a.staff_id, a.op_id::text as op_id,
                       coalesce(s.display_name, a.db_user) as who, a.before, a.after,
                       coalesce(b.ref, a.after->>'ref', a.before->>'ref') as ref
                from backroom.audit_log a
                left join backroom.staff s on s.id = a.staff_id
                left join backroom.booking b
                       on a.entity in ('booking', 'booking_table') and b.id = a.entity_id
                where ($1::int is null or (a.entity in ('booking', 'booking_table') and a.entity_id = $1))
                  and ($2::int is null or a.staff_id = $2)
                  and ($3::timestamptz is null or a.at >= $3)
                  and ($4::timestamptz is null or a.at < $4)
                  and ($5::bigint is null or a.id < $5)
                  and ($7::text is null or (a.entity in ('booking', 'booking_table') and (
                        a.entity_id = $8::int
                        or a.entity_id in (select x.id from backroom.booking x
                                           where upper(x.ref) = upper($7)))))
                  and ($9::text is null or a.staff_id = $10::int
                       or s.display_name ilike '%' || $11 || '%'
                       or s.email ilike '%' || $11 || '%'
                       or (s.id is null and a.db_user ilike '%' || $11 || '%'))
                order by a.id desc limit $6
                """,
                booking_id, staff_id, since, until, before_id, limit,
                booking, booking_number, staff, staff_number, _literal(staff or ""),
            )
        entries = []
        for r in rows:
            before, after = _json(r["before"]), _json(r["after"])
            entries.append(AuditEntry(
                id=r["id"], at=r["at"], operation=r["operation"], entity=r["entity"],
                entity_id=r["entity_id"], who=r["who"], change=describe_change(before, after),
                staff_id=r["staff_id"], ref=r["ref"], op_id=r["op_id"], before=before, after=after,
            ))
        return entries

    async def venue_timezone(self) -> str:
        """The venue's timezone: the audit browser shows and reads times in it."""
        async with self._db.transaction(readonly=True) as conn:
            zone = await conn.fetchval("select timezone from backroom.venue order by id limit 1")
        return str(zone or "UTC")


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


ALL_FLOORS = "All floors"


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


def report_file_name(night: date) -> str:
    return f"backroom-night-{night.isoformat()}.csv"


class ExportFailed(Exception):
    """The report could not be saved; `str(err)` says why in plain words. Nothing was written."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def _why(err: OSError, directory: Path) -> str:
    reasons = {
        errno.ENOENT: f"the folder {directory} does not exist",
        errno.ENOTDIR: f"{directory} is not a folder",
        errno.EACCES: f"this console may not write in {directory}",
        errno.EPERM: f"this console may not write in {directory}",
        errno.EROFS: f"{directory} is on a read-only disk",
        errno.ENOSPC: f"the disk holding {directory} is full",
        errno.EDQUOT: f"the disk quota for {directory} is used up",
    }
    return reasons.get(err.errno or 0, f"{err.strerror or err} ({directory})")


def export_night_report(rows: list[ReportRow], night: date, directory: Path) -> Path:
    """Write the night's report as CSV into `directory`, all or nothing; returns the file's path.

    The text goes to a temporary file in the same folder, is flushed to disk and
    then renamed over the final name, so a reader never sees half a report and a
    failure leaves the folder as it was. An earlier export of the night is replaced.
    Blocking file I/O: call it from a thread.
    """
    directory = Path(directory).expanduser().absolute()
    target = directory / report_file_name(night)
    data = report_csv(rows).encode("utf-8")
    temp: str | None = None
    try:
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        os.replace(temp, target)
        temp = None
    except OSError as err:
        raise ExportFailed(f"Could not save the night report: {_why(err, directory)}.", target) from err
    finally:
        if temp is not None:
            with contextlib.suppress(OSError):
                os.unlink(temp)
    return target


@dataclass(frozen=True)
class AuditEntry:
    """One row of the audit trail; `change` says in a line what `before` and `after` differ in."""

    id: int
    at: datetime
    operation: str
    entity: str
    entity_id: int | None
    who: str
    change: str
    staff_id: int | None = None
    ref: str | None = None
    """The booking's reference, for rows about a booking or its tables."""
    op_id: str | None = None
    before: dict[str, Any] | None = field(default=None, compare=False)
    after: dict[str, Any] | None = field(default=None, compare=False)
