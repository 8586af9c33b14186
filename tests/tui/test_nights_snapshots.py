"""Pictures of the nights screen and of a night's report, at 80x24 and 160x48, in colour
and without it (NO_COLOR: the levels still read by their symbol and word).

The app opens its services inside the snapshot's own event loop. Before the
picture a quiet night is opened after the sample with its downstairs booked
out, so the list shows all three levels: free, partly booked and full.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot

from console.app import BackroomApp
from console.wiring import open_services
from screens.night_report import NightReportScreen
from screens.nights import NightsScreen
from services.bookings import GuestDetails
from services.store import seed
from tests.conftest import fixed_clock
from tests.integration.report_nights import QUIET_NIGHT
from tests.sessions import signed_in
from tests.tui.helpers import floor_loaded, until

# Shown on the report; it need not exist for the picture.
EXPORT_DIR = Path("/srv/backroom/reports")


async def stable_refs(conn: asyncpg.Connection) -> None:
    """Booking refs are random by design; a picture needs the same ones every run."""
    async with conn.transaction():
        await conn.execute("alter table backroom.booking disable trigger user")
        await conn.execute("update backroom.booking set ref = 'R' || lpad(id::text, 5, '0')")
        await conn.execute("alter table backroom.booking enable trigger user")


class NightsSnapshotApp(BackroomApp):
    """The console on a test database, as the demo's Duty Manager, with a quiet night booked out."""

    def __init__(self, dsn: str) -> None:
        super().__init__(services=None)  # type: ignore[arg-type]
        self.dsn = dsn

    async def on_load(self) -> None:
        self.services = await open_services(self.dsn, clock=fixed_clock)
        self.services.actor = await signed_in(self.services.db, seed.DEMO_MANAGER)
        conn = await asyncpg.connect(self.dsn)
        try:
            await seed.open_nights(conn, QUIET_NIGHT, 1)
            night = await conn.fetchrow(
                "select id, starts_at from backroom.night where date = $1", QUIET_NIGHT
            )
            assert night is not None
            tables = await conn.fetch(
                "select id, min_party from backroom.venue_table where floor_id = 2 order by id"
            )
            for i, table in enumerate(tables):
                await self.services.bookings.create(
                    self.services.actor,
                    night_id=night["id"],
                    table_ids=[table["id"]],
                    party_size=table["min_party"],
                    starts_at=night["starts_at"] + timedelta(hours=1),
                    guest=GuestDetails(name=f"Guest {i}"),
                )
            await stable_refs(conn)
        finally:
            await conn.close()

    async def on_unmount(self) -> None:
        await self.stop_feeds()
        await self.services.db.close()


async def nights_shown(pilot: Pilot[Any]) -> NightsScreen:
    await floor_loaded(pilot)
    app = pilot.app
    assert isinstance(app, NightsSnapshotApp)
    screen = NightsScreen(app.services, export_dir=EXPORT_DIR)
    await app.push_screen(screen)
    await until(
        pilot, lambda: screen.loaded and not screen.reloading and screen.live, what="nights loaded and Live"
    )
    await pilot.pause()
    return screen


async def report_shown(pilot: Pilot[Any]) -> None:
    await nights_shown(pilot)
    await pilot.press("r")
    await until(
        pilot,
        lambda: (
            isinstance(pilot.app.screen, NightReportScreen)
            and pilot.app.screen.rows is not None
            and not pilot.app.screen.reloading
        ),
        what="the report",
    )
    await pilot.pause()


@pytest.fixture(params=["colour", "no-colour"])
def colour(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "no-colour":
        # Read when the App is built: it then draws without colour.
        monkeypatch.setenv("NO_COLOR", "1")
    else:
        monkeypatch.delenv("NO_COLOR", raising=False)
    return str(request.param)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_nights(snap_compare: Any, dsn: str, colour: str, size: tuple[int, int]) -> None:
    assert snap_compare(NightsSnapshotApp(dsn), terminal_size=size, run_before=nights_shown)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)], ids=["80x24", "160x48"])
def test_night_report(snap_compare: Any, dsn: str, colour: str, size: tuple[int, int]) -> None:
    assert snap_compare(NightsSnapshotApp(dsn), terminal_size=size, run_before=report_shown)
