"""Pictures of the floor at the smallest supported terminal and at a large one,
of the dialogs the booking actions open, and of the sign-in and lock screens.

`snap_compare` runs the app in an event loop of its own, so the app opens its
services inside that loop (a pool belongs to the loop that made it). The
console acts as the demo's Duty Manager, so the footer shows a manager's keys.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot

from console.app import BackroomApp
from screens.dialogs.alternatives import AlternativesDialog
from screens.door import DoorScreen
from screens.forms.booking import BookingForm
from screens.help import HelpScreen
from screens.lock import LockScreen
from screens.sign_in import SignInScreen
from tests.conftest import SAMPLE_NIGHT
from tests.tui.helpers import floor_loaded, until
from tests.tui.snapshot_helpers import (
    DOOR_EMAIL,
    IdentitySnapshotApp,
    SnapshotApp,
    steady_cursor,
)


async def loaded(pilot: Pilot[Any]) -> None:
    await floor_loaded(pilot)


def test_floor_at_80x24(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=loaded)


def test_floor_at_160x48(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=(160, 48), run_before=loaded)


def test_floor_at_80x24_with_a_table_selected(snap_compare: Any, dsn: str) -> None:
    async def select(pilot: Pilot[Any]) -> None:
        await floor_loaded(pilot)
        await pilot.press("right", "right", "right", "right", "down")

    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=select)


async def new_booking_form_on_table_11(pilot: Pilot[Any]) -> None:
    await floor_loaded(pilot)
    await pilot.press("right", "right", "right", "right", "right", "right", "n")
    await until(pilot, lambda: isinstance(pilot.app.screen, BookingForm), what="form open")
    await pilot.press(*"Ada Lovelace")
    await steady_cursor(pilot)


def test_new_booking_form_at_80x24(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=new_booking_form_on_table_11)


def test_alternatives_dialog_at_80x24(snap_compare: Any, dsn: str) -> None:
    async def conflict(pilot: Pilot[Any]) -> None:
        await new_booking_form_on_table_11(pilot)
        # Another console books table 11 while the form is open (a fixed ref, for the picture).
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                night = await conn.fetchrow(
                    "select id, starts_at, ends_at from backroom.night where date = $1", SAMPLE_NIGHT
                )
                assert night is not None
                guest = await conn.fetchval("select id from backroom.guest where name = 'Zoe Clarke'")
                booking = await conn.fetchval(
                    "insert into backroom.booking (ref, night_id, guest_id, party_size, status,"
                    " starts_at, ends_at) values ('R99999', $1, $2, 4, 'pending', $3, $4)"
                    " returning id",
                    night["id"],
                    guest,
                    night["starts_at"],
                    night["ends_at"],
                )
                await conn.execute(
                    "insert into backroom.booking_table (booking_id, table_id, during, active)"
                    " values ($1, 11, tstzrange($2, $3), true)",
                    booking,
                    night["starts_at"],
                    night["ends_at"],
                )
        finally:
            await conn.close()
        # The floor under the form hears of it first (and says so in a toast).
        floor = pilot.app.floor_screen  # type: ignore[attr-defined]
        await until(
            pilot,
            lambda: floor.snapshot is not None and floor.snapshot.tables[11].booking is not None,
            what="floor heard it",
        )
        await pilot.pause()
        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(pilot.app.screen, AlternativesDialog), what="alternatives offered"
        )
        await pilot.pause()

    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=conflict)


# Staff identity: the sign-in screen and the idle lock -----------------------------------


async def sign_in_typed(pilot: Pilot[Any]) -> None:
    await until(pilot, lambda: isinstance(pilot.app.screen, SignInScreen), what="sign-in shown")
    await pilot.press(*DOOR_EMAIL, "enter", *"correct horse", "enter")
    await steady_cursor(pilot)


def test_sign_in_at_80x24(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(
        IdentitySnapshotApp(dsn, signed_in=False), terminal_size=(80, 24), run_before=sign_in_typed
    )


def test_sign_in_at_160x48(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(
        IdentitySnapshotApp(dsn, signed_in=False), terminal_size=(160, 48), run_before=sign_in_typed
    )


def test_sign_in_refused_at_80x24(snap_compare: Any, dsn: str) -> None:
    async def refused(pilot: Pilot[Any]) -> None:
        await sign_in_typed(pilot)
        await pilot.press(*"000000", "enter")
        screen = pilot.app.screen
        assert isinstance(screen, SignInScreen)
        await until(pilot, lambda: "not right" in screen.status_text, what="refused")
        await steady_cursor(pilot)

    assert snap_compare(IdentitySnapshotApp(dsn, signed_in=False), terminal_size=(80, 24), run_before=refused)


async def locked_door(pilot: Pilot[Any]) -> None:
    # Door staff start at the door screen, over the floor.
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, DoorScreen) and pilot.app.screen.live,
        what="door screen live",
    )
    app = pilot.app
    assert isinstance(app, BackroomApp)
    app.lock(why="Nothing was pressed for 5 minutes.")
    await until(pilot, lambda: isinstance(app.screen, LockScreen), what="locked")
    await steady_cursor(pilot)


def test_idle_lock_at_80x24(snap_compare: Any, dsn: str) -> None:
    async def idle(pilot: Pilot[Any]) -> None:
        await locked_door(pilot)
        await pilot.press(*"12")
        await steady_cursor(pilot)

    assert snap_compare(IdentitySnapshotApp(dsn, signed_in=True), terminal_size=(80, 24), run_before=idle)


# The same screens without colour (NO_COLOR, a plain terminal over SSH) and at the other size --


@pytest.fixture
def no_colour(monkeypatch: pytest.MonkeyPatch) -> None:
    # Read by App.__init__: the app draws without colour.
    monkeypatch.setenv("NO_COLOR", "1")


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_floor_without_colour(snap_compare: Any, dsn: str, no_colour: None, size: tuple[int, int]) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=size, run_before=loaded)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_sign_in_without_colour(snap_compare: Any, dsn: str, no_colour: None, size: tuple[int, int]) -> None:
    assert snap_compare(
        IdentitySnapshotApp(dsn, signed_in=False), terminal_size=size, run_before=sign_in_typed
    )


def test_idle_lock_at_160x48(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(
        IdentitySnapshotApp(dsn, signed_in=True), terminal_size=(160, 48), run_before=locked_door
    )


def test_idle_lock_without_colour_at_80x24(snap_compare: Any, dsn: str, no_colour: None) -> None:
    assert snap_compare(
        IdentitySnapshotApp(dsn, signed_in=True), terminal_size=(80, 24), run_before=locked_door
    )


def test_new_booking_form_at_160x48(snap_compare: Any, dsn: str) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=(160, 48), run_before=new_booking_form_on_table_11)


def test_new_booking_form_without_colour_at_80x24(snap_compare: Any, dsn: str, no_colour: None) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=new_booking_form_on_table_11)


async def floor_help(pilot: Pilot[Any]) -> None:
    await floor_loaded(pilot)
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help open")
    await pilot.pause()


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_floor_help(snap_compare: Any, dsn: str, size: tuple[int, int]) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=size, run_before=floor_help)


def test_floor_help_without_colour_at_80x24(snap_compare: Any, dsn: str, no_colour: None) -> None:
    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=floor_help)
