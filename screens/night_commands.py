"""Command palette entries for the nights screen and the night report, built when the palette opens.

Each screen says what it offers now (`palette_commands`), in the same words as
its keys, so the palette, the footer and the help agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from textual.command import Hits, Provider

from screens.palette import discovery_hit, search_hit


@dataclass(frozen=True, slots=True)
class NightCommand:
    title: str
    help: str
    action: str


@runtime_checkable
class OffersNightCommands(Protocol):
    def palette_commands(self) -> list[NightCommand]: ...


class NightCommands(Provider):
    """The screen's own actions that fit now, as palette commands."""

    def _commands(self) -> list[NightCommand]:
        screen = self.screen
        return screen.palette_commands() if isinstance(screen, OffersNightCommands) else []

    async def _run(self, action: str) -> None:
        await self.screen.run_action(action)

    async def discover(self) -> Hits:
        for command in self._commands():
            yield discovery_hit(command.title, lambda a=command.action: self._run(a), command.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for command in self._commands():
            hit = search_hit(matcher, command.title, lambda a=command.action: self._run(a), command.help)
            if hit is not None:
                yield hit
