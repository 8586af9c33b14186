"""The nights screen and the night report against a real database: what they show, where
Enter and r lead, how they follow new bookings, and the report saved as CSV."""

from __future__ import annotations

import os
from datetime import date
from pathlib import Path
from typing import Any

import asyncpg
from rich.style import Style
from textual.app import App

from console.app import BackroomApp
from console.wiring import Services
from screens.floor.screen import FloorScreen
from screens.help import HelpScreen
from screens.live import NightChanged
from screens.night_report import NightReportScreen
from services.bookings import BookingService
from services.live.feed import ChangeBatch
from services.models import TileStatus
from services.reports import report_csv
from services.store import seed
from tests.conftest import SAMPLE_NIGHT
from tests.integration.report_nights import (
    EXPECTED,
    ON_THE_NIGHT,
    QUIET_NIGHT,
    a_night_of_everything,
    book,
    open_quiet_night,
)
from tests.sessions import signed_in
from tests.tui.helpers import screen_text, shown_text, toasts, until
from tests.tui.nights_helpers import nights_ready, open_nights
from widgets.night_list import NightList
from widgets.night_report_table import NightReportTable

SIZE = (80, 24)


def row_of(app: App[Any], night: date) -> str:
    """The line of the list that shows this night."""
    day = f"{night:%d %b %Y}"
    found = [line for line in screen_text(app).splitlines() if day in line]
    assert found, f"{day} is not on the screen"
    return found[0]


async def test_the_list_shows_each_night_and_enter_opens_its_floor(
    services: Services, admin: asyncpg.Connection
) -> None:
    nights = await admin.fetch("select id, date from backroom.night order by date")
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await open_nights(pilot, services)
        text = screen_text(pilot.app)
        # Fourteen nights from tonight: weekday, date and every floor, each night on its line.
        for night in nights:
            line = row_of(pilot.app, night["date"])
            assert line.split()[0] == f"{night['date']:%a}"
        assert "Upstairs" in text and "Downstairs" in text and "Covers" in text
        assert "tonight" in row_of(pilot.app, SAMPLE_NIGHT)
        assert screen.selected is not None and screen.selected.date == SAMPLE_NIGHT

        await pilot.press("down")
        chosen = nights[1]
        assert screen.selected is not None and screen.selected.date == chosen["date"]
        assert f"{chosen['date']:%a %d %b %Y}, tomorrow" in screen_text(pilot.app)

        await pilot.press("enter")
        await until(
            pilot,
            lambda: (
                isinstance(pilot.app.screen, FloorScreen)
                and pilot.app.screen.snapshot is not None
                and not pilot.app.screen.reloading
            ),
            what="that night's floor",
        )
        await pilot.pause()
        floor = pilot.app.screen
        assert isinstance(floor, FloorScreen)
        assert f"{chosen['date']:%a %d %b %Y}" in screen_text(pilot.app)
        # Its bookings: each table shows the booking that night has on it, and only those.
        booked = await admin.fetch(
            "select bt.table_id, b.ref from backroom.booking b"
            " join backroom.booking_table bt on bt.booking_id = b.id"
            " where b.night_id = $1 and b.status in ('pending', 'confirmed', 'arrived')",
            chosen["id"],
        )
        assert booked
        tiles = {key: tile for plan in floor.plans for key, tile in plan.tiles.items()}
        refs = {
            table: tile.state.booking.ref
            for table, tile in tiles.items()
            if tile.state is not None and tile.state.booking is not None
        }
        assert refs == {r["table_id"]: r["ref"] for r in booked}
        for table_id in refs:
            state = tiles[table_id].state
            assert state is not None and state.booking is not None
            assert state.status in (TileStatus.PENDING, TileStatus.CONFIRMED)
            assert f"{state.booking.party_size}" in shown_text(tiles[table_id])

        # Escape goes back: to the nights, still on that night, then to tonight's floor.
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="back on the nights")
        assert screen.selected is not None and screen.selected.date == chosen["date"]
        await pilot.press("escape")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, FloorScreen) and pilot.app.screen is not floor,
            what="back on tonight's floor",
        )


async def test_weeks_and_the_look_ahead(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await open_nights(pilot, services)
        listing = screen.query_one(NightList)
        await pilot.press("pagedown")
        assert screen.selected is not None and screen.selected.date == date(2026, 11, 27)
        await pilot.press("pagedown")
        assert screen.selected is not None and screen.selected.date == date(2026, 12, 3)
        await pilot.press("pageup", "pageup")
        assert screen.selected is not None and screen.selected.date == SAMPLE_NIGHT

        # A week back from tonight moves the list a week back: no nights were opened then.
        await pilot.press("pageup")
        await until(
            pilot,
            lambda: nights_ready(pilot) and screen.start == date(2026, 11, 13),
            what="the list a week earlier",
        )
        assert "13 Nov to 10 Dec 2026" in screen_text(pilot.app)
        assert screen.selected is not None and screen.selected.date == SAMPLE_NIGHT

        # Four weeks ahead: past the nights opened so far, the list says so.
        await pilot.press("right_square_bracket")
        await until(
            pilot, lambda: nights_ready(pilot) and screen.start == date(2026, 12, 11), what="four weeks later"
        )
        assert listing.row_count == 0
        text = screen_text(pilot.app)
        assert "No nights open 11 Dec 2026 to 07 Jan 2027." in text
        # Nothing to open or report on: the keys say nothing and do nothing.
        await pilot.press("enter", "r")
        assert pilot.app.screen is screen

        await pilot.press("t")
        await until(
            pilot,
            lambda: nights_ready(pilot) and screen.start is None and listing.row_count == 14,
            what="back to tonight",
        )
        assert screen.selected is not None and screen.selected.date == SAMPLE_NIGHT
        assert "20 Nov to 17 Dec 2026" in screen_text(pilot.app)


async def test_levels_follow_new_bookings_live(services: Services, admin: asyncpg.Connection) -> None:
    night = await open_quiet_night(admin)
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await open_nights(pilot, services)
        listing = screen.query_one(NightList)
        # The quiet night opened after the sample: free on both floors, in a word and a symbol.
        line = row_of(pilot.app, QUIET_NIGHT)
        assert line.count("○ free   0/8") == 2, line
        free = listing.get_row(str(night["id"]))[2]

        downstairs = await admin.fetch(
            "select id, min_party from backroom.venue_table where floor_id = 2 order by id"
        )
        for i, table in enumerate(downstairs):
            await book(services.bookings, services, night, [table["id"]], table["min_party"], f"Guest {i}")
        await book(services.bookings, services, night, [1], 2, "Upstairs Guest")
        covers = sum(t["min_party"] for t in downstairs) + 2

        # Another console's bookings reach this list through the App's feed.
        def settled() -> bool:
            line = row_of(pilot.app, QUIET_NIGHT)
            return "◐ partly 1/8" in line and "● full   8/8" in line and f" {covers} " in line

        await until(pilot, settled, what="upstairs partly booked, downstairs full", timeout=20)

        # Each level has its own colour (green, amber, red) as well as its word.
        partly, full = listing.get_row(str(night["id"]))[2:4]
        colours = [Style.parse(str(cell.style)).color for cell in (free, partly, full)]
        assert None not in colours and len(set(colours)) == 3


async def test_report_shows_the_night_and_saves_it_as_csv(
    services: Services, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await open_nights(pilot, services, export_dir=tmp_path)
        await pilot.press("end")
        assert screen.selected is not None and screen.selected.date == QUIET_NIGHT
        await pilot.press("r")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, NightReportScreen) and pilot.app.screen.rows is not None,
            what="the report",
        )
        await pilot.pause()
        report = pilot.app.screen
        assert isinstance(report, NightReportScreen)
        assert report.rows == EXPECTED
        text = screen_text(pilot.app)
        assert "Night report · Fri 04 Dec 2026" in text
        table = shown_text(report.query_one(NightReportTable)).splitlines()
        shown = {
            line.split()[0] if not line.startswith(" All") else "All": line.split()
            for line in table
            if line.strip() and "─" not in line
        }
        assert shown["Floor"] == [
            "Floor",
            "Bookings",
            "Covers",
            "Arrived",
            "No-shows",
            "Cancelled",
            "Deposits",
        ]
        assert shown["Upstairs"] == ["Upstairs", "1", "4", "3", "1", "1", "150.00"]
        assert shown["Downstairs"] == ["Downstairs", "2", "15", "3", "0", "0", "0.00"]
        assert shown["All"] == ["All", "floors", "3", "19", "6", "1", "1", "150.00"]

        await pilot.press("e")
        target = tmp_path / "backroom-night-2026-12-04.csv"
        await until(pilot, lambda: report.exported is not None, what="the file saved")
        assert report.exported == target
        assert target.read_bytes() == report_csv(EXPECTED, report.bookings).encode("utf-8")
        assert len(report.bookings) == 5
        assert os.listdir(tmp_path) == [target.name]
        assert any(str(target) in toast for toast in toasts(pilot.app))

        # A new booking that night: the report follows it.
        later = BookingService(services.db, lambda: ON_THE_NIGHT)
        await book(later, services, night, [12], 4, "Fay Late", minutes=60)
        await until(
            pilot,
            lambda: report.rows is not None and report.rows[-1].bookings == 4,
            what="the report updated",
            timeout=20,
        )

        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="back on the nights")


async def test_a_folder_that_cannot_be_written_says_why_and_writes_nothing(
    services: Services, tmp_path: Path
) -> None:
    missing = tmp_path / "reports"
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        await open_nights(pilot, services, export_dir=missing)
        await pilot.press("r")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, NightReportScreen) and pilot.app.screen.rows is not None,
            what="the report",
        )
        await pilot.press("e")
        expected = (
            f"Report not saved: Could not save the night report: the folder {missing} "
            "does not exist. Nothing was written."
        )
        await until(pilot, lambda: expected in toasts(pilot.app), what="the reason shown")
        report = pilot.app.screen
        assert isinstance(report, NightReportScreen) and report.exported is None
        assert os.listdir(tmp_path) == []


async def test_help_lists_every_key_and_support_staff_may_read(services: Services) -> None:
    services.actor = await signed_in(services.db, seed.DEMO_STAFF[2][0])
    assert services.actor.role == "support"
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await open_nights(pilot, services)
        footer = screen_text(pilot.app).splitlines()[-1]
        for words in ("esc Back", "↑↓ Night", "PgUp PgDn Week", "⏎ Floor", "r Report", "? Help"):
            assert words in footer, footer
        await pilot.press("f1")
        await until(pilot, lambda: isinstance(pilot.app.screen, HelpScreen), what="help")
        text = screen_text(pilot.app)
        for words in ("Night", "Week", "Floor", "Report", "Earlier", "Later", "Tonight", "Back"):
            assert words in text, words
        await pilot.press("escape")
        titles = [c.title for c in screen.palette_commands()]
        assert titles[:2] == ["Open the floor · Fri 20 Nov", "Night report · Fri 20 Nov"]
        await pilot.press("r")
        await until(
            pilot,
            lambda: isinstance(pilot.app.screen, NightReportScreen) and pilot.app.screen.rows is not None,
            what="the report, for support too",
        )
        assert "e Export CSV" in screen_text(pilot.app)


def batch_about(*nights: int | None, everything: bool = False) -> ChangeBatch:
    return ChangeBatch(
        tables=frozenset(),
        nights=frozenset(nights),
        kinds=frozenset({"booking"}),
        changes=len(nights),
        everything=everything,
        first_at=0.0,
        last_at=0.0,
    )


async def test_a_burst_of_changes_costs_one_or_two_reads(
    services: Services, admin: asyncpg.Connection
) -> None:
    tonight = await admin.fetchval("select id from backroom.night where date = $1", SAMPLE_NIGHT)
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        screen = await open_nights(pilot, services)
        before = screen.reads
        # Posted as the App's feed posts them, all at once: one read starts, one more follows.
        for _ in range(10):
            screen.post_message(NightChanged(batch_about(tonight)))
        await until(pilot, lambda: screen.reads > before and not screen.reloading, what="reloaded")
        await pilot.pause()
        assert screen.reads - before <= 2
        # A night that is not on the list is none of its business.
        settled = screen.reads
        screen.post_message(NightChanged(batch_about(999_999)))
        await pilot.pause()
        await until(pilot, lambda: not screen.reloading, what="idle")
        assert screen.reads == settled
