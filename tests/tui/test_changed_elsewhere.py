"""A toast when another console changes what this one is looking at, and none for
this console's own changes."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from decimal import Decimal

import asyncpg

from console.app import BackroomApp
from console.wiring import Services
from screens.changes import ELSEWHERE, booking_news, news_title, table_news
from services import seed
from services.bookings import BookingService
from services.models import Booking, BookingStatus, Hold, Table, TableState, TileStatus
from tests.conftest import FIXED_NOW, fixed_clock
from tests.sessions import signed_in
from tests.tui.helpers import colleague, shown_text, toasts, until
from tests.tui.test_actions import SMALL, open_floor, state_of
from tests.tui.test_door import booking, door, open_door, typed

__all__ = ["door"]


def elsewhere(app: object, *, by: str | None = None) -> list[str]:
    """The news toasts; with `by`, only those whose title names that staff member."""
    title = ELSEWHERE if by is None else news_title(by)
    return [t.split(": ", 1)[1] for t in toasts(app)  # type: ignore[arg-type]
            if t.startswith("Changed ") and "on another console: " in t
            and (by is None or t.startswith(f"{title}: "))]


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
        assert elsewhere(pilot.app, by=manager.name) == [f"{pending.ref} {pending.guest_name} is confirmed."]

        # A change to a table nobody here is looking at is shown on its tile, not toasted.
        await open_floor(pilot, 3)
        far = await admin.fetchrow(
            "select b.id, b.version from backroom.booking b join backroom.booking_table bt"
            " on bt.booking_id = b.id join backroom.venue_table t on t.id = bt.table_id"
            " where t.number = 1 and b.status = 'confirmed'")
        await other.check_in(manager, far["id"], far["version"], 1)
        screen = pilot.app.screen
        tiles = {t.state.table.number: t for plan in screen.plans  # type: ignore[attr-defined]
                 for t in plan.tiles.values() if t.state is not None}
        await until(pilot, lambda: "IN" in shown_text(tiles[1]), what="table 1 checked in")
        assert len(elsewhere(pilot.app)) == 1


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
        assert elsewhere(pilot.app, by=sam.name) == [f"Table 11 is held by {sam.name}."]


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
        assert elsewhere(pilot.app, by="Duty Manager") == [
            f"{alice['ref']} Alice Moreau has arrived (2 of 4 in)."]


def _booking(**changes: object) -> Booking:
    base = Booking(id=7, ref="B-7", status=BookingStatus.CONFIRMED, guest_name="Ada", guest_vip=False,
                   party_size=4, arrived_count=0, starts_at=FIXED_NOW,
                   ends_at=FIXED_NOW + timedelta(hours=3), version=1, table_ids=(1,))
    return replace(base, **changes)  # type: ignore[arg-type]


def test_the_words_for_each_kind_of_change() -> None:
    b = _booking()
    tz, numbers = "Europe/London", {1: 5, 2: 6}
    assert booking_news(b, b, timezone=tz, numbers=numbers) is None
    assert booking_news(b, _booking(arrived_count=3), timezone=tz, numbers=numbers) == "B-7 Ada: 3 of 4 in."
    assert booking_news(b, _booking(status=BookingStatus.CANCELLED), timezone=tz,
                        numbers=numbers) == "B-7 Ada was cancelled."
    assert booking_news(b, _booking(party_size=6, table_ids=(1, 2)), timezone=tz,
                        numbers=numbers) == "B-7 Ada changed: party of 6, now at tables 5+6."
    assert booking_news(b, None, timezone=tz, numbers=numbers) == "B-7 Ada is no longer on tonight's list."


def test_the_words_for_a_table() -> None:
    table = Table(id=1, number=5, name="5", floor_id=1, min_party=2, max_party=6, vip=False,
                  min_spend=Decimal(0), grid_row=0, grid_col=0)
    free = TableState(table=table, status=TileStatus.FREE, booking=None, hold=None)
    hold = Hold(id=3, table_id=1, holder="Sam", expires_at=FIXED_NOW, staff_id=9)
    held = replace(free, status=TileStatus.HELD, hold=hold)
    tz, numbers = "UTC", {1: 5}
    assert table_news(free, held, me=1, timezone=tz, numbers=numbers) == "Table 5 is held by Sam."
    assert table_news(free, held, me=9, timezone=tz, numbers=numbers) is None, "my own hold"
    assert table_news(held, free, me=1, timezone=tz, numbers=numbers) == "Sam's hold on table 5 has ended."
    booked = replace(free, status=TileStatus.CONFIRMED, booking=_booking(), bookings=(_booking(),))
    assert table_news(held, booked, me=1, timezone=tz, numbers=numbers) == (
        "Table 5 is booked: B-7 Ada, party of 4 at 23:30 (confirmed).")
    gone = replace(free, bookings=(_booking(status=BookingStatus.NO_SHOW),))
    assert table_news(booked, gone, me=1, timezone=tz, numbers=numbers) == "B-7 Ada is marked no-show."
    moved = replace(free, bookings=())
    assert table_news(booked, moved, me=1, timezone=tz, numbers=numbers) == "B-7 Ada has left table 5."
