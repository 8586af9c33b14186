"""Keys that cannot act say why, counts are checked before Enter acts, the door's search
starts fresh after a dialog, and check-in belongs to tonight, against a real database.

The sample night (Fri 20 Nov 2026, 22:00-03:00) at 23:30 unless a test moves the
clock: Kemi Adeyemi's party of 10 is due at 00:00 on table 8, table 11 is free.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import asyncpg
from textual.pilot import Pilot

from console.app import BackroomApp
from console.wiring import Services, open_services
from screens.booking_steps import is_tonight
from screens.dialogs.ask import CountDialog
from screens.door import DoorScreen
from screens.floor.screen import FloorScreen
from screens.nights import NightFloorScreen
from services.models import Night
from tests.conftest import FIXED_NOW, SAMPLE_NIGHT, fixed_clock
from tests.sessions import signed_in
from tests.tui.door_helpers import DOOR
from tests.tui.helpers import SMALL, colleague, floor_loaded, screen_text, toasts, until
from widgets.table_tile import TableTile


async def select(pilot: Pilot[Any], screen: FloorScreen, number: int) -> TableTile:
    tile = next(
        t
        for plan in screen.plans
        for t in plan.tiles.values()
        if t.state is not None and t.state.table.number == number
    )
    tile.focus()
    await until(pilot, lambda: screen.selected == tile.table_id, what=f"table {number} selected")
    await pilot.pause()
    return tile


async def said(pilot: Pilot[Any], text: str) -> str:
    """Wait for a toast that holds `text`; return it."""
    await until(pilot, lambda: any(text in t for t in toasts(pilot.app)), what=f"toast {text!r}")
    return next(t for t in toasts(pilot.app) if text in t)


async def guest(admin: asyncpg.Connection, name: str) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select b.id, b.ref, b.status, b.arrived_count, b.party_size from backroom.booking b"
        " join backroom.guest g on g.id = b.guest_id"
        " where g.name = $1 and b.night_id = (select id from backroom.night where date = $2)",
        name,
        SAMPLE_NIGHT,
    )
    assert row is not None
    return row


# The floor ------------------------------------------------------------------------------


async def test_n_and_h_on_a_table_booked_later_tonight_say_why(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
        floor = await floor_loaded(pilot)
        await select(pilot, floor, 8)
        await pilot.press("n")
        line = await said(pilot, "Table 8 is booked at 00:00")
        assert "Kemi Adeyemi" in line and "a new booking needs a free table" in line, line
        await pilot.press("h")
        await said(pilot, "a hold needs a free table")
        assert pilot.app.screen is floor


async def test_n_and_h_on_a_table_someone_else_holds_say_who_and_until_when(
    services: Services, admin: asyncpg.Connection, night: Night
) -> None:
    sam = await colleague(admin, "Sam Other", "sam@backroom.test")
    async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
        floor = await floor_loaded(pilot)
        tile = await select(pilot, floor, 11)
        await services.bookings.hold(sam, night_id=night.id, table_id=tile.table_id)
        await until(
            pilot,
            lambda: floor.selected_state is not None and floor.selected_state.hold is not None,
            what="hold seen",
        )
        for key in ("n", "h"):
            await pilot.press(key)
        line = await said(pilot, "Table 11 is held by Sam Other until ")
        assert sum("held by Sam Other until" in t for t in toasts(pilot.app)) == 2, toasts(pilot.app)
        assert "once they book it or let go" in line
        assert pilot.app.screen is floor


async def test_w_before_the_night_opens_says_when(dsn: str) -> None:
    early = FIXED_NOW.replace(hour=18)  # 18:00, the doors open at 22:00
    services = await open_services(dsn, clock=lambda: early)
    services.actor = await signed_in(services.db, DOOR)
    try:
        async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
            floor = await floor_loaded(pilot)
            await select(pilot, floor, 11)
            await pilot.press("w")
            await said(pilot, "Tonight opens at 22:00: walk-ins are seated from then")
            await pilot.press("n")  # door staff may not book: said too
            await said(pilot, "Door staff may not make bookings")
            assert pilot.app.screen is floor
    finally:
        await services.db.close()


# The door -------------------------------------------------------------------------------


async def door_ready(pilot: Pilot[Any]) -> DoorScreen:
    def ready() -> bool:
        screen = pilot.app.screen
        return isinstance(screen, DoorScreen) and screen.snapshot is not None and screen.current

    await until(pilot, ready, what="door loaded")
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, DoorScreen)
    return screen


async def typed(pilot: Pilot[Any], screen: DoorScreen, text: str) -> None:
    await pilot.press(*text)
    await until(pilot, lambda: screen.current and screen.shown_text == text, what=f"list for {text!r}")
    await pilot.pause()


async def test_esc_from_the_check_in_dialog_starts_the_next_search_fresh(door: Services) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await door_ready(pilot)
        await typed(pilot, screen, "kemi")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, CountDialog), what="dialog")
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="back at the door")
        assert screen.search.value == ""
        await typed(pilot, screen, "moreau")
        assert screen.search.value == "moreau", "not 'kemimoreau'"
        assert screen.booking_list.bookings[0].guest_name == "Alice Moreau"


async def test_an_empty_or_refused_count_never_checks_in_the_party(
    door: Services, admin: asyncpg.Connection
) -> None:
    alice = await guest(admin, "Alice Moreau")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await door_ready(pilot)
        await typed(pilot, screen, "alice")
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, CountDialog), what="dialog")
        dialog = pilot.app.screen
        assert isinstance(dialog, CountDialog)
        await pilot.press("backspace")  # the prefilled 4 is gone
        await pilot.pause()
        assert "Type a number from 1 to 4: needed." in dialog.status_text, "said before Enter"
        await pilot.press("x")
        await pilot.pause()
        assert "digits only" in dialog.status_text, dialog.status_text
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert not dialog.working
        assert isinstance(pilot.app.screen, CountDialog), "still open"
        assert "Type a number from 1 to 4" in screen_text(pilot.app)
        await pilot.press("9")
        await pilot.pause()
        assert "at most 4" in dialog.status_text
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert pilot.app.screen is dialog
        assert (await guest(admin, "Alice Moreau"))["arrived_count"] == alice["arrived_count"] == 0

        await pilot.press("backspace", "2")
        await pilot.pause()
        assert dialog.status_text == ""
        await pilot.press("enter")
        await until(pilot, lambda: pilot.app.screen is screen, what="checked in")
        await until(
            pilot, lambda: any(t.startswith("Checked in 2 ·") for t in toasts(pilot.app)), what="said"
        )
    assert (await guest(admin, "Alice Moreau"))["arrived_count"] == 2


# Check-in belongs to tonight -----------------------------------------------------------


async def test_check_in_on_another_nights_floor_is_refused(
    services: Services, admin: asyncpg.Connection
) -> None:
    other = await admin.fetchrow(
        "select n.id, n.date from backroom.night n join backroom.booking b on b.night_id = n.id"
        " where n.date > $1 and b.status = 'confirmed' order by n.date limit 1",
        SAMPLE_NIGHT,
    )
    assert other is not None
    async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
        await floor_loaded(pilot)
        screen = NightFloorScreen(services, night_id=other["id"])
        await pilot.app.push_screen(screen)
        await until(
            pilot, lambda: screen.snapshot is not None and not screen.reloading, what="that night's floor"
        )
        await pilot.pause()
        assert not screen.tonight and screen.snapshot is not None
        number = next(
            s.table.number
            for s in screen.snapshot.tables.values()
            if s.booking is not None and s.booking.status.value == "confirmed"
        )
        await select(pilot, screen, number)
        assert screen.check_action("check_in", ()) is False, "not offered on the footer"
        await pilot.press("i")
        await said(pilot, f"Check-in is for tonight only: this is {other['date']:%a %d %b}")
        assert pilot.app.screen is screen, "no dialog"
        screen.perform("check_in")  # the palette's way in: not offered, and refused too
        await pilot.pause()
        assert pilot.app.screen is screen
    arrived = await admin.fetchval(
        "select coalesce(sum(arrived_count), 0) from backroom.booking where night_id = $1", other["id"]
    )
    assert arrived == 0


async def test_check_in_at_a_door_left_on_last_night_is_refused(dsn: str, admin: asyncpg.Connection) -> None:
    # The door opened at 23:30; the clock then runs past closing into the next day.
    now = [FIXED_NOW]
    services = await open_services(dsn, clock=lambda: now[0])
    services.actor = await signed_in(services.db, DOOR)
    try:
        async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
            screen = await door_ready(pilot)
            await typed(pilot, screen, "alice")
            now[0] = FIXED_NOW + timedelta(hours=12)
            await pilot.press("enter")
            await said(pilot, "Check-in is for tonight only: Fri 20 Nov is not tonight")
            assert pilot.app.screen is screen
    finally:
        await services.db.close()
    assert (await guest(admin, "Alice Moreau"))["arrived_count"] == 0


async def test_tonight_runs_from_one_closing_to_the_next(night: Night) -> None:
    tz = "Europe/London"
    assert is_tonight(night, tz, FIXED_NOW)
    assert is_tonight(night, tz, FIXED_NOW.replace(hour=12))  # before opening: tonight's
    assert is_tonight(night, tz, night.ends_at - timedelta(minutes=1))
    assert not is_tonight(night, tz, night.ends_at + timedelta(minutes=1))
    assert not is_tonight(night, tz, datetime(2026, 11, 20, 2, 0, tzinfo=FIXED_NOW.tzinfo))


async def test_door_keys_a_role_may_not_use_say_so(dsn: str, admin: asyncpg.Connection) -> None:
    services = await open_services(dsn, clock=fixed_clock)
    services.actor = await signed_in(services.db, "support@backroom.demo")
    try:
        async with BackroomApp(services).run_test(size=SMALL, notifications=True) as pilot:
            await floor_loaded(pilot)
            await pilot.press("f3")
            screen = await door_ready(pilot)
            await typed(pilot, screen, "alice")
            await pilot.press("enter")
            await said(pilot, "Support staff may not check guests in at the door.")
            await pilot.press("ctrl+n")
            await said(pilot, "Support staff may not mark no-shows at the door.")
            assert pilot.app.screen is screen and screen.search.value == "alice"
    finally:
        await services.db.close()
    assert (await guest(admin, "Alice Moreau"))["arrived_count"] == 0
