"""A manager opens a night the seed did not, from the nights screen; nobody else can,
in the screen or in Postgres, and the venue's rules say which dates may be opened."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest

from console.app import BackroomApp
from console.wiring import Services
from screens.dialogs.ask import Dialog
from screens.dialogs.open_night import OpenNightDialog
from services.errors import InvalidInput, NotAllowed
from services.store.seed import DEMO_MANAGER
from tests.sessions import signed_in
from tests.tui.helpers import screen_text, toasts, until
from tests.tui.nights_helpers import open_nights

LONDON = ZoneInfo("Europe/London")


def real_today() -> date:
    """Postgres opens nights by its own clock, not the console's fixed one."""
    return datetime.now(UTC).astimezone(LONDON).date()


async def a_free_date(admin: asyncpg.Connection) -> date:
    day = real_today() + timedelta(days=3)
    while await admin.fetchval("select exists (select from backroom.night where date = $1)", day):
        day += timedelta(days=1)
    return day


async def test_a_manager_opens_a_night_from_the_list(services: Services, admin: asyncpg.Connection) -> None:
    day = await a_free_date(admin)
    async with BackroomApp(services).run_test(size=(80, 24), notifications=True) as pilot:
        screen = await open_nights(pilot, services)
        first = max(n.date for n in screen.night_list.nights) + timedelta(days=1)
        await pilot.press("o")
        await until(pilot, lambda: isinstance(pilot.app.screen, OpenNightDialog), what="dialog")
        dialog = pilot.app.screen
        assert isinstance(dialog, OpenNightDialog)
        assert dialog.suggested == first, "the first date with no night is offered"
        assert "Open a night" in screen_text(pilot.app)
        # Not a date: said, and nothing is opened.
        await pilot.press(*["backspace"] * 10, *"31/12", "enter")
        await until(pilot, lambda: "YYYY-MM-DD" in dialog.status_text, what="not a date")
        await pilot.press(*["backspace"] * 5, *day.isoformat(), "enter")
        await until(pilot, lambda: not isinstance(pilot.app.screen, Dialog), what="dialog closed")
        await until(
            pilot, lambda: any(n.date == day for n in screen.night_list.nights), what="the night on the list"
        )
        assert any(f"{day:%a %d %b %Y} is open." in t for t in toasts(pilot.app))
        assert screen.selected is not None and screen.selected.date == day
    row = await admin.fetchrow("select starts_at, ends_at from backroom.night where date = $1", day)
    assert row is not None
    assert row["starts_at"].astimezone(LONDON).time().isoformat() == "22:00:00"
    assert row["ends_at"].astimezone(LONDON) == datetime.combine(
        day + timedelta(days=1), datetime.min.time(), LONDON
    ) + timedelta(hours=3)
    who = await admin.fetchval(
        "select s.email from backroom.audit_log a join backroom.staff s on s.id = a.staff_id"
        " where a.operation = 'open_night' and a.after->>'date' = $1",
        day.isoformat(),
    )
    assert who == DEMO_MANAGER


async def test_a_date_outside_the_rules_is_refused_in_staff_words(
    services: Services, admin: asyncpg.Connection
) -> None:
    too_early = date(2020, 1, 1)  # long past, and never seeded
    with pytest.raises(InvalidInput, match="Nights can be opened from .* is outside that"):
        await services.nights.open_night(services.actor, too_early)
    with pytest.raises(InvalidInput, match="outside that"):
        await services.nights.open_night(services.actor, real_today() + timedelta(days=400))
    assert not await admin.fetchval("select exists (select from backroom.night where date = $1)", too_early)
    # A night already there is simply that night.
    there = await admin.fetchrow("select id, date from backroom.night order by date desc limit 1")
    assert there is not None
    if real_today() - timedelta(days=1) <= there["date"]:
        assert await services.nights.open_night(services.actor, there["date"]) == there["id"]


async def test_door_staff_open_no_night_in_the_screen_or_in_postgres(
    services: Services, dsn: str, admin: asyncpg.Connection
) -> None:
    door = await signed_in(dsn, "door@backroom.demo")
    day = await a_free_date(admin)
    with pytest.raises(NotAllowed):
        await services.nights.open_night(door, day)
    # Python's check out of the way: Postgres refuses it too.
    from services.store.db import Actor

    as_nobody_in_python = Actor(staff_id=door.staff_id, name=door.name, role=None, session=door.session)
    with pytest.raises(NotAllowed, match="manager or an admin"):
        await services.nights.open_night(as_nobody_in_python, day)
    assert not await admin.fetchval("select exists (select from backroom.night where date = $1)", day)
    services.actor = door
    async with BackroomApp(services).run_test(size=(80, 24)) as pilot:
        screen = await open_nights(pilot, services)
        await pilot.press("o")
        await pilot.pause()
        assert pilot.app.screen is screen
