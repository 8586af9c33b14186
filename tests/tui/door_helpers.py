"""Shared pieces of the door-screen tests: opening the door screen, typing a search,
reading its rows, a clock that can be moved, and a booking made by another client."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg
from textual.pilot import Pilot

from screens.door import DoorScreen
from screens.live import LiveScreen
from tests.conftest import SAMPLE_NIGHT
from tests.tui.helpers import until

DOOR = "door@backroom.demo"


async def open_door(pilot: Pilot[Any]) -> DoorScreen:
    """Door staff start at the door, over the floor; others get there with F3."""
    app = pilot.app
    await until(pilot, lambda: isinstance(app.screen, LiveScreen), what="console open")
    if not isinstance(app.screen, DoorScreen):
        await pilot.press("f3")
    return await door_ready(pilot)


async def door_ready(pilot: Pilot[Any], *, live: bool = True) -> DoorScreen:
    def ready() -> bool:
        screen = pilot.app.screen
        return (
            isinstance(screen, DoorScreen)
            and screen.snapshot is not None
            and screen.current
            and (screen.live or not live)
        )

    await until(pilot, ready, what="door loaded")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DoorScreen)
    return screen


def moving_clock(start: datetime) -> tuple[Callable[[], datetime], Callable[[datetime], None]]:
    """A clock for the console that the test moves on, and the way to move it."""
    now = [start]

    def clock() -> datetime:
        return now[0]

    def set_to(moment: datetime) -> None:
        now[0] = moment

    return clock, set_to


async def booking(admin: asyncpg.Connection, guest: str) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select b.id, b.ref, b.status, b.party_size, b.arrived_count, b.version, g.name"
        " from backroom.booking b join backroom.guest g on g.id = b.guest_id"
        " where g.name = $1 and b.night_id = (select id from backroom.night where date = $2)",
        guest,
        SAMPLE_NIGHT,
    )
    assert row is not None, guest
    return row


def rows(screen: DoorScreen) -> list[str]:
    return [b.guest_name for b in screen.booking_list.bookings]


async def typed(pilot: Pilot[Any], screen: DoorScreen, text: str) -> None:
    """Type into the search box and wait until the list shows what it finds."""
    await pilot.press(*text)
    await until(pilot, lambda: screen.current and screen.shown_text == text, what=f"list for {text!r}")
    await pilot.pause()


async def back_at_the_door(pilot: Pilot[Any]) -> DoorScreen:
    await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen), what="back at the door")
    screen = pilot.app.screen
    assert isinstance(screen, DoorScreen)
    await until(pilot, lambda: screen.current, what="list read again")
    await pilot.pause()
    return screen
