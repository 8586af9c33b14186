"""The audit browser: every change and sign-in the database recorded, newest
first, filtered by booking, staff member and time range. Read only.

Filters are typed at the top and apply a moment after typing stops (or at
once with Enter, which also moves to the list). The list loads a page at a
time in the "audit" worker; Page Down past the last entry loads the next,
older page. Enter on an entry shows its full before and after.

While the list is at its newest entries, changes heard on the feed reload it;
once staff have paged on, the screen only says that there is something new.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, Unpack

from textual import work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from screens.help import mapped_bindings
from screens.live import LiveScreen, NightChanged, ScreenOptions
from screens.support import KeyCommand, KeyCommands, key_commands
from services.reports import AuditEntry
from widgets.audit_detail import detail_renderable
from widgets.audit_filters import AuditFilter, AuditFilters, FilterError
from widgets.audit_table import AuditTable
from widgets.display import literal
from widgets.footer import Footer
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.reports import ReportService
    from services.store.db import Actor

PAGE_SIZE = 50

PALETTE_TITLES = {
    "audit.filter": "Filter the audit trail",
    "audit.clear": "Clear the audit filters",
    "audit.reload": "Reload the newest audit entries",
    "audit.details": "Show the selected audit entry in full",
    "audit.older": "Load older audit entries",
    "audit.back": "Leave the audit trail",
}


class AuditServices(Protocol):
    """What the audit browser needs from the console's services."""

    @property
    def reports(self) -> ReportService: ...

    @property
    def actor(self) -> Actor: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


class AuditEntryScreen(ModalScreen[None]):
    """One entry in full; Escape (or Enter, or q) closes it."""

    DEFAULT_CSS = """
    AuditEntryScreen {
        align: center middle;
        background: $background 60%;
        & > Vertical {
            width: 100%;
            max-width: 120;
            height: auto;
            max-height: 100%;
            border: thick $accent;
            border-title-style: bold;
            background: $surface;
            padding: 0 1;
        }
        & VerticalScroll { height: auto; max-height: 1fr; }
        & #entry-hint { color: $text-muted; dock: bottom; height: 1; }
    }
    """

    BINDINGS = [
        Binding("escape,enter,q", "close", "Close", id="audit.close_entry"),
    ]

    def __init__(self, entry: AuditEntry, timezone: str) -> None:
        super().__init__()
        self.entry = entry
        self.timezone = timezone

    def compose(self) -> ComposeResult:
        box = Vertical()
        box.border_title = f"Audit entry {self.entry.id}"
        with box:
            with VerticalScroll(id="entry-body"):
                yield Static(
                    detail_renderable(self.entry, self.timezone, self.app.theme_variables), id="entry-detail"
                )
            yield Static("Esc close · ↑ ↓ scroll", id="entry-hint")

    def action_close(self) -> None:
        self.dismiss(None)


class AuditScreen(LiveScreen):
    """Filters at the top, the entries below, newest first."""

    SUB_TITLE = "Audit"

    PRESENCE_NAME = "audit"

    COMMANDS = {KeyCommands}

    DEFAULT_CSS = """
    AuditScreen {
        layout: vertical;
        AuditFilters { margin-top: 1; }
        #audit-status {
            height: 1;
            padding: 0 1;
            color: $text-muted;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        #audit-status.-error { color: $text-error; text-style: bold; }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="audit.back", tooltip="From a filter to the list, then out"),
        Binding(
            "slash",
            "filter",
            "Filter",
            key_display="/",
            id="audit.filter",
            tooltip="By booking, staff or time range",
        ),
        Binding("r", "reload", "Reload", id="audit.reload", tooltip="Read the newest entries again"),
        # Ctrl+R: an input keeps its own editing keys; this one it leaves free.
        Binding(
            "ctrl+r",
            "clear_filters",
            "Clear filters",
            id="audit.clear",
            show=False,
            tooltip="Show every entry again",
        ),
    ]

    def __init__(
        self,
        services: AuditServices,
        *,
        page_size: int = PAGE_SIZE,
        **options: Unpack[ScreenOptions],
    ) -> None:
        super().__init__(**options)
        self.services = services
        self.page_size = page_size
        self.filter = AuditFilter()
        self.timezone: str | None = None
        self._complete = False
        self._loading = False
        self._load_seq = 0
        self._new_since_load = 0
        self._error: str | None = None
        self.loads = 0

    def compose(self) -> ComposeResult:
        yield TopBar("Audit trail")
        yield AuditFilters(id="audit-filters")
        yield Static("Loading…", id="audit-status")
        yield AuditTable(id="audit-table")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.table.focus()
        self._load(reset=True)

    @property
    def table(self) -> AuditTable:
        return self.query_one(AuditTable)

    @property
    def filters(self) -> AuditFilters:
        return self.query_one(AuditFilters)

    @property
    def reading(self) -> bool:
        """A page is being read."""
        return self._loading

    @property
    def complete(self) -> bool:
        """Every entry that matches the filter is loaded."""
        return self._complete

    # Loading -------------------------------------------------------------------------

    def _load(self, *, reset: bool, advance: bool = False) -> None:
        """Read the first page again (`reset`), or the next older one unless a read is under way."""
        if not reset and (self._loading or self._complete):
            return
        self._loading = True
        self._load_seq += 1
        # One worker group: a new filter cancels the read of an old one.
        self._read_page(self.filter, self._load_seq, reset, advance)

    @work(exclusive=True, group="audit", exit_on_error=False)
    async def _read_page(self, wanted: AuditFilter, seq: int, reset: bool, advance: bool) -> None:
        try:
            if self.timezone is None:
                self.timezone = await self.services.reports.venue_timezone()
            last = None if reset or not self.table.entries else self.table.entries[-1].id
            entries = await self._fetch(wanted, last)
        except Exception as err:
            # Shown to staff; the list stays as it was.
            if seq == self._load_seq:
                self._failed(err)
            return
        finally:
            if seq == self._load_seq:
                self._loading = False
        if seq != self._load_seq:
            return
        self.loads += 1
        self._error = None
        self._complete = len(entries) < self.page_size
        if reset:
            self._new_since_load = 0
            self.table.show(entries, self.timezone)
        else:
            self.table.append(entries, advance=advance)
        self._show_status()

    async def _fetch(self, wanted: AuditFilter, before_id: int | None) -> list[AuditEntry]:
        return await self.services.reports.audit(
            booking=wanted.booking,
            staff=wanted.staff,
            since=wanted.since,
            until=wanted.until,
            before_id=before_id,
            limit=self.page_size,
        )

    def _failed(self, err: Exception) -> None:
        text = str(err) or type(err).__name__
        if isinstance(err, OSError):
            text = f"the database cannot be reached ({text}); r tries again"
        self._error = f"Could not read the audit trail: {text}"
        self._show_status()

    def on_resize(self) -> None:
        self._show_status()

    def _show_status(self) -> None:
        status = self.query_one("#audit-status", Static)
        status.set_class(self._error is not None, "-error")
        if self._error is not None:
            status.update(literal(self._error))
            return
        count = len(self.table.entries)
        what = self.filter.describe(self.timezone or "UTC")
        if count == 0:
            text = f"No entries for {what}." if not self.filter.empty else "No entries yet."
        else:
            more = "all shown" if self._complete else "PgDn for older"
            parts = [f"{count} entr{'y' if count == 1 else 'ies'}", what, "newest first", more]
            # One line: the order goes first, then the paging hint, before the filter is cut.
            room = (status.size.width or self.size.width or 80) - 2
            if self._new_since_load:
                room -= len("New entries since: r shows them · ")
            for dropped in ("newest first", more):
                if len(" · ".join(parts)) <= room:
                    break
                parts.remove(dropped)
            text = " · ".join(parts)
        if self._new_since_load:
            text = f"New entries since: r shows them · {text}"
        status.update(literal(text))

    # Filters -------------------------------------------------------------------------

    def _apply_filters(self) -> bool:
        try:
            wanted = self.filters.read(timezone=self.timezone or "UTC", now=self.services.clock())
        except FilterError as err:
            self._error = str(err)
            self._show_status()
            return False
        if wanted != self.filter or self._error is not None:
            self.filter = wanted
            self._error = None
            self._load(reset=True)
        return True

    def on_audit_filters_changed(self, message: AuditFilters.Changed) -> None:
        self._apply_filters()

    def on_audit_filters_submitted(self, message: AuditFilters.Submitted) -> None:
        if self._apply_filters():
            self.table.focus()

    # The list ------------------------------------------------------------------------

    def on_audit_table_need_older(self, message: AuditTable.NeedOlder) -> None:
        self._load(reset=False, advance=message.advance)

    def on_data_table_row_selected(self, message: DataTable.RowSelected) -> None:
        message.stop()
        entry = self.table.entry(message.row_key)
        if entry is not None:
            self.app.push_screen(AuditEntryScreen(entry, self.timezone or "UTC"))

    def on_night_changed(self, message: NightChanged) -> None:
        at_top = self.table.cursor_row <= 0 and len(self.table.entries) <= self.page_size
        if at_top and not self._loading and self.app.screen is self:
            self._load(reset=True)
        else:
            self._new_since_load += message.batch.changes
            self._show_status()

    async def resync(self) -> None:
        """Back online: read the newest entries again if staff are looking at them."""
        if self.table.cursor_row <= 0:
            self._load(reset=True)

    # Keys ----------------------------------------------------------------------------

    def action_back(self) -> None:
        focused = self.focused
        if isinstance(focused, Input):
            self.table.focus()
            return
        if len(self.app.screen_stack) > 1:
            self.dismiss(None)

    def action_filter(self) -> None:
        self.filters.input("booking").focus()

    def action_reload(self) -> None:
        self._load(reset=True)

    def action_clear_filters(self) -> None:
        self.filters.clear()
        self._apply_filters()

    def help_bindings(self) -> list[tuple[str, ActiveBinding]]:
        """This screen's keys, the list's included whatever has focus, and the console's own;
        not the editing keys of an input or the cursor keys of the list."""
        bindings = dict(self.active_bindings)
        # An input in focus hides the keys it types; list them all the same.
        for node in (self, self.table):
            for key, binding in mapped_bindings(node):
                if key not in bindings or bindings[key].node is not node:
                    bindings[key] = ActiveBinding(node, binding, True, binding.tooltip)
        return [(key, active) for key, active in bindings.items() if _ours(active, "audit.")]

    def key_commands(self) -> list[KeyCommand]:
        return key_commands(self.help_bindings(), PALETTE_TITLES, self.app)


def _ours(active: ActiveBinding, prefix: str) -> bool:
    binding = active.binding
    return (
        (binding.id or "").startswith(prefix)
        or active.node is active.node.app
        or binding.action in ("app.focus_next", "app.focus_previous")
    )
