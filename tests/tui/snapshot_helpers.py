"""The apps and steps the snapshot tests share: the same booking refs and cursor on
every run, and consoles signed in as the demo staff."""

from __future__ import annotations

from typing import Any

import asyncpg
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import open_services
from services.identity.accounts import IdentityService
from services.store import seed
from services.store.db import Actor, Database
from tests.conftest import fixed_clock
from tests.sessions import signed_in
from tests.tui.door_helpers import DOOR


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


async def steady_cursor(pilot: Pilot[Any]) -> None:
    """A blinking cursor would make the picture depend on the moment it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


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


class DoorSnapshotApp(BackroomApp):
    """The console on a test database as door staff; the door goes over the floor."""

    def __init__(self, dsn: str) -> None:
        super().__init__(services=None)  # type: ignore[arg-type]
        self.dsn = dsn

    async def on_load(self) -> None:
        await stable_refs(self.dsn)
        self.services = await open_services(self.dsn, clock=fixed_clock)
        self.services.actor = await signed_in(self.services.db, DOOR)

    async def on_unmount(self) -> None:
        await self.stop_feeds()
        await self.services.db.close()
