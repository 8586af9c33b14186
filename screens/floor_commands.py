"""The command palette's entries for the floor, built from its live state when the palette opens.

Only the actions that fit the selected table for this member of staff are
offered ("Confirm booking · table 3 · ZCEV35 Chloe Tanaka"); the screen says
which (`table_commands`), so the palette, the footer and the keys agree.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from textual.command import DiscoveryHit, Hit, Hits, Provider

from screens.table_actions import TableCommand


@runtime_checkable
class OffersTableCommands(Protocol):
    def table_commands(self) -> list[TableCommand]: ...


class TableCommands(Provider):
    """Actions on the selected table, as palette commands."""

    def _commands(self) -> list[TableCommand]:
        screen = self.screen
        return screen.table_commands() if isinstance(screen, OffersTableCommands) else []

    async def discover(self) -> Hits:
        for command in self._commands():
            yield DiscoveryHit(command.title, command.run, help=command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            score = matcher.match(command.title)
            if score > 0:
                yield Hit(score, matcher.highlight(command.title), command.run,
                          text=command.title, help=command.help)
