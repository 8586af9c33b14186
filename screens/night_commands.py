"""Command palette entries for the nights screen and the night report, built when the palette opens.

Each screen says what it offers now (`palette_commands`), in the same words as
its keys, so the palette, the footer and the help agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Protocol, runtime_checkable

from screens.palette import PaletteCommand, ScreenCommands


@dataclass(frozen=True, slots=True)
class NightCommand:
    title: str
    help: str
    action: str


@runtime_checkable
class OffersNightCommands(Protocol):
    def palette_commands(self) -> list[NightCommand]: ...


class NightCommands(ScreenCommands):
    """The screen's own actions that fit now, as palette commands."""

    def commands(self) -> list[PaletteCommand]:
        screen = self.screen
        if not isinstance(screen, OffersNightCommands):
            return []
        return [
            PaletteCommand(c.title, c.help, partial(self._run, c.action)) for c in screen.palette_commands()
        ]

    async def _run(self, action: str) -> None:
        await self.screen.run_action(action)
