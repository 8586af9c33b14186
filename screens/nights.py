"""The nights ahead, for managers (and support, to read): how booked each floor is, night by night.

From today's business date the screen lists four weeks of nights: weekday and
date, each floor's occupancy (free, partly booked or full; a colour, a symbol
and a word) and the covers expected. Enter opens that night's floor, r its
report. PageUp and PageDown move a week; [ and ] look four weeks back or ahead;
t comes back to tonight.

Nothing here writes: the screen only reads `ReportService.occupancy`. It stays
current with the App's feed: every `NightChanged` about a night on the list
asks for a reload, and reloads are coalesced (a burst costs one or two reads)
in the "nights" worker, so keys never wait on the database.
"""

from __future__ import annotations

import time
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol, Unpack

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import DataTable, Static

from screens.dialogs.ask import Dialog
from screens.dialogs.open_night import OpenNightDialog
from screens.floor.screen import FloorScreen, FloorServices
from screens.keys import arrow_keys
from screens.live import LiveScreen, NightChanged, ScreenOptions
from screens.night_commands import NightCommand, NightCommands
from screens.night_report import NightReportScreen
from screens.reading import ReadsThrough, failure_words, reads_in_turn
from services.errors import BookingError
from services.identity.permissions import Operation, may
from services.reports import NightOccupancy
from widgets.display import literal
from widgets.footer import Footer
from widgets.night_list import LEVELS, NightList, when_words
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.nights import NightService
    from services.reports import ReportService

NO_VENUE = "No venue in the database: run `backroom db seed`"


class NightsServices(FloorServices, Protocol):
    """What this screen needs from the console's services, and what the floor it opens needs."""

    @property
    def reports(self) -> ReportService: ...

    @property
    def nights(self) -> NightService: ...

    def report_folder(self) -> Path:
        """Where night reports go when the screen is given no folder."""
        ...


class NightsRead(NamedTuple):
    """One read: the nights from `start`, and the business date it was made on."""

    nights: list[NightOccupancy]
    today: date
    start: date


def span_words(start: date, days: int) -> str:
    """'20 Nov to 17 Dec 2026': the dates a window of `days` covers."""
    last = start + timedelta(days=days - 1)
    first = f"{start:%d %b}" if start.year == last.year else f"{start:%d %b %Y}"
    return f"{first} to {last:%d %b %Y}"


class NightFloorScreen(FloorScreen):
    """A night's floor opened from the list; Escape goes back to the list.

    The floor itself is the console's home screen and has nowhere to go back
    to; this one was pushed over the nights, so it adds the way back.
    """

    # Off the floor's footer, which needs every column at 80; listed in help.
    BINDINGS = [
        Binding("escape", "back_to_nights", "Back to the nights", id="nights.floor_back", show=False),
    ]

    def action_back_to_nights(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()


LEGEND = (
    "  ".join(f"{symbol} {word}" for symbol, word in LEVELS.values()).replace("partly", "partly booked")
    + "   [ ] four weeks back/ahead  t tonight"
)


class NightsScreen(ReadsThrough, LiveScreen):
    """The list of nights above, the selected night in words below."""

    SUB_TITLE = "Nights"

    PRESENCE_NAME = "nights"

    # How many days the list covers, and how far [ and ] move it.
    WINDOW_DAYS = 28
    WEEK = 7

    DEFAULT_CSS = """
    NightsScreen {
        layout: vertical;
        #night-detail {
            height: auto;
            padding: 0 1;
            border-top: solid $foreground 30%;
        }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="nights.back", tooltip="Back to the screen before"),
        *arrow_keys("nights", "Night", {"up": "step(-1)", "down": "step(1)"}),
        Binding(
            "pageup",
            "week(-1)",
            "Week",
            id="nights.week_back",
            key_display="PgUp",
            group=Binding.Group("Week"),
        ),
        Binding(
            "pagedown",
            "week(1)",
            "Week",
            id="nights.week_ahead",
            key_display="PgDn",
            group=Binding.Group("Week"),
        ),
        Binding(
            "enter",
            "open_floor",
            "Floor",
            id="nights.open_floor",
            key_display="⏎",
            tooltip="Open the selected night's floor",
        ),
        Binding(
            "r",
            "report",
            "Report",
            id="nights.report",
            tooltip="The selected night's report: covers, no-shows, cancellations, deposits",
        ),
        Binding(
            "o",
            "open_night",
            "Open a night",
            id="nights.open_night",
            show=False,
            tooltip="Open a night that is not on the list yet (managers)",
        ),
        # Off the footer, which has no room left at 80 columns; the line under the list names them.
        Binding(
            "left_square_bracket",
            "shift(-1)",
            "Earlier",
            id="nights.earlier",
            key_display="[",
            show=False,
            tooltip="Look four weeks back",
        ),
        Binding(
            "right_square_bracket",
            "shift(1)",
            "Later",
            id="nights.later",
            key_display="]",
            show=False,
            tooltip="Look four weeks ahead",
        ),
        Binding(
            "t",
            "today",
            "Tonight",
            id="nights.today",
            show=False,
            tooltip="Back to tonight and the weeks after it",
        ),
        Binding("home", "edge(-1)", "First night", id="nights.first", show=False),
        Binding("end", "edge(1)", "Last night", id="nights.last", show=False),
    ]

    COMMANDS = {NightCommands}

    def __init__(
        self,
        services: NightsServices,
        export_dir: Path | None = None,
        **options: Unpack[ScreenOptions],
    ) -> None:
        super().__init__(**options)
        self.services = services
        self.export_dir = export_dir
        self.today: date | None = None
        # None follows today's business date; a date once [ ] or PageUp/PageDown moved the list.
        self.start: date | None = None
        # After the next read, select the night nearest this date (forward or back from it).
        self._target: tuple[date, bool] | None = None
        self.reads = 0
        self.loaded = False
        self._reader = reads_in_turn(
            self,
            self._read,
            self._shown_read,
            problem=self._show_problem,
            what="load the nights",
            group="nights",
        )
        self._last_error = ""

    def compose(self) -> ComposeResult:
        yield TopBar("Nights")
        yield NightList(id="nights")
        yield Static("Loading the nights…", id="night-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.request_reload()

    @property
    def night_list(self) -> NightList:
        return self.query_one(NightList)

    @property
    def selected(self) -> NightOccupancy | None:
        # The footer may ask which keys apply before the list is there: then none is selected.
        for listing in self.query(NightList):
            return listing.selected
        return None

    # Reading ---------------------------------------------------------------------------

    async def _read(self) -> NightsRead | None:
        today = await self.services.reports.today(self.services.clock())
        if today is None:
            return None
        start = self.start or today
        return NightsRead(await self.services.reports.occupancy(start, self.WINDOW_DAYS), today, start)

    def _shown_read(self, read: NightsRead | None) -> None:
        if read is None:
            self._show_problem(NO_VENUE)
            return
        self.reads += 1
        if (self.start or read.today) != read.start:
            return  # the list moved during the read; the read that follows shows it
        self._show(read.nights, read.today, read.start)

    def _show(self, nights: list[NightOccupancy], today: date, start: date) -> None:
        self.today = today
        self._last_error = ""
        listing = self.night_list
        first_time = not self.loaded
        listing.show(nights, today)
        if self._target is not None:
            target, forward = self._target
            self._target = None
            listing.select_date(target, forward=forward)
        elif first_time:
            listing.select_date(today)
        self.loaded = True
        self.query_one(TopBar).set_title(f"Nights · {span_words(start, self.WINDOW_DAYS)}", short="Nights")
        self.query_one(TopBar).badge.data_at = time.monotonic()
        self._show_detail()
        self.refresh_bindings()

    def _show_problem(self, text: str) -> None:
        self.query_one("#night-detail", Static).update(literal(text))
        if text != self._last_error:
            self._last_error = text
            self.notify(text, severity="error" if text != NO_VENUE else "warning", timeout=10)

    def _show_detail(self) -> None:
        detail = self.query_one("#night-detail", Static)
        night = self.selected
        if night is None:
            start = self.start or self.today
            span = span_words(start, self.WINDOW_DAYS) if start else ""
            detail.update(literal(f"No nights open {span}.\n{LEGEND}"))
            return
        when = when_words(night.date, self.today) if self.today else ""
        head = f"{night.date:%a %d %b %Y}" + (f", {when}" if when else "")
        covers = sum(f.covers for f in night.floors)
        floors = " · ".join(
            f"{f.floor}: {f.booked} of {f.tables} tables, {f.covers} covers" for f in night.floors
        )
        detail.update(literal(f"{head}: {covers} covers expected on live bookings\n{floors}\n{LEGEND}"))

    def on_data_table_row_highlighted(self, _message: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_row_selected(self, _message: DataTable.RowSelected) -> None:
        # A click on the selected night opens it, as Enter does.
        self.action_open_floor()

    def on_night_changed(self, message: NightChanged) -> None:
        batch = message.batch
        shown = {n.night_id for n in self.night_list.nights}
        if batch.everything or None in batch.nights or not self.loaded or batch.nights & shown:
            self.request_reload()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        night = self.selected
        if night is not None:
            self.announce(night_id=night.night_id)

    # Keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("open_floor", "report"):
            return True if self.selected is not None else None
        if action == "open_night":
            return may(self.services.actor.role, Operation.OPEN_NIGHT)
        if action == "back":
            return len(self.app.screen_stack) > 1
        return True

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_step(self, step: int) -> None:
        listing = self.night_list
        if listing.row_count:
            listing.move_cursor(row=max(0, min(listing.row_count - 1, listing.cursor_row + step)))

    def action_edge(self, step: int) -> None:
        listing = self.night_list
        if listing.row_count:
            listing.move_cursor(row=0 if step < 0 else listing.row_count - 1)

    def action_week(self, step: int) -> None:
        """A week on from the selected night; past the list's end the list moves a week too."""
        night = self.selected
        base = night.date if night is not None else (self.start or self.today)
        if base is None:
            return
        target = base + timedelta(days=self.WEEK * step)
        start = self.start or self.today or target
        end = start + timedelta(days=self.WINDOW_DAYS)
        if night is not None and start <= target < end:
            self.night_list.select_date(target, forward=step > 0)
            return
        self._move_to(start + timedelta(days=self.WEEK * step), target, forward=step > 0)

    def action_shift(self, step: int) -> None:
        """Four weeks back or ahead; the selection moves with the list."""
        start = self.start or self.today
        if start is None:
            return
        night = self.selected
        base = night.date if night is not None else start
        days = timedelta(days=self.WINDOW_DAYS * step)
        self._move_to(start + days, base + days, forward=step > 0)

    def action_today(self) -> None:
        if self.today is None:
            return
        self.start = None
        self._target = (self.today, True)
        self.request_reload()

    def _move_to(self, start: date, target: date, *, forward: bool) -> None:
        self.start = start
        self._target = (target, forward)
        self.request_reload()

    def action_open_floor(self) -> None:
        night = self.selected
        if night is None:
            return
        self.app.push_screen(NightFloorScreen(self.services, night_id=night.night_id))

    def action_report(self) -> None:
        night = self.selected
        if night is None:
            return
        self.app.push_screen(
            NightReportScreen(
                self.services, night_id=night.night_id, night_date=night.date, export_dir=self.export_dir
            )
        )

    def first_unopened(self) -> date | None:
        """The first date of the list's window that has no night, else the day after it."""
        start = self.start or self.today
        if start is None:
            return None
        opened = {n.date for n in self.night_list.nights}
        for offset in range(self.WINDOW_DAYS):
            day = start + timedelta(days=offset)
            if day not in opened and (self.today is None or day >= self.today):
                return day
        return start + timedelta(days=self.WINDOW_DAYS)

    def action_open_night(self) -> None:
        suggested = self.first_unopened()
        if suggested is None or not may(self.services.actor.role, Operation.OPEN_NIGHT):
            return
        self.app.push_screen(OpenNightDialog(suggested, on_answer=self._open_night))

    def _open_night(self, day: date, dialog: Dialog[date]) -> None:
        self._opening(day, dialog)

    @work(group="open_night", exit_on_error=False)
    async def _opening(self, day: date, dialog: Dialog[date]) -> None:
        try:
            await self.services.nights.open_night(self.services.actor, day)
        except BookingError as err:
            dialog.failed(str(err))
            return
        except Exception as err:
            dialog.failed(f"Could not open the night: {failure_words(err, retrying=False)}")
            return
        dialog.finish()
        self.notify(f"{day:%a %d %b %Y} is open.", title="Night opened", markup=False)
        start = self.start or self.today or day
        if not start <= day < start + timedelta(days=self.WINDOW_DAYS):
            start = day
        self._move_to(start, day, forward=True)

    def palette_commands(self) -> list[NightCommand]:
        commands = []
        night = self.selected
        if night is not None:
            day = f"{night.date:%a %d %b}"
            commands += [
                NightCommand(
                    f"Open the floor · {day}", "The tables and bookings of that night", "open_floor"
                ),
                NightCommand(
                    f"Night report · {day}",
                    "Covers, no-shows, cancellations and deposits, per floor",
                    "report",
                ),
            ]
        if may(self.services.actor.role, Operation.OPEN_NIGHT):
            commands.append(NightCommand("Open a night", "A night that is not on the list yet", "open_night"))
        commands += [
            NightCommand("Earlier nights", "Look four weeks back", "shift(-1)"),
            NightCommand("Later nights", "Look four weeks ahead", "shift(1)"),
            NightCommand("Back to tonight", "The list from today's business date", "today"),
        ]
        return commands
