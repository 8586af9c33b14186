"""The floor: tonight's tables on every floor, live, with the selected table's detail.

The screen reads the night through the floor service and keeps it current
with the change feed: every relevant change asks for a reload, reloads are
coalesced so a burst of changes costs one or two reads, and each new snapshot
updates only the tiles whose state changed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Literal, Protocol

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from services.db import DatabaseError
from services.models import FloorSnapshot
from services.realtime import Change, ChangeFeed, FeedState, FeedStatus, Transport
from widgets.connection_badge import ConnectionBadge
from widgets.floor_plan import FloorPlan
from widgets.table_detail import TableDetail
from widgets.table_tile import TableTile

if TYPE_CHECKING:
    from services.floor import FloorService

NO_NIGHTS = "No nights in the database: run `backroom db seed`"

# Changes that are not tied to one night but alter what every night shows.
VENUE_KINDS = frozenset({"venue", "floor", "venue_table", "night", "guest"})

Direction = Literal["left", "right", "up", "down"]


class FloorServices(Protocol):
    """What this screen needs from the services the console was built with."""

    @property
    def floor(self) -> FloorService: ...

    @property
    def clock(self) -> Callable[[], datetime]: ...

    def transport(self) -> Transport: ...


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
        row = sorted(
            (cell.offset + cell.column, key) for key, cell in cells.items() if cell.row == here.row
        )
        keys = [key for _, key in row]
        return keys[(keys.index(current) + step) % len(keys)]
    same_floor = {key: cell for key, cell in cells.items() if cell.floor == here.floor}
    rows = sorted({cell.row for cell in same_floor.values()})
    if len(rows) < 2:
        return current
    target_row = rows[(rows.index(here.row) + step) % len(rows)]
    candidates = [(abs(cell.column - here.column), cell.column, key)
                  for key, cell in same_floor.items() if cell.row == target_row]
    return min(candidates)[2]


class FloorScreen(Screen[None]):
    """Both floors side by side, the selected table below, the feed's state in the header."""

    DEFAULT_CSS = """
    FloorScreen {
        layout: vertical;
        #header {
            height: 1;
            background: $panel;
        }
        #venue {
            width: 1fr;
            padding: 0 1;
            text-style: bold;
        }
        #floors { height: 13; }
        &.-medium #floors { height: 15; }
        &.-tall #floors { height: 19; }
    }
    """

    # Tile heights follow the terminal height: 6 rows at 24, 9 rows from 44.
    VERTICAL_BREAKPOINTS = [(0, "-short"), (32, "-medium"), (44, "-tall")]

    BINDINGS = [
        Binding("left", "move('left')", "Move", id="floor.left", key_display="←",
                group=Binding.Group("Move", compact=True)),
        Binding("right", "move('right')", "Move", id="floor.right", key_display="→",
                group=Binding.Group("Move", compact=True)),
        Binding("up", "move('up')", "Move", id="floor.up", key_display="↑",
                group=Binding.Group("Move", compact=True)),
        Binding("down", "move('down')", "Move", id="floor.down", key_display="↓",
                group=Binding.Group("Move", compact=True)),
        Binding("r", "reload", "Reload", id="floor.reload"),
    ]

    @dataclass
    class ChangeArrived(Message):
        """The feed announced a change that concerns the night on screen."""

        change: Change

        def can_replace(self, message: Message) -> bool:
            # Any of them means "reload": a queue of them is worth one.
            return isinstance(message, FloorScreen.ChangeArrived)

    @dataclass
    class FeedStatusChanged(Message):
        """The feed connected, lost its connection or gave up."""

        status: FeedStatus

        def can_replace(self, message: Message) -> bool:
            return isinstance(message, FloorScreen.FeedStatusChanged)

    def __init__(self, services: FloorServices, *, night_id: int | None = None,
                 name: str | None = None, id: str | None = None,
                 classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.services = services
        self.night_id = night_id
        self.snapshot: FloorSnapshot | None = None
        self.selected: int | None = None
        # Counters a test or a health view can read: snapshot reads, relevant changes heard.
        self.reads = 0
        self.changes_heard = 0
        self.feed: ChangeFeed | None = None
        self._feed_started = False
        self._reloading = False
        self._dirty = False
        self._read_seq = 0
        self._shown_seq = 0
        self._last_error = ""
        self._showing = asyncio.Lock()

    def compose(self) -> ComposeResult:
        with Horizontal(id="header"):
            yield Static("Loading tonight…", id="venue")
            yield ConnectionBadge(id="badge")
        yield Horizontal(id="floors")
        yield TableDetail(clock=self.services.clock, id="detail")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TableDetail).note = "Loading tonight…"
        self.request_reload()

    async def on_unmount(self) -> None:
        await self.stop_feed()

    @property
    def plans(self) -> list[FloorPlan]:
        return list(self.query_one("#floors").query_children(FloorPlan))

    @property
    def reloading(self) -> bool:
        return self._reloading

    @property
    def live(self) -> bool:
        return self.query_one(ConnectionBadge).status.state is FeedState.LIVE

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
        # Only after the first read, and not when the screen is closing (cancelled above).
        if not self._feed_started:
            self._feed_started = True
            self._run_feed()

    async def _resync(self) -> None:
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
            self.query_one("#venue", Static).update("No night to show")
            detail.note = NO_NIGHTS
            if self._last_error != NO_NIGHTS:
                self._last_error = NO_NIGHTS
                self.notify(NO_NIGHTS, severity="warning", timeout=10)
            return
        self._last_error = ""
        detail.note = ""
        previous, self.snapshot = self.snapshot, snapshot
        self.query_one(ConnectionBadge).data_at = time.monotonic()
        self.query_one("#venue", Static).update(
            f"{snapshot.venue_name} · {snapshot.night.date:%a %d %b %Y}"
        )
        if (previous is None or previous.floors != snapshot.floors
                or previous.timezone != snapshot.timezone or not self.plans):
            await self._build_plans(snapshot)
        else:
            with self.app.batch_update():
                for plan in self.plans:
                    plan.tables = tuple(snapshot.tables_on(plan.floor.id))
        self._show_detail()
        self._ensure_selection()

    async def _build_plans(self, snapshot: FloorSnapshot) -> None:
        floors = self.query_one("#floors")
        await floors.remove_children()
        stale = not self.live
        plans = [
            FloorPlan(floor, snapshot.tables_on(floor.id), timezone=snapshot.timezone,
                      clock=self.services.clock, id=f"floor-{floor.id}")
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

    @work(exclusive=True, group="feed", exit_on_error=False)
    async def _run_feed(self) -> None:
        feed = ChangeFeed(
            self.services.transport(),
            on_change=self._on_change,
            on_status=self._on_status,
            resync=self._resync,
        )
        self.feed = feed
        try:
            await feed.run()
        finally:
            # Also on cancellation: the LISTEN connection must not outlive the screen.
            await feed.stop()

    async def stop_feed(self) -> None:
        if self.feed is not None:
            await self.feed.stop()

    def _on_status(self, status: FeedStatus) -> None:
        self.post_message(self.FeedStatusChanged(status))

    def _on_change(self, change: Change) -> None:
        if self._concerns_us(change):
            self.changes_heard += 1
            self.post_message(self.ChangeArrived(change))

    def _concerns_us(self, change: Change) -> bool:
        if change.kind in VENUE_KINDS:
            return True
        night = self.snapshot.night.id if self.snapshot is not None else self.night_id
        return night is None or change.night is None or change.night == night

    def on_floor_screen_change_arrived(self, _message: ChangeArrived) -> None:
        self.request_reload()

    def on_floor_screen_feed_status_changed(self, message: FeedStatusChanged) -> None:
        self.query_one(ConnectionBadge).status = message.status
        stale = message.status.state is not FeedState.LIVE
        for plan in self.plans:
            plan.stale = stale

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if event.state is WorkerState.ERROR and worker.group == "feed":
            error = worker.error
            self.query_one(ConnectionBadge).status = FeedStatus(FeedState.OFFLINE, error=str(error))
            for plan in self.plans:
                plan.stale = True
            text = f"The live feed stopped: {error}"
            self.query_one(TableDetail).note = text
            self.notify(text, severity="error", timeout=10)

    # Selection ---------------------------------------------------------------

    def on_table_tile_selected(self, message: TableTile.Selected) -> None:
        self.selected = message.table_id
        self._show_detail()

    def on_table_tile_hold_lapsed(self, _message: TableTile.HoldLapsed) -> None:
        self.request_reload()

    def _show_detail(self) -> None:
        detail = self.query_one(TableDetail)
        snapshot = self.snapshot
        if snapshot is None or self.selected is None:
            detail.state = None
            return
        state = snapshot.tables.get(self.selected)
        floor = next((f for f in snapshot.floors
                      if state is not None and f.id == state.table.floor_id), None)
        detail.timezone = snapshot.timezone
        detail.floor_name = floor.name if floor is not None else ""
        detail.state = state

    def _tiles(self) -> dict[int, TableTile]:
        return {key: tile for plan in self.plans for key, tile in plan.tiles.items()}

    def _ensure_selection(self) -> None:
        tiles = self._tiles()
        if not tiles:
            return
        if isinstance(self.focused, TableTile) and self.focused.table_id in tiles:
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
        self._show_detail()
        tiles[target].focus()

    def action_reload(self) -> None:
        self.request_reload()
