"""A move onto tables with a higher minimum spend says so before it is made, and is made
only once staff say yes; a move onto a lower one goes at once, as before."""

from __future__ import annotations

import asyncpg

from console.app import BackroomApp
from console.wiring import Services
from screens.dialogs.ask import ConfirmDialog
from screens.forms.move import MoveForm, higher_spend
from tests.tui.helpers import (
    SMALL,
    Keys,
    back_on_floor,
    bookings_on,
    dialog_open,
    open_floor,
    screen_text,
    state_of,
    toasts,
    until,
)


async def test_a_higher_minimum_spend_is_said_and_needs_a_yes(
    services: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 3)  # Chloe Tanaka's party; minimum 300
        booking = state_of(tile).booking
        assert booking is not None
        keys = Keys(pilot)
        await keys.press("m")
        form = await dialog_open(pilot, MoveForm)
        await keys.type("12")  # minimum 1,000
        await pilot.pause()
        assert "min spend 1,000 (was 300)" in screen_text(pilot.app), "said as it is typed"
        await keys.press("enter")
        await dialog_open(pilot, ConfirmDialog)
        shown = screen_text(pilot.app)
        assert "Table 12 has a minimum spend of 1,000; table 3 had 300." in shown, shown
        assert [r["ref"] for r in await bookings_on(admin, 3)] == [booking.ref], "not moved yet"

        await keys.press("escape")
        await until(pilot, lambda: pilot.app.screen is form, what="back on the form")
        assert form.value_of("tables") == "12"
        assert [r["ref"] for r in await bookings_on(admin, 3)] == [booking.ref]

        keys = Keys(pilot)
        await keys.press("enter")
        await dialog_open(pilot, ConfirmDialog)
        await keys.press("y")
        await back_on_floor(pilot)
        await until(
            pilot,
            lambda: (
                "FREE" in screen_text(pilot.app)
                and any(t.startswith(f"Moved {booking.ref}") for t in toasts(pilot.app))
            ),
            what="moved",
        )
        assert keys.count == 2, "one key more than a move that costs no more"
        assert any(
            "to table 12 at 23:00. Table 12 has a minimum spend of 1,000; table 3 had 300." in t
            for t in toasts(pilot.app)
        ), toasts(pilot.app)
    assert [r["ref"] for r in await bookings_on(admin, 12)] == [booking.ref]
    assert await admin.fetchval("select min_spend from backroom.booking where id = $1", booking.id) == 1000, (
        "the booking keeps the new tables' minimum"
    )


def test_the_words_for_joined_tables_and_for_a_lower_spend() -> None:
    from decimal import Decimal

    from services.models import Table

    def table(number: int, spend: int) -> Table:
        return Table(number, number, "", 1, 1, 8, False, Decimal(spend), 0, 0)

    tables = {4: table(4, 750), 15: table(15, 350), 16: table(16, 1500), 9: table(9, 150)}
    assert higher_spend(tables, [4], [15, 16]) == (
        "Tables 15+16 have a minimum spend of 1,850; table 4 had 750"
    )
    assert higher_spend(tables, [4], [9]) is None
    assert higher_spend(tables, [15, 16], [4]) is None
