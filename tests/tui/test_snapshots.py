"""Pictures of the floor at the smallest supported terminal and at a large one.

`snap_compare` runs the app in an event loop of its own, so the app opens its
services inside that loop (a pool belongs to the loop that made it).
"""

from __future__ import annotations

from typing import Any

import asyncpg
from textual.pilot import Pilot

from console.app import BackroomApp
from console.wiring import open_services
from tests.conftest import fixed_clock
from tests.tui.helpers import floor_loaded


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
