"""The colours Python code paints with are theme variables: a theme's value wins, and a
variable the theme lacks (a widget under a plain App) reads as the console's own value."""

from __future__ import annotations

from rich.color import Color as RichColor
from rich.style import Style

from widgets.display import PAINT_COLOURS, STATUS_COLOURS, THEME_COLOURS, theme_style


def test_every_colour_is_declared_once() -> None:
    assert not set(PAINT_COLOURS) & set(STATUS_COLOURS)
    assert THEME_COLOURS == {**STATUS_COLOURS, **PAINT_COLOURS}


def test_a_missing_variable_reads_as_the_consoles_own() -> None:
    assert theme_style("bold $booking-pending", {}) == Style(bold=True, color=RichColor.parse("#ff8700"))
    # An ANSI colour stays the terminal's own, as a named Rich colour was.
    assert theme_style("$status-ok", {}).color == RichColor.from_ansi(2)


def test_the_themes_value_wins() -> None:
    assert theme_style("bold $status-problem", {"status-problem": "#123456"}) == Style(
        bold=True, color=RichColor.parse("#123456")
    )


def test_a_value_that_is_no_colour_reads_as_the_consoles_own() -> None:
    assert theme_style("$diff-added", {"diff-added": "not a colour"}).color == RichColor.from_ansi(2)


def test_a_style_without_a_variable_is_unchanged() -> None:
    assert theme_style("dim", {}) == Style(dim=True)
