"""Saving the night report as a manager does: e into the data directory, under a new name
each time; s where staff say, asking before a file is replaced."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import Services
from screens.night_report import SaveAsDialog
from tests.integration.report_nights import a_night_of_everything, open_quiet_night
from tests.tui.helpers import screen_text, toasts, until
from tests.tui.nights_helpers import open_report

SIZE = (80, 24)
NAME = "backroom-night-2026-12-04.csv"


async def save_as(pilot: Pilot[Any]) -> SaveAsDialog:
    await pilot.press("s")
    await until(pilot, lambda: isinstance(pilot.app.screen, SaveAsDialog), what="the question")
    dialog = pilot.app.screen
    assert isinstance(dialog, SaveAsDialog)
    return dialog


def lines_of(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))


async def test_e_saves_bookings_and_totals_in_the_data_folder_never_over_the_last(
    services: Services, admin: asyncpg.Connection, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BACKROOM_DATA_DIR", str(tmp_path / "data"))
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    folder = tmp_path / "data" / "reports"
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        report = await open_report(pilot, services)
        assert report.folder == folder
        assert "5 bookings as CSV" in screen_text(pilot.app)

        await pilot.press("e")
        await until(pilot, lambda: report.exported is not None, what="saved")
        first = report.exported
        assert first == folder / NAME
        lines = lines_of(first)
        assert [line["row"] for line in lines] == ["booking"] * 5 + ["floor", "floor", "total"]
        assert "Ada Partly" in {line["guest"] for line in lines}
        assert any(str(first) in toast for toast in toasts(pilot.app))

        before = first.read_bytes()
        await pilot.press("e")
        await until(pilot, lambda: report.exported != first, what="saved again")
        assert report.exported == folder / "backroom-night-2026-12-04-2.csv"
        assert first.read_bytes() == before
        assert sorted(os.listdir(folder)) == sorted([NAME, "backroom-night-2026-12-04-2.csv"])


async def test_s_asks_where_and_asks_again_before_replacing(
    services: Services, admin: asyncpg.Connection, tmp_path: Path
) -> None:
    night = await open_quiet_night(admin)
    await a_night_of_everything(services, night)
    mine = tmp_path / "friday.csv"
    mine.write_text("keep me")
    async with BackroomApp(services).run_test(size=SIZE) as pilot:
        report = await open_report(pilot, services, export_dir=tmp_path)
        dialog = await save_as(pilot)
        box = dialog.query_one("#report-path", Input)
        assert box.value == str(tmp_path / NAME)

        # Esc: nothing saved.
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is report, what="closed")
        assert report.exported is None and os.listdir(tmp_path) == ["friday.csv"]

        dialog = await save_as(pilot)
        box = dialog.query_one("#report-path", Input)
        box.value = str(mine)
        await pilot.press("enter")
        await until(pilot, lambda: "is there already" in dialog.status_text, what="the warning")
        assert mine.read_text() == "keep me" and report.exported is None
        assert pilot.app.screen is dialog

        await pilot.press("enter")
        await until(pilot, lambda: report.exported == mine, what="replaced")
        await until(pilot, lambda: pilot.app.screen is report, what="closed")
        assert lines_of(mine)[-1]["row"] == "total"
        assert os.listdir(tmp_path) == ["friday.csv"]

        # A folder takes the next free name in it.
        dialog = await save_as(pilot)
        dialog.query_one("#report-path", Input).value = str(tmp_path)
        await pilot.press("enter")
        await until(pilot, lambda: report.exported == tmp_path / NAME, what="saved in the folder")
        assert sorted(os.listdir(tmp_path)) == [NAME, "friday.csv"]
