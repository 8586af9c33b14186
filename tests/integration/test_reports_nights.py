"""The nights calendar's occupancy and the night report, on a night with known bookings,
and the report saved as CSV, whole or not at all."""

from __future__ import annotations

import csv
import io
import os
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest

from console.wiring import Services
from services.reports import (
    ALL_FLOORS,
    ExportFailed,
    ReportService,
    export_night_report,
    report_csv,
)
from tests.integration.report_nights import (
    EXPECTED,
    QUIET_NIGHT,
    a_night_of_everything,
    book,
    open_quiet_night,
)


async def test_a_quiet_night_is_free_on_every_floor(
    reports: ReportService, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    [shown] = await reports.occupancy(QUIET_NIGHT, 1)
    assert shown.night_id == night["id"]
    assert [(f.floor, f.booked, f.tables, f.covers, f.level) for f in shown.floors] == [
        ("Upstairs", 0, 8, 0, "free"),
        ("Downstairs", 0, 8, 0, "free"),
    ]


async def test_levels_follow_bookings(
    reports: ReportService, services: Services, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    downstairs = await admin.fetch(
        "select id, min_party from backroom.venue_table where floor_id = 2 order by id"
    )
    for i, table in enumerate(downstairs):
        await book(services.bookings, services, night, [table["id"]], table["min_party"], f"Guest {i}")
    await book(services.bookings, services, night, [1], 2, "Upstairs Guest")
    [shown] = await reports.occupancy(QUIET_NIGHT, 1)
    up, down = shown.floors
    assert (up.booked, up.level, up.covers) == (1, "partly", 2)
    assert (down.booked, down.level) == (8, "full")
    assert down.covers == sum(t["min_party"] for t in downstairs)


async def test_sold_tables_and_covers_expected(
    reports: ReportService, services: Services, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    [shown] = await reports.occupancy(QUIET_NIGHT, 1)
    up, down = shown.floors
    # Upstairs only table 1 is still sold: cancelled and no-show parties gave theirs back.
    assert (up.booked, up.covers) == (1, 4)
    # Downstairs: table 9's party has been and gone (sold, no covers still expected);
    # the party of twelve on 15 and 16 counts its covers once.
    assert (down.booked, down.covers) == (3, 12)


async def test_night_report_counts_what_was_done(
    reports: ReportService, services: Services, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    assert await reports.night_report(night["id"]) == EXPECTED


async def test_an_empty_night_reports_zeros_for_every_floor(
    reports: ReportService, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    rows = await reports.night_report(night["id"])
    assert [r.floor for r in rows] == ["Upstairs", "Downstairs", ALL_FLOORS]
    assert all(
        (r.bookings, r.covers_booked, r.covers_arrived, r.no_shows, r.cancellations, r.deposits_taken)
        == (0, 0, 0, 0, 0, Decimal(0))
        for r in rows
    )


async def test_night_report_of_no_such_night(reports: ReportService) -> None:
    with pytest.raises(LookupError):
        await reports.night_report(999_999)


async def test_business_date(reports: ReportService) -> None:
    # 02:00 in London on the 21st is still the night of the 20th; 04:00 is the 21st.
    assert await reports.today(datetime(2026, 11, 21, 2, 0, tzinfo=UTC)) == date(2026, 11, 20)
    assert await reports.today(datetime(2026, 11, 21, 4, 0, tzinfo=UTC)) == date(2026, 11, 21)


# The CSV file -------------------------------------------------------------------------


def test_export_writes_the_report(tmp_path: Path) -> None:
    path = export_night_report(EXPECTED, QUIET_NIGHT, tmp_path)
    assert path == tmp_path / "backroom-night-2026-12-04.csv"
    assert path.read_bytes() == report_csv(EXPECTED).encode("utf-8")
    rows = list(csv.reader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))
    assert rows[0] == [
        "row",
        "floor",
        "ref",
        "guest",
        "tables",
        "starts",
        "status",
        "party_size",
        "bookings",
        "covers_booked",
        "covers_arrived",
        "no_shows",
        "cancellations",
        "deposits_taken",
        "deposits_kept",
        "deposits_refunded",
    ]
    blank = [""] * 6
    assert rows[1:] == [
        ["floor", "Upstairs", *blank, "1", "4", "3", "1", "1", "150.00", "0", "0"],
        ["floor", "Downstairs", *blank, "2", "15", "3", "0", "0", "0.00", "0", "0"],
        ["total", "All floors", *blank, "3", "19", "6", "1", "1", "150.00", "0", "0"],
    ]
    assert os.listdir(tmp_path) == [path.name]


def test_export_again_keeps_the_first_file(tmp_path: Path) -> None:
    first = export_night_report(EXPECTED[:1], QUIET_NIGHT, tmp_path)
    path = export_night_report(EXPECTED, QUIET_NIGHT, tmp_path)
    assert path.read_bytes() == report_csv(EXPECTED).encode("utf-8")
    assert first.read_bytes() == report_csv(EXPECTED[:1]).encode("utf-8")
    assert sorted(os.listdir(tmp_path)) == sorted([first.name, path.name])


def test_export_to_a_missing_folder_says_so_and_writes_nothing(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-folder"
    with pytest.raises(ExportFailed) as caught:
        export_night_report(EXPECTED, QUIET_NIGHT, missing)
    assert str(caught.value) == f"Could not save the night report: the folder {missing} does not exist."
    assert os.listdir(tmp_path) == []


def test_export_to_a_file_instead_of_a_folder(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "notes.txt"
    not_a_folder.write_text("keep me")
    with pytest.raises(ExportFailed, match="is not a folder"):
        export_night_report(EXPECTED, QUIET_NIGHT, not_a_folder)
    assert os.listdir(tmp_path) == ["notes.txt"]
    assert not_a_folder.read_text() == "keep me"


def test_a_failure_half_way_leaves_the_last_export_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = export_night_report(EXPECTED[:1], QUIET_NIGHT, tmp_path)

    def disk_full(*_args: object) -> None:
        raise OSError(28, "No space left on device")

    # The disk fills as the new file is flushed.
    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(ExportFailed, match="is full"):
        export_night_report(EXPECTED, QUIET_NIGHT, tmp_path)
    # The earlier file is as it was, and no temporary file is left behind.
    assert os.listdir(tmp_path) == [first.name]
    assert first.read_bytes() == report_csv(EXPECTED[:1]).encode("utf-8")
