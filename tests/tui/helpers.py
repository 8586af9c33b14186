"""Shared pieces of the TUI tests: waiting on a condition, reading what a widget shows."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any

from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.visual import RichVisual
from textual.widget import Widget

from screens.floor.screen import FloorScreen


async def until(
    pilot: Pilot[Any], condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "condition"
) -> None:
    """Let the app run until `condition()` holds; fail after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what}: not met within {timeout}s")
        await pilot.pause(0.05)


def floor_ready(pilot: Pilot[Any]) -> bool:
    screen = pilot.app.screen
    return (
        isinstance(screen, FloorScreen)
        and screen.snapshot is not None
        and screen.live
        and not screen.reloading
        and len(screen.plans) > 0
    )


def on_start_screen(pilot: Pilot[Any]) -> bool:
    """Door and support staff start on their own screen, pushed over the floor."""
    from screens.door import DoorScreen
    from screens.support import SupportScreen

    return isinstance(pilot.app.screen, DoorScreen | SupportScreen)


async def floor_loaded(pilot: Pilot[Any]) -> FloorScreen:
    """Wait until the floor shows a night and the feed is Live (going to the floor with F2
    when the role's start screen is shown over it)."""

    def ready() -> bool:
        if on_start_screen(pilot):
            pilot.app.action_go("floor")  # type: ignore[attr-defined]
        return floor_ready(pilot)

    await until(pilot, ready, what="floor loaded and Live")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, FloorScreen)
    return screen


def shown_text(widget: Widget) -> str:
    """What a widget draws, as plain text at its current width."""
    width = max(widget.content_region.width, 20)
    console = Console(width=width, file=io.StringIO(), color_system=None, legacy_windows=False)
    drawn = widget.render()
    # A Rich renderable in a Static (a table) comes wrapped for Textual: print what it wraps.
    console.print(drawn._renderable if isinstance(drawn, RichVisual) else drawn)
    return console.file.getvalue()  # type: ignore[attr-defined]


def screen_text(app: App[Any]) -> str:
    """Everything on the terminal now, dialogs over the floor included, as plain text."""
    width, height = app.size
    console = Console(
        width=width,
        height=height,
        file=io.StringIO(),
        force_terminal=True,
        color_system=None,
        record=True,
        legacy_windows=False,
        safe_box=False,
    )
    # As App.export_screenshot draws it, as text instead of SVG.
    console.print(app.screen._compositor.render_update(full=True, screen_stack=app._background_screens))
    return console.export_text()


def toasts(app: App[Any]) -> list[str]:
    """The messages of the notifications shown so far (titles included)."""
    return [f"{n.title}: {n.message}" if n.title else n.message for n in app._notifications]


class Keys:
    """Presses keys and counts them, so a test can say how many a flow takes."""

    def __init__(self, pilot: Pilot[Any]) -> None:
        self.pilot = pilot
        self.count = 0

    async def press(self, *keys: str) -> None:
        self.count += len(keys)
        await self.pilot.press(*keys)

    async def type(self, text: str) -> None:
        await self.press(*text)


async def stop_feed(pilot: Pilot[Any]) -> None:
    """Stop the console's live feed, as a lost connection that never comes back would."""
    feed = getattr(pilot.app, "feed", None)
    assert feed is not None, "the app has no live feed"
    await feed.stop()


async def colleague(admin: Any, name: str, email: str, role: str = "manager") -> Any:
    """Another staff member, signed in, for changes made 'on another console' (`admin`: an
    owner connection, which opens their session)."""
    from tests.sessions import new_staff

    return await new_staff(admin, email, name, role)
