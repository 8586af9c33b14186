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
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import open_services
from screens.dialogs.alternatives import AlternativesDialog
from screens.door import DoorScreen
from screens.forms.booking import BookingForm
from screens.help import HelpScreen
from screens.lock import LockScreen
from screens.sign_in import SignInScreen
from services.identity.accounts import IdentityService
from services.store import seed
from services.store.db import Actor, Database
from tests.conftest import SAMPLE_NIGHT, fixed_clock
from tests.sessions import signed_in
from tests.tui.helpers import floor_loaded, until


async def stable_refs(dsn: str) -> None:
    """Booking refs are random by design; a picture needs the same ones every run."""
    conn = await asyncpg.connect(dsn)
    try:
        async with conn.transaction():
            # Closed bookings refuse every change, a new ref included: step around the rules.
            await conn.execute("alter table backroom.booking disable trigger user")
            await conn.execute("update backroom.booking set ref = 'R' || lpad(id::text, 5, '0')")
            await conn.execute("alter table backroom.booking enable trigger user")
    finally:
        await conn.close()


class SnapshotApp(BackroomApp):
    """The console on a test database, its services opened in the app's own loop."""

    def __init__(self, dsn: str) -> None:
        super().__init__(services=None)  # type: ignore[arg-type]
        self.dsn = dsn

    async def on_load(self) -> None:
        await stable_refs(self.dsn)
        self.services = await open_services(self.dsn, clock=fixed_clock)
        self.services.actor = await signed_in(self.services.db, seed.DEMO_MANAGER)

    async def on_unmount(self) -> None:
        await self.services.db.close()


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


async def steady_cursor(pilot: Pilot[Any]) -> None:
    """A blinking cursor would make the picture depend on the moment it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


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

SNAPSHOT_T0 = 1_795_000_000.0
DOOR_EMAIL = "dana@backroom.test"


class IdentitySnapshotApp(BackroomApp):
    """The console with an identity service; `signed_in` opens it on the floor as door staff."""

    def __init__(self, dsn: str, *, signed_in: bool) -> None:
        super().__init__(services=None)  # type: ignore[arg-type]
        self.dsn = dsn
        self.start_signed_in = signed_in

    async def on_load(self) -> None:
        await stable_refs(self.dsn)
        self.services = await open_services(self.dsn, clock=fixed_clock)
        self.owner = Database(self.dsn, max_size=1)
        await self.owner.open()
        identity = IdentityService(self.services.db, owner=self.owner)
        await identity.add_staff(
            None, email=DOOR_EMAIL, name="Dana Door", role="door", password="correct horse battery"
        )
        self.services.identity = identity
        self.services.actor = (
            await signed_in(self.services.db, DOOR_EMAIL) if self.start_signed_in else Actor()
        )

    async def on_unmount(self) -> None:
        await self.services.db.close()
        await self.owner.close()


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
