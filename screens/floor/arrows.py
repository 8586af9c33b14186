"""Where the arrow keys go on the floor: each tile's place, and the tile an arrow moves to.

Pure geometry over the tiles' grid positions: the floor plans give each table
its floor, column and row, and `neighbour` picks the next one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from widgets.floor_plan import FloorPlan

Direction = Literal["left", "right", "up", "down"]


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


def cells_of(plans: Iterable[FloorPlan]) -> dict[int, Cell]:
    """Each table's cell, by table id, for floor plans laid out left to right."""
    cells: dict[int, Cell] = {}
    offset = 0
    for index, plan in enumerate(plans):
        for key, tile in plan.tiles.items():
            if tile.state is not None:
                table = tile.state.table
                cells[key] = Cell(index, table.grid_col, table.grid_row, offset)
        offset += plan.columns
    return cells
