"""How statuses read on screen, shared by the floor widgets, and how text that staff or
guests typed is shown: as itself. Times, countdowns and table numbers are worded in
`services.wording`; the names kept here are that module's.

Every status has a word and a symbol as well as a colour, so the floor reads
the same on a monochrome terminal or with NO_COLOR set.

A name, a note, a reason or a message that quotes them is data, never markup:
`[b]` shows as `[b]`. A control character in it (an ANSI escape, a bell, a
backspace) must not reach the terminal, so `plain` replaces each with `�`;
`literal` is that text as Textual `Content`, for a `Static`, a border title
or an option.
"""

from __future__ import annotations

from textual.content import Content

from services.models import TileStatus
from services.text import REPLACEMENT as REPLACEMENT
from services.text import plain as plain
from services.wording import BOOKING_WORDS as BOOKING_WORDS
from services.wording import capacity as capacity
from services.wording import countdown as countdown
from services.wording import local_time as local_time
from services.wording import seconds_left as seconds_left

# (short word for a narrow tile, symbol, long word)
TILE_LABELS: dict[TileStatus, tuple[str, str, str]] = {
    TileStatus.FREE: ("FREE", "○", "FREE"),
    TileStatus.HELD: ("HELD", "◆", "HELD"),
    TileStatus.PENDING: ("PEND", "◐", "PENDING"),
    TileStatus.CONFIRMED: ("CONF", "✓", "CONFIRMED"),
    TileStatus.ARRIVED: ("IN", "●", "ARRIVED"),
}


# The colour of each tile status, as the theme variables `$status-free` and so on: the
# console declares them (`BackroomApp.get_theme_variable_defaults`), so a theme may
# change them in one place, and NO_COLOR takes them away with every other colour.
STATUS_COLOURS: dict[str, str] = {
    "status-free": "mediumseagreen",
    "status-held": "mediumorchid",
    "status-pending": "orange",
    "status-confirmed": "dodgerblue",
    "status-arrived": "indianred",
}


def literal(text: str) -> Content:
    """`text` to show exactly as it reads: never parsed as markup, control characters
    replaced, line breaks kept."""
    return Content(plain(text, lines=True))


def status_word(status: TileStatus, *, wide: bool) -> str:
    short, symbol, long = TILE_LABELS[status]
    return f"{symbol} {long}" if wide else short
