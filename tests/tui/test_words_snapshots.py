"""Pictures of what the words changed: a toast naming who changed what and where (and a
burst in one toast) under the floor's tiles, the door's list marked stale while the feed
is down, and the door's help with every text in full; at 80x24 and 160x48, with colour
and without.

Each app opens its services in its own loop and refs are made stable, so each picture
is the same every run (see test_snapshots).
"""

from __future__ import annotations

from functools import partial
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot

from screens.help import HelpScreen
from services.bookings import BookingService
from tests.conftest import fixed_clock
from tests.sessions import new_staff
from tests.tui.door_helpers import open_door
from tests.tui.helpers import LARGE, SMALL, floor_loaded, screen_text, stop_feed, until
from tests.tui.snapshot_helpers import DoorSnapshotApp, SnapshotApp, steady_cursor


def news_of(pilot: Pilot[Any]) -> int:
    return int(getattr(pilot.app, "_news_count", 0))


def told(pilot: Pilot[Any], changes: int) -> bool:
    return news_of(pilot) == changes


def toasted_floor(dsn: str, changes: int) -> Any:
    """The floor with table 14 selected while a colleague changes its booking `changes` times
    on another console."""

    async def run(pilot: Pilot[Any]) -> None:
        screen = await floor_loaded(pilot)
        tile = next(
            t
            for plan in screen.plans
            for t in plan.tiles.values()
            if t.state is not None and t.state.table.number == 14
        )
        tile.focus()
        await until(pilot, lambda: screen.selected == tile.table_id, what="table 14 selected")
        conn = await asyncpg.connect(dsn)
        try:
            dana = await new_staff(conn, "dana.moss@backroom.test", "Dana Moss", "manager")
        finally:
            await conn.close()
        other = BookingService(pilot.app.services.db, fixed_clock)  # type: ignore[attr-defined]
        assert tile.state is not None and tile.state.booking is not None
        maya = await other.confirm(dana, tile.state.booking.id, tile.state.booking.version)
        await until(pilot, lambda: news_of(pilot) == 1, what="first change told")
        for n in range(2, changes + 1):
            maya = await other.check_in(dana, maya.id, maya.version, 1)
            await until(pilot, partial(told, pilot, n), what=f"change {n} told")
        await pilot.pause(0.3)

    return run


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_a_toast_names_who_changed_what_and_where(
    snap_compare: Any, dsn: str, colour: str, size: tuple[int, int]
) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=size, run_before=toasted_floor(dsn, 1))


def test_a_burst_of_changes_takes_one_toast_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=SMALL, run_before=toasted_floor(dsn, 3))


async def door_offline(pilot: Pilot[Any]) -> None:
    await open_door(pilot)
    await stop_feed(pilot)
    await until(pilot, lambda: "Not live" in screen_text(pilot.app), what="list marked stale")
    await steady_cursor(pilot)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_the_door_list_marked_stale(snap_compare: Any, dsn: str, colour: str, size: tuple[int, int]) -> None:
    assert snap_compare(DoorSnapshotApp(dsn), terminal_size=size, run_before=door_offline)


async def door_help(pilot: Pilot[Any]) -> None:
    await open_door(pilot)
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
    await steady_cursor(pilot)


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_the_door_help(snap_compare: Any, dsn: str, colour: str, size: tuple[int, int]) -> None:
    assert snap_compare(DoorSnapshotApp(dsn), terminal_size=size, run_before=door_help)
