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
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from services.errors import BackroomError
from services.floor import BOOKING_SELECT, booking_from_row, business_date
from services.models import Booking
from services.night.words import NIGHT_OPERATION_WORDS
from services.store.db import Database

_SEARCH = (
    BOOKING_SELECT.replace("select b.id,", "select g.phone, b.id,", 1)
    + """
    where b.night_id = $1
      and (g.name ilike '%' || $2 || '%' or b.ref ilike $2 || '%'
           or ($3::text is not null
               and regexp_replace(coalesce(g.phone, ''), '[^0-9]', '', 'g') like '%' || $3 || '%'))
    group by b.id, g.id
"""
)


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
            rows = await conn.fetch(_SEARCH, night_id, _literal(text), digits if len(digits) >= 3 else None)
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
                start,
                start + timedelta(days=days),
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
            return await _floor_rows(conn, night_id)

    async def night_report_with_bookings(self, night_id: int) -> NightReport:
        """The night's report and every booking behind it, read at one moment, so the
        bookings add up to the totals. Raises LookupError for a night that does not exist."""
        async with self._db.transaction(readonly=True, isolation="repeatable_read") as conn:
            rows = await _floor_rows(conn, night_id)
            found = await conn.fetch(_NIGHT_BOOKINGS, night_id)
        return NightReport(rows, [_report_booking(r) for r in found])

    async def audit(
        self,
        *,
        booking_id: int | None = None,
        staff_id: int | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
        booking: str | None = None,
        staff: str | None = None,
    ) -> list[AuditEntry]:
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
                       s.display_name as who, a.db_user, a.before, a.after,
                       coalesce(b.ref, a.after->>'ref', a.before->>'ref') as ref,
                       t.number as table_number, made.ref as booked_ref
                from backroom.audit_log a
                left join backroom.staff s on s.id = a.staff_id
                left join backroom.booking b
                       on a.entity in ('booking', 'booking_table') and b.id = a.entity_id
                left join backroom.venue_table t
                       on a.entity in ('hold', 'booking_table')
                      and t.id = case when coalesce(a.after, a.before)->>'table_id' ~ '^[0-9]{1,4}$'
                                      then (coalesce(a.after, a.before)->>'table_id')::int end
                -- The booking a hold gave way to: written in the same operation, just before.
                left join lateral (
                    select coalesce(x.after->>'ref', x.before->>'ref') as ref
                    from backroom.audit_log x
                    where a.entity = 'hold' and a.after is null and a.op_id is not null
                      and x.entity = 'booking' and x.op_id = a.op_id
                      and x.at between a.at - interval '1 minute' and a.at + interval '1 minute'
                    order by x.id limit 1
                ) made on true
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
                       or ((a.staff_id is null or a.operation in ('expire', 'seed'))
                           and $12::text ilike '%' || $11 || '%')
                       or (a.staff_id is null and a.db_user ilike '%' || $11 || '%'))
                order by a.id desc limit $6
                """,
                booking_id,
                staff_id,
                since,
                until,
                before_id,
                limit,
                booking,
                booking_number,
                staff,
                staff_number,
                _literal(staff or ""),
                THE_SYSTEM,
            )
        entries = []
        for r in rows:
            before, after = _json(r["before"]), _json(r["after"])
            entries.append(
                AuditEntry(
                    id=r["id"],
                    at=r["at"],
                    operation=r["operation"],
                    entity=r["entity"],
                    entity_id=r["entity_id"],
                    who=who_words(r["who"], r["staff_id"], r["operation"]),
                    change=describe_change(before, after),
                    staff_id=r["staff_id"],
                    ref=r["ref"],
                    op_id=r["op_id"],
                    before=before,
                    after=after,
                    db_user=r["db_user"],
                    table_number=r["table_number"],
                    booked_ref=r["booked_ref"],
                )
            )
        return entries

    async def venue_timezone(self) -> str:
        """The venue's timezone: the audit browser shows and reads times in it."""
        async with self._db.transaction(readonly=True) as conn:
            zone = await conn.fetchval("select timezone from backroom.venue order by id limit 1")
        return str(zone or "UTC")


async def _floor_rows(conn: Any, night_id: int) -> list[ReportRow]:
    """The floors' rows and their total, read on `conn` (see `night_report`)."""
    if not await conn.fetchval("select exists (select from backroom.night where id = $1)", night_id):
        raise LookupError(f"night {night_id} does not exist")
    rows = await conn.fetch(
        """
        with per_booking as (
            select distinct on (b.id) b.id, b.status, b.party_size, b.arrived_count,
                   b.deposit, b.deposit_paid, b.deposit_outcome, t.floor_id
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
                   as deposits_taken,
               count(p.id) filter (where p.deposit_outcome = 'kept') as deposits_kept,
               count(p.id) filter (where p.deposit_outcome = 'refunded') as deposits_refunded
        from backroom.floor f
        left join per_booking p on p.floor_id = f.id
        group by f.id, f.name, f.position order by f.position
        """,
        night_id,
    )
    report = [ReportRow(**dict(r)) for r in rows]
    if report:
        report.append(
            ReportRow(
                floor=ALL_FLOORS,
                **{
                    f.name: sum((getattr(r, f.name) for r in report), type(getattr(report[0], f.name))(0))
                    for f in fields(ReportRow)
                    if f.name != "floor"
                },
            )
        )
    return report


# Every booking of the night, on the floor of its lowest-numbered table (as the totals
# count it), with its start in the venue's time.
_NIGHT_BOOKINGS = """
    select b.ref, g.name as guest, b.status, b.party_size, b.arrived_count, b.deposit,
           b.deposit_paid, b.deposit_outcome,
           to_char(b.starts_at at time zone (select v.timezone from backroom.venue v
                                             order by v.id limit 1), 'YYYY-MM-DD HH24:MI') as starts,
           (array_agg(f.name order by t.number))[1] as floor,
           (array_agg(f.position order by t.number))[1] as floor_position,
           string_agg(t.number::text, '+' order by t.number) as tables
    from backroom.booking b
    join backroom.guest g on g.id = b.guest_id
    join backroom.booking_table bt on bt.booking_id = b.id
    join backroom.venue_table t on t.id = bt.table_id
    join backroom.floor f on f.id = t.floor_id
    where b.night_id = $1
    group by b.id, g.id
    order by floor_position, b.starts_at, b.ref
"""

_STANDING = {"pending", "confirmed", "arrived", "completed"}


def _report_booking(r: Any) -> ReportBooking:
    standing = r["status"] in _STANDING
    return ReportBooking(
        floor=r["floor"],
        ref=r["ref"],
        guest=r["guest"],
        tables=r["tables"],
        starts=r["starts"],
        status=r["status"],
        party_size=r["party_size"],
        bookings=int(standing),
        covers_booked=r["party_size"] if standing else 0,
        covers_arrived=r["arrived_count"],
        no_shows=int(r["status"] == "no_show"),
        cancellations=int(r["status"] == "cancelled"),
        deposits_taken=(r["deposit"] if r["deposit_paid"] else Decimal(0)).quantize(Decimal("0.01")),
        deposits_kept=int(r["deposit_outcome"] == "kept"),
        deposits_refunded=int(r["deposit_outcome"] == "refunded"),
    )


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
        keys = [
            k
            for k in (
                "ref",
                "status",
                "party_size",
                "table_id",
                "holder",
                "email",
                "reason",
                "code",
                "message",
            )
            if k in after
        ]
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
    deposits_kept: int = 0
    """Cancelled bookings whose paid deposit was kept."""
    deposits_refunded: int = 0
    """Cancelled bookings whose paid deposit was refunded (no longer in deposits_taken)."""


@dataclass(frozen=True)
class ReportBooking:
    """One booking of the night report: what it is, and what it adds to its floor's figures
    (the figures of a floor's bookings add up to the floor's row)."""

    floor: str
    ref: str
    guest: str
    tables: str
    """Table numbers, '15+16' for a booking over two."""
    starts: str
    """Venue time, 'YYYY-MM-DD HH:MM'."""
    status: str
    party_size: int
    bookings: int
    covers_booked: int
    covers_arrived: int
    no_shows: int
    cancellations: int
    deposits_taken: Decimal
    deposits_kept: int = 0
    """Cancelled bookings whose paid deposit was kept."""
    deposits_refunded: int = 0
    """Cancelled bookings whose paid deposit was refunded (no longer in deposits_taken)."""


@dataclass(frozen=True)
class NightReport:
    rows: list[ReportRow]
    bookings: list[ReportBooking]


FIGURES = (
    "bookings",
    "covers_booked",
    "covers_arrived",
    "no_shows",
    "cancellations",
    "deposits_taken",
    "deposits_kept",
    "deposits_refunded",
)
CSV_HEADER = ("row", "floor", "ref", "guest", "tables", "starts", "status", "party_size", *FIGURES)


def _cell(value: object) -> str:
    """A cell as text; typed text that a spreadsheet would run as a formula stays text."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def report_csv(rows: list[ReportRow], bookings: Sequence[ReportBooking] = ()) -> str:
    """One table: a line per booking (`row` = booking), then per floor (floor), then the
    total (total); the figure columns of the bookings add up to their floor's."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for b in bookings:
        writer.writerow(
            [
                "booking",
                _cell(b.floor),
                _cell(b.ref),
                _cell(b.guest),
                b.tables,
                b.starts,
                b.status,
                b.party_size,
                *(getattr(b, f) for f in FIGURES),
            ]
        )
    for r in rows:
        kind = "total" if r.floor == ALL_FLOORS else "floor"
        writer.writerow([kind, _cell(r.floor), "", "", "", "", "", "", *(getattr(r, f) for f in FIGURES)])
    return out.getvalue()


def report_file_name(night: date, n: int = 1) -> str:
    """backroom-night-2026-12-04.csv, then backroom-night-2026-12-04-2.csv and on."""
    return f"backroom-night-{night.isoformat()}{'' if n == 1 else f'-{n}'}.csv"


def free_report_path(directory: Path, night: date) -> Path:
    """The first report name for `night` not yet taken in `directory`."""
    directory = Path(directory).expanduser().absolute()
    n = 1
    while (directory / report_file_name(night, n)).exists() and n < 10_000:
        n += 1
    return directory / report_file_name(night, n)


class ExportFailed(BackroomError):
    """The report could not be saved; `str(err)` says why in plain words. Nothing was written."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


class ReportExists(ExportFailed):
    """The file asked for is there already; nothing was written. Ask before replacing it."""


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


def _place(temp: str, target: Path) -> None:
    """Give the whole file `temp` the name `target` unless that name is taken (FileExistsError)."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise
    except OSError as err:
        if err.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EXDEV, errno.EMLINK):
            raise
        # A disk without hard links: claim the name, then put the whole file there.
        os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644))
        try:
            os.replace(temp, target)
        except OSError:
            with contextlib.suppress(OSError):
                os.unlink(target)
            raise
        return
    os.unlink(temp)


def export_night_report(
    rows: list[ReportRow],
    night: date,
    directory: Path,
    bookings: Sequence[ReportBooking] = (),
    *,
    path: Path | None = None,
    replace: bool = False,
    make_folder: bool = False,
) -> Path:
    """Write the night's report as CSV, all or nothing; returns the file's path.

    Without `path` it goes into `directory` under the first free name for the night
    (`free_report_path`), so an earlier export is never replaced. With `path` that
    file is written, and if it exists already `ReportExists` is raised unless
    `replace`. `make_folder` creates a missing `directory` (the data directory).

    The text goes to a temporary file in the same folder, is flushed to disk and
    then given its name, so a reader never sees half a report and a failure
    leaves the folder as it was. Blocking file I/O: call it from a thread.
    """
    if path is not None:
        target = Path(path).expanduser().absolute()
        directory = target.parent
    else:
        directory = Path(directory).expanduser().absolute()
        target = free_report_path(directory, night)
    data = report_csv(rows, bookings).encode("utf-8")
    temp: str | None = None
    try:
        if make_folder:
            directory.mkdir(parents=True, exist_ok=True)
        if path is not None and not replace and target.exists():
            raise ReportExists(f"{target} exists already.", target)
        fd, temp = tempfile.mkstemp(dir=directory, prefix=f".{target.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temp, 0o644)
        if replace:
            os.replace(temp, target)
            temp = None
        else:
            whole = temp
            for _ in range(100):
                try:
                    _place(whole, target)
                    temp = None
                    break
                except FileExistsError:
                    if path is not None:
                        raise ReportExists(f"{target} exists already.", target) from None
                    # Another console took the name a moment ago: the next one.
                    target = free_report_path(directory, night)
            else:
                raise ExportFailed(f"Could not save the night report: no free name in {directory}.", target)
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
    db_user: str | None = None
    """The database user the change came through (for support; staff see `who`)."""
    table_number: int | None = None
    """The table's number, for rows about a hold or a booking's table."""
    booked_ref: str | None = None
    """For a hold removed by a booking: that booking's reference."""


THE_SYSTEM = "the system"
"""Who made a change no staff member made: expiries, seeding, set-up."""

UNKNOWN_PERSON = "unknown email"

# Every operation of backroom.audit_operation, in the staff's words.
OPERATION_WORDS: dict[str, str] = {
    **NIGHT_OPERATION_WORDS,
    "create": "new booking",
    "seat_walk_in": "walk-in seated",
    "amend": "booking changed",
    "move": "moved",
    "confirm": "confirmed",
    "check_in": "checked in",
    "cancel": "cancelled",
    "no_show": "marked no-show",
    "complete": "completed",
    "expire": "expired",
    "hold": "table held",
    "renew_hold": "hold renewed",
    "release_hold": "hold released",
    "waitlist_add": "added to the waitlist",
    "waitlist_offer": "table offered from the waitlist",
    "waitlist_book": "booked from the waitlist",
    "waitlist_leave": "left the waitlist",
    "manage_staff": "staff changed",
    "insert": "added directly in the database",
    "update": "changed directly in the database",
    "delete": "removed directly in the database",
    "seed": "set up",
    "sign_in": "signed in",
    "sign_in_failed": "sign-in refused",
    "account_locked": "account locked",
    "staff_saved": "staff member saved",
    "totp_reset": "sign-in code reset",
    "staff_updated": "staff member changed",
    "staff_unlocked": "account unlocked",
    "staff_linked": "staff member linked to a sign-in",
    "unlock": "console unlocked",
    "unlock_failed": "wrong unlock code",
    "step_up": "step-up code",
    "step_up_failed": "wrong step-up code",
    "sign_out": "signed out",
    "lock": "console locked",
    "open_night": "night opened",
    "correct_arrivals": "arrival count corrected",
    "reverse_no_show": "no-show reversed",
    "reverse_completion": "completion reversed",
    "reopen": "reopened",
}

# Why a sign-in, unlock or step-up went as it did (the `reason` its row records).
REASON_WORDS: dict[str, str] = {
    "totp": "",
    "recovery": "with a recovery code",
    "bad_code": "",
    "bad_password": "wrong password",
    "replayed_code": "a code already used",
    "bad_recovery_code": "a recovery code not valid",
    "unknown_email": "no staff member has that email",
    "not_enrolled": "no code set up yet",
    "inactive": "the account is disabled",
    "locked": "the account is locked",
    "throttled": "too many tries, had to wait",
    "not_asked_in_time": "not finished in time",
}

_BY_THE_SYSTEM = {"expire", "seed"}

_SIGN_IN_FAMILY = {
    "sign_in",
    "sign_in_failed",
    "unlock",
    "unlock_failed",
    "step_up",
    "step_up_failed",
    "account_locked",
}


# What a console asked for, as the thing the database refused.
REFUSED_WORDS: dict[str, str] = {
    "create": "new booking",
    "seat_walk_in": "walk-in",
    "amend": "change",
    "confirm": "confirmation",
    "check_in": "check-in",
    "cancel": "cancellation",
    "no_show": "no-show",
    "complete": "completion",
    "renew_hold": "hold renewal",
    "release_hold": "hold release",
    "waitlist_add": "waitlist entry",
    "waitlist_offer": "waitlist offer",
    "waitlist_book": "booking from the waitlist",
    "waitlist_leave": "leaving the waitlist",
    "manage_staff": "staff change",
    "correct_arrivals": "count correction",
    "reverse_no_show": "no-show reversal",
    "reverse_completion": "completion reversal",
    "reopen": "reopening",
}


def operation_words(operation: str) -> str:
    """'step_up_failed' -> 'wrong step-up code'; 'refused:check_in' -> 'check-in refused'."""
    if operation.startswith("refused:"):
        asked = operation.removeprefix("refused:")
        return f"{REFUSED_WORDS.get(asked, asked.replace('_', ' '))} refused"
    return OPERATION_WORDS.get(operation, operation.replace("_", " "))


def who_words(name: str | None, staff_id: int | None, operation: str) -> str:
    """The staff member's name; "the system" for what no one did by hand: expiries (the
    sweeper runs in whichever console is open, under its staff member) and the seed."""
    if operation in _BY_THE_SYSTEM:
        return THE_SYSTEM
    if name:
        return name
    if staff_id is not None:
        return f"staff {staff_id}"
    return UNKNOWN_PERSON if operation in _SIGN_IN_FAMILY else THE_SYSTEM


def _reason_words(reason: object) -> str:
    text = str(reason)
    if text.startswith("not asked for: "):
        return "not finished in time"
    return REASON_WORDS.get(text, text.replace("_", " "))


def _table(entry: AuditEntry) -> str:
    if entry.table_number is not None:
        return f"table {entry.table_number}"
    row = entry.after or entry.before or {}
    return f"table {row['table_id']}" if "table_id" in row else "a table"


def _hold_words(entry: AuditEntry) -> str:
    table = _table(entry)
    if entry.before is None and entry.after is not None:
        holder = entry.after.get("holder")
        return f"held {table}" + (f" for {holder}" if holder else "")
    if entry.after is None:
        if entry.operation == "expire":
            return f"the hold on {table} lapsed"
        if entry.booked_ref:
            return f"the hold on {table} was released: booked as {entry.booked_ref}"
        if entry.operation in ("create", "seat_walk_in", "waitlist_book"):
            return f"the hold on {table} was released by the booking"
        return f"the hold on {table} was released"
    return f"the hold on {table} was renewed"


def audit_words(entry: AuditEntry) -> str:
    """What happened, in a line a staff member reads: what was done, then the detail."""
    label = operation_words(entry.operation)
    if entry.entity == "hold" and not entry.operation.startswith("refused:"):
        return _hold_words(entry)
    if entry.entity == "staff" and entry.operation in _SIGN_IN_FAMILY:
        row = entry.after or {}
        detail = _reason_words(row["reason"]) if "reason" in row else ""
        if entry.operation == "account_locked" and row.get("failures"):
            detail = f"after {row['failures']} failed tries"
        return f"{label}: {detail}" if detail else label
    if entry.entity == "booking_table":
        table = _table(entry)
        if entry.before is None:
            return f"{label}: on {table}"
        if entry.after is None:
            return f"{label}: off {table}"
    if entry.entity == "booking" and not entry.operation.startswith("refused:"):
        detail = _booking_words(entry)
        return f"{label}: {detail}" if detail else label
    return f"{label}: {entry.change}" if entry.change else label


# Booking fields as staff name them; those not here keep their own name.
FIELD_WORDS = {
    "party_size": "party",
    "arrived_count": "arrived",
    "starts_at": "starts",
    "ends_at": "ends",
    "deposit_paid": "deposit paid",
    "min_spend": "minimum spend",
    "cancel_reason": "reason",
    "guest_id": "guest",
}

# The status an operation moves a booking to: its label already says so.
_REACHES = {
    "confirm",
    "check_in",
    "cancel",
    "no_show",
    "complete",
    "expire",
    "reverse_no_show",
    "reverse_completion",
    "reopen",
}
# Said in words of their own, after the fields that changed.
_SAID = {"undo_reason", "deposit_outcome"}


def _booking_words(entry: AuditEntry) -> str:
    before, after = entry.before, entry.after
    if before is None and after is not None:
        parts = [str(after["ref"])] if "ref" in after else []
        if "party_size" in after:
            parts.append(f"party of {after['party_size']}")
        if after.get("status") not in (None, "pending") and entry.operation != "seat_walk_in":
            parts.append(str(after["status"]).replace("_", " "))
        return ", ".join(parts)
    if before is None or after is None:
        return entry.change
    skip = set(_QUIET) | _SAID | ({"status"} if entry.operation in _REACHES else set())
    changed = [k for k in after if k not in skip and before.get(k) != after.get(k)]
    parts = [f"{FIELD_WORDS.get(k, k.replace('_', ' '))} {before.get(k)} -> {after.get(k)}" for k in changed]
    if after.get("deposit_outcome") and before.get("deposit_outcome") != after["deposit_outcome"]:
        parts.append(f"deposit {after['deposit_outcome']}")
    if after.get("undo_reason") and (
        before.get("undo_reason") != after["undo_reason"] or entry.operation in _UNDO
    ):
        parts.append(f"why: {after['undo_reason']}")
    return ", ".join(parts)


# The operations that undo a change, each with a reason.
_UNDO = {"correct_arrivals", "reverse_no_show", "reverse_completion", "reopen"}
