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

from collections.abc import Mapping
from functools import lru_cache

from rich.color import Color as RichColor
from rich.style import Style
from textual.color import Color, ColorParseError
from textual.content import Content
from textual.dom import DOMNode
from textual.types import NoActiveAppError

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

# The colours that Python code paints with rather than CSS, theme variables as well (the
# console declares them beside STATUS_COLOURS): a booking's status in the door's list, the
# server's health, and the two sides of a change in an audit entry. An `ansi_` colour is the
# terminal's own, so it follows the terminal's palette as a named Rich colour would.
PAINT_COLOURS: dict[str, str] = {
    "booking-pending": "#ff8700",
    "booking-confirmed": "#0087ff",
    "booking-arrived": "ansi_green",
    "booking-partly-in": "ansi_yellow",
    "booking-late": "ansi_red",
    "status-ok": "ansi_green",
    "status-problem": "ansi_red",
    "diff-removed": "ansi_red",
    "diff-added": "ansi_green",
}

# Every colour the console adds to the theme's variables.
THEME_COLOURS: dict[str, str] = {**STATUS_COLOURS, **PAINT_COLOURS}


def literal(text: str) -> Content:
    """`text` to show exactly as it reads: never parsed as markup, control characters
    replaced, line breaks kept."""
    return Content(plain(text, lines=True))


def theme_variables(node: DOMNode) -> Mapping[str, str]:
    """The theme variables of `node`'s app as they are now; none outside an app."""
    try:
        return node.app.theme_variables
    except NoActiveAppError:
        return {}


@lru_cache(maxsize=256)
def _rich_colour(value: str) -> RichColor | None:
    try:
        return Color.parse(value.strip()).rich_color
    except ColorParseError:
        return None


def theme_style(style: str, variables: Mapping[str, str]) -> Style:
    """`style`, a Rich style whose colour may be a theme variable (`"bold $status-ok"`),
    with that colour read from `variables` (the app's `theme_variables`). A variable the
    theme lacks, or a value that is not a colour, reads as the console's own value."""
    words = style.split()
    colours = [word for word in words if word.startswith("$")]
    result = Style.parse(" ".join(word for word in words if not word.startswith("$")))
    for word in colours:
        name = word[1:]
        colour = _rich_colour(variables.get(name, "")) or _rich_colour(THEME_COLOURS[name])
        result += Style(color=colour)
    return result


def status_word(status: TileStatus, *, wide: bool) -> str:
    short, symbol, long = TILE_LABELS[status]
    return f"{symbol} {long}" if wide else short
