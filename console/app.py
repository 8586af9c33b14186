"""The Backroom Console application: takes the services it is given and opens the floor."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual.app import App
from textual.binding import Binding

from screens.floor import FloorScreen
from screens.help import HelpScreen, describe_bindings

if TYPE_CHECKING:
    from console.wiring import Services


class BackroomApp(App[None]):
    """The staff console. The services come from outside, so a test can hand in its own."""

    TITLE = "Backroom Console"

    BINDINGS = [
        Binding("question_mark,f1", "help", "Help", id="app.help"),
        # Staff expect Ctrl+C to leave; it stops the feed and the embedded server like Ctrl+Q.
        Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app.interrupt"),
    ]

    def __init__(self, services: Services, *, night_id: int | None = None) -> None:
        super().__init__()
        self.services = services
        self.night_id = night_id

    def on_mount(self) -> None:
        self.push_screen(FloorScreen(self.services, night_id=self.night_id))

    def action_help(self) -> None:
        screen = self.screen
        if isinstance(screen, HelpScreen):
            return
        # A screen may list more than its active keys: the floor lists every table action
        # staff may use, not only those that fit the table selected now.
        bindings = (screen.help_bindings() if isinstance(screen, FloorScreen)
                    else screen.active_bindings.items())
        keys = describe_bindings(bindings, self.get_key_display)
        title = screen.sub_title or type(screen).__name__.removesuffix("Screen")
        self.push_screen(HelpScreen(title, keys))

    async def action_quit(self) -> None:
        await self.stop_feeds()
        self.exit()

    async def stop_feeds(self) -> None:
        """Close every live feed before the loop goes, so no LISTEN connection is left behind."""
        for screen in self.screen_stack:
            if isinstance(screen, FloorScreen):
                await screen.stop_feed()
