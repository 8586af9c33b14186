"""The audit trail as a list: time (venue time), who, what changed, and on what.

The columns share the width so nothing runs off the screen; the "what" column
takes what the others leave, and a long "what" takes a second or third line
rather than being cut (Enter shows the entry in full). Page Down past the last row asks for older entries
(`AuditTable.NeedOlder`); the screen loads them and appends them.
"""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual.binding import Binding
from textual.coordinate import Coordinate
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import RowKey

from services.reports import AuditEntry, audit_words
from services.wording import local_moment
from widgets.display import plain

TIME_WIDTH = 12
WHO_WIDTH = 12
ENTITY_WIDTH = 14
LEAST_WHAT = 16
# On a wide terminal "who" and "entity" grow up to these; "what" takes the rest.
WHO_MOST = 24
ENTITY_MOST = 22


def entity_words(entry: AuditEntry) -> str:
    """'booking R00012', 'tables of R00012', 'hold, table 7', 'staff 3'."""
    if entry.entity == "booking":
        return f"booking {entry.ref}" if entry.ref else f"booking {entry.entity_id}"
    if entry.entity == "booking_table":
        return f"tables of {entry.ref}" if entry.ref else f"tables of {entry.entity_id}"
    if entry.entity == "hold" and entry.table_number is not None:
        # A hold's own number means nothing to staff; its table does.
        return f"hold, table {entry.table_number}"
    name = entry.entity.replace("_", " ")
    return name if entry.entity_id is None else f"{name} {entry.entity_id}"


def what_words(entry: AuditEntry) -> str:
    """What happened, in staff words ('wrong step-up code', 'the hold on table 7 lapsed')."""
    return audit_words(entry)


def when_words(entry: AuditEntry, timezone: str) -> str:
    return local_moment(entry.at, timezone, "%d %b %H:%M")


def _cell(text: str, width: int) -> Text:
    text = plain(text)
    if len(text) > width:
        text = text[: max(0, width - 1)] + "…"
    return Text(text, no_wrap=True, overflow="ellipsis")


def _wrapped(text: str, width: int, lines: int = 3) -> Text:
    """The "what" of an entry over as many lines as it needs, up to `lines`: what happened
    is the point of the list, so it is not cut to one line."""
    text = plain(text)
    most = max(1, width * lines)
    if len(text) > most:
        text = text[: most - 1] + "…"
    return Text(text, overflow="fold")


class AuditTable(DataTable[Text]):
    """Audit entries, newest first; keyed by the entry's id."""

    BINDINGS = [
        Binding(
            "enter", "select_cursor", "Details", id="audit.details", tooltip="Before and after of the entry"
        ),
        Binding(
            "pagedown", "older", "Older", id="audit.older", tooltip="Down a page; at the end, older ones"
        ),
        Binding("pageup", "newer", "Newer", id="audit.newer", tooltip="Page up"),
    ]

    DEFAULT_CSS = """
    AuditTable {
        height: 1fr;
    }
    """

    @dataclass
    class NeedOlder(Message):
        """The cursor reached the last loaded entry and Page Down asked for more;
        `advance`: the cursor was already there, so move it on into what arrives."""

        table: AuditTable
        advance: bool = False

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(cursor_type="row", name=name, id=id, classes=classes)
        self.entries: list[AuditEntry] = []
        self.timezone = "UTC"
        self._widths: tuple[int, int, int, int] | None = None

    def on_mount(self) -> None:
        self._layout_columns()

    def on_resize(self) -> None:
        if self._widths != self._column_widths():
            self._layout_columns()

    def _column_widths(self) -> tuple[int, int, int, int]:
        # Each column also takes two cells of padding; the scrollbar may take two more.
        room = max(self.size.width, 60) - 4 * 2 * self.cell_padding - 2
        spare = max(0, room - TIME_WIDTH - WHO_WIDTH - ENTITY_WIDTH - 60)
        who = WHO_WIDTH + min(spare // 2, WHO_MOST - WHO_WIDTH)
        entity = ENTITY_WIDTH + min(spare // 2, ENTITY_MOST - ENTITY_WIDTH)
        what = room - TIME_WIDTH - who - entity
        return TIME_WIDTH, who, max(LEAST_WHAT, what), entity

    def _layout_columns(self) -> None:
        widths = self._column_widths()
        self._widths = widths
        self.clear(columns=True)
        for (key, label), width in zip(
            (("time", "Time"), ("who", "Who"), ("what", "What"), ("entity", "Entity")), widths, strict=True
        ):
            self.add_column(label, key=key, width=width)
        self._add(self.entries)

    def _row(self, entry: AuditEntry) -> tuple[Text, ...]:
        assert self._widths is not None
        time_w, who_w, what_w, entity_w = self._widths
        return (
            _cell(when_words(entry, self.timezone), time_w),
            _cell(entry.who, who_w),
            _wrapped(what_words(entry), what_w),
            _cell(entity_words(entry), entity_w),
        )

    def _add(self, entries: list[AuditEntry]) -> None:
        if self._widths is None:
            return
        for entry in entries:
            # As tall as its "what" needs (most rows take one line).
            self.add_row(*self._row(entry), key=str(entry.id), height=None)

    def show(self, entries: list[AuditEntry], timezone: str) -> None:
        """Replace the list (a new filter, or a reload)."""
        self.timezone = timezone
        self.entries = list(entries)
        with self.app.batch_update():
            self.clear()
            self._add(self.entries)
            if self.entries:
                self.move_cursor(row=0)

    def append(self, entries: list[AuditEntry], *, advance: bool = False) -> None:
        """Older entries, after those shown; `advance` moves the cursor a page on into them."""
        known = {e.id for e in self.entries}
        fresh = [e for e in entries if e.id not in known]
        self.entries.extend(fresh)
        self._add(fresh)
        if advance and fresh:
            self.move_cursor(row=min(self.row_count - 1, self.cursor_row + self.page_rows()))

    @property
    def selected(self) -> AuditEntry | None:
        if not self.entries or self.row_count == 0:
            return None
        row = min(max(self.cursor_row, 0), self.row_count - 1)
        key = self.coordinate_to_cell_key(Coordinate(row, 0)).row_key
        return self.entry(key)

    def entry(self, key: RowKey) -> AuditEntry | None:
        return next((e for e in self.entries if str(e.id) == key.value), None)

    def page_rows(self) -> int:
        return max(1, self.scrollable_content_region.height - 1)

    def action_older(self) -> None:
        if self.row_count == 0:
            return
        at_end = self.cursor_row >= self.row_count - 1
        self.move_cursor(row=min(self.row_count - 1, self.cursor_row + self.page_rows()))
        if at_end or self.cursor_row >= self.row_count - 1:
            self.post_message(self.NeedOlder(self, advance=at_end))

    def action_newer(self) -> None:
        if self.row_count:
            self.move_cursor(row=max(0, self.cursor_row - self.page_rows()))
