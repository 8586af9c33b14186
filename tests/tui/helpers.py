"""Shared pieces of the TUI tests: terminal sizes, waiting on a condition, reading what a
widget shows, and opening the floor on a table."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from typing import Any, TypeVar, cast

import asyncpg
from rich.console import Console
from textual.app import App
from textual.pilot import Pilot
from textual.visual import RichVisual
from textual.widget import Widget
from textual.widgets import Footer
from textual.widgets._footer import FooterKey

from console.app import BackroomApp
from console.wiring import open_services
from screens.dialogs.ask import Dialog
from screens.floor.screen import FloorScreen
from services.models import TableState
from services.store import seed
from tests.conftest import SAMPLE_NIGHT, fixed_clock
from tests.sessions import signed_in
from widgets.table_tile import TableTile

# The smallest terminal the console supports, and a large one.
SMALL = (80, 24)
LARGE = (160, 48)

D = TypeVar("D", bound=Dialog[Any])


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
    out = io.StringIO()
    console = Console(width=width, file=out, color_system=None, legacy_windows=False)
    drawn = widget.render()
    # A Rich renderable in a Static (a table) comes wrapped for Textual: print what it wraps.
    console.print(drawn._renderable if isinstance(drawn, RichVisual) else drawn)
    return out.getvalue()


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


async def open_floor(pilot: Pilot[Any], number: int) -> tuple[FloorScreen, TableTile]:
    """Wait for the floor, then select table `number` (not counted: every flow starts there)."""
    screen = await floor_loaded(pilot)
    tile = next(
        t
        for plan in screen.plans
        for t in plan.tiles.values()
        if t.state is not None and t.state.table.number == number
    )
    tile.focus()
    await until(pilot, lambda: screen.selected == tile.table_id, what=f"table {number} selected")
    await pilot.pause()
    return screen, tile


def state_of(tile: TableTile) -> TableState:
    assert tile.state is not None
    return tile.state


async def dialog_open(pilot: Pilot[Any], kind: type[D]) -> D:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), what=f"{kind.__name__} open")
    await pilot.pause()
    return cast(D, pilot.app.screen)


async def back_on_floor(pilot: Pilot[Any]) -> None:
    try:
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="back on the floor")
    except AssertionError:
        print(screen_text(pilot.app))
        raise


async def table_id(admin: asyncpg.Connection, number: int) -> int:
    found: int = await admin.fetchval("select id from backroom.venue_table where number = $1", number)
    return found


async def night_id(admin: asyncpg.Connection) -> int:
    found: int = await admin.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    return found


async def bookings_on(admin: asyncpg.Connection, number: int) -> list[asyncpg.Record]:
    return list(
        await admin.fetch(
            "select b.id, b.ref, b.status, b.party_size, b.arrived_count, b.cancel_reason, g.name"
            " from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
            " join backroom.guest g on g.id = b.guest_id join backroom.venue_table t on t.id = bt.table_id"
            " where t.number = $1 and b.night_id = (select id from backroom.night where date = $2)"
            " order by b.id",
            number,
            SAMPLE_NIGHT,
        )
    )


def footer_words(screen: FloorScreen) -> list[str]:
    return [
        f"{key.key_display} {key.description}".strip() for key in screen.query_one(Footer).query(FooterKey)
    ]


class FloorApp(BackroomApp):
    """The console on a test database for a picture: services opened in the app's own loop
    (`snap_compare` runs one of its own), booking refs made the same on every run."""

    def __init__(self, dsn: str) -> None:
        super().__init__(services=None)  # type: ignore[arg-type]
        self.dsn = dsn

    async def on_load(self) -> None:
        conn = await asyncpg.connect(self.dsn)
        try:
            async with conn.transaction():
                # Closed bookings refuse every change, a new ref included: step around the rules.
                await conn.execute("alter table backroom.booking disable trigger user")
                await conn.execute("update backroom.booking set ref = 'R' || lpad(id::text, 5, '0')")
                await conn.execute("alter table backroom.booking enable trigger user")
        finally:
            await conn.close()
        self.services = await open_services(self.dsn, clock=fixed_clock)
        self.services.actor = await signed_in(self.services.db, seed.DEMO_MANAGER)

    async def on_unmount(self) -> None:
        await self.services.db.close()
