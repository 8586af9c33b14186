"""The night report's bookings against real Postgres: a line per booking, on the floor its
totals count it on, adding up to those totals; and the CSV written without replacing
an earlier one."""

from __future__ import annotations

import csv
import io
import os
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService
from services.reports import (
    CSV_HEADER,
    FIGURES,
    ReportExists,
    ReportService,
    export_night_report,
    report_csv,
)
from tests.integration.report_nights import (
    EXPECTED,
    ON_THE_NIGHT,
    QUIET_NIGHT,
    a_night_of_everything,
    book,
    open_quiet_night,
)


async def test_every_booking_has_its_line_and_they_add_up_to_the_totals(
    reports: ReportService, services: Services, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    report = await reports.night_report_with_bookings(night["id"])
    assert report.rows == EXPECTED
    shown = {(b.guest, b.floor, b.tables, b.status, b.party_size) for b in report.bookings}
    assert shown == {
        ("Ada Partly", "Upstairs", "1", "arrived", 4),
        ("Ben Calledoff", "Upstairs", "2", "cancelled", 2),
        ("Cy Missing", "Upstairs", "3", "no_show", 5),
        ("Di Done", "Downstairs", "9", "completed", 3),
        ("Ed Later", "Downstairs", "15+16", "pending", 12),
    }
    # Upstairs first, as the floors are listed; each floor's lines add up to its row.
    assert [b.floor for b in report.bookings] == ["Upstairs"] * 3 + ["Downstairs"] * 2
    for row in report.rows[:-1]:
        mine = [b for b in report.bookings if b.floor == row.floor]
        for figure in FIGURES:
            assert sum(getattr(b, figure) for b in mine) == getattr(row, figure), (row.floor, figure)
    ada = next(b for b in report.bookings if b.guest == "Ada Partly")
    assert (ada.covers_arrived, ada.deposits_taken, ada.bookings) == (3, Decimal("100.00"), 1)
    cy = next(b for b in report.bookings if b.guest == "Cy Missing")
    assert (cy.bookings, cy.covers_booked, cy.no_shows, cy.deposits_taken) == (0, 0, 1, Decimal("50.00"))
    # Start times in the venue's time.
    starts = await admin.fetchval(
        "select to_char(b.starts_at at time zone v.timezone, 'YYYY-MM-DD HH24:MI')"
        " from backroom.booking b, backroom.venue v where b.ref = $1",
        ada.ref,
    )
    assert ada.starts == starts


async def test_the_csv_holds_the_bookings_then_the_totals(
    reports: ReportService, services: Services, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    report = await reports.night_report_with_bookings(night["id"])
    path = export_night_report(report.rows, QUIET_NIGHT, tmp_path, report.bookings)
    lines = list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    assert list(lines[0]) == list(CSV_HEADER)
    assert [line["row"] for line in lines] == ["booking"] * 5 + ["floor", "floor", "total"]
    assert {line["guest"] for line in lines[:5]} == {b.guest for b in report.bookings}
    total = lines[-1]
    assert (total["floor"], total["bookings"], total["covers_booked"], total["deposits_taken"]) == (
        "All floors",
        "3",
        "19",
        "150.00",
    )
    assert sum(int(line["covers_arrived"]) for line in lines[:5]) == int(total["covers_arrived"])


async def test_a_name_a_spreadsheet_would_run_stays_text(
    reports: ReportService, services: Services, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    bookings = BookingService(services.db, lambda: ON_THE_NIGHT)
    await book(bookings, services, night, [1], 2, '=HYPERLINK("http://x")')
    report = await reports.night_report_with_bookings(night["id"])
    [line] = [
        row
        for row in csv.reader(io.StringIO(report_csv(report.rows, report.bookings)))
        if row[0] == "booking"
    ]
    assert line[3] == '\'=HYPERLINK("http://x")'


def test_exporting_again_takes_a_new_name_and_keeps_the_first(tmp_path: Path) -> None:
    first = export_night_report(EXPECTED[:1], QUIET_NIGHT, tmp_path)
    second = export_night_report(EXPECTED, QUIET_NIGHT, tmp_path)
    assert first.name == "backroom-night-2026-12-04.csv"
    assert second.name == "backroom-night-2026-12-04-2.csv"
    assert first.read_bytes() == report_csv(EXPECTED[:1]).encode("utf-8")
    assert second.read_bytes() == report_csv(EXPECTED).encode("utf-8")
    assert sorted(os.listdir(tmp_path)) == sorted([first.name, second.name])


def test_a_chosen_file_is_replaced_only_when_asked(tmp_path: Path) -> None:
    mine = tmp_path / "friday.csv"
    mine.write_text("keep me")
    with pytest.raises(ReportExists):
        export_night_report(EXPECTED, QUIET_NIGHT, tmp_path, path=mine)
    assert mine.read_text() == "keep me"
    assert os.listdir(tmp_path) == [mine.name]
    export_night_report(EXPECTED, QUIET_NIGHT, tmp_path, path=mine, replace=True)
    assert mine.read_bytes() == report_csv(EXPECTED).encode("utf-8")
    assert os.listdir(tmp_path) == [mine.name]


def test_the_data_folder_is_made_when_missing(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "reports"
    path = export_night_report(EXPECTED, QUIET_NIGHT, folder, make_folder=True)
    assert path.parent == folder and path.exists()
