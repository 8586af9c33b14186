"""How the venue's things read in staff words: table numbers, times, parties and reasons.

One place for the wording the floor, the door, the forms, the toasts and the
live feeds share, so they all say "tables 15+16", "21:00-23:00" or "3/6" the
same way. Plain strings only: the screens decide how the words look.

Times are shown in the venue's timezone, whatever the zone of the stored value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.models import Booking, BookingStatus, Table

__all__ = [
    "BOOKING_WORDS",
    "arrived_of",
    "capacity",
    "countdown",
    "early_arrival",
    "error_reason",
    "joined_tables",
    "local_moment",
    "local_time",
    "party_in",
    "seconds_left",
    "table_guests",
    "table_numbers",
    "table_title",
    "tables_phrase",
    "time_span",
]

BOOKING_WORDS: dict[BookingStatus, str] = {
    BookingStatus.PENDING: "pending",
    BookingStatus.CONFIRMED: "confirmed",
    BookingStatus.ARRIVED: "arrived",
    BookingStatus.COMPLETED: "completed",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.NO_SHOW: "no-show",
    BookingStatus.EXPIRED: "expired",
}


# Tables -------------------------------------------------------------------------------


def joined_tables(numbers: Iterable[object]) -> str:
    """Table numbers as staff write them, in the order given: '15+16'."""
    return "+".join(str(n) for n in numbers)


def table_numbers(table_ids: Iterable[int], numbers: Mapping[int, int]) -> str:
    """'15+16' for a booking over two tables, in the order of their ids; a table's id
    when the layout (`numbers`: id -> number) does not know it."""
    return joined_tables(numbers.get(table_id, table_id) for table_id in sorted(table_ids))


def tables_phrase(table_ids: Iterable[int], numbers: Mapping[int, int]) -> str:
    """'table 10' or 'tables 10+12', in the order given; '' for no table."""
    shown = [numbers.get(t, t) for t in table_ids]
    if not shown:
        return ""
    return ("table " if len(shown) == 1 else "tables ") + joined_tables(shown)


def table_title(number: object) -> str:
    """'Table 12': a table on its own, as a title or a sentence's start."""
    return f"Table {number}"


def capacity(table: Table) -> str:
    """How many the table seats: '4', or '2-6' for a range."""
    if table.min_party == table.max_party:
        return str(table.max_party)
    return f"{table.min_party}-{table.max_party}"


def table_guests(table: Table) -> str:
    """How many the table seats, in words: '4 guests', '2-6 guests'."""
    return f"{capacity(table)} guests"


# Parties ------------------------------------------------------------------------------


def party_in(booking: Booking) -> str:
    """Arrived out of expected: '3/6'."""
    return f"{booking.arrived_count}/{booking.party_size}"


def arrived_of(booking: Booking) -> str:
    """Arrived out of expected, in a sentence: '3 of 6 in'."""
    return f"{booking.arrived_count} of {booking.party_size} in"


# Times --------------------------------------------------------------------------------


@lru_cache(maxsize=8)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _zone(timezone: str | tzinfo) -> tzinfo:
    return _zone_named(timezone) if isinstance(timezone, str) else timezone


def local_moment(moment: datetime, timezone: str | tzinfo, pattern: str) -> str:
    """The moment in the venue's timezone (its name or the zone), written with the strftime
    `pattern`: '%d %b %H:%M' reads '02 Dec 21:05'."""
    return moment.astimezone(_zone(timezone)).strftime(pattern)


def local_time(moment: datetime, timezone: str | tzinfo, *, seconds: bool = False) -> str:
    """HH:MM in the venue's timezone (its name or the zone), whatever the zone of the stored value."""
    return local_moment(moment, timezone, "%H:%M:%S" if seconds else "%H:%M")


def time_span(starts_at: datetime, ends_at: datetime, timezone: str | tzinfo) -> str:
    """From and until in the venue's timezone: '21:00-23:00'."""
    return f"{local_time(starts_at, timezone)}-{local_time(ends_at, timezone)}"


def early_arrival(arrived_at: datetime, starts_at: datetime, timezone: str | tzinfo) -> str:
    """A party in before its time: 'in 21:05 · for 22:00'."""
    return f"in {local_time(arrived_at, timezone)} · for {local_time(starts_at, timezone)}"


def seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(0, int((expires_at - now).total_seconds()))


def countdown(expires_at: datetime, now: datetime) -> str:
    """m:ss until a hold lapses; holds are seconds to minutes long, so an hour or more is odd."""
    left = seconds_left(expires_at, now)
    if left >= 3600:
        return "≥1h"
    minutes, seconds = divmod(left, 60)
    return f"{minutes}:{seconds:02d}"


# Reasons ------------------------------------------------------------------------------


def error_reason(err: BaseException) -> str:
    """Why a connection failed, for a log line or a status: 'timed out',
    'ConnectionResetError: peer gone', or the error's type alone when it says nothing."""
    if isinstance(err, TimeoutError):
        return "timed out"
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
