"""A hold shows whose it is and how long it has left, warns once before it lapses, and
says when it has lapsed; time is moved on with the console's clock, not waited for."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from console.app import BackroomApp
from console.wiring import Services, open_services
from services.store import seed
from tests.sessions import signed_in
from tests.tui.helpers import LARGE, SMALL, night_id, open_floor, shown_text, state_of, toasts, until
from widgets.table_detail import TableDetail
from widgets.table_tile import TableTile


class MovingClock:
    """The database's own time (a hold's expiry is the database's), plus what a test adds."""

    def __init__(self) -> None:
        self.ahead = timedelta(0)

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.ahead

    def before(self, moment: datetime, seconds: float) -> None:
        """Move on to `seconds` before `moment` (after it, if negative)."""
        self.ahead = moment - timedelta(seconds=seconds) - datetime.now(UTC)


def expiry(tile: TableTile) -> datetime:
    hold = state_of(tile).hold
    assert hold is not None
    return hold.expires_at


@pytest.fixture
async def clock() -> MovingClock:
    return MovingClock()


@pytest.fixture
async def moving(dsn: str, clock: MovingClock) -> AsyncIterator[Services]:
    opened = await open_services(dsn, clock=clock)
    opened.actor = await signed_in(dsn, seed.DEMO_MANAGER)
    yield opened
    await opened.db.close()


def hold_words(pilot_app: object) -> list[str]:
    return [t for t in toasts(pilot_app) if "Your hold on table 11" in t]  # type: ignore[arg-type]


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
async def test_a_hold_counts_down_warns_once_and_says_it_lapsed(
    moving: Services, clock: MovingClock, admin: asyncpg.Connection, size: tuple[int, int]
) -> None:
    # The sample night, whatever today's date: only the hold's time matters here.
    app = BackroomApp(moving, night_id=await night_id(admin))
    async with app.run_test(size=size) as pilot:
        screen, tile = await open_floor(pilot, 11)
        await pilot.press("h")
        await until(pilot, lambda: state_of(tile).hold is not None, what="tile held")
        await pilot.pause()
        detail = shown_text(screen.query_one(TableDetail))
        assert re.search(r"◆ Held by you · 0:[0-3]\d left \(until \d\d:\d\d:\d\d\)", detail), detail
        assert "by you" in shown_text(tile)
        assert re.search(r"0:[0-3]\d", shown_text(tile)), shown_text(tile)
        assert hold_words(app) == []

        clock.before(expiry(tile), 8)
        await until(pilot, lambda: bool(hold_words(app)), what="a warning")
        [warning] = hold_words(app)
        assert re.fullmatch(
            r"Hold ending: Your hold on table 11 lapses in 0:0\d: N books it now\.", warning
        ), warning
        assert all(len(line) <= 80 for line in warning.split(": ", 1)[1:])
        await pilot.pause(1.2)  # a tick or so more: still one warning
        assert len(hold_words(app)) == 1

        clock.before(expiry(tile), -2)
        await until(pilot, lambda: len(hold_words(app)) == 2, what="said it lapsed")
        assert hold_words(app)[1] == (
            "Hold lapsed: Your hold on table 11 has lapsed: the table is free to anyone again."
        )
        await until(pilot, lambda: state_of(tile).hold is None, what="tile free again")
        await pilot.pause(1.2)
        assert len(hold_words(app)) == 2, "said once"


async def test_a_hold_let_go_or_booked_says_nothing_of_lapsing(
    moving: Services, clock: MovingClock, admin: asyncpg.Connection
) -> None:
    app = BackroomApp(moving, night_id=await night_id(admin))
    async with app.run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 11)
        await pilot.press("h")
        await until(pilot, lambda: state_of(tile).hold is not None, what="tile held")
        await pilot.press("h")  # let go
        await until(pilot, lambda: state_of(tile).hold is None, what="released")
        clock.ahead = timedelta(seconds=40)
        await pilot.pause(1.5)
        assert hold_words(app) == []


async def test_the_booking_form_says_when_its_hold_has_lapsed(
    moving: Services, clock: MovingClock, admin: asyncpg.Connection
) -> None:
    from screens.forms.booking import BookingForm
    from tests.tui.helpers import dialog_open, screen_text

    app = BackroomApp(moving, night_id=await night_id(admin))
    async with app.run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 11)
        await pilot.press("h")
        await until(pilot, lambda: state_of(tile).hold is not None, what="tile held")
        await pilot.press("n")
        form = await dialog_open(pilot, BookingForm)
        assert "Your hold on table 11 is kept while this is open." in screen_text(app)
        clock.before(expiry(tile), -15)  # as if the renewals had stopped
        await until(pilot, lambda: "has lapsed" in screen_text(app), what="the form says so")
        assert "Your hold on table 11 has lapsed: Enter still tries to book it" in screen_text(app)
        assert pilot.app.screen is form, "the form and its entries stay"
