"""Loads a venue's layout from its seed file, opens nights, and writes a
sample of bookings for a demo. Runs as the database owner, through the same
triggers that guard every other write.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import asyncpg

from services.errors import InvalidInput

DEFAULT_LAYOUT = "backroom.json"
SMALLINT = 32767
REF_ATTEMPTS = 8
"""Tries at a booking ref that no booking has yet (six characters of 32: collisions are rare)."""


class LayoutError(InvalidInput):
    """A venue layout file that cannot be loaded; nothing was written."""

    code = "layout"

    def __init__(self, source: str, problem: str) -> None:
        super().__init__(
            f"The venue layout {source} cannot be used: {problem} Correct it and run "
            "the command again; nothing was written."
        )


def load_layout(path: Path | None = None) -> dict[str, Any]:
    """The layout, checked: every field there and of its type, a real time zone and times."""
    source = "of the reference venue" if path is None else str(path)
    try:
        if path is None:
            data = resources.files("services.store.venues").joinpath(DEFAULT_LAYOUT).read_bytes()
        else:
            data = path.read_bytes()
    except FileNotFoundError:
        raise LayoutError(source, "there is no such file.") from None
    except IsADirectoryError:
        raise LayoutError(source, "it is a directory, not a file.") from None
    except OSError as err:
        raise LayoutError(source, f"it cannot be read ({err.strerror or err}).") from None
    try:
        layout = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise LayoutError(source, "it is not UTF-8 text (save it as UTF-8 JSON).") from None
    except json.JSONDecodeError as err:
        raise LayoutError(
            source, f"it is not valid JSON ({err.msg} at line {err.lineno}, column {err.colno})."
        ) from None
    check_layout(layout, source)
    return dict(layout)


_WANTED: dict[str, tuple[str, Callable[[Any, int, int], bool]]] = {
    "text": ("text", lambda v, lo, hi: isinstance(v, str) and bool(v.strip())),
    "whole": (
        "a whole number from {lo} to {hi}",
        lambda v, lo, hi: isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi,
    ),
    "number": (
        "a number from 0 up",
        lambda v, lo, hi: isinstance(v, int | float) and not isinstance(v, bool) and 0 <= v < 1e8,
    ),
    "yes/no": ("true or false", lambda v, lo, hi: isinstance(v, bool)),
    "list": ("a list [...]", lambda v, lo, hi: isinstance(v, list)),
}


@dataclass(frozen=True)
class _Checker:
    source: str

    def fail(self, problem: str) -> LayoutError:
        return LayoutError(self.source, problem)

    def field(
        self,
        where: str,
        record: Any,
        key: str,
        kind: str,
        *,
        optional: bool = False,
        low: int = 0,
        high: int = SMALLINT,
    ) -> Any:
        """`record[key]` if it is of `kind` (see _WANTED), else LayoutError."""
        if not isinstance(record, dict):
            raise self.fail(f"{where} must be an object {{...}}.")
        if key not in record:
            if optional:
                return None
            raise self.fail(f"{where} has no {key!r}.")
        wanted, ok = _WANTED[kind]
        if not ok(record[key], low, high):
            raise self.fail(
                f"{key!r} of {where} is {json.dumps(record[key])}; it must be "
                f"{wanted.format(lo=low, hi=high)}."
            )
        return record[key]


def check_layout(layout: Any, source: str = "of the venue") -> None:
    """Raise LayoutError naming the first thing wrong with the layout."""
    check = _Checker(source)
    if not isinstance(layout, dict) or not isinstance(layout.get("venue"), dict):
        raise check.fail('it must be an object with "venue", "floors" and "tables".')
    venue = layout["venue"]
    for key in ("name", "timezone", "opens_at", "closes_at"):
        check.field("the venue", venue, key, "text")
    try:
        ZoneInfo(venue["timezone"])
    except (ZoneInfoNotFoundError, ValueError):
        raise check.fail(
            f"the venue's timezone {venue['timezone']!r} is not a time zone (use a "
            'name such as "Europe/London").'
        ) from None
    for key in ("opens_at", "closes_at"):
        try:
            time.fromisoformat(venue[key])
        except ValueError:
            raise check.fail(
                f"the venue's {key} {venue[key]!r} is not a time of day (HH:MM, from 00:00 to 23:59)."
            ) from None
    check.field("the venue", venue, "max_tables_per_guest", "whole", optional=True, low=1, high=100)
    check.field("the venue", venue, "hold_seconds", "whole", optional=True, low=5, high=600)
    check.field("the venue", venue, "pending_minutes", "whole", optional=True, low=1, high=1440)
    check.field("the venue", venue, "no_show_grace_minutes", "whole", optional=True, low=0, high=240)
    check.field("the venue", venue, "capacity", "whole", optional=True, low=1, high=100000)
    floors = layout.get("floors")
    if not isinstance(floors, list) or not floors:
        raise check.fail('"floors" must be a list with at least one floor.')
    codes = set()
    for n, floor in enumerate(floors, start=1):
        code = check.field(f"floor {n}", floor, "code", "text")
        check.field(f"floor {n}", floor, "name", "text")
        if code in codes:
            raise check.fail(f"two floors have the code {code!r}.")
        codes.add(code)
    tables = layout.get("tables")
    if not isinstance(tables, list) or not tables:
        raise check.fail('"tables" must be a list with at least one table.')
    numbers = set()
    for n, table in enumerate(tables, start=1):
        where = f"table {n} of the list"
        number = check.field(where, table, "number", "whole", low=1)
        if number in numbers:
            raise check.fail(f"two tables have the number {number}.")
        numbers.add(number)
        if check.field(where, table, "floor", "text") not in codes:
            raise check.fail(f'table {number} is on the floor {table["floor"]!r}, which is not in "floors".')
        check.field(where, table, "name", "text")
        low = check.field(where, table, "min", "whole", low=1)
        if check.field(where, table, "max", "whole", low=1) < low:
            raise check.fail(f"table {number} seats at most {table['max']}, fewer than its min {low}.")
        check.field(where, table, "vip", "yes/no")
        check.field(where, table, "min_spend", "number")
        check.field(where, table, "row", "whole")
        check.field(where, table, "col", "whole")
        neighbours = check.field(where, table, "neighbours", "list", optional=True) or []
        if not all(isinstance(t, int) and not isinstance(t, bool) and 0 < t <= SMALLINT for t in neighbours):
            raise check.fail(f"the neighbours of table {number} must be table numbers.")


def night_hours(day: date, opens: time, closes: time, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    starts = datetime.combine(day, opens, tzinfo=zone)
    end_day = day + timedelta(days=1) if closes <= opens else day
    return starts, datetime.combine(end_day, closes, tzinfo=zone)


async def seed_venue(conn: asyncpg.Connection, layout: dict[str, Any], source: str = "of the venue") -> bool:
    """Write the venue, floors and tables. Returns False if a venue is already there.
    A layout the database's rules refuse raises LayoutError, with nothing written."""
    if await conn.fetchval("select exists (select from backroom.venue)"):
        return False
    try:
        await _write_venue(conn, layout)
    except (asyncpg.IntegrityConstraintViolationError, asyncpg.DataError) as err:
        raise LayoutError(source, f"the database refused it ({err}).") from err
    return True


async def _write_venue(conn: asyncpg.Connection, layout: dict[str, Any]) -> None:
    v = layout["venue"]
    async with conn.transaction():
        await conn.execute(
            "insert into backroom.venue (id, name, timezone, opens_at, closes_at,"
            " max_tables_per_guest, hold_seconds, pending_minutes, no_show_grace_minutes, capacity)"
            " values (1, $1, $2, $3, $4, $5, $6, $7, $8, $9)",
            v["name"],
            v["timezone"],
            time.fromisoformat(v["opens_at"]),
            time.fromisoformat(v["closes_at"]),
            v.get("max_tables_per_guest", 2),
            v.get("hold_seconds", 30),
            v.get("pending_minutes", 15),
            v.get("no_show_grace_minutes", 15),
            v.get("capacity"),
        )
        floor_ids = {}
        for position, f in enumerate(layout["floors"], start=1):
            floor_ids[f["code"]] = position
            await conn.execute(
                "insert into backroom.floor (id, venue_id, code, name, position) values ($1, 1, $2, $3, $4)",
                position,
                f["code"],
                f["name"],
                position,
            )
        await conn.executemany(
            "insert into backroom.venue_table (id, venue_id, floor_id, number, name, min_party,"
            " max_party, vip, min_spend, grid_row, grid_col, neighbours)"
            " values ($1, 1, $2, $1, $3, $4, $5, $6, $7, $8, $9, $10)",
            [
                (
                    t["number"],
                    floor_ids[t["floor"]],
                    t["name"],
                    t["min"],
                    t["max"],
                    t["vip"],
                    t["min_spend"],
                    t["row"],
                    t["col"],
                    t.get("neighbours", []),
                )
                for t in layout["tables"]
            ],
        )


FIRST_NIGHT = date(1970, 1, 1)
LAST_NIGHT = date(2999, 12, 31)
MAX_DAYS = 3660
"""About ten years of nights at a time."""


def check_nights(start: date, days: int) -> None:
    """Refuse a span of nights that is empty, too long, or off the calendar's sane part."""
    if not 1 <= days <= MAX_DAYS:
        raise InvalidInput(f"The number of nights must be from 1 to {MAX_DAYS}, not {days}.")
    if start < FIRST_NIGHT or start > LAST_NIGHT - timedelta(days=days - 1):
        raise InvalidInput(
            f"{days} night(s) from {start.isoformat()} do not fit between "
            f"{FIRST_NIGHT.isoformat()} and {LAST_NIGHT.isoformat()}: choose another start."
        )


async def open_nights(conn: asyncpg.Connection, start: date, days: int) -> int:
    """Create the venue's nights from `start`; existing nights are left alone."""
    check_nights(start, days)
    venue = await conn.fetchrow("select timezone, opens_at, closes_at from backroom.venue where id = 1")
    if venue is None:
        raise LookupError("no venue: seed the venue first")
    rows = []
    for offset in range(days):
        day = start + timedelta(days=offset)
        starts, ends = night_hours(day, venue["opens_at"], venue["closes_at"], venue["timezone"])
        rows.append((day, starts, ends))
    result = await conn.fetch(
        "insert into backroom.night (venue_id, date, starts_at, ends_at)"
        " select 1, d, s, e from unnest($1::date[], $2::timestamptz[], $3::timestamptz[]) as x(d, s, e)"
        " on conflict (venue_id, date) do nothing returning id",
        [r[0] for r in rows],
        [r[1] for r in rows],
        [r[2] for r in rows],
    )
    return len(result)


GUESTS = [
    ("Alice Moreau", "+44 7700 900101", False),
    ("Ben Okafor", "+44 7700 900102", False),
    ("Chloe Tanaka", "+44 7700 900103", True),
    ("Dev Patel", "+44 7700 900104", False),
    ("Elena Rossi", "+44 7700 900105", False),
    ("Farid Haddad", "+44 7700 900106", True),
    ("Grace Kim", "+44 7700 900107", False),
    ("Hugo Lindqvist", "+44 7700 900108", False),
    ("Isla MacLeod", "+44 7700 900109", False),
    ("Jonas Weber", "+44 7700 900110", False),
    ("Kemi Adeyemi", "+44 7700 900111", True),
    ("Liam O'Brien", "+44 7700 900112", False),
    ("Maya Cohen", "+44 7700 900113", False),
    ("Nikos Pappas", "+44 7700 900114", False),
    ("Olivia Brown", "+44 7700 900115", False),
    ("Pavel Novak", "+44 7700 900116", False),
    ("Quinn Murphy", "+44 7700 900117", False),
    ("Rosa Alvarez", "+44 7700 900118", True),
    ("Sami Virtanen", "+44 7700 900119", False),
    ("Tara Singh", "+44 7700 900120", False),
    ("Umar Farouk", "+44 7700 900121", False),
    ("Vera Ivanova", "+44 7700 900122", False),
    ("Will Turner", "+44 7700 900123", False),
    ("Xin Zhao", "+44 7700 900124", False),
    ("Yara Nassar", "+44 7700 900125", True),
    ("Zoe Clarke", "+44 7700 900126", False),
]


@dataclass(frozen=True)
class Planned:
    table: tuple[int, ...]
    guest: int
    party: int
    start_min: int
    end_min: int | None
    status: str
    arrived: int = 0
    deposit: int = 0
    reason: str | None = None


# Tonight shows every status; times are minutes after opening (22:00).
TONIGHT = [
    Planned((1,), 0, 4, 30, None, "confirmed", deposit=50),
    Planned((2,), 1, 4, 0, None, "arrived", arrived=4),
    Planned((3,), 2, 5, 60, None, "pending"),
    Planned((4,), 5, 8, 60, None, "confirmed", deposit=200),
    Planned((5,), 3, 6, 15, None, "arrived", arrived=3),
    Planned((6,), 4, 4, 30, None, "cancelled", reason="Guest called to cancel"),
    Planned((7,), 6, 6, 0, 60, "no_show"),
    Planned((8,), 10, 10, 120, None, "confirmed", deposit=300),
    Planned((9,), 7, 3, 0, 90, "completed", arrived=3),
    Planned((9,), 8, 4, 120, None, "confirmed"),
    Planned((10,), 9, 2, 45, None, "expired"),
    Planned((13,), 11, 2, 0, None, "arrived", arrived=2),
    Planned((14,), 12, 3, 90, None, "pending"),
    Planned((15, 16), 17, 18, 90, None, "confirmed", deposit=500),
]

_PATH = {
    "pending": [],
    "confirmed": ["confirmed"],
    "arrived": ["arrived"],
    "completed": ["arrived", "completed"],
    "cancelled": ["cancelled"],
    "no_show": ["confirmed", "no_show"],
    "expired": ["expired"],
}


# Demo staff, for the sample data only. Real staff are added by an admin.
DEMO_STAFF = [
    ("duty.manager@backroom.demo", "Duty Manager", "manager"),
    ("door@backroom.demo", "Door Team", "door"),
    ("support@backroom.demo", "Support", "support"),
]
DEMO_MANAGER = DEMO_STAFF[0][0]


async def _demo_staff(conn: asyncpg.Connection) -> None:
    await conn.executemany(
        "insert into backroom.staff (email, display_name, role) values ($1, $2, $3)"
        " on conflict (email) do nothing",
        DEMO_STAFF,
    )


async def _guest_ids(conn: asyncpg.Connection) -> list[int]:
    existing = await conn.fetch("select id from backroom.guest order by id")
    if existing:
        return [r["id"] for r in existing]
    rows = await conn.fetch(
        "insert into backroom.guest (name, phone, email, vip)"
        " select n, p, lower(replace(replace(n, ' ', '.'), '''', '')) || '@example.com', v"
        " from unnest($1::text[], $2::text[], $3::bool[]) as x(n, p, v) returning id",
        [g[0] for g in GUESTS],
        [g[1] for g in GUESTS],
        [g[2] for g in GUESTS],
    )
    return [r["id"] for r in rows]


async def _book(conn: asyncpg.Connection, night: asyncpg.Record, guests: list[int], p: Planned) -> None:
    starts = night["starts_at"] + timedelta(minutes=p.start_min)
    ends = night["ends_at"] if p.end_min is None else night["starts_at"] + timedelta(minutes=p.end_min)
    initial = "arrived" if p.status in ("arrived", "completed") else "pending"
    for _attempt in range(REF_ATTEMPTS):
        # The ref is drawn by its column default; a ref that is taken draws again.
        booking_id = await conn.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, arrived_count, status,"
            " starts_at, ends_at, deposit, deposit_paid)"
            " values ($1, $2, $3, $4, $5, $6, $7, $8::numeric, $8::numeric > 0)"
            " on conflict (ref) do nothing returning id",
            night["id"],
            guests[p.guest % len(guests)],
            p.party,
            p.arrived,
            initial,
            starts,
            ends,
            p.deposit,
        )
        if booking_id is not None:
            break
    else:
        raise InvalidInput(
            f"No free booking reference was found in {REF_ATTEMPTS} tries: the "
            "references are nearly used up. Nothing was written."
        )
    await conn.executemany(
        "insert into backroom.booking_table (booking_id, table_id, during, active)"
        " values ($1, $2, tstzrange($3, $4), true)",
        [(booking_id, t, starts, ends) for t in p.table],
    )
    for step in _PATH[p.status][1 if initial == "arrived" else 0 :]:
        await conn.execute(
            "update backroom.booking set status = $2, cancel_reason = $3, deposit_outcome ="
            " case when $2 = 'cancelled' and deposit > 0 and deposit_paid then 'kept' end"
            " where id = $1",
            booking_id,
            step,
            p.reason if step == "cancelled" else None,
        )


def _random_night(rng: random.Random, tables: list[asyncpg.Record], guests: int) -> list[Planned]:
    plans = []
    used: dict[int, int] = {}
    for t in tables:
        if rng.random() > 0.6:
            continue
        guest = rng.randrange(guests)
        if used.get(guest, 0) >= 1:
            continue
        used[guest] = used.get(guest, 0) + 1
        status = rng.choices(["pending", "confirmed", "cancelled"], weights=[3, 6, 1])[0]
        plans.append(
            Planned(
                (t["id"],),
                guest,
                rng.randint(t["min_party"], t["max_party"]),
                rng.choice([0, 30, 60, 90, 120]),
                None,
                status,
                deposit=rng.choice([0, 0, 50, 100]),
                reason="Plans changed" if status == "cancelled" else None,
            )
        )
    return plans


async def seed_sample(conn: asyncpg.Connection, start: date, days: int = 14, rng_seed: int = 7) -> int:
    """Sample bookings for `days` nights from `start`; nights that have bookings are skipped."""
    rng = random.Random(rng_seed)
    made = 0
    async with conn.transaction():
        await open_nights(conn, start, days)
        await conn.execute("select set_config('backroom.op', 'seed', true)")
        await _demo_staff(conn)
        guests = await _guest_ids(conn)
        tables = await conn.fetch("select id, min_party, max_party from backroom.venue_table order by id")
        nights = await conn.fetch(
            "select n.id, n.date, n.starts_at, n.ends_at,"
            " exists (select from backroom.booking b where b.night_id = n.id) as booked"
            " from backroom.night n where n.date >= $1 and n.date < $2 order by n.date",
            start,
            start + timedelta(days=days),
        )
        for night in nights:
            plans = TONIGHT if night["date"] == start else _random_night(rng, tables, len(guests))
            if night["booked"]:
                continue
            for plan in plans:
                await _book(conn, night, guests, plan)
                made += 1
        # Pending bookings of the sample stay pending for the demo's first hour.
        await conn.execute(
            "update backroom.booking set expires_at = now() + interval '1 hour' where status = 'pending'"
        )
    return made
