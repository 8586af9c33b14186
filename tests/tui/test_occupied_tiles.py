"""The floor's tiles show who is sitting at each table now, whatever their booked times:
a party checked in early, a party still in past its booked end, and two parties in at
once (the second named too)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from console.app import BackroomApp
from console.wiring import Services, open_services
from services.bookings import GuestDetails
from services.models import TileStatus
from services.store import seed
from tests import sessions
from tests.conftest import SAMPLE_NIGHT
from tests.tui.helpers import floor_loaded, shown_text
from widgets.table_tile import TableTile

SIZE = (160, 48)
OPENS = datetime(2026, 11, 20, 22, 0, tzinfo=UTC)
KEMI_TABLE, OTTO_TABLE = 8, 12


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(OPENS)


@pytest.fixture
async def console(dsn: str, clock: Clock) -> AsyncIterator[Services]:
    opened = await open_services(dsn, clock=clock)
    opened.actor = await sessions.signed_in(dsn, seed.DEMO_MANAGER)
    yield opened
    await opened.db.close()


async def test_each_tile_shows_the_party_sitting_there_now(
    console: Services, clock: Clock, admin: asyncpg.Connection
) -> None:
    night = await admin.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    kemi = await admin.fetchval(
        "select b.id from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
        " where b.night_id = $1 and bt.table_id = $2 and b.status = 'confirmed'",
        night,
        KEMI_TABLE,
    )
    bookings, manager = console.bookings, console.actor

    # Four of Kemi's ten, at 21:05 for 00:00.
    clock.now = OPENS - timedelta(minutes=55)
    current = await bookings.get(kemi)
    await bookings.check_in(manager, kemi, current.version, 4)
    # Otto's six came at 22:00 for an hour, and nobody has marked them gone.
    async with admin.transaction():
        guest = await admin.fetchval("insert into backroom.guest (name) values ('Otto Late') returning id")
        otto = await admin.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at,"
            " ends_at) values ($1, $2, 6, 'arrived', $3, $4) returning id",
            night,
            guest,
            OPENS,
            OPENS + timedelta(hours=1),
        )
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id) values ($1, $2)", otto, OTTO_TABLE
        )
    # Bea's four, booked from 23:00, sit down beside them at 23:30.
    clock.now = OPENS + timedelta(minutes=30)
    bea = await bookings.create(
        manager,
        night_id=night,
        table_ids=[OTTO_TABLE],
        party_size=4,
        starts_at=OPENS + timedelta(hours=1),
        ends_at=OPENS + timedelta(hours=3),
        guest=GuestDetails("Bea Four"),
    )
    clock.now = OPENS + timedelta(minutes=90)
    await bookings.check_in(manager, bea.id, bea.version, 4)

    async with BackroomApp(console).run_test(size=SIZE) as pilot:
        screen = await floor_loaded(pilot)
        tiles = {key: tile for plan in screen.plans for key, tile in plan.tiles.items()}

        kemi_tile = tiles[KEMI_TABLE]
        otto_tile = tiles[OTTO_TABLE]
        assert isinstance(otto_tile, TableTile) and otto_tile.state is not None
        assert otto_tile.state.status is TileStatus.ARRIVED
        text = shown_text(otto_tile)
        assert "6/6" in text and "Otto Late" in text, text
        assert "also 4/4 Bea" in text, text
        assert [b.guest_name for b in otto_tile.state.seated] == ["Otto Late", "Bea Four"]

        assert kemi_tile.state is not None and kemi_tile.state.status is TileStatus.ARRIVED
        text = shown_text(kemi_tile)
        assert "4/10" in text and "Kemi Adeyemi" in text and "in 21:05" in text, text
