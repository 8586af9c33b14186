"""A toast when another console changes what this one is looking at, naming who changed
what and where, and none for this console's own changes; a burst takes one short toast."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import asyncpg
from textual.widgets._toast import Toast

from console.app import BackroomApp
from console.wiring import Services
from screens.changes import booking_news, table_news
from services.bookings import BookingService
from services.models import Booking, BookingStatus, Hold, Table, TableState, TileStatus
from services.store import seed
from tests.conftest import FIXED_NOW, fixed_clock
from tests.sessions import signed_in
from tests.tui.door_helpers import booking, open_door, typed
from tests.tui.helpers import SMALL, colleague, open_floor, shown_text, state_of, toasts, until


def elsewhere(app: Any) -> list[str]:
    """The toast with news from other consoles, if one is shown (there is one at most)."""
    news = app._news
    return [news.message] if news is not None and news in app._notifications else []


def news_count(app: Any) -> int:
    """How many changes the news toast now shown counts."""
    return int(app._news_count)


async def test_the_floor_says_when_another_console_confirms_the_selected_booking(
    services: Services, admin: asyncpg.Connection
) -> None:
    other = BookingService(services.db, fixed_clock)
    manager = services.actor
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 3)
        pending = state_of(tile).booking
        assert pending is not None and pending.status is BookingStatus.PENDING
        await other.confirm(manager, pending.id, pending.version)
        await until(pilot, lambda: "CONF" in shown_text(tile), what="tile confirmed")
        await until(pilot, lambda: bool(elsewhere(pilot.app)), what="toast")
        assert elsewhere(pilot.app) == [
            f"{manager.name} confirmed {pending.guest_name}'s booking at table 3."
        ]

        # A change to a table nobody here is looking at is shown on its tile, not toasted.
        await open_floor(pilot, 3)
        far = await admin.fetchrow(
            "select b.id, b.version from backroom.booking b join backroom.booking_table bt"
            " on bt.booking_id = b.id join backroom.venue_table t on t.id = bt.table_id"
            " where t.number = 1 and b.status = 'confirmed'"
        )
        assert far is not None
        await other.check_in(manager, far["id"], far["version"], 1)
        screen = pilot.app.screen
        tiles = {
            t.state.table.number: t
            for plan in screen.plans  # type: ignore[attr-defined]
            for t in plan.tiles.values()
            if t.state is not None
        }
        await until(pilot, lambda: "IN" in shown_text(tiles[1]), what="table 1 checked in")
        assert news_count(pilot.app) == 1, toasts(pilot.app)


async def test_no_toast_for_this_consoles_own_change(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 3)
        await pilot.press("c")
        await until(pilot, lambda: "CONF" in shown_text(tile), what="confirmed here")
        await pilot.pause(0.5)
        assert elsewhere(pilot.app) == [], toasts(pilot.app)


async def test_a_hold_by_a_colleague_on_the_selected_table_is_said(
    services: Services, admin: asyncpg.Connection
) -> None:
    sam = await colleague(admin, "Sam Colleague", "sam@backroom.test")
    other = BookingService(services.db, fixed_clock)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 11)
        table = state_of(tile).table
        snapshot = pilot.app.screen.snapshot  # type: ignore[attr-defined]
        await other.hold(sam, night_id=snapshot.night.id, table_id=table.id)
        await until(pilot, lambda: "HELD" in shown_text(tile), what="held elsewhere")
        await until(pilot, lambda: bool(elsewhere(pilot.app)), what="toast")
        assert elsewhere(pilot.app) == [f"{sam.name} is holding table 11."]


async def test_the_door_says_when_the_selected_party_is_checked_in_elsewhere(
    door: Services, admin: asyncpg.Connection
) -> None:
    alice = await booking(admin, "Alice Moreau")
    manager = await signed_in(door.db, seed.DEMO_MANAGER)
    other = BookingService(door.db, fixed_clock)
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "alice")
        assert screen.selected is not None and screen.selected.id == alice["id"]
        await other.check_in(manager, alice["id"], alice["version"], 2)
        await until(pilot, lambda: bool(elsewhere(pilot.app)), what="toast")
        assert elsewhere(pilot.app) == ["Duty Manager checked in Alice Moreau at table 1: 2 of 4 in."]


async def test_a_move_by_a_colleague_names_them_and_both_tables(
    services: Services, admin: asyncpg.Connection
) -> None:
    dana = await colleague(admin, "Dana Moss", "dana.moss@backroom.test")
    other = BookingService(services.db, fixed_clock)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 9)
        isla = state_of(tile).booking
        assert isla is not None
        assert screen.snapshot is not None
        to = next(s.table.id for s in screen.snapshot.tables.values() if s.table.number == 10)
        await other.move(dana, isla.id, isla.version, table_ids=[to])
        await until(pilot, lambda: state_of(tile).booking is None, what="table 9 emptied")
        await until(pilot, lambda: bool(elsewhere(pilot.app)), what="toast")
        assert elsewhere(pilot.app) == [f"Dana Moss moved {isla.guest_name} from table 9 to table 10."]


async def test_a_burst_of_changes_takes_one_short_toast_clear_of_the_selected_tile(
    services: Services, admin: asyncpg.Connection
) -> None:
    dana = await colleague(admin, "Dana Moss", "dana.moss@backroom.test")
    other = BookingService(services.db, fixed_clock)
    async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
        # A tile on the lower row, closest to the toasts.
        _screen, tile = await open_floor(pilot, 14)
        maya = state_of(tile).booking
        assert maya is not None
        # Other toasts are about too: a keymap warning, a refusal...
        for n in range(3):
            pilot.app.notify(f"Something else {n}", timeout=30)
        maya = await other.confirm(dana, maya.id, maya.version)
        await until(pilot, lambda: bool(elsewhere(pilot.app)), what="first toast")
        maya = await other.check_in(dana, maya.id, maya.version, 2)
        await until(pilot, lambda: news_count(pilot.app) == 2, what="second change heard")
        await other.check_in(dana, maya.id, maya.version, 1)
        await until(pilot, lambda: news_count(pilot.app) == 3, what="third change heard")
        assert elsewhere(pilot.app) == [
            f"3 changes on other consoles. Latest: Dana Moss checked in {maya.guest_name}"
            " at table 14: 3 of 3 in."
        ]
        await pilot.pause(0.3)
        shown = list(pilot.app.screen.query(Toast))
        assert len(shown) <= BackroomApp.MAX_TOASTS, [t.render() for t in shown]
        assert any("3 changes" in str(t.render()) for t in shown)
        for toast in shown:
            assert toast.region.height <= 2, str(toast.render())
            assert not toast.region.overlaps(tile.region), "the toast covers the selected tile"


def _booking(**changes: object) -> Booking:
    base = Booking(
        id=7,
        ref="B-7",
        status=BookingStatus.CONFIRMED,
        guest_name="Ada",
        guest_vip=False,
        party_size=4,
        arrived_count=0,
        starts_at=FIXED_NOW,
        ends_at=FIXED_NOW + timedelta(hours=3),
        version=1,
        table_ids=(1,),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_words_for_each_kind_of_change() -> None:
    b = _booking()
    tz, numbers = "Europe/London", {1: 5, 2: 6}
    by = {"changed_by": "Dana Moss"}
    assert booking_news(b, b, timezone=tz, numbers=numbers) is None
    assert booking_news(b, _booking(arrived_count=3, **by), timezone=tz, numbers=numbers) == (
        "Dana Moss checked in Ada at table 5: 3 of 4 in."
    )
    assert (
        booking_news(_booking(arrived_count=3), _booking(arrived_count=1, **by), timezone=tz, numbers=numbers)
        == "Dana Moss corrected Ada's arrivals at table 5: 1 of 4 in."
    )
    assert (
        booking_news(b, _booking(status=BookingStatus.CANCELLED, **by), timezone=tz, numbers=numbers)
        == "Dana Moss cancelled Ada's booking at table 5."
    )
    assert (
        booking_news(b, _booking(status=BookingStatus.NO_SHOW), timezone=tz, numbers=numbers)
        == "Another console marked Ada no-show at table 5."
    )
    assert (
        booking_news(_booking(status=BookingStatus.NO_SHOW), _booking(**by), timezone=tz, numbers=numbers)
        == "Dana Moss reopened Ada's booking at table 5 (confirmed)."
    )
    assert (
        booking_news(b, _booking(table_ids=(2,), **by), timezone=tz, numbers=numbers)
        == "Dana Moss moved Ada from table 5 to table 6."
    )
    assert (
        booking_news(b, _booking(party_size=6, table_ids=(1, 2), **by), timezone=tz, numbers=numbers)
        == "Dana Moss moved Ada from table 5 to tables 5+6; party of 6."
    )
    assert booking_news(b, _booking(notes="cake", **by), timezone=tz, numbers=numbers) == (
        "Dana Moss changed Ada's booking at table 5: new notes."
    )
    assert booking_news(b, None, timezone=tz, numbers=numbers) == "Ada is no longer on tonight's list."


def test_the_words_for_a_table() -> None:
    table = Table(
        id=1,
        number=5,
        name="5",
        floor_id=1,
        min_party=2,
        max_party=6,
        vip=False,
        min_spend=Decimal(0),
        grid_row=0,
        grid_col=0,
    )
    free = TableState(table=table, status=TileStatus.FREE, booking=None, hold=None)
    hold = Hold(id=3, table_id=1, holder="Sam", expires_at=FIXED_NOW, staff_id=9)
    held = replace(free, status=TileStatus.HELD, hold=hold)
    tz, numbers = "UTC", {1: 5, 2: 6}
    assert table_news(free, held, me=1, timezone=tz, numbers=numbers) == "Sam is holding table 5."
    assert table_news(free, held, me=9, timezone=tz, numbers=numbers) is None, "my own hold"
    assert table_news(held, free, me=1, timezone=tz, numbers=numbers) == "Sam's hold on table 5 has ended."
    ada = _booking(changed_by="Sam")
    booked = replace(free, status=TileStatus.CONFIRMED, booking=ada, bookings=(ada,))
    assert table_news(held, booked, me=1, timezone=tz, numbers=numbers) == (
        "Sam booked table 5 for Ada, party of 4 at 23:30."
    )
    gone = replace(free, bookings=(_booking(status=BookingStatus.NO_SHOW, changed_by="Sam"),))
    assert table_news(booked, gone, me=1, timezone=tz, numbers=numbers) == (
        "Sam marked Ada no-show at table 5."
    )
    moved = replace(free, bookings=())
    assert table_news(booked, moved, me=1, timezone=tz, numbers=numbers) == "Ada has left table 5."
