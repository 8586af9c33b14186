"""One floor of the venue: its tables as tiles on a grid, titled by the floor's name.

The tiles are made once; each new set of table states updates only the tiles
whose state changed, so one booking changing redraws one tile.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from textual.app import ComposeResult
from textual.containers import Grid
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Static

from services.models import Floor, TableState
from widgets.display import literal
from widgets.table_tile import TableTile


class FloorPlan(Widget):
    """The tiles of one floor, laid out by each table's grid_row and grid_col."""

    DEFAULT_CSS = """
    FloorPlan {
        width: 1fr;
        height: 1fr;
        layout: vertical;
        & > .floor-plan--title {
            width: 1fr;
            height: 1;
            padding: 0 1;
            text-style: bold;
            background: $boost;
        }
        & > Grid {
            height: 1fr;
            grid-gutter: 0;
            grid-rows: 1fr;
            grid-columns: 1fr;
        }
        &.-stale > .floor-plan--title { text-style: bold reverse; }
        &.-stale TableTile { text-opacity: 60%; }
    }
    """

    tables: reactive[tuple[TableState, ...]] = reactive((), init=False)
    stale: reactive[bool] = reactive(False)

    def __init__(
        self,
        floor: Floor,
        tables: Iterable[TableState] = (),
        *,
        timezone: str,
        clock: Callable[[], datetime],
        name: str | None = None,
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self.floor = floor
        self.timezone = timezone
        self._clock = clock
        self.tiles: dict[int, TableTile] = {}
        self._grid_size = (1, 1)
        self.set_reactive(FloorPlan.tables, tuple(tables))

    @property
    def columns(self) -> int:
        return self._grid_size[0]

    def compose(self) -> ComposeResult:
        yield Static(literal(self._title()), classes="floor-plan--title")
        yield Grid(*self._build_tiles(self.tables))

    async def watch_tables(self, tables: tuple[TableState, ...]) -> None:
        if [t.table.id for t in tables] != list(self.tiles):
            # The layout itself changed (a table added, moved or removed): rebuild it.
            grid = self.query_one(Grid)
            await grid.remove_children()
            await grid.mount_all(self._build_tiles(tables))
            self._size_grid()
            return
        for state in tables:
            tile = self.tiles[state.table.id]
            if tile.state != state:
                tile.state = state

    def watch_stale(self, stale: bool) -> None:
        self.set_class(stale, "-stale")
        if self.is_mounted:
            self.query_one(".floor-plan--title", Static).update(literal(self._title()))

    def _title(self) -> str:
        return f"{self.floor.name} · STALE" if self.stale else self.floor.name

    def _build_tiles(self, tables: tuple[TableState, ...]) -> list[Widget]:
        self.tiles = {
            state.table.id: TableTile(
                state, timezone=self.timezone, clock=self._clock, id=f"table-{state.table.id}"
            )
            for state in tables
        }
        rows = max((t.table.grid_row for t in tables), default=0) + 1
        columns = max((t.table.grid_col for t in tables), default=0) + 1
        self._grid_size = (columns, rows)
        by_cell: dict[tuple[int, int], TableTile] = {}
        extra: list[Widget] = []
        for state in tables:
            cell = (state.table.grid_row, state.table.grid_col)
            if cell in by_cell:
                extra.append(self.tiles[state.table.id])
            else:
                by_cell[cell] = self.tiles[state.table.id]
        # An empty cell keeps the tables after it in their own grid positions.
        cells: list[Widget] = [
            by_cell.get((row, column)) or Static("", classes="floor-plan--gap")
            for row in range(rows)
            for column in range(columns)
        ]
        return cells + extra

    def on_mount(self) -> None:
        self._size_grid()

    def _size_grid(self) -> None:
        columns, rows = self._grid_size
        grid = self.query_one(Grid)
        grid.styles.grid_size_columns = columns
        grid.styles.grid_size_rows = rows
