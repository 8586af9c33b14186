"""The waitlist of the night on the floor, for managers: parties waiting for a table.

The list shows each party in the order they were added: their name, how many,
since when they wait, whether a table was offered to them, and their note. It
stays current with the App's feed (another console adding, offering, booking
or removing shows here within a moment), and with the floor: the tables free
now are named under the list, and the forms start at one that fits.

Keys: a adds a party; o offers a table to the selected party; b (or Enter)
books them onto a table, with the same refusals and alternatives as every
booking; x takes them off the list; Esc goes back to the floor. Each write runs
through `screens.writes`, so a refusal keeps its form open as typed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from rich.console import Group, RenderableType
from rich.table import Table as RichTable
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding
from textual.widgets import Static

from screens.booking_steps import BookingServices
from screens.dialogs.ask import ConfirmDialog, Dialog
from screens.floor.actions import Intent, TableCommand, Write
from screens.floor.commands import TableCommands
from screens.floor.refusals import ROLE_WORDS
from screens.help import key_label, mapped_bindings
from screens.keys import arrow_keys
from screens.live import NightChanged, ScreenOptions
from screens.reading import VENUE_KINDS, CoalescingReader, ReadsThrough, failure_words
from screens.writes import WritingScreen
from services.bookings import GuestDetails, WaitlistEntry
from services.errors import Alternative
from services.identity.permissions import Operation, may
from services.live.feed import ChangeBatch
from services.models import Booking, FloorSnapshot, Table, TileStatus
from services.store.db import Actor
from services.wording import BOOKING_WORDS, joined_tables, local_time
from widgets.display import plain
from widgets.footer import Footer
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    # The forms are imported when one is opened: the floor starts without them.
    from screens.forms.waitlist import SeatForm, SeatRequest, WaitlistRequest

WAITLIST_RIGHT = Operation.WAITLIST_ADD


def why_not_waitlist(actor: Actor) -> str | None:
    """Why this staff member may not use the waitlist, in one line; None when they may."""
    if actor.role is None or may(actor.role, WAITLIST_RIGHT):
        return None
    role = ROLE_WORDS.get(actor.role, "This account")
    return f"{role} may not use the waitlist: it is for managers. Ask a manager."


class WaitlistServices(BookingServices, Protocol):
    """What this screen needs from the console's services."""


def waited(since: datetime, now: datetime) -> str:
    """How long a party has waited: '25m', '1h05'; '' before it was added (a clock behind)."""
    minutes = int((now - since).total_seconds() // 60)
    if minutes < 0:
        return ""
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}" if hours else f"{minutes}m"


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


class WaitlistScreen(ReadsThrough, WritingScreen):
    """The waitlist of night `night_id`, over the floor that opened it."""

    SUB_TITLE = "Waitlist"

    PRESENCE_NAME = "waitlist"

    DEFAULT_CSS = """
    WaitlistScreen {
        layout: vertical;
        #waitlist-list { height: 1fr; padding: 0 1; overflow: hidden auto; }
        #waitlist-detail {
            height: auto;
            max-height: 7;
            padding: 0 1;
            border-top: solid $foreground 40%;
        }
    }
    """

    BINDINGS = [
        Binding("escape", "back", "Back", id="waitlist.back", tooltip="Back to the floor"),
        *arrow_keys("waitlist", "Party", {"up": "step(-1)", "down": "step(1)"}),
        Binding("a", "add", "Add", id="waitlist.add", tooltip="Add a party to the waitlist"),
        Binding(
            "o", "offer", "Offer", id="waitlist.offer", tooltip="Offer a free table to the selected party"
        ),
        Binding(
            "b,enter", "book", "Book", id="waitlist.book", tooltip="Book the selected party onto a table"
        ),
        Binding(
            "x", "remove", "Remove", id="waitlist.remove", tooltip="Take the selected party off the waitlist"
        ),
        Binding("r", "reload", "Reload", id="waitlist.reload", show=False),
    ]

    COMMANDS = {TableCommands}

    # The actions on the selected party, and what each is called in the palette.
    ENTRY_ACTIONS = {
        "offer": "Offer a table",
        "book": "Book onto a table",
        "remove": "Remove from the waitlist",
    }

    services: WaitlistServices

    def __init__(
        self,
        services: WaitlistServices,
        *,
        night_id: int,
        **options: Unpack[ScreenOptions],
    ) -> None:
        super().__init__(**options)
        self.services = services
        self.night_id = night_id
        self.entries: tuple[WaitlistEntry, ...] = ()
        self.snapshot: FloorSnapshot | None = None
        self.selected: int | None = None  # the entry id
        self.loaded = False
        self.reads = 0
        self._reader = CoalescingReader[tuple[FloorSnapshot, tuple[WaitlistEntry, ...]]](
            self,
            read=self._read,
            show=self._shown_read,
            failed=self._show_problem,
            group="waitlist",
            one_at_a_time=True,
        )
        self._last_error = ""
        self._select_next: int | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Waitlist")
        yield Static("Loading the waitlist…", id="waitlist-list")
        yield Static("", id="waitlist-detail")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.request_reload()

    def on_resize(self) -> None:
        self.query_one(Footer).compact = self.size.width < 100

    @property
    def timezone(self) -> str:
        return self.snapshot.timezone if self.snapshot is not None else "UTC"

    # Reading ---------------------------------------------------------------------

    async def _read(self) -> tuple[FloorSnapshot, tuple[WaitlistEntry, ...]]:
        snapshot = await self.services.floor.snapshot(self.night_id)
        entries = await self.services.bookings.waitlist(self.night_id)
        return snapshot, tuple(entries)

    def _shown_read(self, read: tuple[FloorSnapshot, tuple[WaitlistEntry, ...]]) -> None:
        self.reads += 1
        self._show(*read)

    def _show_problem(self, err: Exception) -> None:
        text = f"Could not load the waitlist: {failure_words(err)}"
        self.query_one("#waitlist-detail", Static).update(Text(plain(text)))
        if text != self._last_error:
            self._last_error = text
            self.notify(text, severity="error", timeout=10)

    def _show(self, snapshot: FloorSnapshot, entries: tuple[WaitlistEntry, ...]) -> None:
        self._last_error = ""
        self.snapshot, self.entries = snapshot, entries
        ids = [entry.id for entry in entries]
        if self._select_next in ids:
            self.selected, self._select_next = self._select_next, None
        elif self.selected not in ids:
            self.selected = ids[0] if ids else None
        self.loaded = True
        night = snapshot.night
        self.query_one(TopBar).set_title(f"Waitlist · {snapshot.venue_name} · {night.date:%a %d %b %Y}")
        self.query_one(TopBar).badge.data_at = time.monotonic()
        self._draw()
        self.refresh_bindings()

    def on_night_changed(self, message: NightChanged) -> None:
        if self._concerns_us(message.batch):
            self.request_reload()

    def _concerns_us(self, batch: ChangeBatch) -> bool:
        if batch.everything and not batch.nights:
            return True
        return batch.concerns(self.night_id) or bool(batch.kinds & VENUE_KINDS)

    def action_reload(self) -> None:
        self.request_reload()

    # Drawing ------------------------------------------------------------------------

    @property
    def entry(self) -> WaitlistEntry | None:
        return next((e for e in self.entries if e.id == self.selected), None)

    def table_number(self, table_id: int | None) -> str:
        if table_id is None:
            return ""
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return str(tables[table_id].table.number) if table_id in tables else str(table_id)

    def _status(self, entry: WaitlistEntry) -> str:
        if entry.status == "offered" and entry.offered_table is not None:
            return f"offered {self.table_number(entry.offered_table)}"
        return entry.status

    def _draw(self) -> None:
        listing = self.query_one("#waitlist-list", Static)
        if not self.entries:
            listing.update(Text(f"Nobody is waiting. {self._key('waitlist.add', 'a')} adds a party."))
        else:
            listing.update(self._rows())
        self._draw_detail()

    def _rows(self) -> RenderableType:
        now = self.services.clock()
        rows = RichTable(box=None, padding=(0, 1), pad_edge=False, expand=True, header_style="bold underline")
        rows.add_column("", width=1, no_wrap=True)
        rows.add_column("#", justify="right", no_wrap=True)
        rows.add_column("Guest", no_wrap=True, overflow="ellipsis", max_width=28)
        rows.add_column("Party", justify="right", no_wrap=True)
        rows.add_column("Added", no_wrap=True)
        rows.add_column("Status", no_wrap=True)
        rows.add_column("Note", no_wrap=True, overflow="ellipsis", ratio=3)
        for place, entry in enumerate(self.entries, start=1):
            mine = entry.id == self.selected
            since = waited(entry.created_at, now)
            added = local_time(entry.created_at, self.timezone) + (f" {since}" if since else "")
            # Text, not strings: a Rich table reads a string cell as markup.
            rows.add_row(
                Text("▸" if mine else ""),
                Text(str(place)),
                Text(plain(entry.guest_name)),
                Text(str(entry.party_size)),
                Text(added),
                Text(self._status(entry)),
                Text(plain(" ".join(entry.notes.split()))),
                style="reverse" if mine else None,
            )
        return rows

    def free_tables(self) -> list[Table]:
        snapshot = self.snapshot
        if snapshot is None:
            return []
        return sorted(
            (s.table for s in snapshot.tables.values() if s.status is TileStatus.FREE), key=lambda t: t.number
        )

    def _draw_detail(self) -> None:
        detail = self.query_one("#waitlist-detail", Static)
        parts: list[RenderableType] = []
        free = self.free_tables()
        numbers = ", ".join(str(t.number) for t in free)
        count = len(self.entries)
        waiting = f"{count} {'party' if count == 1 else 'parties'} waiting · " if count else ""
        parts.append(Text(waiting + (f"free now: {numbers}" if free else "no table is free now")))
        entry = self.entry
        if entry is not None:
            facts = [plain(entry.guest_name), f"party of {entry.party_size}"]
            if entry.phone:
                facts.append(plain(entry.phone))
            fitting = self.best_table(entry)
            facts.append(
                f"fits table {fitting.number} now" if fitting is not None else "no free table fits now"
            )
            parts.append(Text(" · ".join(facts), style="bold"))
            if entry.notes:
                parts.append(Text(f"Note: {plain(' '.join(entry.notes.split()))}"))
        detail.update(Group(*parts))

    # Selection -----------------------------------------------------------------------

    def action_step(self, step: int) -> None:
        ids = [entry.id for entry in self.entries]
        if not ids:
            return
        index = ids.index(self.selected) if self.selected in ids else 0
        self.selected = ids[(index + step) % len(ids)]
        self._draw()

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 1:
            self.app.pop_screen()

    # Who may do what ---------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("add", *self.ENTRY_ACTIONS):
            if why_not_waitlist(self.services.actor) is not None:
                return False
            if action in self.ENTRY_ACTIONS:
                return self.entry is not None
            return self.loaded
        return True

    def on_key(self, event: events.Key) -> None:
        # A key of this screen that cannot act says why, in one line.
        actions = [binding.action for binding in mapped_bindings(self).key_to_bindings.get(event.key, ())]
        names = [a for a in actions if a in ("add", *self.ENTRY_ACTIONS)]
        if not names or any(self.check_action(name, ()) is True for name in names):
            return
        why = why_not_waitlist(self.services.actor)
        if why is None and not self.loaded:
            why = "The waitlist is still loading."
        elif why is None:
            why = f"Nobody is waiting: {self._key('waitlist.add', 'a')} adds a party."
        event.stop()
        self.notify(why, severity="warning", timeout=6)

    def _key(self, binding_id: str, default: str) -> str:
        return key_label(self.app, binding_id, default)

    def table_commands(self) -> list[TableCommand]:
        """The palette's entries: what may be done now, the selected party named."""
        commands = []
        if self.check_action("add", ()) is True:
            commands.append(
                TableCommand(
                    "Add a party to the waitlist",
                    f"Name, phone, party, note ({self._key('waitlist.add', 'a')})",
                    self.action_add,
                )
            )
        entry = self.entry
        for name, title in self.ENTRY_ACTIONS.items():
            if entry is None or self.check_action(name, ()) is not True:
                continue
            key = self._key(f"waitlist.{name}", name[0])
            commands.append(
                TableCommand(
                    f"{title} · {entry.guest_name} · party of {entry.party_size}",
                    f"The selected party on the waitlist ({key})",
                    getattr(self, f"action_{name}"),
                )
            )
        return commands

    # The changes ----------------------------------------------------------------------------

    async def after_write(self, result: object) -> None:
        await self._reader.once()

    def _tables(self) -> dict[int, Table]:
        snapshot = self.snapshot
        return {s.table.number: s.table for s in snapshot.tables.values()} if snapshot is not None else {}

    def best_table(self, entry: WaitlistEntry) -> Table | None:
        """The free table that seats the party with the fewest seats to spare."""
        fitting = [t for t in self.free_tables() if t.min_party <= entry.party_size <= t.max_party]
        return min(fitting, key=lambda t: (t.max_party, t.number), default=None)

    def action_add(self) -> None:
        if self.check_action("add", ()) is not True or self.snapshot is None:
            return
        if not self.may_write():
            return
        from screens.forms.waitlist import WaitlistForm

        self.app.push_screen(
            WaitlistForm(f"{self.snapshot.night.date:%a %d %b}", on_answer=partial(self._add, Intent()))
        )

    def _add(self, intent: Intent, request: WaitlistRequest, dialog: Dialog[Any]) -> None:
        bookings, actor, night_id = self.services.bookings, self.services.actor, self.night_id

        async def call(op_id: str) -> int:
            entry_id = await bookings.waitlist_add(
                actor,
                night_id=night_id,
                guest=GuestDetails(request.name, phone=request.phone),
                party_size=request.party_size,
                notes=request.notes,
                op_id=op_id,
            )
            self._select_next = entry_id
            return entry_id

        def done(_entry_id: int) -> str:
            place = len(self.entries) + 1
            return (
                f"Added {request.name} · party of {request.party_size} to the waitlist "
                f"({ordinal(place)} in line)"
            )

        self.start_write(Write("add the party to the waitlist", call, done, intent), dialog)

    def _ready(self, action: str) -> WaitlistEntry | None:
        entry = self.entry
        if entry is None or self.check_action(action, ()) is not True or self.snapshot is None:
            return None
        return entry if self.may_write() else None

    def _seat_form(
        self,
        entry: WaitlistEntry,
        *,
        booking: bool,
        on_answer: Callable[[SeatRequest, Dialog[SeatRequest]], None],
    ) -> SeatForm:
        from screens.forms.base import default_arrival
        from screens.forms.waitlist import SeatForm

        assert self.snapshot is not None
        night = self.snapshot.night
        best = self.best_table(entry)
        offered = self.table_number(entry.offered_table) if entry.offered_table else ""
        table = int(offered) if offered.isdigit() else (best.number if best is not None else None)
        return SeatForm(
            entry,
            self._tables(),
            {t.number for t in self.free_tables()},
            night,
            self.snapshot.timezone,
            booking=booking,
            table=table,
            arrival=default_arrival(night, self.services.clock()),
            on_answer=on_answer,
        )

    def action_offer(self) -> None:
        entry = self._ready("offer")
        if entry is not None:
            self.app.push_screen(
                self._seat_form(entry, booking=False, on_answer=partial(self._offer, Intent(), entry))
            )

    def _offer(self, intent: Intent, entry: WaitlistEntry, request: SeatRequest, dialog: Dialog[Any]) -> None:
        bookings, actor = self.services.bookings, self.services.actor
        table_id = request.table_ids[0]
        number = self.table_number(table_id)

        async def call(op_id: str) -> None:
            await bookings.waitlist_offer(actor, entry.id, table_id, op_id=op_id)

        self.start_write(
            Write(
                f"offer table {number} to {entry.guest_name}",
                call,
                lambda _none: f"Offered table {number} to {entry.guest_name} · party of {entry.party_size}",
                intent,
            ),
            dialog,
        )

    def action_book(self) -> None:
        entry = self._ready("book")
        if entry is not None:
            self.app.push_screen(
                self._seat_form(entry, booking=True, on_answer=partial(self._book, Intent(), entry))
            )

    def _book(self, intent: Intent, entry: WaitlistEntry, request: SeatRequest, dialog: Dialog[Any]) -> None:
        assert request.starts_at is not None
        self.start_write(self._book_write(intent, entry, request.table_ids, request.starts_at), dialog)

    def _book_write(
        self,
        intent: Intent,
        entry: WaitlistEntry,
        table_ids: tuple[int, ...],
        starts_at: datetime,
        ends_at: datetime | None = None,
    ) -> Write:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.waitlist_book(
                actor, entry.id, table_ids=list(table_ids), starts_at=starts_at, ends_at=ends_at, op_id=op_id
            )

        def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
            return self._book_write(
                fresh, entry, alternative.table_ids, alternative.starts_at, alternative.ends_at
            )

        def done(b: Booking) -> str:
            where = joined_tables(self.table_number(i) for i in sorted(b.table_ids))
            return (
                f"Booked {b.ref} · {b.guest_name} · table {where} at "
                f"{local_time(b.starts_at, self.timezone)} ({BOOKING_WORDS[b.status]}); "
                "off the waitlist"
            )

        numbers = joined_tables(self.table_number(i) for i in sorted(table_ids))
        return Write(f"book {entry.guest_name} onto table {numbers}", call, done, intent, retarget=elsewhere)

    def action_remove(self) -> None:
        entry = self._ready("remove")
        if entry is None:
            return
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> None:
            await bookings.waitlist_leave(actor, entry.id, op_id=op_id)

        write = Write(
            f"take {entry.guest_name} off the waitlist",
            call,
            lambda _none: f"Took {entry.guest_name} · party of {entry.party_size} off the waitlist",
        )
        self.app.push_screen(
            ConfirmDialog(
                f"Remove {entry.guest_name} from the waitlist?",
                f"Party of {entry.party_size}, waiting since "
                f"{local_time(entry.created_at, self.timezone)}.\nThey are no longer waiting "
                "for a table.",
                yes="remove them",
                on_answer=lambda _yes, dialog: self.start_write(write, dialog),
            )
        )
