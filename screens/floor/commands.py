"""The command palette's entries for the floor, built from its live state when the palette opens.

Only the actions that fit the selected table for this member of staff are
offered ("Confirm booking · table 3 · ZCEV35 Chloe Tanaka"); the screen says
which (`table_commands`), so the palette, the footer and the keys agree.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from screens.floor.actions import TableCommand
from screens.palette import ScreenCommands


@runtime_checkable
class OffersTableCommands(Protocol):
    def table_commands(self) -> list[TableCommand]: ...


class TableCommands(ScreenCommands):
    """Actions on the selected table, as palette commands."""

    def commands(self) -> list[TableCommand]:
        screen = self.screen
        return screen.table_commands() if isinstance(screen, OffersTableCommands) else []
