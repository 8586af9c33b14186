"""One night's report for managers: covers booked and arrived, no-shows, cancellations and
deposits taken, per floor and in total; e saves it as CSV, s saves it where staff say.

The CSV has a line per booking as well as the floors' and the night's totals.
e puts it into the export folder the screen is given (the console's data
directory, `reports/` under it, if none) as `backroom-night-<date>.csv`, or
`...-2.csv` and on if that is taken: an earlier export is never replaced. s
asks for the file's path; a file already there is replaced only when staff
press Enter a second time on the question. The file is written whole or not
at all (`services.reports.export_night_report`); the toast names the full
path, or says plainly why nothing was saved.

Read only. The figures follow the App's feed: a `NightChanged` about this
night reads them again, coalesced, in the "report" worker.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, Unpack

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Input, Static

from screens.dialogs.ask import Dialog
from screens.live import LiveScreen, NightChanged, ScreenOptions
from screens.night_commands import NightCommand, NightCommands
from screens.reading import ReadsThrough, reads_in_turn
from services.reports import (
    ExportFailed,
    NightReport,
    ReportBooking,
    ReportExists,
    ReportRow,
    export_night_report,
    free_report_path,
)
from widgets.display import literal
from widgets.footer import Footer
from widgets.night_report_table import NightReportTable
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.reports import ReportService
    from services.store.db import Actor

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

    def report_folder(self) -> Path:
        """Where reports go when the screen is given no folder."""
        ...


class SaveAsDialog(Dialog[str]):
    """The file the report goes to, prefilled with the next free name in the export folder."""

    DEFAULT_CSS = """
    SaveAsDialog > .dialog--box { width: 100; }
    """

    def __init__(
        self, suggested: Path, *, on_answer: Callable[[str, Dialog[str]], None] | None = None
    ) -> None:
        super().__init__("Save the night report as", on_answer=on_answer)
        self.suggested = suggested

    def compose_body(self) -> Iterable[Widget]:
        yield Static(
            "The CSV file (a folder puts it there under the next free name):", classes="dialog--text"
        )
        yield Input(str(self.suggested), id="report-path")

    def hint(self) -> str:
        return "Enter  save · Esc  close, nothing saved"

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        text = event.value.strip()
        if not text:
            self.say("Type where the file goes.", error=True)
            return
        self.answer(text)

    def on_input_changed(self, event: Input.Changed) -> None:
        # A changed name is a new question: the warning about the old one no longer holds.
        if not self.working:
            self.say("")


def _write_to(
    rows: list[ReportRow], bookings: list[ReportBooking], night: date, target: Path, replace: bool
) -> Path:
    """Save as `target`: a folder takes the next free name, a file is not replaced unless asked."""
    if target.is_dir():
        return export_night_report(rows, night, target, bookings)
    return export_night_report(rows, night, target.parent, bookings, path=target, replace=replace)


class NightReportScreen(ReadsThrough, LiveScreen):
    """The report's table, what its columns mean, and the keys."""

    SUB_TITLE = "Night report"

    PRESENCE_NAME = "night report"

    DEFAULT_CSS = """
    NightReportScreen {
        layout: vertical;
        #report-body { height: 1fr; padding: 1 1 0 1; }
        #report-note { color: $text-muted; margin-top: 1; }
        #report-status { margin-top: 1; }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="report.back", tooltip="Back to the nights"),
        Binding(
            "e",
            "export",
            "Export CSV",
            id="report.export",
            tooltip="Totals and bookings as a new CSV file in the export folder",
        ),
        Binding(
            "s",
            "save_as",
            "Save as",
            id="report.save_as",
            tooltip="The same CSV, to a file you name; asks before replacing one",
        ),
        Binding(
            "r",
            "reload",
            "Reload",
            id="report.reload",
            show=False,
            tooltip="Read the figures again (they follow changes by themselves)",
        ),
    ]

    COMMANDS = {NightCommands}

    def __init__(
        self,
        services: ReportServices,
        *,
        night_id: int,
        night_date: date,
        export_dir: Path | None = None,
        **options: Unpack[ScreenOptions],
    ) -> None:
        super().__init__(**options)
        self.services = services
        self.night_id = night_id
        self.night_date = night_date
        self.export_dir = export_dir
        self.rows: list[ReportRow] | None = None
        self.bookings: list[ReportBooking] = []
        self.reads = 0
        self.exported: Path | None = None
        self._reader = reads_in_turn(
            self,
            lambda: self.services.reports.night_report_with_bookings(self.night_id),
            self._shown_report,
            problem=self._show_problem,
            what="read the report",
            group="report",
        )
        self._last_error = ""
        # The file staff were asked about replacing: Enter on the same path again replaces it.
        self._replace_asked: Path | None = None

    @property
    def folder(self) -> Path:
        """Where the CSV goes: the folder given, else `reports/` in the data directory."""
        return (self.export_dir or self.services.report_folder()).expanduser().absolute()

    def compose(self) -> ComposeResult:
        yield TopBar(
            f"Night report · {self.night_date:%a %d %b %Y}", short=f"Report · {self.night_date:%a %d %b}"
        )
        with VerticalScroll(id="report-body", can_focus=False):
            yield NightReportTable(id="report")
            yield Static(EXPLAIN, id="report-note")
            yield Static("Reading the figures…", id="report-status")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.request_reload()

    def on_screen_resume(self) -> None:
        super().on_screen_resume()
        self.announce(night_id=self.night_id)

    # Reading ---------------------------------------------------------------------------

    def _shown_report(self, report: NightReport) -> None:
        self.reads += 1
        self.bookings = report.bookings
        self._show(report.rows)

    def _show(self, rows: list[ReportRow]) -> None:
        self.rows = rows
        self._last_error = ""
        self.query_one(NightReportTable).show(rows)
        total = rows[-1] if rows else None
        note = EXPLAIN
        if total is not None and (total.deposits_kept or total.deposits_refunded):
            note += (
                f" Cancelled with a paid deposit: {total.deposits_kept} kept, "
                f"{total.deposits_refunded} refunded."
            )
        self.query_one("#report-note", Static).update(literal(note))
        count = len(self.bookings)
        self.query_one("#report-status", Static).update(
            literal(
                f"e saves the totals and {count} booking{'' if count == 1 else 's'} as CSV in "
                f"{self.folder} (a new file each time) · s asks where"
            )
        )
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
        if action in ("export", "save_as"):
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
        self._export(list(self.rows), list(self.bookings), self.folder)

    @work(exclusive=True, group="export", exit_on_error=False)
    async def _export(self, rows: list[ReportRow], bookings: list[ReportBooking], folder: Path) -> None:
        try:
            path = await asyncio.to_thread(
                export_night_report,
                rows,
                self.night_date,
                folder,
                bookings,
                make_folder=self.export_dir is None,
            )
        except ExportFailed as err:
            self.notify(f"{err} Nothing was written.", title="Report not saved", severity="error", timeout=15)
            return
        self._saved(path)

    def _saved(self, path: Path) -> None:
        self.exported = path
        self.notify(str(path), title="Night report saved", timeout=10)

    def action_save_as(self) -> None:
        if self.rows is None:
            self.notify("The figures are still being read; try again in a moment.", timeout=5)
            return
        self._replace_asked = None
        suggested = free_report_path(self.folder, self.night_date)
        self.app.push_screen(SaveAsDialog(suggested, on_answer=self._save_as))

    def _save_as(self, text: str, dialog: Dialog[str]) -> None:
        if self.rows is None:
            dialog.failed("The figures are being read again; try again in a moment.")
            return
        self._write_as(list(self.rows), list(self.bookings), text, dialog)

    @work(exclusive=True, group="export", exit_on_error=False)
    async def _write_as(
        self, rows: list[ReportRow], bookings: list[ReportBooking], text: str, dialog: Dialog[str]
    ) -> None:
        target = self._target(text)
        replace = self._replace_asked == target
        try:
            path = await asyncio.to_thread(_write_to, rows, bookings, self.night_date, target, replace)
        except ReportExists:
            self._replace_asked = target
            dialog.failed(f"{target.name} is there already. Enter again replaces it; or change the name.")
            return
        except ExportFailed as err:
            self._replace_asked = None
            dialog.failed(f"{err} Nothing was written.")
            return
        self._replace_asked = None
        dialog.finish()
        self._saved(path)

    def _target(self, text: str) -> Path:
        target = Path(text).expanduser()
        return (target if target.is_absolute() else self.folder / target).absolute()

    def palette_commands(self) -> list[NightCommand]:
        commands = [NightCommand("Reload the report", "Read the figures again", "reload")]
        if self.rows is not None:
            commands[:0] = [
                NightCommand(
                    f"Export the report as CSV · {self.night_date:%a %d %b}",
                    f"Saves the totals and each booking in {self.folder}, as a new file",
                    "export",
                ),
                NightCommand(
                    f"Save the report as… · {self.night_date:%a %d %b}",
                    "Asks for the CSV file's path; asks before replacing a file",
                    "save_as",
                ),
            ]
        return commands
