"""The nights calendar as a list: one row per night, each floor's occupancy and the covers expected.

A floor's occupancy reads three ways at once: a colour (green free, amber
partly booked, red full), a symbol and a word, and the count of tables sold,
so the list reads the same on a monochrome terminal or with NO_COLOR set.

The list only draws; the screen that holds it owns the keys (the list has no
bindings of its own) and says which night to select. A reload with the same
nights updates only the cells that changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import ClassVar

from rich.style import Style
from rich.text import Text
from textual.binding import BindingType
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowKey

from services.reports import FloorOccupancy, NightOccupancy
from widgets.display import plain

# level -> (symbol, word): the word is what the level means without its colour.
LEVELS: dict[str, tuple[str, str]] = {
    "free": ("○", "free"),
    "partly": ("◐", "partly"),
    "full": ("●", "full"),
}
LEVEL_WIDTH = max(len(word) for _symbol, word in LEVELS.values())


def level_words(floor: FloorOccupancy) -> str:
    """'◐ partly 5/8': symbol, word and tables sold out of all."""
    symbol, word = LEVELS[floor.level]
    return f"{symbol} {word.ljust(LEVEL_WIDTH)} {floor.booked}/{floor.tables}"


def when_words(night: date, today: date) -> str:
    """How far the night is from today, in the words staff use."""
    days = (night - today).days
    if days == 0:
        return "tonight"
    if days == 1:
        return "tomorrow"
    if days == -1:
        return "last night"
    return "past" if days < 0 else ""


class NightList(DataTable[Text], inherit_bindings=False):
    """One row per night, its key the night's id; `show` fills or updates it."""

    DEFAULT_CSS = """
    NightList {
        height: 1fr;
        & > .night-list--free { color: $text-success; }
        & > .night-list--partly { color: $text-warning; }
        & > .night-list--full { color: $text-error; text-style: bold; }
        & > .night-list--past { color: $text-muted; }
        & > .night-list--tonight { text-style: bold; }
    }
    """

    COMPONENT_CLASSES = {
        "night-list--free",
        "night-list--partly",
        "night-list--full",
        "night-list--past",
        "night-list--tonight",
    }

    # No keys of its own (inherit_bindings=False above): the screen holding the list owns
    # them all (ids "nights.*"), so help and the footer show one set of words.
    BINDINGS: ClassVar[list[BindingType]] = []

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=False, name=name, id=id, classes=classes)
        self._floors: tuple[str, ...] = ()
        self._cells: dict[int, tuple[Text, ...]] = {}
        self._order: list[int] = []
        self.nights: list[NightOccupancy] = []

    @property
    def selected(self) -> NightOccupancy | None:
        """The night under the cursor."""
        if not self.nights or not self.is_valid_row_index(self.cursor_row):
            return None
        return self.nights[self.cursor_row]

    def select(self, night_id: int) -> None:
        if night_id in self._order:
            self.move_cursor(row=self._order.index(night_id))

    def select_date(self, target: date, *, forward: bool = True) -> None:
        """Select the first night on or after `target` (forward) or the last on or before it."""
        if not self.nights:
            return
        if forward:
            index = next((i for i, n in enumerate(self.nights) if n.date >= target), len(self.nights) - 1)
        else:
            index = next((i for i in range(len(self.nights) - 1, -1, -1) if self.nights[i].date <= target), 0)
        self.move_cursor(row=index)

    def show(self, nights: Sequence[NightOccupancy], today: date) -> None:
        """Show these nights; the same night stays selected if it is still in the list."""
        keep = self.selected.night_id if self.selected is not None else None
        floors = tuple(f.floor for f in nights[0].floors) if nights else self._floors
        cells = {n.night_id: self._row(n, today) for n in nights}
        order = [n.night_id for n in nights]
        self.nights = list(nights)
        if floors != self._floors or not self.columns:
            self._floors = floors
            self.clear(columns=True)
            self.add_column("Day", key="day")
            self.add_column("Date", key="date")
            for index, floor in enumerate(floors):
                self.add_column(Text(plain(floor)), key=f"floor-{index}")
            self.add_column("Covers", key="covers")
            self.add_column("", key="when")
            self._order = []
        if order == self._order:
            keys = list(self.columns)
            with self.app.batch_update():
                for night_id, row in cells.items():
                    before = self._cells.get(night_id, row)
                    for column, (old, new) in enumerate(zip(before, row, strict=True)):
                        # Text equality ignores the style; a night turning past changes only that.
                        if old.plain != new.plain or old.style != new.style:
                            self.update_cell(RowKey(str(night_id)), ColumnKey(keys[column].value or ""), new)
        else:
            self.clear()
            for night_id, row in cells.items():
                self.add_row(*row, key=str(night_id))
            self._order = order
            if keep is not None and keep in order:
                self.select(keep)
        self._cells = cells

    def _row(self, night: NightOccupancy, today: date) -> tuple[Text, ...]:
        past = night.date < today
        base = self._style("night-list--past") if past else Style()
        if night.date == today:
            base += self._style("night-list--tonight")
        covers = sum(f.covers for f in night.floors)
        levels = tuple(
            Text(level_words(f), style=base + self._style(f"night-list--{f.level}")) for f in night.floors
        )
        return (
            Text(f"{night.date:%a}", style=base),
            Text(f"{night.date:%d %b %Y}", style=base),
            *levels,
            Text(str(covers), style=base, justify="right"),
            Text(when_words(night.date, today), style=base),
        )

    def _style(self, component: str) -> Style:
        return self.get_component_rich_style(component, partial=True)
