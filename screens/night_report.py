"""One night's report for managers: covers booked and arrived, no-shows, cancellations and
deposits taken, per floor and in total; e saves it as CSV.

The file goes into the export folder the screen is given (the current working
directory if none), named `backroom-night-<date>.csv`, written whole or not at
all (`services.reports.export_night_report`); the toast names the full path,
or says plainly why nothing was saved.

Read only. The figures follow the App's feed: a `NightChanged` about this
night reads them again, coalesced, in the "report" worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Static

from screens.live import LiveScreen, NightChanged
from screens.night_commands import NightCommand, NightCommands
from services.db import DatabaseError
from services.reports import ExportFailed, ReportRow, export_night_report, report_file_name
from widgets.display import literal
from widgets.footer import Footer
from widgets.night_report_table import NightReportTable
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.db import Actor
    from services.reports import ReportService

EXPLAIN = (
    "Bookings and covers: those that stand or were kept (not cancelled, no-show or expired). "
    "Arrived: guests checked in. Deposits: paid deposits, cancelled bookings included."
)


class ReportServices(Protocol):
    @property
    def reports(self) -> ReportService: ...

    @property
    def actor(self) -> Actor: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


def _plain(err: BaseException) -> str:
    text = str(err) or type(err).__name__
    if isinstance(err, OSError) and not isinstance(err, DatabaseError):
        return f"the database cannot be reached ({text})"
    return text


class NightReportScreen(LiveScreen):
    """The report's table, what its columns mean, and the keys."""

    PRESENCE_NAME = "night report"

    DEFAULT_CSS = """
    NightReportScreen {
        layout: vertical;
        #report-body { height: 1fr; padding: 1 1 0 1; }
        #report-note { color: $text-muted; margin-top: 1; }
        #report-status { margin-top: 1; }
        Footer.-compact FooterLabel { margin: 0 1 0 0; }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="report.back", tooltip="Back to the nights"),
        Binding("e", "export", "Export CSV", id="report.export",
                tooltip="Save the report as a CSV file in the export folder"),
        Binding("r", "reload", "Reload", id="report.reload", show=False,
                tooltip="Read the figures again (they follow changes by themselves)"),
    ]

    COMMANDS = {NightCommands}

    def __init__(self, services: ReportServices, *, night_id: int, night_date: date,
                 export_dir: Path | None = None, name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.services = services
        self.night_id = night_id
        self.night_date = night_date
        self.export_dir = export_dir
        self.rows: list[ReportRow] | None = None
        self.reads = 0
        self.exported: Path | None = None
        self._dirty = False
        self._reloading = False
        self._loading = asyncio.Lock()
        self._last_error = ""

    @property
    def folder(self) -> Path:
        """Where the CSV goes: the folder given, else the working directory."""
        return (self.export_dir or Path.cwd()).expanduser().absolute()

    @property
    def reloading(self) -> bool:
        return self._reloading

    def compose(self) -> ComposeResult:
        yield TopBar(f"Night report · {self.night_date:%a %d %b %Y}")
        with VerticalScroll(id="report-body", can_focus=False):
            yield NightReportTable(id="report")
            yield Static(EXPLAIN, id="report-note")
            yield Static("Reading the figures…", id="report-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.sub_title = "Night report"
        self.request_reload()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.announce(night_id=self.night_id)

    # Reading ---------------------------------------------------------------------------

    def request_reload(self) -> None:
        self._dirty = True
        if not self._reloading:
            self._reloading = True
            self._reload()

    @work(exclusive=True, group="report", exit_on_error=False)
    async def _reload(self) -> None:
        try:
            while self._dirty:
                self._dirty = False
                await self._load()
        finally:
            self._reloading = False

    async def resync(self) -> None:
        await self._load()

    async def _load(self) -> None:
        async with self._loading:
            try:
                rows = await self.services.reports.night_report(self.night_id)
            except Exception as err:
                self._show_problem(f"Could not read the report: {_plain(err)}")
                return
            self.reads += 1
            self._show(rows)

    def _show(self, rows: list[ReportRow]) -> None:
        self.rows = rows
        self._last_error = ""
        self.query_one(NightReportTable).show(rows)
        self.query_one("#report-status", Static).update(
            literal(f"e saves it as {report_file_name(self.night_date)} in {self.folder}"))
        self.query_one(TopBar).badge.data_at = time.monotonic()
        self.refresh_bindings()

    def _show_problem(self, text: str) -> None:
        self.query_one("#report-status", Static).update(literal(text))
        if text != self._last_error:
            self._last_error = text
            self.notify(text, severity="error", timeout=10)

    def on_night_changed(self, message: NightChanged) -> None:
        if message.batch.concerns(self.night_id):
            self.request_reload()

    # Keys ------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "export":
            return True if self.rows is not None else None
        if action == "back":
            return len(self.app.screen_stack) > 1
        return True

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    def action_reload(self) -> None:
        self.request_reload()

    def action_export(self) -> None:
        if self.rows is None:
            self.notify("The figures are still being read; try again in a moment.", timeout=5)
            return
        self._export(list(self.rows), self.folder)

    @work(exclusive=True, group="export", exit_on_error=False)
    async def _export(self, rows: list[ReportRow], folder: Path) -> None:
        try:
            path = await asyncio.to_thread(export_night_report, rows, self.night_date, folder)
        except ExportFailed as err:
            self.notify(f"{err} Nothing was written.", title="Report not saved", severity="error",
                        timeout=15)
            return
        self.exported = path
        self.notify(str(path), title="Night report saved", timeout=10)

    def palette_commands(self) -> list[NightCommand]:
        commands = [NightCommand("Reload the report", "Read the figures again", "reload")]
        if self.rows is not None:
            commands.insert(0, NightCommand(
                f"Export the report as CSV · {self.night_date:%a %d %b}",
                f"Saves {report_file_name(self.night_date)} in {self.folder}", "export"))
        return commands
