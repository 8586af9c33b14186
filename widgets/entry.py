"""Reading what staff type into a form: counts, clock times within a night, money, table numbers.

Each reader returns the value or raises ValueError with a few words that fit
beside the field ("between 2 and 6", "outside tonight's hours 22:00-03:00").
No Textual here: the same readers serve every form and are easy to test.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from services import venue_time
from services.errors import InvalidInput


def whole_number(text: str, *, least: int = 1, most: int | None = None) -> int:
    """A count typed as digits, at least `least` and at most `most`."""
    text = text.strip()
    if not text.isdigit():
        raise ValueError("a whole number" if text else "needed")
    value = int(text)
    if value < least:
        raise ValueError(f"at least {least}")
    if most is not None and value > most:
        raise ValueError(f"at most {most}")
    return value


def clock_in_night(text: str, starts_at: datetime, ends_at: datetime, timezone: str) -> datetime:
    """A local time typed as HH:MM (or HHMM, H:MM, HH), placed on the night it falls in (UTC).

    A night runs past midnight, so 01:30 is the next calendar day; the time
    must fall from the opening up to (not at) the closing. On the night the
    clocks go forward the skipped hour is refused; on the night they go back a
    repeated time is the first one, and "01:30 GMT" (the zone's name for the
    second) is the second. See services.venue_time.
    """
    try:
        return venue_time.clock_in_night(text, starts_at, ends_at, timezone)
    except InvalidInput as err:
        raise ValueError(str(err)) from None


def money(text: str) -> Decimal:
    """An amount like 50 or 50.00; empty means none."""
    text = text.strip()
    if not text:
        return Decimal(0)
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise ValueError("an amount like 50 or 50.00") from None
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int) or exponent < -2 or value < 0:
        raise ValueError("an amount like 50 or 50.00")
    return value


def table_numbers(text: str) -> list[int]:
    """One table number or several joined by +, commas or spaces ("15+16")."""
    parts = [p for p in re.split(r"[+,\s]+", text.strip()) if p]
    if not parts or not all(p.isdigit() for p in parts):
        raise ValueError("a table number, or 15+16" if text.strip() else "needed")
    return sorted({int(p) for p in parts})
