"""The floor: tonight's tables on every floor, live, with the selected table's detail,
and the changes staff make to the selected table.

The screen reads the night through the floor service and keeps it current
with the change feed: every relevant change asks for a reload, reloads are
coalesced so a burst of changes costs one or two reads, and each new snapshot
updates only the tiles whose state changed.

Changes (book, hold, confirm, check in, move, edit, cancel, no-show, complete,
seat a walk-in) are offered only when they fit the selected table and the signed-in
role (`screens.floor.actions`). The questions they ask are dialogs of their
own; the call to the booking service always runs in the "action" worker, and
its outcome comes back as a toast, or as alternatives to choose from.

The header says who is signed in. The screen reads `services.actor` afresh for
each change, so after a sign-out or a handover it acts for the next staff
member; the App calls `show_staff` to update the header and the keys.

A table action's key that cannot act on the selected table (a role that may
not, a table taken or held by someone else, a walk-in before the night opens,
a check-in on another night) says why in a toast instead of doing nothing.
Check-in is for tonight's floor only.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any, Literal, Protocol
from zoneinfo import ZoneInfo

from textual import events, work
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Horizontal
from textual.timer import Timer

from screens.changes import table_news
from screens.dialogs.ask import ChoiceDialog, ConfirmDialog, CountDialog, Dialog, ReasonDialog
from screens.dialogs.undo import ask_undo, choice_words
from screens.floor.actions import (
    BY_NAME,
    TABLE_ACTIONS,
    Intent,
    TableAction,
    TableCommand,
    Write,
    fits,
    undoable,
)
from screens.floor.commands import TableCommands
from screens.forms.base import default_arrival
from screens.forms.booking import BookingForm, BookingRequest
from screens.forms.edit import EditForm, EditRequest
from screens.forms.move import MoveForm, MoveRequest, higher_spend
from screens.forms.walk_in import WalkInForm, WalkInRequest
from screens.help import key_label, mapped_bindings
from screens.live import FeedStatusChanged, NightChanged, PresenceChanged
from screens.waitlist import WaitlistScreen, why_not_waitlist
from screens.writes import WritingScreen
from services.bookings import DEPOSIT_OUTCOMES, GuestDetails
from services.errors import Alternative, HoldExpired
from services.floor import business_date
from services.identity.permissions import WORDS, Operation, may
from services.live.feed import ChangeBatch, FeedState
from services.models import (
    Booking,
    BookingStatus,
    FloorSnapshot,
    Hold,
    Night,
    Table,
    TableState,
    TileStatus,
)
from services.store.db import Actor, DatabaseError
from widgets.connection_badge import ConnectionBadge
from widgets.display import BOOKING_WORDS, countdown, local_time, seconds_left
from widgets.floor_plan import FloorPlan
from widgets.footer import Footer
from widgets.table_detail import TableDetail
from widgets.table_tile import TableTile
from widgets.top_bar import TopBar

if TYPE_CHECKING:
    from services.bookings import BookingService
    from services.floor import FloorService
    from services.identity.sign_in import SignInBackend
    from services.live.presence import PresenceEntry

NO_NIGHTS = "No nights in the database: run `backroom db seed`"
# A hold lasts about 30 s; while its booking form is open it is renewed well before that.
HOLD_RENEW_SECONDS = 10
# A hold of yours this close to lapsing (and not being renewed) says so, once.
HOLD_WARN_SECONDS = 10

# Changes that are not tied to one night but alter what every night shows.
VENUE_KINDS = frozenset({"venue", "floor", "venue_table", "night", "guest"})

Direction = Literal["left", "right", "up", "down"]


def is_tonight(night: Night, timezone: str, now: datetime) -> bool:
    """Whether `night` is the one under way (or still to open) on the business day of `now`:
    until that night's closing hour, the small hours belong to the night before."""
    closes = night.ends_at.astimezone(ZoneInfo(timezone)).hour
    return business_date(now, timezone, closes) == night.date


ROLE_WORDS = {"door": "Door staff", "support": "Support staff", "manager": "Managers", "admin": "Admins"}
# What each table action does, for "Door staff may not make bookings".
ACTION_WORDS = {
    "new_booking": "make bookings",
    "hold": "hold tables",
    "release": "release holds",
    "confirm": "confirm bookings",
    "check_in": "check guests in",
    "move_booking": "move bookings",
    "edit_booking": "change bookings",
    "cancel_booking": "cancel bookings",
    "no_show": "mark no-shows",
    "complete": "complete bookings",
    "walk_in": "seat walk-ins",
    "undo": "undo changes",
}


class FloorServices(Protocol):
    """What this screen needs from the services the console was built with."""

    @property
    def floor(self) -> FloorService: ...

    @property
    def bookings(self) -> BookingService: ...

    @property
    def actor(self) -> Actor: ...

    @property
    def identity(self) -> SignInBackend | None: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...


@dataclass(slots=True)
class HoldWatch:
    """A hold of this staff member's, watched so that its end is said, not silent."""

    table: int  # the table's number
    expires_at: datetime
    warned: bool = False


@dataclass(frozen=True, slots=True)
class Cell:
    """Where a tile sits for keyboard moves: its floor and its place on that floor."""

    floor: int
    column: int
    row: int
    offset: int  # columns of the floors to its left, so left/right can cross floors


def neighbour(cells: dict[int, Cell], current: int, direction: Direction) -> int:
    """The table an arrow key moves to.

    Left and right run along the row across all floors and wrap from the last
    floor back to the first; up and down stay on the floor and wrap top to bottom.
    """
    here = cells[current]
    step = 1 if direction in ("right", "down") else -1
    if direction in ("left", "right"):
        row = sorted((cell.offset + cell.column, key) for key, cell in cells.items() if cell.row == here.row)
        keys = [key for _, key in row]
        return keys[(keys.index(current) + step) % len(keys)]
    same_floor = {key: cell for key, cell in cells.items() if cell.floor == here.floor}
    rows = sorted({cell.row for cell in same_floor.values()})
    if len(rows) < 2:
        return current
    target_row = rows[(rows.index(here.row) + step) % len(rows)]
    candidates = [
        (abs(cell.column - here.column), cell.column, key)
        for key, cell in same_floor.items()
        if cell.row == target_row
    ]
    return min(candidates)[2]


class FloorScreen(WritingScreen):
    """Both floors side by side, the selected table below, the feed's state in the header."""

    DEFAULT_CSS = """
    FloorScreen {
        layout: vertical;
        #floors { height: 13; }
        /* The compact footer runs "Select" into the next key without this. */
        Footer.-compact FooterLabel { margin: 0 1 0 0; }
        &.-medium #floors { height: 15; }
        &.-tall #floors { height: 19; }
    }
    """

    # Tile heights follow the terminal height: 6 rows at 24, 9 rows from 44.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-medium"), (44, "-tall")]

    # The arrows select a table ("Move" is the booking action on m).
    BINDINGS = [
        Binding(
            "left",
            "move('left')",
            "Select",
            id="floor.left",
            key_display="←",
            group=Binding.Group("Select", compact=True),
        ),
        Binding(
            "right",
            "move('right')",
            "Select",
            id="floor.right",
            key_display="→",
            group=Binding.Group("Select", compact=True),
        ),
        Binding(
            "up",
            "move('up')",
            "Select",
            id="floor.up",
            key_display="↑",
            group=Binding.Group("Select", compact=True),
        ),
        Binding(
            "down",
            "move('down')",
            "Select",
            id="floor.down",
            key_display="↓",
            group=Binding.Group("Select", compact=True),
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

    def __init__(
        self,
        services: FloorServices,
        *,
        night_id: int | None = None,
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.services = services
        self.night_id = night_id
        self.snapshot: FloorSnapshot | None = None
        self.selected: int | None = None
        # The tile an arrow key sent focus to, until that focus lands: a focus from an
        # earlier repeat of a held key arrives late and must not move the selection back.
        self._focus_due: int | None = None
        # Counters a test or a health view can read: snapshot reads, relevant changes heard.
        self.reads = 0
        self.changes_heard = 0
        self._reloading = False
        self._dirty = False
        self._read_seq = 0
        self._shown_seq = 0
        self._last_error = ""
        self._showing = asyncio.Lock()
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
        self.set_interval(1, self._watch_holds)
        self.request_reload()

    def on_resize(self) -> None:
        # Compact below 100 columns: five actions on a booked table still fit beside the
        # arrows at 80; a wide terminal can afford the roomier footer.
        self.query_one(Footer).compact = self.size.width < 100

    @property
    def plans(self) -> list[FloorPlan]:
        return list(self.query_one("#floors").query_children(FloorPlan))

    @property
    def reloading(self) -> bool:
        return self._reloading

    # Loading -----------------------------------------------------------------

    def request_reload(self) -> None:
        """Reload the night soon; while a reload runs, just note that another is needed."""
        self._dirty = True
        if not self._reloading:
            self._reloading = True
            self._reload()

    @work(exclusive=True, group="reload", exit_on_error=False)
    async def _reload(self) -> None:
        try:
            # Changes arriving during a read set _dirty again: one more read covers them all.
            while self._dirty:
                self._dirty = False
                seq = self._next_seq()
                try:
                    snapshot = await self._read()
                except Exception as err:
                    self._show_error(err)
                    continue
                await self._show(snapshot, seq)
        finally:
            self._reloading = False

    async def resync(self) -> None:
        """The feed's resync: read the night before the feed reports Live."""
        seq = self._next_seq()
        try:
            snapshot = await self._read()
        except LookupError as err:
            # A night that does not exist will not appear by reconnecting.
            self._show_error(err)
            return
        await self._show(snapshot, seq)

    def _next_seq(self) -> int:
        self._read_seq += 1
        return self._read_seq

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

    async def _show(self, snapshot: FloorSnapshot | None, seq: int) -> None:
        # A resync and a reload may finish together; one at a time, and never back in time.
        async with self._showing:
            if seq < self._shown_seq:
                return
            await self._show_now(snapshot, seq)

    async def _show_now(self, snapshot: FloorSnapshot | None, seq: int) -> None:
        self._shown_seq = seq
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
        text = str(err) or type(err).__name__
        if isinstance(err, OSError) and not isinstance(err, DatabaseError):
            # A dropped pool connection surfaces as a bare socket error; say what it means.
            text = f"the database cannot be reached ({text}). Retrying in the background."
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

    def on_feed_status_changed(self, message: FeedStatusChanged) -> None:
        super().on_feed_status_changed(message)
        stale = message.status.state is not FeedState.LIVE
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
        self._show_detail()
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
        announce_hold = getattr(self.app, "announce_hold", None)
        if mine != self._announced_hold and callable(announce_hold) and self.in_front:
            self._announced_hold = mine
            announce_hold(mine)

    def on_presence_changed(self, message: PresenceChanged) -> None:
        self._others = message.entries
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
                self._show_detail()
            return
        target = tiles.get(self.selected) if self.selected is not None else None
        (target or next(iter(tiles.values()))).focus()

    def _cells(self) -> dict[int, Cell]:
        cells: dict[int, Cell] = {}
        offset = 0
        for index, plan in enumerate(self.plans):
            for key, tile in plan.tiles.items():
                if tile.state is not None:
                    table = tile.state.table
                    cells[key] = Cell(index, table.grid_col, table.grid_row, offset)
            offset += plan.columns
        return cells

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
        self._show_detail()
        tiles[target].focus()

    def action_reload(self) -> None:
        self.request_reload()

    # Who may do what, and what fits the selected table --------------------------

    def show_staff(self) -> None:
        """Show who the console acts for now, and offer the keys their role allows.

        The App calls this after a sign-in or a sign-out: the floor keeps running
        from one staff member to the next, and reads `services.actor` afresh.
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
        state, snapshot = self.selected_state, self.snapshot
        if state is None or snapshot is None:
            return None  # loading, or nothing to select: the detail says so
        actor = self.services.actor
        allowed = [name for name in names if self.may(BY_NAME[name].operation)]
        if not allowed:
            if actor.staff_id is None and self.services.identity is not None:
                return None  # signed out: the sign-in screen is in front
            role = ROLE_WORDS.get(actor.role or "", "This account")
            return f"{role} may not {ACTION_WORDS[names[0]]}: ask a manager."
        name = allowed[0]
        table = f"Table {state.table.number}"
        night = snapshot.night
        now = self.services.clock()
        at = partial(local_time, timezone=snapshot.timezone)
        if name == "walk_in":
            if now < night.starts_at:
                when = "Tonight" if self.tonight else f"{night.date:%a %d %b}"
                return (
                    f"{when} opens at {at(night.starts_at)}: walk-ins are seated from "
                    "then, on tonight's floor."
                )
            return f"{night.date:%a %d %b} is over: walk-ins are seated on tonight's floor."
        if name == "check_in" and not self.tonight:
            return f"Check-in is for tonight only: this is {night.date:%a %d %b}. F2 shows tonight's floor."
        if name == "undo":
            return (
                f"{table} has nothing to undo: a count, a no-show or a completion tonight, or a cancellation."
            )
        hold = state.hold
        if name in ("new_booking", "hold", "release"):
            if hold is not None and not self.held_by_me(state):
                return (
                    f"{table} is held by {hold.holder} until "
                    f"{at(hold.expires_at, seconds=True)}: it is free to book once "
                    "they book it or let go."
                )
            if name == "release":
                return f"You hold no table here: {table} is not held."
            booking = state.booking
            if booking is not None:
                doing = "A new booking" if name == "new_booking" else "A hold"
                if booking.status is BookingStatus.ARRIVED:
                    return (
                        f"{table} is taken: {booking.guest_name}'s party is in. {doing} needs a free table."
                    )
                return (
                    f"{table} is booked at {at(booking.starts_at)} "
                    f"({booking.guest_name}, {BOOKING_WORDS[booking.status]}): "
                    f"{doing.lower()} needs a free table."
                )
            return f"{table} cannot be booked now."
        booking = state.booking
        spec = BY_NAME[name]
        if booking is None:
            return f"{table} has no booking: {spec.title} needs one."
        who = f"{booking.ref} · {booking.guest_name}"
        status = BOOKING_WORDS[booking.status]
        if name == "no_show" and booking.status is BookingStatus.CONFIRMED:
            late = now >= booking.starts_at
            return (
                f"{who} is {'late, ' if late else ''}due at {at(booking.starts_at)}: a "
                f"no-show only from {at(booking.starts_at + snapshot.no_show_grace)}."
            )
        if name == "check_in" and booking.status is BookingStatus.ARRIVED:
            return f"{who} is in already: all {booking.party_size} of the party."
        if name == "complete":
            return f"{who} is {status}: only a party that is in can be completed."
        if name == "confirm":
            return f"{who} is {status}: only a pending booking is confirmed."
        if name == "cancel_booking" and booking.status is BookingStatus.ARRIVED:
            return (
                f"{who} is in: a party that is in is completed "
                f"({self.key_for(BY_NAME['complete'])}), not cancelled."
            )
        return f"{who} is {status}: {spec.title} does not apply."

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

    # The actions -----------------------------------------------------------------

    def action_new_booking(self) -> None:
        state = self._ready("new_booking")
        if state is None or self.snapshot is None:
            return
        night, timezone = self.snapshot.night, self.snapshot.timezone
        hold = state.hold if self.held_by_me(state) else None
        form = BookingForm(
            state.table,
            night,
            timezone,
            arrival=self._default_arrival(night),
            held=hold is not None,
            guests=self.services.bookings.guests,
            on_answer=partial(self._book, Intent(), night.id, (state.table.id,)),
        )
        if hold is not None:
            self._keep_hold(hold.id)
        self.app.push_screen(form, lambda _result: self._stop_keeping_hold())

    def _book(
        self,
        intent: Intent,
        night_id: int,
        table_ids: Sequence[int],
        request: BookingRequest,
        dialog: Dialog[Any],
    ) -> None:
        self.start_write(self._booking_write(intent, night_id, tuple(table_ids), request), dialog)

    def _booking_write(
        self,
        intent: Intent,
        night_id: int,
        table_ids: tuple[int, ...],
        request: BookingRequest,
        ends_at: datetime | None = None,
    ) -> Write:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.create(
                actor,
                night_id=night_id,
                table_ids=list(table_ids),
                party_size=request.party_size,
                starts_at=request.starts_at,
                ends_at=ends_at,
                guest=request.guest,
                deposit=request.deposit,
                op_id=op_id,
            )

        def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
            # The same guest and party, at the table and time chosen instead.
            return self._booking_write(
                fresh,
                night_id,
                alternative.table_ids,
                replace(request, starts_at=alternative.starts_at),
                alternative.ends_at,
            )

        def done(booking: Booking) -> str:
            return (
                f"Booked {booking.ref} · {booking.guest_name} · {self._where(booking)} "
                f"({BOOKING_WORDS[booking.status]})"
            )

        return Write(f"book table {self._numbers(table_ids)}", call, done, intent, retarget=elsewhere)

    def action_hold(self) -> None:
        state = self._ready("hold")
        if state is None or self.snapshot is None:
            return
        bookings, actor = self.services.bookings, self.services.actor
        night_id, table = self.snapshot.night.id, state.table

        async def call(op_id: str) -> Hold:
            hold = await bookings.hold(actor, night_id=night_id, table_id=table.id, op_id=op_id)
            self._my_holds.add(hold.id)
            return hold

        def done(hold: Hold) -> str:
            return (
                f"Table {table.number} is held for you until "
                f"{local_time(hold.expires_at, self.timezone, seconds=True)}"
            )

        self.start_write(Write(f"hold table {table.number}", call, done))

    def action_release(self) -> None:
        state = self._ready("release")
        if state is None or state.hold is None:
            return
        bookings, actor = self.services.bookings, self.services.actor
        hold_id, number = state.hold.id, state.table.number

        async def call(_op_id: str) -> None:
            await bookings.release_hold(actor, hold_id)
            self._my_holds.discard(hold_id)
            self._watched.pop(hold_id, None)

        self.start_write(
            Write(f"release table {number}", call, lambda _none: f"Released your hold on table {number}")
        )

    def action_confirm(self) -> None:
        booking = self._booking_for("confirm")
        if booking is None:
            return
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.confirm(actor, booking.id, booking.version, op_id=op_id)

        self.start_write(
            Write(f"confirm {booking.ref}", call, lambda b: f"Confirmed {b.ref} · {b.guest_name}")
        )

    def action_check_in(self) -> None:
        if self.snapshot is not None and not self.tonight:
            self.notify(self.why_not(["check_in"]) or "Check-in is for tonight only.", severity="warning")
            return
        booking = self._booking_for("check_in")
        if booking is None:
            return
        rest = booking.party_size - booking.arrived_count
        so_far = (
            f"{booking.arrived_count} of {booking.party_size} are in"
            if booking.arrived_count
            else f"A party of {booking.party_size}"
        )
        self.app.push_screen(
            CountDialog(
                f"Check in {booking.ref} · {booking.guest_name}",
                f"{so_far}. How many have arrived now?",
                default=rest,
                most=rest,
                verb=f"check in {rest}" if rest == 1 else "check in",
                on_answer=partial(self._check_in, Intent(), booking),
            )
        )

    def _check_in(self, intent: Intent, booking: Booking, arrived: int, dialog: Dialog[Any]) -> None:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.check_in(actor, booking.id, booking.version, arrived, op_id=op_id)

        def done(b: Booking) -> str:
            return f"Checked in {arrived} · {b.ref} · {b.guest_name} ({b.arrived_count}/{b.party_size} in)"

        self.start_write(Write(f"check in {booking.ref}", call, done, intent), dialog)

    def action_cancel_booking(self) -> None:
        booking = self._booking_for("cancel_booking")
        if booking is None:
            return
        heading = f"Cancel {booking.ref} · {booking.guest_name}"

        def confirm(reason: str, deposit: str | None) -> None:
            said = f"\nThe deposit of {booking.deposit:,.0f} is {deposit}." if deposit else ""
            self.app.push_screen(
                ConfirmDialog(
                    heading + "?",
                    f"{self._summary(booking)}.\nReason: {reason}{said}\n"
                    f"This releases {self._where(booking, at=False)}.",
                    yes="cancel the booking",
                    on_answer=partial(self._cancel, Intent(), booking, reason, deposit),
                )
            )

        def reasoned(reason: str | None) -> None:
            if not reason:
                return
            if not booking.paid_deposit:
                confirm(reason, None)
                return
            # A paid deposit is kept or refunded, and the booking records which.
            self.app.push_screen(
                ChoiceDialog(
                    heading,
                    f"The guest paid a deposit of {booking.deposit:,.0f}. Is it:",
                    ["kept (the guest loses it)", "refunded to the guest"],
                ),
                lambda index: confirm(reason, DEPOSIT_OUTCOMES[index]) if index is not None else None,
            )

        self.app.push_screen(
            ReasonDialog(
                heading, "Why is it cancelled? (kept in the audit log)", placeholder="Guest called to cancel"
            ),
            reasoned,
        )

    def _cancel(
        self,
        intent: Intent,
        booking: Booking,
        reason: str,
        deposit: str | None,
        _yes: bool,
        dialog: Dialog[Any],
    ) -> None:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.cancel(
                actor, booking.id, booking.version, reason, deposit=deposit, op_id=op_id
            )

        def done(b: Booking) -> str:
            kept = f" · deposit {b.deposit_outcome}" if b.deposit_outcome else ""
            return f"Cancelled {b.ref} · {b.guest_name}{kept}"

        self.start_write(Write(f"cancel {booking.ref}", call, done), dialog)

    def action_no_show(self) -> None:
        booking = self._booking_for("no_show")
        if booking is None:
            return
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.no_show(actor, booking.id, booking.version, op_id=op_id)

        write = Write(f"mark {booking.ref} a no-show", call, lambda b: f"No-show {b.ref} · {b.guest_name}")
        self.app.push_screen(
            ConfirmDialog(
                f"{booking.ref} · {booking.guest_name}: no-show?",
                f"{self._summary(booking)}.\nThe party did not come: "
                f"this releases {self._where(booking, at=False)}.",
                yes="mark no-show",
                on_answer=lambda _yes, dialog: self.start_write(write, dialog),
            )
        )

    def action_complete(self) -> None:
        booking = self._booking_for("complete")
        if booking is None:
            return
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.complete(actor, booking.id, booking.version, op_id=op_id)

        where = self._where(booking, at=False)
        write = Write(
            f"complete {booking.ref}", call, lambda b: f"Completed {b.ref} · {b.guest_name} · {where} is free"
        )
        self.app.push_screen(
            ConfirmDialog(
                f"Complete {booking.ref} · {booking.guest_name}?",
                f"{self._summary(booking)}.\nThe party has left; {where} is free again.",
                yes="complete",
                on_answer=lambda _yes, dialog: self.start_write(write, dialog),
            )
        )

    def action_undo(self) -> None:
        state = self._ready("undo")
        if state is None or self.snapshot is None:
            return
        found = undoable(
            state, tonight=self.tonight, now=self.services.clock(), night_ends=self.snapshot.night.ends_at
        )
        choices = [(operation, booking) for operation, booking in found if self.may(operation)]
        if not choices:
            role = ROLE_WORDS.get(self.services.actor.role or "", "This account")
            self.notify(f"{role} may not {WORDS[found[0][0]]}: ask a manager.", severity="warning", timeout=6)
            return
        if len(choices) == 1:
            self._undo(*choices[0])
            return

        def chosen(index: int | None) -> None:
            if index is not None:
                self._undo(*choices[index])

        self.app.push_screen(
            ChoiceDialog(
                f"Undo · table {state.table.number}",
                "What is to be undone?",
                [choice_words(operation, booking) for operation, booking in choices],
            ),
            chosen,
        )

    def _undo(self, operation: Operation, booking: Booking) -> None:
        ask_undo(
            self.services.bookings,
            self.services.actor,
            operation,
            booking,
            where=self._where(booking, at=False),
            push=lambda dialog: self.app.push_screen(dialog),
            start=self.start_write,
        )

    def action_move_booking(self) -> None:
        booking = self._booking_for("move_booking")
        if booking is None or self.snapshot is None:
            return
        snapshot = self.snapshot
        tables = {state.table.number: state.table for state in snapshot.tables.values()}
        self.app.push_screen(
            MoveForm(
                booking,
                tables,
                snapshot.night,
                snapshot.timezone,
                on_answer=partial(self._move, Intent(), booking),
            )
        )

    def _move(self, intent: Intent, booking: Booking, request: MoveRequest, dialog: Dialog[Any]) -> None:
        self.start_write(self._move_write(intent, booking, request.table_ids, request.starts_at), dialog)

    def _move_write(
        self,
        intent: Intent,
        booking: Booking,
        table_ids: tuple[int, ...] | None,
        starts_at: datetime | None,
        ends_at: datetime | None = None,
    ) -> Write:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.move(
                actor,
                booking.id,
                booking.version,
                table_ids=list(table_ids) if table_ids is not None else None,
                starts_at=starts_at,
                ends_at=ends_at,
                op_id=op_id,
            )

        def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
            return self._move_write(
                fresh, booking, alternative.table_ids, alternative.starts_at, alternative.ends_at
            )

        def a_change(alternative: Alternative) -> bool:
            # The booking's own place is free for itself: offering it would move nothing.
            return (
                tuple(sorted(alternative.table_ids)) != tuple(sorted(booking.table_ids))
                or alternative.starts_at != booking.starts_at
            )

        def done(b: Booking) -> str:
            moved = f"Moved {b.ref} · {b.guest_name} to {self._where(b)}"
            higher = higher_spend(
                self._by_number(), self._numbers_of(booking.table_ids), self._numbers_of(b.table_ids)
            )
            return f"{moved}. {higher}." if higher else moved

        return Write(
            f"move {booking.ref}",
            call,
            done,
            intent,
            retarget=elsewhere,
            usable=a_change,
            instead="move it there",
        )

    def _by_number(self) -> dict[int, Table]:
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return {state.table.number: state.table for state in tables.values()}

    def _numbers_of(self, table_ids: Iterable[int]) -> list[int]:
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return sorted(tables[i].table.number for i in table_ids if i in tables)

    def action_edit_booking(self) -> None:
        booking = self._booking_for("edit_booking")
        if booking is None or self.snapshot is None:
            return
        snapshot = self.snapshot
        tables = [snapshot.tables[i].table for i in booking.table_ids if i in snapshot.tables]
        self.app.push_screen(
            EditForm(
                booking,
                tables,
                snapshot.night,
                snapshot.timezone,
                guests=self.services.bookings.guests,
                on_answer=partial(self._edit, Intent(), booking),
            )
        )

    def _edit(self, intent: Intent, booking: Booking, request: EditRequest, dialog: Dialog[Any]) -> None:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.amend(
                actor,
                booking.id,
                booking.version,
                party_size=request.party_size,
                starts_at=request.starts_at,
                notes=request.notes,
                guest=request.guest,
                op_id=op_id,
            )

        # No alternatives here: a party the tables cannot seat is a move, and the form says so.
        self.start_write(
            Write(
                f"change {booking.ref}",
                call,
                lambda b: f"Changed {b.ref} · {b.guest_name} · {self._summary(b)}",
                intent,
            ),
            dialog,
        )

    def action_walk_in(self) -> None:
        state = self._ready("walk_in")
        if state is None or self.snapshot is None:
            return
        table = state.table if self._walk_in_here(state) else None
        self.app.push_screen(
            WalkInForm(
                table,
                party=table.min_party if table is not None else 2,
                on_answer=partial(
                    self._walk_in, Intent(), self.snapshot.night.id, table.id if table is not None else None
                ),
            )
        )

    def _walk_in_here(self, state: TableState) -> bool:
        """A free table (or one this staff member holds) seats them; else the best free one."""
        return state.status is TileStatus.FREE or self.held_by_me(state)

    def _walk_in(
        self, intent: Intent, night_id: int, table_id: int | None, request: WalkInRequest, dialog: Dialog[Any]
    ) -> None:
        self.start_write(self._walk_in_write(intent, night_id, table_id, request), dialog)

    def _walk_in_write(
        self, intent: Intent, night_id: int, table_id: int | None, request: WalkInRequest
    ) -> Write:
        bookings, actor = self.services.bookings, self.services.actor

        async def call(op_id: str) -> Booking:
            return await bookings.seat_walk_in(
                actor,
                night_id=night_id,
                party_size=request.party_size,
                guest=GuestDetails(request.name),
                table_id=table_id,
                op_id=op_id,
            )

        def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
            return self._walk_in_write(fresh, night_id, alternative.table_ids[0], request)

        def now_and_one_table(alternative: Alternative) -> bool:
            # A walk-in sits down now: other times, or tables pushed together, do not help.
            soon = self.services.clock() + timedelta(minutes=1)
            return len(alternative.table_ids) == 1 and alternative.starts_at <= soon

        return Write(
            "seat the walk-in",
            call,
            lambda b: (
                f"Seated {b.guest_name} · party of {b.party_size} at {self._where(b, at=False)} · {b.ref}"
            ),
            intent,
            retarget=elsewhere,
            usable=now_and_one_table,
            instead="seat them there",
        )

    # Running a change ------------------------------------------------------------

    def _booking_for(self, action: str) -> Booking | None:
        state = self._ready(action)
        return state.booking if state is not None else None

    async def after_write(self, result: object) -> None:
        await self._refresh_now()
        if result is not None:
            self._follow(result)

    async def _refresh_now(self) -> None:
        """Read the night now, so the next key acts on what the database holds."""
        seq = self._next_seq()
        try:
            snapshot = await self._read()
        except Exception:
            self.request_reload()
            return
        await self._show(snapshot, seq)

    def _follow(self, result: object) -> None:
        """Select the table a booking landed on, when it is not the one selected."""
        if not isinstance(result, Booking) or not result.table_ids:
            return
        if self.selected in result.table_ids:
            return
        tile = self._tiles().get(result.table_ids[0])
        if tile is not None:
            self.selected = tile.table_id
            self._show_detail()
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
        seen = set()
        for state in snapshot.tables.values():
            hold = state.hold
            if hold is None or not self.held_by_me(state):
                continue
            seen.add(hold.id)
            watch = self._watched.get(hold.id)
            if watch is None:
                if hold.id in self._lapsed:
                    continue
                self._watched[hold.id] = HoldWatch(state.table.number, hold.expires_at)
            elif watch.expires_at != hold.expires_at:
                watch.expires_at = hold.expires_at
                watch.warned = watch.warned and seconds_left(hold.expires_at, now) <= HOLD_WARN_SECONDS
        for hold_id in [h for h in self._watched if h not in seen]:
            watch = self._watched.pop(hold_id)
            if watch.expires_at <= now + timedelta(seconds=1):
                self._lapsed.add(hold_id)
                self._say_lapsed(watch)

    def _watch_holds(self) -> None:
        """Once a second: a hold of yours about to lapse warns once; one that has lapsed says so."""
        if not self._watched:
            return
        now = self.services.clock()
        for hold_id, watch in list(self._watched.items()):
            left = seconds_left(watch.expires_at, now)
            if left <= 0:
                del self._watched[hold_id]
                self._lapsed.add(hold_id)
                self._say_lapsed(watch)
                self.request_reload()
            elif left <= HOLD_WARN_SECONDS and not watch.warned:
                watch.warned = True
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

    # Words -------------------------------------------------------------------------

    @property
    def timezone(self) -> str:
        return self.snapshot.timezone if self.snapshot is not None else "UTC"

    def _numbers(self, table_ids: Iterable[int]) -> str:
        tables = self.snapshot.tables if self.snapshot is not None else {}
        return "+".join(str(tables[i].table.number) if i in tables else str(i) for i in sorted(table_ids))

    def _where(self, booking: Booking, *, at: bool = True) -> str:
        where = f"table {self._numbers(booking.table_ids)}"
        if at:
            where += f" at {local_time(booking.starts_at, self.timezone)}"
        return where

    def _summary(self, booking: Booking) -> str:
        return (
            f"Party of {booking.party_size} at {local_time(booking.starts_at, self.timezone)}"
            f" on {self._where(booking, at=False)}, {BOOKING_WORDS[booking.status]}"
        )

    def _default_arrival(self, night: Night) -> datetime:
        return default_arrival(night, self.services.clock())
