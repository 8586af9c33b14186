"""How statuses, times and countdowns read on screen, shared by the floor widgets, and how
text that staff or guests typed is shown: as itself.

Every status has a word and a symbol as well as a colour, so the floor reads
the same on a monochrome terminal or with NO_COLOR set.

A name, a note, a reason or a message that quotes them is data, never markup:
`[b]` shows as `[b]`. A control character in it (an ANSI escape, a bell, a
backspace) must not reach the terminal, so `plain` replaces each with `�`;
`literal` is that text as Textual `Content`, for a `Static`, a border title
or an option.
"""

from __future__ import annotations

from datetime import datetime
from functools import lru_cache
from zoneinfo import ZoneInfo

from textual.content import Content

from services.models import BookingStatus, Table, TileStatus
from services.text import REPLACEMENT as REPLACEMENT
from services.text import plain as plain

# (short word for a narrow tile, symbol, long word)
TILE_LABELS: dict[TileStatus, tuple[str, str, str]] = {
    TileStatus.FREE: ("FREE", "○", "FREE"),
    TileStatus.HELD: ("HELD", "◆", "HELD"),
    TileStatus.PENDING: ("PEND", "◐", "PENDING"),
    TileStatus.CONFIRMED: ("CONF", "✓", "CONFIRMED"),
    TileStatus.ARRIVED: ("IN", "●", "ARRIVED"),
}

BOOKING_WORDS: dict[BookingStatus, str] = {
    BookingStatus.PENDING: "pending",
    BookingStatus.CONFIRMED: "confirmed",
    BookingStatus.ARRIVED: "arrived",
    BookingStatus.COMPLETED: "completed",
    BookingStatus.CANCELLED: "cancelled",
    BookingStatus.NO_SHOW: "no-show",
    BookingStatus.EXPIRED: "expired",
}


def literal(text: str) -> Content:
    """`text` to show exactly as it reads: never parsed as markup, control characters
    replaced, line breaks kept."""
    return Content(plain(text, lines=True))


def status_word(status: TileStatus, *, wide: bool) -> str:
    short, symbol, long = TILE_LABELS[status]
    return f"{symbol} {long}" if wide else short


@lru_cache(maxsize=8)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_time(moment: datetime, timezone: str, *, seconds: bool = False) -> str:
    """HH:MM in the venue's timezone, whatever the zone of the stored value."""
    return moment.astimezone(_zone(timezone)).strftime("%H:%M:%S" if seconds else "%H:%M")


def seconds_left(expires_at: datetime, now: datetime) -> int:
    return max(0, int((expires_at - now).total_seconds()))


def countdown(expires_at: datetime, now: datetime) -> str:
    """m:ss until a hold lapses; holds are seconds to minutes long, so an hour or more is odd."""
    left = seconds_left(expires_at, now)
    if left >= 3600:
        return "≥1h"
    minutes, seconds = divmod(left, 60)
    return f"{minutes}:{seconds:02d}"


def capacity(table: Table) -> str:
    if table.min_party == table.max_party:
        return str(table.max_party)
    return f"{table.min_party}-{table.max_party}"
