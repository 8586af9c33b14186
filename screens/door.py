"""The door: find tonight's booking by name, phone or reference and check the party in;
seat walk-ins; mark no-shows. Keyboard only, on a shared terminal.

The search box keeps the focus. Typing shows tonight's matches, best first
(`ReportService.search`); with the box empty the list shows who is still
expected, soonest first (`ReportService.expected`). The first row is
selected; ↑↓ move. Enter checks the selected party in, asking how many
arrived with the rest of the party as the answer, so a whole party takes the
typed text and two Enters.

Reads run in a worker and are coalesced: typing, a change from any console
(`NightChanged`) or a finished write each ask for one; while one runs, the
next waits and covers them all. A key that acts on the list (Enter, no-show)
pressed before the list has caught up with the typed text waits for the
matching list, so a fast typist acts on the best match for what they typed.

Writes go through `WritingScreen`: refused when the feed is not Live, their
outcome a toast in staff words. Only the keys the signed-in role allows show.

A dialog the door opens (check in, no-show, walk-in) that staff close without
an answer (Esc) leaves an empty box behind: the next guest is a new search. A
change that is made empties it too; a refusal keeps it, beside the reason.
Check-in is for tonight only: a night whose business day is over (the door left
open past closing) refuses it and says so.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Protocol, Unpack

from textual import events
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Vertical
from textual.widgets import Input, Static

from screens.booking_steps import (
    NO_NIGHTS,
    BookingServices,
    NightOptions,
    NightScreen,
    check_in_dialog,
    check_in_write,
    is_tonight,
    no_show_dialog,
    walk_in_write,
)
from screens.changes import booking_news, find_booking
from screens.dialogs.ask import Dialog
from screens.dialogs.undo import HEADINGS, ask_undo
from screens.floor.actions import Intent, TableCommand, Write
from screens.floor.commands import TableCommands
from screens.floor.refusals import ROLE_WORDS
from screens.forms.walk_in import WalkInForm, WalkInRequest
from screens.help import key_label, mapped_bindings
from screens.keys import arrow_keys
from screens.live import NightChanged
from screens.reading import CoalescingReader, failure_words
from services.bookings import WALK_IN_MINIMUM
from services.identity.permissions import WORDS, Operation, may
from services.live.feed import FeedStatus
from services.models import Booking, BookingStatus, FloorSnapshot, TableState
from services.wording import arrived_of, party_in, table_numbers
from widgets.booking_list import BookingList
from widgets.connection_badge import StaleNote
from widgets.display import BOOKING_WORDS, capacity, literal, local_time, plain
from widgets.footer import Footer
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.reports import ReportService

SEARCH_HINT = "Name, phone or booking ref"
# How often (seconds) the list looks again at who is late, between reads.
LATE_EVERY = 30
# A new walk-in party is this size unless staff type another.
WALK_IN_PARTY = 2


class DoorServices(BookingServices, Protocol):
    """What the door needs from the console's services."""

    @property
    def reports(self) -> ReportService: ...


@dataclass(frozen=True, slots=True)
class DoorView:
    """One read: the night (layout, timezone), the typed text and the bookings to list."""

    snapshot: FloorSnapshot | None
    text: str
    bookings: tuple[Booking, ...]


def free_now(snapshot: FloorSnapshot, now: datetime) -> list[TableState]:
    """Tables a walk-in could sit at now: no party in, no hold, no booking within the next while."""
    return snapshot.free_now(now, min(now + WALK_IN_MINIMUM, snapshot.night.ends_at))


class DoorScreen(NightScreen[DoorServices]):
    """Search box, the list of bookings it finds (or who is still expected), the selected one."""

    PRESENCE_NAME = "door"

    DEFAULT_CSS = """
    DoorScreen {
        layout: vertical;
        #heading {
            height: 1;
            padding: 0 1;
            text-style: bold;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        #heading.-error { color: $text-error; }
        #about {
            height: auto;
            border-top: solid $foreground 40%;
            padding: 0 1;
        }
        #about Static {
            height: 1;
            text-wrap: nowrap;
            text-overflow: ellipsis;
        }
        /* The selected booking may take two lines on a narrow terminal: it is not cut. */
        #about #selected { height: auto; text-wrap: wrap; text-style: bold; }
        #notes { display: none; }
        #notes.-shown { display: block; }
        /* Every free table is named, on a second line if need be: none is cut off. */
        #about #free { color: $text-muted; height: auto; text-wrap: wrap; }
    }
    """

    # The search box keeps the focus: the keys that act are ones it does not type. Enter, the
    # arrows and Ctrl+W are priority keys, ahead of the box's own (submit, scroll, delete a word).
    BINDINGS = [
        Binding(
            "enter",
            "check_in",
            "Check in",
            id="door.check_in",
            priority=True,
            tooltip="Check in the selected party, all or some of them",
        ),
        *arrow_keys("door", "Select", {"up": "select(-1)", "down": "select(1)"}, priority=True),
        Binding(
            "ctrl+w",
            "walk_in",
            "Walk-in",
            id="door.walk_in",
            priority=True,
            tooltip="Seat a party now at the best free table that fits",
        ),
        Binding(
            "ctrl+n",
            "no_show",
            "No-show",
            id="door.no_show",
            tooltip="The selected party did not come (once they are late)",
        ),
        # Ahead of the search box's own Ctrl+U (delete to the start): Esc clears the box.
        Binding(
            "ctrl+u",
            "undo",
            "Undo",
            id="door.undo",
            priority=True,
            show=False,
            tooltip="Correct the selected party's count, or reverse its no-show",
        ),
        Binding(
            "escape",
            "expected",
            "Expected",
            id="door.expected",
            tooltip="Clear the search: who is still expected tonight",
        ),
        # The feed keeps the list current: reading again is a rare need, kept off the footer.
        Binding(
            "ctrl+r",
            "reload",
            "Reload",
            id="door.reload",
            show=False,
            tooltip="Read tonight's bookings again",
        ),
    ]

    COMMANDS = {TableCommands}

    services: DoorServices

    def __init__(self, services: DoorServices, **options: Unpack[NightOptions]) -> None:
        super().__init__(services, **options)
        # Reads of the night's layout, beside those of the list.
        self.night_reads = 0
        # The night's layout is read again with the next read of the list.
        self._night_dirty = False
        self._reader = CoalescingReader[DoorView](
            self,
            read=self._read_wanted,
            show=self._show_now,
            failed=self._show_error,
            group="door-read",
            settled=self._act_if_waiting,
        )
        self._shown_text: str | None = None
        self._last_error = ""
        # A key that acts on the list, pressed before the list caught up with the typing.
        self._waiting: tuple[str, str] | None = None
        # The search text a write was started from: cleared once it succeeds.
        self._written_from: str | None = None
        # When the list shown was read (the stale line says "list as of" it).
        self._read_at: datetime | None = None

    def compose(self) -> ComposeResult:
        yield TopBar("Door · loading tonight…")
        yield Input(placeholder=SEARCH_HINT, id="search", max_length=60)
        yield Static("Loading tonight…", id="heading")
        yield StaleNote("list", id="stale")
        yield BookingList(id="bookings")
        with Vertical(id="about"):
            yield Static("", id="selected")
            yield Static("", id="notes")
            yield Static("", id="free")
        yield Footer()

    def on_mount(self) -> None:
        super().on_mount()
        self.search.focus()
        self.request_read(night=True)
        # A party becomes late as the clock passes its time, with no change to read.
        self.set_interval(LATE_EVERY, self.mark_late)

    def on_resize(self) -> None:
        # Compact below 100 columns, so every key the door uses fits on one line at 80.
        self.query_one(Footer).compact = self.size.width < 100

    def announce(self, *, table_id: int | None = None, night_id: int | None = None) -> None:
        # Other consoles see which night the door is working, also after coming back to it.
        if night_id is None and self.snapshot is not None:
            night_id = self.snapshot.night.id
        super().announce(table_id=table_id, night_id=night_id)

    def show_status(self, status: FeedStatus) -> None:
        super().show_status(status)
        self._show_stale()

    def _show_stale(self) -> None:
        """While the feed is not Live the list is marked stale: dimmed, and a line says since
        when and why."""
        status = self.feed_status
        as_of = local_time(self._read_at, self.timezone) if self._read_at is not None else ""
        self.query_one(StaleNote).show(status, as_of)
        self.booking_list.stale = self.query_one(StaleNote).words is not None

    # Parts -------------------------------------------------------------------------

    @property
    def search(self) -> Input:
        return self.query_one("#search", Input)

    @property
    def booking_list(self) -> BookingList:
        return self.query_one(BookingList)

    @property
    def selected(self) -> Booking | None:
        return self.booking_list.selected

    @property
    def shown_text(self) -> str | None:
        """The search text the list was read for (None before the first read)."""
        return self._shown_text

    @property
    def current(self) -> bool:
        """Whether the list shows what the box says now, with no read pending."""
        return (
            self._shown_text is not None
            and self._shown_text == self.search.value
            and not self._reader.running
        )

    @property
    def timezone(self) -> str:
        return self.snapshot.timezone if self.snapshot is not None else "UTC"

    # Reading -----------------------------------------------------------------------

    def request_read(self, *, night: bool = False) -> None:
        """Read the list soon (and the night's layout, with `night`); coalesced."""
        self._night_dirty |= night
        self._reader.request()

    async def _read_wanted(self) -> DoorView:
        night, self._night_dirty = self._night_dirty, False
        return await self._read(self.search.value, night=night)

    async def _read_all(self) -> DoorView:
        return await self._read(self.search.value, night=True)

    async def resync(self) -> None:
        """Read the night and the list before the feed says Live."""
        # A night that does not exist will not appear by reconnecting.
        await self._reader.once(read=self._read_all, catch=LookupError)

    async def read_now(self) -> None:
        """Read the list now, so the next key acts on what the database holds."""
        await self._reader.once(read=self._read_all, failed=lambda _err: self.request_read(night=True))

    async def _read(self, text: str, *, night: bool) -> DoorView:
        services = self.services
        snapshot = self.snapshot
        if night or snapshot is None:
            night_id = self.night_id if snapshot is None else snapshot.night.id
            if night_id is None:
                tonight = await services.floor.tonight()
                if tonight is None:
                    return DoorView(None, text, ())
                night_id = tonight.id
            self.night_reads += 1
            snapshot = await services.floor.snapshot(night_id)
        self.reads += 1
        night_id = snapshot.night.id
        if text.strip():
            found = [m.booking for m in await services.reports.search(night_id, text)]
        else:
            found = await services.reports.expected(night_id)
        return DoorView(snapshot, text, tuple(found))

    def _show_now(self, view: DoorView) -> None:
        heading = self.query_one("#heading", Static)
        snapshot = view.snapshot
        if snapshot is None:
            heading.update(NO_NIGHTS)
            heading.add_class("-error")
            if self._last_error != NO_NIGHTS:
                self._last_error = NO_NIGHTS
                self.notify(NO_NIGHTS, severity="warning", timeout=10)
            return
        first = self.snapshot is None
        looking_at, previous = self.selected, self.snapshot
        self.snapshot = snapshot
        self._last_error = ""
        heading.remove_class("-error")
        for bar in self.query(TopBar):
            bar.set_title(
                f"Door · {snapshot.night.date:%a %d %b %Y}", short=f"Door · {snapshot.night.date:%a %d %b}"
            )
        numbers = snapshot.table_numbers
        same_search = view.text == self._shown_text
        self._shown_text = view.text
        self.booking_list.show(
            view.bookings,
            numbers=numbers,
            timezone=snapshot.timezone,
            keep_selection=same_search,
            now=self.services.clock(),
        )
        self._read_at = self.services.clock()
        self._show_stale()
        heading.update(literal(self._heading(view)))
        self._show_free(snapshot)
        self._show_selected(self.selected)
        self._say_what_changed(looking_at, previous, view)
        if first:
            self.announce(night_id=snapshot.night.id)
        self._act_if_waiting()

    def _say_what_changed(
        self, looking_at: Booking | None, previous: FloorSnapshot | None, view: DoorView
    ) -> None:
        """A toast when another console changed the booking this staff member has selected."""
        snapshot = view.snapshot
        if (
            looking_at is None
            or previous is None
            or snapshot is None
            or self.writing
            or previous.night.id != snapshot.night.id
            or not self.in_front
        ):
            return
        now = next((b for b in view.bookings if b.id == looking_at.id), None)
        if now is None:
            now = find_booking(snapshot, looking_at.id)
        news = booking_news(looking_at, now, timezone=snapshot.timezone, numbers=snapshot.table_numbers)
        if news:
            self.say_news(news)

    def _heading(self, view: DoorView) -> str:
        text = view.text.strip()
        count = len(view.bookings)
        if not text:
            if not count:
                return "Nobody else is expected tonight."
            to_come = sum(max(0, b.party_size - b.arrived_count) for b in view.bookings)
            return (
                f"Still expected tonight: {_plural(count, 'party', 'parties')}, "
                f"{_plural(to_come, 'guest')} to come"
            )
        if not count:
            return f"No booking tonight matches “{text}”."
        return f"{_plural(count, 'booking')} tonight for “{text}”, best first"

    def mark_late(self) -> None:
        """Show the list again at the clock's time: whoever is late now says so."""
        snapshot = self.snapshot
        if snapshot is None or not self.booking_list.bookings:
            return
        self.booking_list.show(
            self.booking_list.bookings,
            numbers=snapshot.table_numbers,
            timezone=snapshot.timezone,
            now=self.services.clock(),
        )

    def _show_free(self, snapshot: FloorSnapshot) -> None:
        free = free_now(snapshot, self.services.clock())
        line = self.query_one("#free", Static)
        if not free:
            line.update("No table is free for a walk-in now.")
            return
        tables = " · ".join(f"{s.table.number} ({capacity(s.table)})" for s in free)
        line.update(literal(f"Free now: {tables}"))

    def _show_selected(self, booking: Booking | None) -> None:
        line = self.query_one("#selected", Static)
        notes = self.query_one("#notes", Static)
        line.update(literal(f"▶ {self.summary(booking)}") if booking is not None else "")
        # Notes get a line of their own: they are what the door must not miss.
        shown = booking is not None and bool(booking.notes.strip())
        notes.update(
            literal(f"  Notes: {plain(booking.notes.strip())}") if booking is not None and shown else ""
        )
        notes.set_class(shown, "-shown")

    def _show_error(self, err: Exception) -> None:
        text = failure_words(err)
        heading = self.query_one("#heading", Static)
        heading.update(literal(f"Could not read tonight's bookings: {text}"))
        heading.add_class("-error")
        if text != self._last_error:
            self._last_error = text
            self.notify(text, title="Could not read tonight's bookings", severity="error", timeout=10)

    # Following the feed, the typing and the selection --------------------------------

    def on_night_changed(self, message: NightChanged) -> None:
        night_id = self.snapshot.night.id if self.snapshot is not None else self.night_id
        if message.batch.concerns(night_id):
            self.request_read(night=True)

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id != "search":
            return
        event.stop()
        if event.value != self._shown_text or self._reader.running:
            self.request_read()

    def on_booking_list_selection_changed(self, message: BookingList.SelectionChanged) -> None:
        self._show_selected(message.booking)

    def action_select(self, step: int) -> None:
        if step > 0:
            self.booking_list.select_next()
        else:
            self.booking_list.select_previous()

    def action_expected(self) -> None:
        """Clear the search: the list goes back to who is still expected."""
        if self.search.value:
            self.search.value = ""
        self.search.focus()

    def action_reload(self) -> None:
        self.request_read(night=True)

    # Who may do what ---------------------------------------------------------------

    def show_staff(self) -> None:
        """Who the console acts for, and the keys their role allows (after a sign-in)."""
        super().show_staff()
        self.refresh_bindings()

    def may(self, operation: Operation) -> bool:
        """Whether the signed-in staff member's role allows `operation`."""
        actor = self.services.actor
        if actor.staff_id is None and self.services.identity is not None:
            return False  # signed out: the screen runs on under the sign-in, for nobody
        # No role is a script or test acting as the system, which the services allow too.
        return actor.role is None or may(actor.role, operation)

    OPERATIONS = {
        "check_in": Operation.CHECK_IN,
        "walk_in": Operation.SEAT_WALK_IN,
        "no_show": Operation.NO_SHOW,
        "undo": Operation.CORRECT_ARRIVALS,
    }

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        operation = self.OPERATIONS.get(action)
        if operation is None:
            return True
        return self.may(operation)

    def on_key(self, event: events.Key) -> None:
        # Before the bindings run: a door key this staff member's role may not use says why,
        # rather than nothing (or the search box taking it).
        actor = self.services.actor
        if actor.staff_id is None and self.services.identity is not None:
            return  # signed out: the sign-in screen is in front
        for binding in mapped_bindings(self).key_to_bindings.get(event.key, ()):
            operation = self.OPERATIONS.get(binding.action)
            if operation is not None and not self.may(operation):
                event.stop()
                role = f"{actor.role.capitalize()} staff" if actor.role else actor.name
                self.notify(
                    f"{role} may not {WORDS.get(operation, operation)} at the door.", severity="warning"
                )
                return

    def help_bindings(self) -> list[tuple[str, ActiveBinding]]:
        """The keys for the help screen: the door's and the console's, not the search box's
        own editing keys."""
        search = self.search
        return [(key, active) for key, active in self.active_bindings.items() if active.node is not search]

    def table_commands(self) -> list[TableCommand]:
        """The palette's entries: what this staff member may do here now."""
        commands = []
        booking = self.selected

        def key(binding_id: str, default: str) -> str:
            return key_label(self.app, binding_id, default)

        if booking is not None and self.may(Operation.CHECK_IN) and _still_expected(booking):
            commands.append(
                TableCommand(
                    f"Check in · {booking.ref} {booking.guest_name}",
                    f"All or some of the party ({key('door.check_in', 'enter')})",
                    partial(self.perform, "check_in"),
                )
            )
        if self.may(Operation.SEAT_WALK_IN):
            commands.append(
                TableCommand(
                    "Seat a walk-in · best free table",
                    f"A party now, at a free table that fits ({key('door.walk_in', 'ctrl+w')})",
                    partial(self.perform, "walk_in"),
                )
            )
        if booking is not None and booking.status in DOOR_UNDO and self.may(DOOR_UNDO[booking.status]):
            operation = DOOR_UNDO[booking.status]
            commands.append(
                TableCommand(
                    f"{HEADINGS[operation]} · {booking.ref} {booking.guest_name}",
                    f"With a reason, for the audit log ({key('door.undo', 'ctrl+u')})",
                    partial(self.perform, "undo"),
                )
            )
        if (
            booking is not None
            and self.may(Operation.NO_SHOW)
            and booking.status is BookingStatus.CONFIRMED
            and self._late_enough(booking)
        ):
            commands.append(
                TableCommand(
                    f"Mark no-show · {booking.ref} {booking.guest_name}",
                    f"The party did not come ({key('door.no_show', 'ctrl+n')})",
                    partial(self.perform, "no_show"),
                )
            )
        commands.append(
            TableCommand(
                "Who is still expected",
                f"Clear the search ({key('door.expected', 'escape')})",
                self.action_expected,
            )
        )
        return commands

    def perform(self, action: str) -> None:
        """Run an action as its key would (the palette's way in)."""
        if self.check_action(action, ()) is True:
            getattr(self, f"action_{action}")()

    # Keys that act on the list wait until it shows what was typed --------------------

    def _when_current(self, action: str) -> None:
        # Keys typed just before this one may still be on their way to the box: look once
        # they are in.
        self.search.call_later(self._now_or_when_read, action)

    def _now_or_when_read(self, action: str) -> None:
        if self.current:
            self._waiting = None
            getattr(self, f"_{action}")()
            return
        self._waiting = (action, self.search.value)
        self.request_read()

    def _act_if_waiting(self) -> None:
        waiting = self._waiting
        if waiting is None or self._reader.running:
            return
        action, text = waiting
        if self.search.value != text:
            self._waiting = None  # typed on since: the key was not meant for this list
            return
        if self._shown_text == text:
            self._waiting = None
            getattr(self, f"_{action}")()

    # Check in ----------------------------------------------------------------------

    def action_check_in(self) -> None:
        if self.may(Operation.CHECK_IN):
            self._when_current("check_in")

    def _check_in(self) -> None:
        booking = self.selected
        if booking is None:
            self._nothing_selected()
            return
        if not _still_expected(booking):
            self.notify(self._not_expected(booking), severity="warning")
            return
        snapshot = self.snapshot
        if snapshot is not None and not is_tonight(snapshot.night, snapshot.timezone, self.services.clock()):
            self.notify(
                f"Check-in is for tonight only: {snapshot.night.date:%a %d %b} is not "
                "tonight. F2 then F3 opens tonight's door.",
                severity="warning",
            )
            return
        if not self.may_write():
            return
        self._ask(
            check_in_dialog(
                booking,
                where=self.where(booking),
                on_answer=partial(self._check_in_write, Intent(), booking, self.search.value),
            )
        )

    def _check_in_write(
        self, intent: Intent, booking: Booking, text: str, arrived: int, dialog: Dialog[Any]
    ) -> None:
        write = check_in_write(self.services, intent, booking, arrived, where=self.where)
        self._write_from(text, write, dialog)

    # Walk-ins ----------------------------------------------------------------------

    def action_walk_in(self) -> None:
        if not self.may(Operation.SEAT_WALK_IN) or self.snapshot is None:
            return
        night = self.snapshot.night
        now = self.services.clock()
        if now < night.starts_at:
            self.notify(
                f"Tonight opens at {local_time(night.starts_at, self.timezone)}: "
                "walk-ins are seated from then.",
                severity="warning",
            )
            return
        if now >= night.ends_at:
            self.notify("Tonight is over: there is nowhere to seat a walk-in.", severity="warning")
            return
        if not self.may_write():
            return
        self._ask(
            WalkInForm(
                None,
                party=WALK_IN_PARTY,
                on_answer=partial(self._walk_in, Intent(), night.id, self.search.value),
            )
        )

    def _walk_in(
        self, intent: Intent, night_id: int, text: str, request: WalkInRequest, dialog: Dialog[Any]
    ) -> None:
        self._write_from(
            text, walk_in_write(self.services, intent, night_id, None, request, where=self.where), dialog
        )

    # No-shows ----------------------------------------------------------------------

    def action_no_show(self) -> None:
        if self.may(Operation.NO_SHOW):
            self._when_current("no_show")

    def _no_show(self) -> None:
        booking = self.selected
        if booking is None:
            self._nothing_selected()
            return
        if booking.status is not BookingStatus.CONFIRMED:
            self.notify(self._not_a_no_show(booking), severity="warning")
            return
        if not self._late_enough(booking):
            grace = self.snapshot.no_show_grace if self.snapshot is not None else timedelta(0)
            late = self.services.clock() >= booking.starts_at
            self.notify(
                f"{booking.ref} · {booking.guest_name} is {'late, ' if late else ''}due at "
                f"{local_time(booking.starts_at, self.timezone)}: a no-show only from "
                f"{local_time(booking.starts_at + grace, self.timezone)}.",
                severity="warning",
            )
            return
        if not self.may_write():
            return
        text = self.search.value
        self._ask(
            no_show_dialog(
                self.services,
                booking,
                summary=self.summary(booking),
                where=self.where,
                start=lambda write, dialog: self._write_from(text, write, dialog),
                released=True,
            )
        )

    def _late_enough(self, booking: Booking) -> bool:
        """Whether the party is late by the venue's grace: a no-show from then."""
        grace = self.snapshot.no_show_grace if self.snapshot is not None else timedelta(0)
        return self.services.clock() >= booking.starts_at + grace

    # Undo --------------------------------------------------------------------------

    def action_undo(self) -> None:
        if self.may(Operation.CORRECT_ARRIVALS):
            self._when_current("undo")

    def _undo(self) -> None:
        booking = self.selected
        if booking is None:
            self._nothing_selected()
            return
        operation = DOOR_UNDO.get(booking.status)
        who = f"{booking.ref} · {booking.guest_name}"
        if operation is None:
            self.notify(
                f"{who} is {BOOKING_WORDS[booking.status]}: the door undoes a count "
                "once a party is in, or a no-show.",
                severity="warning",
            )
            return
        if not self.may(operation):
            self.notify(
                f"{ROLE_WORDS.get(self.services.actor.role or '', 'This account')} may "
                f"not {WORDS[operation]}: ask a manager.",
                severity="warning",
            )
            return
        snapshot = self.snapshot
        if snapshot is not None and not is_tonight(snapshot.night, snapshot.timezone, self.services.clock()):
            self.notify(
                f"Undo at the door is for tonight only: {snapshot.night.date:%a %d %b} is not tonight.",
                severity="warning",
            )
            return
        if not self.may_write():
            return
        text = self.search.value
        ask_undo(
            self.services.bookings,
            self.services.actor,
            operation,
            booking,
            where=self.where(booking),
            push=self._ask,
            start=lambda write, dialog: self._write_from(text, write, dialog),
        )

    def _ask(self, dialog: Dialog[Any]) -> None:
        self.app.push_screen(dialog, lambda _answer: self._dialog_closed(dialog))

    def _dialog_closed(self, dialog: Dialog[Any]) -> None:
        """Closed without an answer (Esc, or after a failed try): the next search starts
        fresh. (A change made empties the box in `after_write`; a refusal keeps it.)"""
        if not dialog.answered:
            self.action_expected()

    # Running a change ----------------------------------------------------------------

    def _write_from(self, text: str, write: Write, dialog: Dialog[Any]) -> None:
        self._written_from = text
        self.start_write(write, dialog)

    async def after_write(self, result: object) -> None:
        text, self._written_from = self._written_from, None
        if isinstance(result, Booking) and text and self.search.value == text:
            # Done with this guest: the box is ready for the next name.
            self.search.value = ""
        await self.read_now()

    # Words -------------------------------------------------------------------------

    def where(self, booking: Booking) -> str:
        numbers = (
            {i: s.table.number for i, s in self.snapshot.tables.items()} if self.snapshot is not None else {}
        )
        tables = table_numbers(booking.table_ids, numbers)
        return f"tables {tables}" if len(booking.table_ids) > 1 else f"table {tables}"

    def summary(self, booking: Booking) -> str:
        """One line about a booking: who, how many, when, where, how it stands."""
        if booking.arrived_count:
            party = arrived_of(booking)
        else:
            party = f"party of {booking.party_size}"
        facts = [
            booking.ref,
            booking.guest_name + (" ★ VIP" if booking.guest_vip else ""),
            party,
            local_time(booking.starts_at, self.timezone),
            self.where(booking),
            BOOKING_WORDS[booking.status],
        ]
        if booking.deposit:
            facts.append(f"deposit {booking.deposit:,.0f}")
        return " · ".join(facts)

    def _nothing_selected(self) -> None:
        text = self.search.value.strip()
        if text:
            self.notify(
                f"No booking tonight matches “{text}”. Esc shows who is expected.", severity="warning"
            )
        else:
            self.notify("Nobody is expected now: type a name, phone or booking ref.", severity="warning")

    def _not_expected(self, booking: Booking) -> str:
        who = f"{booking.ref} · {booking.guest_name}"
        if booking.status is BookingStatus.ARRIVED:
            return f"{who} is in already: all {booking.party_size} of the party."
        if booking.status is BookingStatus.NO_SHOW and self.may(Operation.REVERSE_NO_SHOW):
            key = key_label(self.app, "door.undo", "ctrl+u")
            return f"{who} is no-show: if the party has come, {key} reverses it, then check in."
        return f"{who} is {BOOKING_WORDS[booking.status]}: there is nobody to check in."

    def _not_a_no_show(self, booking: Booking) -> str:
        who = f"{booking.ref} · {booking.guest_name}"
        if booking.status is BookingStatus.ARRIVED:
            return f"{who} has arrived ({party_in(booking)} in): not a no-show."
        if booking.status is BookingStatus.PENDING:
            return f"{who} was never confirmed: it lapses by itself, not as a no-show."
        return f"{who} is {BOOKING_WORDS[booking.status]} already."


# What the door undoes for a booking in each status.
DOOR_UNDO = {
    BookingStatus.ARRIVED: Operation.CORRECT_ARRIVALS,
    BookingStatus.NO_SHOW: Operation.REVERSE_NO_SHOW,
}


def _still_expected(booking: Booking) -> bool:
    return booking.status in (BookingStatus.PENDING, BookingStatus.CONFIRMED) or (
        booking.status is BookingStatus.ARRIVED and booking.arrived_count < booking.party_size
    )


def _plural(count: int, word: str, many: str | None = None) -> str:
    return f"{count} {word if count == 1 else many or word + 's'}"
