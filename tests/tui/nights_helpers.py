"""Opening the nights screen and a night's report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from console.wiring import Services
from screens.night_report import NightReportScreen
from screens.nights import NightsScreen
from tests.integration.report_nights import QUIET_NIGHT
from tests.tui.helpers import floor_loaded, until


def nights_ready(pilot: Pilot[Any]) -> bool:
    screen = pilot.app.screen
    return isinstance(screen, NightsScreen) and screen.loaded and not screen.reloading


async def open_nights(pilot: Pilot[Any], services: Services, export_dir: Path | None = None) -> NightsScreen:
    """Over the floor, as F4 opens it."""
    await floor_loaded(pilot)
    screen = NightsScreen(services, export_dir=export_dir)
    await pilot.app.push_screen(screen)
    await until(pilot, lambda: nights_ready(pilot), what="nights loaded")
    await pilot.pause()
    return screen


async def open_report(
    pilot: Pilot[Any], services: Services, export_dir: Path | None = None
) -> NightReportScreen:
    screen = await open_nights(pilot, services, export_dir=export_dir)
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
    return report
