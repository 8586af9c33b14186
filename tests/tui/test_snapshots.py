"""Pictures of the floor at the smallest supported terminal and at a large one,
and of the dialogs the booking actions open.

`snap_compare` runs the app in an event loop of its own, so the app opens its
services inside that loop (a pool belongs to the loop that made it). The
console acts as the demo's Duty Manager, so the footer shows a manager's keys.
"""

from __future__ import annotations

from typing import Any

import asyncpg
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import open_services
from screens.alternatives import AlternativesDialog
from screens.booking_form import BookingForm
from services import seed, staff
from tests.conftest import SAMPLE_NIGHT, fixed_clock
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
        self.services.actor = await staff.find_by_email(self.services.db, seed.DEMO_MANAGER)

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
    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24),
                        run_before=new_booking_form_on_table_11)


def test_alternatives_dialog_at_80x24(snap_compare: Any, dsn: str) -> None:
    async def conflict(pilot: Pilot[Any]) -> None:
        await new_booking_form_on_table_11(pilot)
        # Another console books table 11 while the form is open (a fixed ref, for the picture).
        conn = await asyncpg.connect(dsn)
        try:
            async with conn.transaction():
                night = await conn.fetchrow(
                    "select id, starts_at, ends_at from backroom.night where date = $1", SAMPLE_NIGHT)
                guest = await conn.fetchval("select id from backroom.guest where name = 'Zoe Clarke'")
                booking = await conn.fetchval(
                    "insert into backroom.booking (ref, night_id, guest_id, party_size, status,"
                    " starts_at, ends_at) values ('R99999', $1, $2, 4, 'pending', $3, $4)"
                    " returning id", night["id"], guest, night["starts_at"], night["ends_at"])
                await conn.execute(
                    "insert into backroom.booking_table (booking_id, table_id, during, active)"
                    " values ($1, 11, tstzrange($2, $3), true)",
                    booking, night["starts_at"], night["ends_at"])
        finally:
            await conn.close()
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, AlternativesDialog),
                    what="alternatives offered")
        await pilot.pause()

    assert snap_compare(SnapshotApp(dsn), terminal_size=(80, 24), run_before=conflict)
