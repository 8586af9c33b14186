"""Twenty consoles (service level: a feed, a batcher and a floor each) watch a
random burst of concurrent booking operations and all end on exactly what the
database holds.

(At least two real apps under run_test are the UI side's part of the issue;
they belong in tests/tui.)
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg
import pytest

from console.wiring import Services
from services.floor import FloorService
from services.identity.roles import Role
from services.live.feed import Change, ChangeBatch, ChangeBatcher, ChangeFeed, FeedState, ListenTransport
from services.models import Night, TableState
from services.store.db import Actor, Database
from services.store.seed import DEMO_MANAGER
from tests.conftest import fixed_clock
from tests.integration.realtime_helpers import WORKERS, burst, notes_storm, until
from tests.sessions import signed_in

CONSOLES = 20


class ServiceConsole:
    """A console without a screen: keeps table -> latest state for one night."""

    def __init__(self, dsn: str, night_id: int, actor: Actor) -> None:
        self.night_id = night_id
        self.db = Database(dsn, min_size=1, max_size=2)
        self.db.acting = lambda: actor
        self.floor = FloorService(self.db, fixed_clock)
        self.tables: dict[int, TableState] = {}
        self.reloads = 0
        self.batcher = ChangeBatcher(self._apply, every=0.1)
        self.feed = ChangeFeed(
            ListenTransport(self.db.listener_connection),
            on_change=self._heard,
            on_status=lambda _s: None,
            resync=self._reload_all,
        )
        self.task: asyncio.Task[None] | None = None

    def _heard(self, change: Change) -> None:
        if change.night in (None, self.night_id):
            self.batcher.add(change)

    async def _apply(self, batch: ChangeBatch) -> None:
        if not batch.concerns(self.night_id):
            return
        snapshot = await self.floor.snapshot(self.night_id)
        self.reloads += 1
        if batch.everything:
            self.tables = dict(snapshot.tables)
        else:
            # Merged per table: only the tiles the batch names change.
            for table_id in batch.tables:
                self.tables[table_id] = snapshot.tables[table_id]

    async def _reload_all(self) -> None:
        self.batcher.clear()
        self.tables = dict((await self.floor.snapshot(self.night_id)).tables)

    async def start(self) -> None:
        await self.db.open()
        self.task = asyncio.create_task(self.feed.run())

    async def stop(self) -> None:
        self.batcher.close()
        await self.feed.stop()
        if self.task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(self.task, timeout=5)
        await self.db.close()


@pytest.fixture
async def watching(dsn: str, night: Night) -> AsyncIterator[list[ServiceConsole]]:
    watcher = await signed_in(dsn, DEMO_MANAGER)
    consoles = [ServiceConsole(dsn, night.id, watcher) for _ in range(CONSOLES)]
    await asyncio.gather(*(c.start() for c in consoles))
    await until(lambda: all(c.feed.status.state is FeedState.LIVE for c in consoles), timeout=20)
    yield consoles
    await asyncio.gather(*(c.stop() for c in consoles))


@pytest.fixture
async def managers(admin: asyncpg.Connection) -> list[Actor]:
    rows = await admin.fetch(
        "insert into backroom.staff (email, display_name, role)"
        " select 'burst' || n || '@backroom.test', 'Burst ' || n, 'manager'"
        " from generate_series(1, $1) n"
        " returning id, display_name, backroom_meta.open_session(id) as token",
        WORKERS,
    )
    return [
        Actor(staff_id=r["id"], name=r["display_name"], role=Role.MANAGER, session=r["token"]) for r in rows
    ]


async def test_twenty_consoles_end_on_what_the_database_holds(
    dsn: str,
    services: Services,
    night: Night,
    managers: list[Actor],
    watching: list[ServiceConsole],
    admin: asyncpg.Connection,
) -> None:
    succeeded, storm = await asyncio.gather(
        burst(dsn, managers, night, seed=20261120), notes_storm(admin, night)
    )
    assert succeeded >= 40, f"the burst did too little ({succeeded} operations)"

    truth = dict((await FloorService(services.db, fixed_clock).snapshot(night.id)).tables)

    def agree() -> bool:
        return all(c.tables == truth and c.batcher.pending == 0 for c in watching)

    await until(agree, timeout=30)
    # Give a straggling notification the chance to prove us wrong, then check again.
    await asyncio.gather(*(c.batcher.drain() for c in watching))
    assert all(c.tables == truth for c in watching)

    heard = sum(c.batcher.received for c in watching)
    flushed = sum(c.batcher.flushes for c in watching)
    assert heard >= CONSOLES * (succeeded + storm), "every console heard every operation"
    assert flushed < heard / 3, f"bursts were merged ({heard} changes, {flushed} flushes)"
