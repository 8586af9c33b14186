"""Who is online: one row per console, with the staff member, their role, the
screen they are on, the night and table they have selected or hold, and
since when. Rows are kept by console, so an update redraws only what moved.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import DataTable, Static
from textual.widgets.data_table import ColumnKey, RowKey

from services.live.presence import PresenceEntry
from widgets.display import literal, local_time, plain

COLUMNS: tuple[tuple[str, str], ...] = (
    ("who", "Who"),
    ("role", "Role"),
    ("screen", "Screen"),
    ("night", "Night"),
    ("table", "Table"),
    ("since", "Since"),
)
NAME_WIDTH = 22


@dataclass(frozen=True, slots=True)
class PresenceNames:
    """How to name what an entry refers to by id."""

    timezone: str = "UTC"
    tables: Mapping[int, int] = field(default_factory=dict)
    nights: Mapping[int, date] = field(default_factory=dict)
    this_console: str | None = None

    def table(self, table_id: int) -> str:
        number = self.tables.get(table_id)
        return str(number) if number is not None else f"#{table_id}"

    def night(self, night_id: int | None) -> str:
        if night_id is None:
            return "-"
        day = self.nights.get(night_id)
        return f"{day:%a %d %b}" if day is not None else f"night #{night_id}"


def table_words(entry: PresenceEntry, names: PresenceNames) -> str:
    """'5', '5 held', '5, holds 7' or '-'."""
    selected, held = entry.selected_table, entry.held_table
    if held is not None and (selected is None or selected == held):
        return f"{names.table(held)} held"
    if selected is not None and held is not None:
        return f"{names.table(selected)}, holds {names.table(held)}"
    if selected is not None:
        return names.table(selected)
    return "-"


def row_of(entry: PresenceEntry, names: PresenceNames) -> tuple[str, ...]:
    who = plain(entry.staff_name) or "(nobody signed in)"
    if entry.console_id == names.this_console:
        who = f"{who} (here)"
    if len(who) > NAME_WIDTH:
        who = who[: NAME_WIDTH - 1] + "…"
    return (
        who,
        plain(entry.role or "-"),
        plain(entry.screen or "-"),
        names.night(entry.night_id),
        table_words(entry, names),
        local_time(entry.since, names.timezone),
    )


def _cell(text: str) -> Text:
    # Text, not a string: a table reads a string cell as markup.
    return Text(text, no_wrap=True, end="")


def roster_order(entries: Iterable[PresenceEntry]) -> list[PresenceEntry]:
    return sorted(entries, key=lambda e: (e.staff_name.lower(), e.since, e.console_id))


class PresenceList(Vertical):
    """A title that counts the consoles online and a table of them."""

    DEFAULT_CSS = """
    PresenceList {
        height: auto;
        padding: 0 1;
        & > #presence-title { text-style: bold underline; height: 1; }
        & > DataTable { height: auto; }
    }
    """

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._rows: dict[str, tuple[str, ...]] = {}
        self._order: list[str] = []
        self.entries: tuple[PresenceEntry, ...] = ()
        self.names = PresenceNames()
        self.known = False

    def compose(self) -> ComposeResult:
        yield Static("Online: waiting for presence…", id="presence-title")
        # Read only, and as tall as its rows: the screen around it scrolls, not the table.
        table: DataTable[str | Text] = DataTable(cursor_type="none", zebra_stripes=False, id="presence-table")
        table.can_focus = False
        for key, label in COLUMNS:
            table.add_column(label, key=key)
        yield table

    @property
    def table(self) -> DataTable[str | Text]:
        return self.query_one("#presence-table", DataTable)

    def show_unavailable(self, why: str) -> None:
        self.known = False
        self.query_one("#presence-title", Static).update(literal(f"Online: {why}"))

    def show(self, entries: Iterable[PresenceEntry], names: PresenceNames | None = None) -> None:
        """Show `entries`; rows that did not change are left alone."""
        self.entries = tuple(roster_order(entries))
        if names is not None:
            self.names = names
        self.known = True
        count = len(self.entries)
        self.query_one("#presence-title", Static).update(
            f"Online: {count} console{'' if count == 1 else 's'}"
        )
        wanted = {e.console_id: row_of(e, self.names) for e in self.entries}
        order = list(wanted)
        table = self.table
        with self.app.batch_update():
            if order != self._order:
                # Someone came or went: a short list, so lay it out again in the roster's order.
                table.clear()
                for key, row in wanted.items():
                    table.add_row(*(_cell(cell) for cell in row), key=key)
            else:
                for key, row in wanted.items():
                    old = self._rows.get(key)
                    if old is None or old == row:
                        continue
                    for (column, _), before, after in zip(COLUMNS, old, row, strict=True):
                        if before != after:
                            table.update_cell(RowKey(key), ColumnKey(column), _cell(after), update_width=True)
        self._rows = wanted
        self._order = order

    def rows_text(self) -> list[tuple[str, ...]]:
        """The rows as shown, in order."""
        return [self._rows[e.console_id] for e in self.entries]
