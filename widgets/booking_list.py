"""Tonight's bookings as rows for the door: time, guest, party in/expected, table, status, ref.

The list never takes focus (the door's search box keeps it); the screen moves
the selection with `select_next`/`select_previous`. The selected row carries a
▶ and every status a symbol and a word, so the list reads the same without
colour. Rows are keyed by booking id: a new list that only changes some rows
updates those cells, and the selection stays on the same booking when it can.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.theme import Theme
from textual.widgets import DataTable
from textual.widgets.data_table import CellDoesNotExist, ColumnKey, RowDoesNotExist

from services.models import Booking, BookingStatus
from services.wording import local_time, party_in, table_numbers
from widgets.display import plain, theme_style, theme_variables

# (symbol, word, style) per status; a party partly in has its own. A `$` colour is a theme
# variable (widgets.display.PAINT_COLOURS), read when the row is drawn.
_STATUS: dict[BookingStatus, tuple[str, str, str]] = {
    BookingStatus.PENDING: ("◐", "PENDING", "bold $booking-pending"),
    BookingStatus.CONFIRMED: ("✓", "CONFIRMED", "bold $booking-confirmed"),
    BookingStatus.ARRIVED: ("●", "ARRIVED", "bold $booking-arrived"),
    BookingStatus.COMPLETED: ("○", "COMPLETED", "dim"),
    BookingStatus.CANCELLED: ("✕", "CANCELLED", "dim"),
    BookingStatus.NO_SHOW: ("✕", "NO-SHOW", "dim"),
    BookingStatus.EXPIRED: ("✕", "EXPIRED", "dim"),
}
_PARTLY_IN = ("◑", "PARTLY IN", "bold $booking-partly-in")

VIP_MARK = "★"
SELECTED_MARK = "▶"

# Width of each column but the guest's, which takes what is left.
_FIXED = {"sel": 1, "time": 5, "party": 5, "tables": 5, "status": 11, "ref": 6}
_LABELS = {
    "sel": "",
    "time": "Time",
    "guest": "Guest",
    "party": "In",
    "tables": "Table",
    "status": "Status",
    "ref": "Ref",
}
_ORDER = ("sel", "time", "guest", "party", "tables", "status", "ref")
_PADDING = 1
# The guest's column grows with the terminal up to a name's usual length, then stops.
_LEAST_GUEST = 8
_MOST_GUEST = 36


_LATE = ("!", "LATE", "bold $booking-late")


def status_label(booking: Booking, now: datetime | None = None) -> tuple[str, str, str]:
    """The symbol, word and style of a booking's status at the door: a confirmed party still
    to come after its time (at `now`) is late (a no-show once the venue's grace is over)."""
    if booking.status is BookingStatus.ARRIVED and booking.arrived_count < booking.party_size:
        return _PARTLY_IN
    if now is not None and booking.status is BookingStatus.CONFIRMED and now > booking.starts_at:
        return _LATE
    return _STATUS[booking.status]


@dataclass(frozen=True, slots=True)
class _Row:
    time: str
    guest: str
    vip: bool
    party: str
    tables: str
    status: tuple[str, str, str]
    ref: str


class BookingList(DataTable[Text | str], can_focus=False):
    """Bookings, one per row, in the order given; `selected` is the booking under the ▶."""

    DEFAULT_CSS = """
    BookingList {
        height: 1fr;
        max-height: 100%;
        scrollbar-size-vertical: 1;
        /* The ▶ marks the selected row; the highlight is a help for those with colour. */
        & > .datatable--cursor { text-style: bold; }
        /* Not kept current by the feed: dimmed (the screen says so in words too). */
        &.-stale { text-opacity: 60%; }
    }
    """

    stale: reactive[bool] = reactive(False)

    @dataclass
    class SelectionChanged(Message):
        """The ▶ moved to another booking (or the list became empty: None)."""

        booking: Booking | None

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(
            cursor_type="row", zebra_stripes=True, cell_padding=_PADDING, name=name, id=id, classes=classes
        )
        self._bookings: dict[int, Booking] = {}
        self._order: list[int] = []
        self._rows: dict[int, _Row] = {}
        self._numbers: Mapping[int, int] = {}
        self._timezone = "UTC"
        self._now: datetime | None = None
        self._guest_width = 20
        self._marked: int | None = None

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "-stale")

    def on_mount(self) -> None:
        self._guest_width = self._fit_guest()
        for key in _ORDER:
            width = self._guest_width if key == "guest" else _FIXED[key]
            self.add_column(_LABELS[key], width=width, key=key)
        self.app.theme_changed_signal.subscribe(self, self._theme_changed)

    def _theme_changed(self, _theme: Theme) -> None:
        """Repaint the statuses in the new theme's colours."""
        for key, row in self._rows.items():
            self._update(key, row, only=("status",))

    # What is shown -------------------------------------------------------------

    @property
    def bookings(self) -> list[Booking]:
        return [self._bookings[key] for key in self._order]

    @property
    def selected(self) -> Booking | None:
        if not self._order:
            return None
        row = min(max(self.cursor_row, 0), len(self._order) - 1)
        return self._bookings[self._order[row]]

    def show(
        self,
        bookings: Sequence[Booking],
        *,
        numbers: Mapping[int, int],
        timezone: str,
        keep_selection: bool = True,
        now: datetime | None = None,
    ) -> None:
        """Show `bookings` in this order. With `keep_selection` the ▶ stays on the booking
        it was on, if that is still listed; otherwise it goes to the first row. With `now`,
        a party still to come after its time shows as late."""
        before = self.selected.id if keep_selection and self.selected is not None else None
        self._numbers, self._timezone, self._now = numbers, timezone, now
        order = [b.id for b in bookings]
        rows = {b.id: self._row(b) for b in bookings}
        self._bookings = {b.id: b for b in bookings}
        with self.app.batch_update():
            if order == self._order:
                # The same bookings in the same order: change only the cells that changed.
                for key in order:
                    if rows[key] != self._rows.get(key):
                        self._update(key, rows[key])
            else:
                self.clear()
                self._marked = None
                for key in order:
                    self.add_row(*self._cells(rows[key]), key=str(key))
            self._order, self._rows = order, rows
            target = order.index(before) if before in order else 0
            self.move_cursor(row=target, animate=False, scroll=True)
            self._mark()
        self.post_message(self.SelectionChanged(self.selected))

    def select_next(self) -> None:
        self._select(self.cursor_row + 1)

    def select_previous(self) -> None:
        self._select(self.cursor_row - 1)

    def _select(self, row: int) -> None:
        if not self._order:
            return
        row = min(max(row, 0), len(self._order) - 1)
        self.move_cursor(row=row, animate=False, scroll=True)
        self._mark()
        self.post_message(self.SelectionChanged(self.selected))

    # Drawing ---------------------------------------------------------------------

    def on_resize(self) -> None:
        width = self._fit_guest()
        if width != self._guest_width and ColumnKey("guest") in self.columns:
            self._guest_width = width
            self.columns[ColumnKey("guest")].width = width
            for key, row in self._rows.items():
                self._update(key, row, only=("guest",))
            self.refresh(layout=True)

    def _fit_guest(self) -> int:
        fixed = sum(_FIXED.values()) + 2 * _PADDING * len(_ORDER)
        # One column for the scrollbar, when the rows outgrow the height.
        return min(_MOST_GUEST, max(_LEAST_GUEST, self.size.width - fixed - 1))

    def _row(self, booking: Booking) -> _Row:
        return _Row(
            time=local_time(booking.starts_at, self._timezone),
            guest=plain(booking.guest_name),
            vip=booking.guest_vip,
            party=party_in(booking),
            tables=table_numbers(booking.table_ids, self._numbers),
            status=status_label(booking, self._now),
            ref=booking.ref,
        )

    def _guest_cell(self, row: _Row) -> Text:
        text = Text(overflow="ellipsis", no_wrap=True)
        if row.vip:
            text.append(f"{VIP_MARK} ", style="bold")
        text.append(row.guest)
        text.truncate(self._guest_width, overflow="ellipsis")
        return text

    def _cells(self, row: _Row) -> tuple[Text | str, ...]:
        symbol, word, style = row.status
        return (
            "",
            row.time,
            self._guest_cell(row),
            row.party,
            row.tables,
            Text(f"{symbol} {word}", style=theme_style(style, theme_variables(self))),
            row.ref,
        )

    def _update(self, key: int, row: _Row, *, only: tuple[str, ...] = _ORDER) -> None:
        cells = dict(zip(_ORDER, self._cells(row), strict=True))
        for column in only:
            if column == "sel":
                continue
            try:
                self.update_cell(str(key), column, cells[column])
            except (CellDoesNotExist, RowDoesNotExist):
                pass

    def _mark(self) -> None:
        """Move the ▶ to the selected row."""
        selected = self.selected
        target = selected.id if selected is not None else None
        if target == self._marked:
            return
        for key, mark in ((self._marked, ""), (target, SELECTED_MARK)):
            if key is None or key not in self._bookings:
                continue
            try:
                self.update_cell(str(key), "sel", mark)
            except (CellDoesNotExist, RowDoesNotExist):
                pass
        self._marked = target
