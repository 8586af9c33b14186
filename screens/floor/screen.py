"""The floor: tonight's tables on every floor, live, with the selected table's detail,
and the changes staff make to the selected table.

The screen reads the night through the floor service and keeps it current
with the change feed: every relevant change asks for a reload, reloads are
coalesced so a burst of changes costs one or two reads, and each new snapshot
updates only the tiles whose state changed.

Changes (book, hold, confirm, check in, move, edit, cancel, no-show, complete,
seat a walk-in) are offered only when they fit the selected table and the signed-in
role (`screens.floor.actions`). Their flows (`screens.floor.flows`) ask their
questions in dialogs of their own; the call to the booking service always runs in the "action" worker, and
its outcome comes back as a toast, or as alternatives to choose from.

The header says who is signed in. The screen reads `services.actor` afresh for
each change, so after a sign-out or a handover it acts for the next staff
member; it watches the App's `actor` to update the header and the keys.

The selected table is `selected`, reactive: setting it shows that table's
detail below the floors.

A table action's key that cannot act on the selected table (a role that may
not, a table taken or held by someone else, a walk-in before the night opens,
a check-in on another night) says why in a toast instead of doing nothing.
Check-in is for tonight's floor only.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Protocol, Unpack

from textual import events, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal
from textual.reactive import var
from textual.timer import Timer

from screens.booking_steps import (
    NO_NIGHTS,
    BookingServices,
    NightOptions,
    is_tonight,
)
from screens.changes import table_news
from screens.floor.actions import (
    BY_NAME,
    TABLE_ACTIONS,
    TableAction,
    TableCommand,
    fits,
)
from screens.floor.arrows import Cell, Direction, cells_of, neighbour
from screens.floor.commands import TableCommands
from screens.floor.flows import TableFlows
from screens.floor.holds import (
    HOLD_RENEW_SECONDS,
    HOLD_WARN_SECONDS,
    HoldWatch,
    due_holds,
    follow_holds,
)
from screens.floor.refusals import why_not_words
from screens.help import key_label, mapped_bindings
from screens.keys import arrow_keys
from screens.live import NightChanged
from screens.protocols import AnnouncesHold
from screens.reading import VENUE_KINDS, CoalescingReader, ReadsThrough, failure_words
from screens.waitlist import WaitlistScreen, why_not_waitlist
from services.errors import HoldExpired
from services.identity.permissions import Operation, may
from services.live.feed import ChangeBatch, FeedState, FeedStatus
from services.models import (
    Booking,
    FloorSnapshot,
    TableState,
)
from widgets.connection_badge import ConnectionBadge
from widgets.display import countdown
from widgets.floor_plan import FloorPlan
from widgets.footer import Footer
from widgets.table_detail import TableDetail
from widgets.table_tile import TableTile
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.live.presence import PresenceEntry


class FloorServices(BookingServices, Protocol):
    """What this screen needs from the services the console was built with."""


class FloorScreen(ReadsThrough, TableFlows):
    """Both floors side by side, the selected table below, the feed's state in the header."""

    DEFAULT_CSS = """
    FloorScreen {
        layout: vertical;
        #floors { height: 13; }
        &.-medium #floors { height: 15; }
        &.-tall #floors { height: 19; }
    }
    """

    # Tile heights follow the terminal height: 6 rows at 24, 9 rows from 44.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-medium"), (44, "-tall")]

    # The arrows select a table ("Move" is the booking action on m).
    BINDINGS = [
        *arrow_keys(
            "floor",
            "Select",
            {"left": "move('left')", "right": "move('right')", "up": "move('up')", "down": "move('down')"},
        ),
        *(action.binding() for action in TABLE_ACTIONS),
        # The feed keeps the floor current: reloading is a rare need, kept off the footer.
        Binding("r", "reload", "Reload", id="floor.reload", show=False),
        # Off the footer, which needs every column at 80; in help and the palette.
        Binding(
            "l",
            "waitlist",
            "Waitlist",
            id="floor.waitlist",
            show=False,
            tooltip="Parties waiting for a table",
        ),
    ]

    COMMANDS = {TableCommands}

    PRESENCE_NAME = "floor"

    services: FloorServices

    # The table whose detail shows (by id). Each time it is set the detail shows afresh,
    # the same table too.
    selected: var[int | None] = var(None, init=False, always_update=True)

    def __init__(self, services: FloorServices, **options: Unpack[NightOptions]) -> None:
        super().__init__(services, **options)
        # The tile an arrow key sent focus to, until that focus lands: a focus from an
        # earlier repeat of a held key arrives late and must not move the selection back.
        self._focus_due: int | None = None
        # Relevant changes heard, for a test or a health view to count.
        self.changes_heard = 0
        self._reader = CoalescingReader[FloorSnapshot | None](
            self, read=self._read, show=self._show_now, failed=self._show_error, group="reload"
        )
        self._last_error = ""
        self._my_holds: set[int] = set()
        self._hold_keeper: Timer | None = None
        # This staff member's holds on screen, by hold id: warned before they lapse, and said
        # when they have.
        self._watched: dict[int, HoldWatch] = {}
        # Holds already said to have lapsed: a read before the database sweeps one away still
        # has it, and it must not be watched (and said) again.
        self._lapsed: set[int] = set()
        self._every_table = False
        self._acting_for: int | None = services.actor.staff_id
        self._session_read: str | None = services.actor.session
        # Who is online on other consoles (the App's presence), and the hold announced here.
        self._others: tuple[PresenceEntry, ...] = ()
        self._announced_hold: int | None = None
        # Which table actions fit the selection, as the footer last showed them.
        self._fitting: tuple[bool, ...] = ()

    def compose(self) -> ComposeResult:
        yield TopBar("Loading tonight…")
        yield Horizontal(id="floors")
        yield TableDetail(clock=self.services.clock, id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TableDetail).note = "Loading tonight…"
        super().on_mount()
        self.follow("roster", self._roster_changed)
        self.set_interval(1, self._watch_holds)
        self.request_reload()

    def on_resize(self) -> None:
        # Compact below 100 columns: five actions on a booked table still fit beside the
        # arrows at 80; a wide terminal can afford the roomier footer.
        self.query_one(Footer).compact = self.size.width < 100

    @property
    def plans(self) -> list[FloorPlan]:
        return list(self.query_one("#floors").query_children(FloorPlan))

    # Loading -----------------------------------------------------------------

    async def resync(self) -> None:
        """The feed's resync: read the night before the feed reports Live."""
        # A night that does not exist will not appear by reconnecting.
        await self._reader.once(catch=LookupError)

    async def _read(self) -> FloorSnapshot | None:
        night_id = self.night_id
        if night_id is None and self.snapshot is not None:
            night_id = self.snapshot.night.id
        if night_id is None:
            night = await self.services.floor.tonight()
            if night is None:
                return None
            night_id = night.id
        self.reads += 1
        return await self.services.floor.snapshot(night_id)

    async def _show_now(self, snapshot: FloorSnapshot | None) -> None:
        detail = self.query_one(TableDetail)
        if snapshot is None:
            self.query_one(TopBar).set_title("No night to show")
            detail.note = NO_NIGHTS
            if self._last_error != NO_NIGHTS:
                self._last_error = NO_NIGHTS
                self.notify(NO_NIGHTS, severity="warning", timeout=10)
            return
        self._last_error = ""
        detail.note = ""
        previous, self.snapshot = self.snapshot, snapshot
        self.query_one(ConnectionBadge).data_at = time.monotonic()
        self.query_one(TopBar).set_title(
            f"{snapshot.venue_name} · {snapshot.night.date:%a %d %b %Y}",
            short=f"{snapshot.night.date:%a %d %b}",
        )
        if (
            previous is None
            or previous.floors != snapshot.floors
            or previous.timezone != snapshot.timezone
            or not self.plans
        ):
            await self._build_plans(snapshot)
        else:
            with self.app.batch_update():
                for plan in self.plans:
                    plan.tables = tuple(snapshot.tables_on(plan.floor.id))
        self._show_detail()
        self._ensure_selection()
        self._say_what_changed(previous, snapshot)
        if previous is None or previous.night.id != snapshot.night.id:
            self.announce()
        self._announce_hold(snapshot)
        self._track_holds(previous, snapshot)

    def _say_what_changed(self, previous: FloorSnapshot | None, snapshot: FloorSnapshot) -> None:
        """A toast when another console changed the table in front of this staff member."""
        if (
            previous is None
            or previous.night.id != snapshot.night.id
            or self.writing
            or self.selected is None
            or not self.in_front
        ):
            return
        before, after = previous.tables.get(self.selected), snapshot.tables.get(self.selected)
        if before is None or after is None or before == after:
            return
        news = table_news(
            before,
            after,
            timezone=snapshot.timezone,
            me=self.services.actor.staff_id,
            numbers=snapshot.table_numbers,
            snapshot=snapshot,
        )
        if news:
            self.say_news(news)

    async def _build_plans(self, snapshot: FloorSnapshot) -> None:
        floors = self.query_one("#floors")
        await floors.remove_children()
        stale = not self.live
        plans = [
            FloorPlan(
                floor,
                snapshot.tables_on(floor.id),
                timezone=snapshot.timezone,
                clock=self.services.clock,
                id=f"floor-{floor.id}",
            )
            for floor in snapshot.floors
        ]
        for plan in plans:
            plan.stale = stale
        await floors.mount_all(plans)

    def _show_error(self, err: Exception) -> None:
        text = failure_words(err)
        self.query_one(TableDetail).note = f"Could not load the floor: {text}"
        if text != self._last_error:
            self._last_error = text
            self.notify(text, title="Could not load the floor", severity="error", timeout=10)

    # The live feed -----------------------------------------------------------

    def on_night_changed(self, message: NightChanged) -> None:
        if self._concerns_us(message.batch):
            self.changes_heard += message.batch.changes
            self.request_reload()

    def _concerns_us(self, batch: ChangeBatch) -> bool:
        if batch.everything and not batch.nights:
            return True
        night = self.snapshot.night.id if self.snapshot is not None else self.night_id
        return batch.concerns(night) or bool(batch.kinds & VENUE_KINDS)

    def show_status(self, status: FeedStatus) -> None:
        super().show_status(status)
        stale = status.state is not FeedState.LIVE
        for plan in self.plans:
            plan.stale = stale

    # Selection ---------------------------------------------------------------

    def on_table_tile_selected(self, message: TableTile.Selected) -> None:
        # Each tile tells of its focus from its own queue, so these can arrive out of order:
        # only the tile that has focus now, and that no arrow key has since moved on from, counts.
        focused = self.focused
        if not isinstance(focused, TableTile) or focused.table_id != message.table_id:
            return
        if self._focus_due is not None and self._focus_due in self._tiles():
            if message.table_id != self._focus_due:
                return
        self._focus_due = None
        self.selected = message.table_id
        self.announce()

    def announce(self, *, table_id: int | None = None, night_id: int | None = None) -> None:
        """Other consoles see the night on screen and the table selected here."""
        if not self.in_front:
            return  # another job's screen is over the floor: it says where this console is
        if night_id is None and self.snapshot is not None:
            night_id = self.snapshot.night.id
        super().announce(table_id=table_id if table_id is not None else self.selected, night_id=night_id)

    def _announce_hold(self, snapshot: FloorSnapshot) -> None:
        """Other consoles see which table this staff member holds (one at a time on screen)."""
        me = self.services.actor.staff_id
        mine = next(
            (
                t
                for t, state in snapshot.tables.items()
                if state.hold is not None and me is not None and state.hold.staff_id == me
            ),
            None,
        )
        # The App announces it (an App in a test may not announce at all).
        app = self.app
        if mine != self._announced_hold and isinstance(app, AnnouncesHold) and self.in_front:
            self._announced_hold = mine
            app.announce_hold(mine)

    def _roster_changed(self, entries: tuple[PresenceEntry, ...] | None) -> None:
        self._others = entries or ()
        self._show_detail()

    def _watchers(self, table_id: int) -> tuple[str, ...]:
        """Who else, on another console, has this table selected or held now."""
        live = self.live_app
        presence = live.presence if live is not None else None
        here = presence.console_id if presence is not None else None
        night = self.snapshot.night.id if self.snapshot is not None else None
        names = []
        for entry in self._others:
            if entry.console_id == here or entry.staff_id is None:
                continue
            if entry.looks_at(table_id, night) or entry.holds(table_id, night):
                role = f" ({entry.role})" if entry.role else ""
                names.append(f"{entry.staff_name}{role}")
        return tuple(dict.fromkeys(names))

    def on_table_tile_hold_lapsed(self, _message: TableTile.HoldLapsed) -> None:
        self.request_reload()

    def watch_selected(self) -> None:
        self._show_detail()

    def _show_detail(self) -> None:
        detail = self.query_one(TableDetail)
        snapshot = self.snapshot
        if snapshot is None or self.selected is None:
            detail.state = None
            return
        state = snapshot.tables.get(self.selected)
        floor = next((f for f in snapshot.floors if state is not None and f.id == state.table.floor_id), None)
        detail.timezone = snapshot.timezone
        detail.floor_name = floor.name if floor is not None else ""
        detail.watchers = self._watchers(self.selected)
        detail.me = self.services.actor.staff_id
        detail.state = state
        # What fits the table decides what the footer and the palette offer. Rebuilding the
        # footer is the costliest part of moving the selection: only when that changes.
        fitting = tuple(self.check_action(spec.name, ()) is True for spec in TABLE_ACTIONS)
        if fitting != self._fitting:
            self._fitting = fitting
            self.refresh_bindings()

    def _tiles(self) -> dict[int, TableTile]:
        return {key: tile for plan in self.plans for key, tile in plan.tiles.items()}

    def _ensure_selection(self) -> None:
        tiles = self._tiles()
        if not tiles:
            return
        focused = self.focused
        if isinstance(focused, TableTile) and focused.table_id in tiles:
            if focused.table_id != self.selected:
                # The highlighted tile is the selection: the detail names the same table.
                self.selected = focused.table_id
            return
        target = tiles.get(self.selected) if self.selected is not None else None
        (target or next(iter(tiles.values()))).focus()

    def _cells(self) -> dict[int, Cell]:
        return cells_of(self.plans)

    def action_move(self, direction: Direction) -> None:
        tiles = self._tiles()
        if not tiles:
            return
        # Focus lands a moment later, so keys typed quickly move from `selected`, not `focused`.
        current = self.selected
        if current not in tiles:
            focused = self.focused
            current = focused.table_id if isinstance(focused, TableTile) else None
        if current is None or current not in tiles:
            target = next(iter(tiles))
        else:
            target = neighbour(self._cells(), current, direction)
        self.selected = target
        focused = self.focused
        already = isinstance(focused, TableTile) and focused.table_id == target
        self._focus_due = None if already else target
        tiles[target].focus()

    def action_reload(self) -> None:
        self.request_reload()

    # Who may do what, and what fits the selected table --------------------------

    def show_staff(self) -> None:
        """Show who the console acts for now, and offer the keys their role allows.

        After a sign-in or a sign-out (the App's `actor`), and back in front: the floor
        keeps running from one staff member to the next, and reads `services.actor` afresh.
        """
        super().show_staff()
        actor = self.services.actor
        if actor.staff_id != self._acting_for:
            # Holds taken by the one before are theirs, not the new person's.
            self._acting_for = actor.staff_id
            self._my_holds.clear()
            self._watched.clear()
            self._stop_keeping_hold()
        if actor.session is not None and actor.session != self._session_read:
            # Postgres shows a night only to someone signed in: read it again as them.
            self._session_read = actor.session
            self.request_reload()
        # Back in front (after a handover, or F2 from the door): the detail follows the tile
        # that is highlighted.
        self._ensure_selection()
        self._show_detail()
        self.refresh_bindings()

    @property
    def selected_state(self) -> TableState | None:
        if self.snapshot is None or self.selected is None:
            return None
        return self.snapshot.tables.get(self.selected)

    def may(self, operation: Operation) -> bool:
        """Whether the signed-in staff member's role allows `operation`."""
        actor = self.services.actor
        if actor.staff_id is None and self.services.identity is not None:
            return False  # signed out: the floor runs on under the sign-in, for nobody
        if (
            operation in (Operation.HOLD, Operation.RENEW_HOLD, Operation.RELEASE_HOLD)
            and actor.staff_id is None
        ):
            return False  # a hold belongs to a person
        # No role is a script or test acting as the system, which the services allow too.
        return actor.role is None or may(actor.role, operation)

    def held_by_me(self, state: TableState) -> bool:
        hold = state.hold
        if hold is None:
            return False
        mine = hold.staff_id is not None and hold.staff_id == self.services.actor.staff_id
        return mine or hold.id in self._my_holds

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "waitlist":
            return self.snapshot is not None and self.may(Operation.WAITLIST_ADD)
        spec = BY_NAME.get(action)
        if spec is None:
            return True
        if not self.may(spec.operation):
            return False
        if self._every_table:
            return True
        state = self.selected_state
        if state is None or self.snapshot is None:
            return False
        now = self.services.clock()
        if action == "walk_in":
            # A walk-in sits down now: only while the night on screen is under way.
            night = self.snapshot.night
            if not night.starts_at <= now < night.ends_at:
                return False
        if action == "check_in" and not self.tonight:
            return False  # guests arrive tonight, not on a night opened from the list
        return fits(
            action,
            state,
            held_by_me=self.held_by_me(state),
            now=now,
            grace=self.snapshot.no_show_grace,
            tonight=self.tonight,
            night_ends=self.snapshot.night.ends_at,
        )

    @property
    def tonight(self) -> bool:
        """Whether the night on screen is tonight's (F4 opens others)."""
        snapshot = self.snapshot
        return snapshot is not None and is_tonight(snapshot.night, snapshot.timezone, self.services.clock())

    # Keys that cannot act say why ---------------------------------------------------

    def on_key(self, event: events.Key) -> None:
        # Before the bindings run (they are the App's last step): a table action's key that
        # no binding will act on gets a toast that says why, not silence.
        bindings = mapped_bindings(self).key_to_bindings.get(event.key, ())
        refusal = self._waitlist_refusal() if any(b.action == "waitlist" for b in bindings) else None
        if refusal:
            event.stop()
            self.notify(refusal, severity="warning", timeout=6)
            return
        names = [binding.action for binding in bindings if binding.action in BY_NAME]
        if not names or any(self.check_action(name, ()) is True for name in names):
            return
        why = self.why_not(names)
        if why:
            event.stop()
            self.notify(why, severity="warning", timeout=6)

    def why_not(self, names: Sequence[str]) -> str | None:
        """Why none of the table actions `names` (one key's) can act now, in one line."""
        return why_not_words(self, names)

    def help_bindings(self) -> list[tuple[str, ActiveBinding]]:
        """Every key this staff member may use here, whichever table is selected (for help)."""
        self._every_table = True
        try:
            own = [
                (key, ActiveBinding(self, binding, True, binding.tooltip))
                for key, bindings in mapped_bindings(self).key_to_bindings.items()
                for binding in bindings
                if self.check_action(binding.action, ()) is not False
            ]
        finally:
            self._every_table = False
        others = [(key, active) for key, active in self.active_bindings.items() if active.node is not self]
        return own + others

    def table_commands(self) -> list[TableCommand]:
        """The palette's entries: the actions that fit the selected table now."""
        state = self.selected_state
        if state is None:
            return []
        commands = self._waitlist_commands()
        where = f"table {state.table.number}"
        booking = state.booking
        for spec in TABLE_ACTIONS:
            if self.check_action(spec.name, ()) is not True:
                continue
            here = spec.name != "walk_in" or self._walk_in_here(state)
            title = f"{spec.title} · {where if here else 'best free table'}"
            if spec.about_booking and booking is not None:
                title += f" · {booking.ref} {booking.guest_name}"
            commands.append(
                TableCommand(title, f"{spec.help} ({self.key_for(spec)})", partial(self.perform, spec.name))
            )
        return commands

    # The waitlist of the night on screen -----------------------------------------------

    def _waitlist_refusal(self) -> str | None:
        """Why this staff member cannot open the waitlist, in one line; None when they can."""
        actor = self.services.actor
        if actor.staff_id is None and self.services.identity is not None:
            return None  # signed out: the sign-in screen is in front
        return why_not_waitlist(actor)

    def _waitlist_commands(self) -> list[TableCommand]:
        if self.check_action("waitlist", ()) is not True or self.snapshot is None:
            return []
        key = key_label(self.app, "floor.waitlist", "l")
        return [
            TableCommand(
                f"Waitlist · {self.snapshot.night.date:%a %d %b}",
                f"Parties waiting for a table: add, offer, book, remove ({key})",
                self.action_waitlist,
            )
        ]

    def action_waitlist(self) -> None:
        if self.snapshot is None or self.check_action("waitlist", ()) is not True:
            return
        self.app.push_screen(WaitlistScreen(self.services, night_id=self.snapshot.night.id))

    def key_for(self, spec: TableAction) -> str:
        """The key of a table action, as the keymap file may have changed it."""
        return key_label(self.app, spec.binding_id, spec.key)

    def perform(self, action: str) -> None:
        """Run a table action as its key would (the palette's way in)."""
        if action in BY_NAME and self.check_action(action, ()) is True:
            getattr(self, f"action_{action}")()

    def _ready(self, action: str) -> TableState | None:
        """The selected table, if `action` may go ahead now; else say why not and None."""
        state = self.selected_state
        if state is None or self.check_action(action, ()) is not True:
            return None
        return state if self.may_write() else None

    # Running a change ------------------------------------------------------------

    async def after_write(self, result: object) -> None:
        await self._refresh_now()
        if result is not None:
            self._follow(result)

    async def _refresh_now(self) -> None:
        """Read the night now, so the next key acts on what the database holds."""
        await self._reader.once(failed=lambda _err: self.request_reload())

    def _follow(self, result: object) -> None:
        """Select the table a booking landed on, when it is not the one selected."""
        if not isinstance(result, Booking) or not result.table_ids:
            return
        if self.selected in result.table_ids:
            return
        tile = self._tiles().get(result.table_ids[0])
        if tile is not None:
            self.selected = tile.table_id
            tile.focus()

    # Keeping a hold while its booking form is open ---------------------------------

    def _keep_hold(self, hold_id: int) -> None:
        self._stop_keeping_hold()
        self._hold_keeper = self.set_interval(HOLD_RENEW_SECONDS, partial(self._renew_hold, hold_id))

    def _stop_keeping_hold(self) -> None:
        if self._hold_keeper is not None:
            self._hold_keeper.stop()
            self._hold_keeper = None

    @work(exclusive=True, group="hold", exit_on_error=False)
    async def _renew_hold(self, hold_id: int) -> None:
        try:
            hold = await self.services.bookings.renew_hold(self.services.actor, hold_id)
        except HoldExpired as err:
            self._stop_keeping_hold()
            self._forms_hold_lapsed()
            watch = self._watched.pop(hold_id, None)
            if watch is not None:
                self._say_lapsed(watch)
            else:
                self.notify(str(err), severity="warning")
        except Exception:
            # The next tick tries again; the booking itself says if the table was lost.
            pass
        else:
            watch = self._watched.get(hold_id)
            if watch is not None:
                watch.expires_at = hold.expires_at
                watch.warned = False

    def _track_holds(self, previous: FloorSnapshot | None, snapshot: FloorSnapshot) -> None:
        """Watch this staff member's holds on the night shown; a hold gone from it because
        its time ran out is said (one booked or let go is not)."""
        me = self.services.actor.staff_id
        for tile in self._tiles().values():
            if tile.me != me:
                tile.me = me
                tile.refresh()
        if previous is not None and previous.night.id != snapshot.night.id:
            self._watched.clear()
        now = self.services.clock()
        mine = [
            (state.hold, state.table.number)
            for state in snapshot.tables.values()
            if state.hold is not None and self.held_by_me(state)
        ]
        for watch in follow_holds(self._watched, self._lapsed, mine, now):
            self._say_lapsed(watch)

    def _watch_holds(self) -> None:
        """Once a second: a hold of yours about to lapse warns once; one that has lapsed says so."""
        if not self._watched:
            return
        now = self.services.clock()
        for watch, lapsed in due_holds(self._watched, self._lapsed, now):
            if lapsed:
                self._say_lapsed(watch)
                self.request_reload()
                continue
            book = self.key_for(BY_NAME["new_booking"])
            self.notify(
                f"Your hold on table {watch.table} lapses in "
                f"{countdown(watch.expires_at, now)}: {book} books it now.",
                title="Hold ending",
                severity="warning",
                timeout=HOLD_WARN_SECONDS,
            )

    def _forms_hold_lapsed(self, table: int | None = None) -> None:
        """A booking form open on a hold that lapsed says so (Enter still tries the table)."""
        from screens.forms.booking import BookingForm

        for form in self.app.screen_stack:
            if isinstance(form, BookingForm) and form.held and (table is None or form.table.number == table):
                form.hold_lapsed()

    def _say_lapsed(self, watch: HoldWatch) -> None:
        self._forms_hold_lapsed(watch.table)
        self.notify(
            f"Your hold on table {watch.table} has lapsed: the table is free to anyone again.",
            title="Hold lapsed",
            severity="warning",
            timeout=10,
        )
