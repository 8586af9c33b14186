"""One table on the floor plan: number, capacity, status, guest, time or hold countdown.

A table with a party in shows that party, whatever its booked time: one that came
early says since when it is in, and any other party still in there is named too.

The tile is given a `TableState` and draws it to fit its size: about 10x6 cells
on an 80x24 terminal, larger on a bigger one. The status is a colour, a word
and (when there is room) a symbol, so it reads without colour too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from rich.style import Style
from rich.text import Text
from textual.message import Message
from textual.reactive import reactive
from textual.timer import Timer
from textual.widget import Widget

from services.models import TableState, TileStatus
from services.wording import capacity, countdown, early_arrival, local_time, party_in, time_span
from widgets.display import TILE_LABELS, plain

# Below this inner width the tile uses four-letter words and drops the table name.
WIDE_AT = 14


class TableTile(Widget, can_focus=True):
    """A table's tile; focusing it selects the table."""

    DEFAULT_CSS = """
    TableTile {
        width: 1fr;
        height: 1fr;
        padding: 0;
        border: round $foreground 40%;
        color: $foreground;
        /* The status colours are theme variables (widgets.display.STATUS_COLOURS). */
        &.-status-free { border: round $status-free; background: $status-free 10%; }
        &.-status-held { border: round $status-held; background: $status-held 18%; }
        &.-status-pending { border: round $status-pending; background: $status-pending 12%; }
        &.-status-confirmed { border: round $status-confirmed; background: $status-confirmed 15%; }
        &.-status-arrived { border: round $status-arrived; background: $status-arrived 22%; }
        &.-status-free > .table-tile--status { color: $status-free; }
        &.-status-held > .table-tile--status { color: $status-held; }
        &.-status-pending > .table-tile--status { color: $status-pending; }
        &.-status-confirmed > .table-tile--status { color: $status-confirmed; }
        &.-status-arrived > .table-tile--status { color: $status-arrived; }
        &:focus {
            border: double $foreground;
            background-tint: $foreground 8%;
        }
        &:focus > .table-tile--number { text-style: bold reverse; }
    }
    """

    COMPONENT_CLASSES = {"table-tile--number", "table-tile--status", "table-tile--dim"}

    state: reactive[TableState | None] = reactive(None)

    @dataclass
    class Selected(Message):
        """The user moved to this table (focus, click or arrow keys)."""

        table_id: int

    @dataclass
    class HoldLapsed(Message):
        """The hold shown here has run out by the clock: the floor should reload."""

        table_id: int

    def __init__(
        self,
        state: TableState,
        *,
        timezone: str,
        clock: Callable[[], datetime],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.table_id = state.table.id
        self.timezone = timezone
        self._clock = clock
        self._ticker: Timer | None = None
        # The staff member at this console: their own hold reads "by you".
        self.me: int | None = None
        self.set_reactive(TableTile.state, state)

    def on_mount(self) -> None:
        self._follow(self.state)

    def watch_state(self, state: TableState | None) -> None:
        self._follow(state)

    def on_focus(self) -> None:
        self.post_message(self.Selected(self.table_id))

    def _follow(self, state: TableState | None) -> None:
        status = state.status if state is not None else None
        for each in TileStatus:
            self.set_class(each is status, f"-status-{each.value}")
        held = state is not None and state.hold is not None
        # The countdown is the only thing that changes without new data: tick only while held.
        if held and self._ticker is None:
            self._ticker = self.set_interval(1, self._tick)
        elif not held and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def _tick(self) -> None:
        state = self.state
        if state is None or state.hold is None:
            return
        self.refresh()
        if state.hold.expires_at <= self._clock():
            # Nothing is committed when a hold runs out, so no change will announce it.
            self.post_message(self.HoldLapsed(self.table_id))

    def render(self) -> Text:
        state = self.state
        width, height = self.content_region.size
        if state is None or width <= 0:
            return Text("")
        wide = width >= WIDE_AT
        number_style = self.get_component_rich_style("table-tile--number")
        status_style = self.get_component_rich_style("table-tile--status") + Style(bold=True)
        dim = self.get_component_rich_style("table-tile--dim")
        table = state.table
        booking = state.booking

        # The number, the VIP star and the table's name, tighter before the name is cut.
        named = wide and bool(table.name) and not table.name.endswith(str(table.number))
        titles = []
        for star in ([" ★", "★"] if wide else ["★"]) if table.vip else [""]:
            title = Text(str(table.number), style=number_style)
            title.append(star)
            if named:
                title.append(f" {plain(table.name)}")
            titles.append(title)
        seats = Text(capacity(table), style=dim)
        lines = [_first_fit([(title, seats) for title in titles], width)]

        short, symbol, long = TILE_LABELS[state.status]
        words = [f"{symbol} {long}", f"{symbol} {short}", short] if wide else [short]
        held = state.hold if state.status is TileStatus.HELD else None
        if held is not None:
            parties = [countdown(held.expires_at, self._clock())] if wide else [""]
        elif booking is None:
            parties = [""]
        elif state.status is TileStatus.ARRIVED:
            parties = [
                f"{party_in(booking)} in",
                party_in(booking),
            ]
        else:
            parties = [f"{booking.party_size} ppl", f"{booking.party_size}p"]
        lines.append(
            _first_fit(
                [(Text(word, style=status_style), Text(party)) for word in words for party in parties],
                width,
            )
        )

        if held is not None:
            mine = held.staff_id is not None and held.staff_id == self.me
            holder = "you" if mine else plain(held.holder)
            if wide:
                lines.append(_fit(Text(f"by {holder}"), width))
                lines.append(
                    _fit(
                        Text(f"until {local_time(held.expires_at, self.timezone, seconds=True)}", style=dim),
                        width,
                    )
                )
            else:
                lines.append(_fit(Text("by you" if mine else holder), width))
                lines.append(
                    _fit(Text(countdown(held.expires_at, self._clock()), style=Style(bold=True)), width)
                )
        elif booking is not None:
            guest = Text(plain(booking.guest_name))
            if booking.guest_vip and wide:
                guest.append(" ★")
            lines.append(_fit(guest, width))
            lines.append(_fit(Text(self._when(state, wide), style=dim), width))
        else:
            lines.append(Text(""))
            lines.append(Text(""))

        if wide and height > len(lines):
            also_in = [b for b in state.seated if booking is None or b.id != booking.id]
            later = [
                b
                for b in state.bookings
                if b.status.active
                and booking is not None
                and b.starts_at > booking.starts_at
                and b not in also_in
            ]
            if also_in:
                # Another party still in here too (one stays past its booked end).
                other = also_in[0]
                more = f" +{len(also_in) - 1}" if len(also_in) > 1 else ""
                lines.append(
                    _fit(
                        Text(
                            f"also {party_in(other)} {plain(other.guest_name)}{more}",
                            style=dim,
                        ),
                        width,
                    )
                )
            elif later:
                lines.append(
                    _fit(
                        Text(
                            f"then {local_time(later[0].starts_at, self.timezone)} "
                            f"{plain(later[0].guest_name)}",
                            style=dim,
                        ),
                        width,
                    )
                )
            elif table.min_spend and booking is None:
                lines.append(_fit(Text(f"min spend {table.min_spend:,.0f}", style=dim), width))
        if height >= 6:
            # Room to spare: a gap under the number makes the status easier to find.
            lines.insert(1, Text(""))
        return Text("\n").join(lines[: max(1, height)])

    def _when(self, state: TableState, wide: bool) -> str:
        """The booking's time; for a party that came early, since when it is in."""
        booking = state.booking
        assert booking is not None
        early = (
            state.status is TileStatus.ARRIVED
            and booking.arrived_at is not None
            and booking.arrived_at < booking.starts_at
        )
        if early:
            assert booking.arrived_at is not None
            if wide:
                return early_arrival(booking.arrived_at, booking.starts_at, self.timezone)
            return f"in {local_time(booking.arrived_at, self.timezone)}"
        if wide:
            return time_span(booking.starts_at, booking.ends_at, self.timezone)
        return local_time(booking.starts_at, self.timezone)


def _fit(text: Text, width: int) -> Text:
    text.truncate(width, overflow="ellipsis")
    return text


def _first_fit(candidates: list[tuple[Text, Text]], width: int) -> Text:
    """The first (left, right) pair that fits on one line, else the last one cut to fit."""
    for left, right in candidates:
        if left.cell_len + (1 + right.cell_len if right.cell_len else 0) <= width:
            return _spread(left, right, width)
    left, right = candidates[-1]
    return _spread(left, right, width)


def _spread(left: Text, right: Text, width: int) -> Text:
    """Left text and right text on one line, the left cut first when they do not fit."""
    right_len = right.cell_len
    if right_len and left.cell_len + 1 + right_len > width:
        room = width - right_len - 1
        if room < 2:
            return _fit(left, width)
        left = _fit(left, room)
    gap = max(1, width - left.cell_len - right_len) if right_len else 0
    return Text.assemble(left, " " * gap, right)
