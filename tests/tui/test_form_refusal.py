"""A refusal keeps the form it refused: after the alternatives (or any question a refusal
asks), Esc goes back to the form with the entries as typed, and a hold on the table is
still kept while the form is open."""

from __future__ import annotations

import asyncpg

from console.app import BackroomApp
from console.wiring import Services
from screens.dialogs.alternatives import AlternativesDialog
from screens.floor.screen import FloorScreen
from screens.forms.booking import BookingForm
from tests.tui.helpers import SMALL, Keys, dialog_open, open_floor, screen_text, state_of, until


async def test_esc_after_the_alternatives_goes_back_to_the_form_as_typed(
    services: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 11)  # 2-6 guests, free
        keys = Keys(pilot)
        await keys.press("h")
        await until(pilot, lambda: state_of(tile).hold is not None, what="tile held")
        await keys.press("n")
        form = await dialog_open(pilot, BookingForm)
        await keys.type("[bold]Ada[/] Lovelace")
        await keys.press("down", "down")  # phone, then the party
        await keys.type("10")
        await keys.press("enter")

        chooser = await dialog_open(pilot, AlternativesDialog)
        assert "A party of 10" in screen_text(pilot.app)
        assert form.is_attached, "the form waits under the alternatives"
        await keys.press("escape")

        await until(pilot, lambda: pilot.app.screen is form, what="back on the form")
        await pilot.pause()
        assert not chooser.is_attached
        assert form.value_of("name") == "[bold]Ada[/] Lovelace"
        assert form.value_of("party") == "10"
        shown = screen_text(pilot.app)
        assert "A party of 10" in shown, shown
        assert "[bold]Ada[/] Lovelace" in shown, "typed text is shown as typed"
        assert screen._hold_keeper is not None, "the hold is still kept while the form is open"
        assert (
            await admin.fetchval("select count(*) from backroom.hold where table_id = $1", tile.table_id) == 1
        )

        # Corrected, the same form books it.
        await keys.press("backspace", "backspace")
        await keys.type("4")
        await keys.press("enter")
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="booked")
        await until(pilot, lambda: state_of(tile).booking is not None, what="tile booked")
    rows = await admin.fetch(
        "select b.party_size, bt.table_id from backroom.booking b"
        " join backroom.booking_table bt on bt.booking_id = b.id"
        " join backroom.guest g on g.id = b.guest_id where g.name = '[bold]Ada[/] Lovelace'"
    )
    assert [(r["party_size"], r["table_id"]) for r in rows] == [(4, tile.table_id)]
