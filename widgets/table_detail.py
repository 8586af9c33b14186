"""The selected table in full: its bookings for the night and any hold on it.

Also the place for a line the floor needs to say plainly (a load failure, no
night to show), since it sits under the grid where staff already look.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from rich.console import Group, RenderableType
from rich.style import Style
from rich.table import Table as RichTable
from rich.text import Text
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from services.models import TableState
from services.wording import BOOKING_WORDS, countdown, local_time, table_guests, table_title, time_span
from widgets.display import plain, status_word


class TableDetail(Widget):
    """Shows `state` (a table on one night); `note` is a message that takes precedence."""

    DEFAULT_CSS = """
    TableDetail {
        height: 1fr;
        padding: 0 1;
        border-top: solid $foreground 40%;
        overflow: hidden;
        & > .table-detail--title { text-style: bold; }
        & > .table-detail--note { text-style: bold; color: $text-error; }
        & > .table-detail--inactive { color: $text-muted; }
        & > .table-detail--header { text-style: bold underline; }
    }
    """

    COMPONENT_CLASSES = {
        "table-detail--title",
        "table-detail--note",
        "table-detail--inactive",
        "table-detail--header",
    }

    state: reactive[TableState | None] = reactive(None)
    floor_name: reactive[str] = reactive("")
    timezone: reactive[str] = reactive("UTC")
    note: reactive[str] = reactive("")
    # Staff on other consoles who have this table selected or held.
    watchers: reactive[tuple[str, ...]] = reactive(())
    # The staff member at this console: their own hold reads "Held by you".
    me: reactive[int | None] = reactive(None)

    def __init__(
        self,
        *,
        clock: Callable[[], datetime],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._clock = clock
        self._ticker: Timer | None = None

    def watch_state(self, state: TableState | None) -> None:
        held = state is not None and state.hold is not None
        if held and self._ticker is None:
            self._ticker = self.set_interval(1, self.refresh)
        elif not held and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def render(self) -> RenderableType:
        parts: list[RenderableType] = []
        if self.note:
            parts.append(
                Text(plain(self.note, lines=True), style=self.get_component_rich_style("table-detail--note"))
            )
        state = self.state
        if state is None:
            if not self.note:
                parts.append(Text("Select a table with the arrow keys or Tab."))
            return Group(*parts)

        table = state.table
        title = table_title(table.number)
        if table.name and not table.name.endswith(str(table.number)):
            title += f" ({plain(table.name)})"
        # The status comes first after the name: on a narrow terminal the line is cut, not wrapped.
        facts = [
            title,
            status_word(state.status, wide=True),
            plain(self.floor_name),
            table_guests(table),
        ]
        if table.vip:
            facts.append("★ VIP")
        if table.min_spend:
            facts.append(f"min spend {table.min_spend:,.0f}")
        parts.append(
            Text(
                " · ".join(f for f in facts if f),
                no_wrap=True,
                overflow="ellipsis",
                style=self.get_component_rich_style("table-detail--title"),
            )
        )

        if state.hold is not None:
            hold = state.hold
            left = countdown(hold.expires_at, self._clock())
            until = local_time(hold.expires_at, self.timezone, seconds=True)
            if hold.staff_id is not None and hold.staff_id == self.me:
                parts.append(Text(f"◆ Held by you · {left} left (until {until})"))
            else:
                parts.append(Text(f"◆ Held by {plain(hold.holder)}: {left} left (until {until})"))

        if self.watchers:
            watchers = ", ".join(plain(who) for who in self.watchers)
            parts.append(Text(f"◉ Also on this table: {watchers}", no_wrap=True, overflow="ellipsis"))

        if not state.bookings:
            parts.append(Text("No bookings for this table tonight."))
            return Group(*parts)

        rows = RichTable(
            box=None,
            padding=(0, 1),
            pad_edge=False,
            header_style=self.get_component_rich_style("table-detail--header"),
        )
        rows.add_column("", width=1, no_wrap=True)
        rows.add_column("Ref", no_wrap=True)
        rows.add_column("Time", no_wrap=True)
        rows.add_column("Guest", no_wrap=True, overflow="ellipsis", max_width=30)
        rows.add_column("Party", justify="right", no_wrap=True)
        rows.add_column("In", justify="right", no_wrap=True)
        rows.add_column("Status", no_wrap=True)
        inactive = self.get_component_rich_style("table-detail--inactive")
        shown_id = state.booking.id if state.booking is not None else None
        for booking in state.bookings:
            guest = plain(booking.guest_name) + (" ★" if booking.guest_vip else "")
            # Text, not strings: a Rich table reads a string cell as markup.
            rows.add_row(
                # The booking the tile shows, when a table has several tonight.
                Text("▸" if booking.id == shown_id else ""),
                Text(plain(booking.ref)),
                Text(time_span(booking.starts_at, booking.ends_at, self.timezone)),
                Text(guest),
                Text(str(booking.party_size)),
                Text(str(booking.arrived_count)),
                Text(
                    BOOKING_WORDS[booking.status]
                    + (f" · deposit {booking.deposit_outcome}" if booking.deposit_outcome else "")
                ),
                style=None if booking.status.active else inactive or Style(dim=True),
            )
        parts.append(rows)
        return Group(*parts)
