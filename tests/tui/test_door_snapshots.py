"""Pictures of the door: who is still expected, a search, and the check-in question, at the
smallest supported terminal and a large one, with colour and without.

The console acts as the demo's door staff, so the footer shows the door's keys.
The app opens its services inside its own loop (a pool belongs to the loop
that made it) and refs are made stable, so each picture is the same every run.
"""

from __future__ import annotations

from typing import Any

from textual.pilot import Pilot

from screens.dialogs.ask import CountDialog
from screens.door import DoorScreen
from tests.tui.door_helpers import open_door
from tests.tui.helpers import LARGE, SMALL, screen_text, until
from tests.tui.snapshot_helpers import DoorSnapshotApp, steady_cursor


def fits(pilot: Pilot[Any]) -> None:
    """Nothing of the door is cut off at the width it is drawn."""
    assert isinstance(pilot.app.screen, DoorScreen)
    text = screen_text(pilot.app)
    assert "Door · Fri 20 Nov 2026" in text
    for word in ("Check in", "Select", "Walk-in", "No-show", "Expected", "Help"):
        assert word in text.splitlines()[-1], text.splitlines()[-1]
    assert "…" not in text, text


async def expected(pilot: Pilot[Any]) -> None:
    await open_door(pilot)
    await steady_cursor(pilot)
    fits(pilot)


async def searched(pilot: Pilot[Any]) -> None:
    screen = await open_door(pilot)
    await pilot.press(*"ma")
    await until(pilot, lambda: screen.current and screen.shown_text == "ma", what="list for ma")
    await steady_cursor(pilot)
    fits(pilot)


async def checking_in(pilot: Pilot[Any]) -> None:
    await open_door(pilot)
    await pilot.press(*"kemi", "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, CountDialog), what="asked how many")
    await steady_cursor(pilot)
    text = screen_text(pilot.app)
    assert "…" not in text and "deposit 300" in text, text


def test_door_expected_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(DoorSnapshotApp(dsn), terminal_size=SMALL, run_before=expected)


def test_door_expected_at_160x48(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(DoorSnapshotApp(dsn), terminal_size=LARGE, run_before=expected)


def test_door_search_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(DoorSnapshotApp(dsn), terminal_size=SMALL, run_before=searched)


def test_door_check_in_at_80x24(snap_compare: Any, dsn: str, colour: str) -> None:
    assert snap_compare(DoorSnapshotApp(dsn), terminal_size=SMALL, run_before=checking_in)
