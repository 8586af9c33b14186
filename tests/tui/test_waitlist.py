"""The waitlist by keys, from the floor, against a real database: a party added, offered a
table, booked onto one (through the same refusals and alternatives as every booking) and
taken off the list; another console's changes shown as they happen; and the roles that
may not use it told why in one line."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import Services
from screens.dialogs.alternatives import AlternativesDialog
from screens.dialogs.ask import ConfirmDialog
from screens.floor.screen import FloorScreen
from screens.forms.waitlist import SeatForm, WaitlistForm
from screens.waitlist import WaitlistScreen
from services.bookings import BookingService, GuestDetails
from tests.conftest import FIXED_NOW, fixed_clock
from tests.sessions import signed_in
from tests.tui.helpers import (
    LARGE,
    SMALL,
    FloorApp,
    Keys,
    colleague,
    dialog_open,
    floor_loaded,
    night_id,
    screen_text,
    toasts,
    until,
)


async def open_waitlist(pilot: Pilot[Any]) -> WaitlistScreen:
    """From the floor, `l` (not counted: every flow starts on the waitlist)."""
    await floor_loaded(pilot)
    await pilot.press("l")
    await until(
        pilot,
        lambda: isinstance(pilot.app.screen, WaitlistScreen) and pilot.app.screen.loaded,
        what="waitlist open",
    )
    await pilot.pause()
    screen = pilot.app.screen
    assert isinstance(screen, WaitlistScreen)
    return screen


async def entries(admin: asyncpg.Connection) -> list[asyncpg.Record]:
    return list(
        await admin.fetch(
            "select w.id, g.name, g.phone, w.party_size, w.notes, w.status, w.offered_table,"
            " w.booking_id, s.display_name as created_by"
            " from backroom.waitlist_entry w join backroom.guest g on g.id = w.guest_id"
            " left join backroom.staff s on s.id = w.created_by order by w.id"
        )
    )


async def test_add_offer_book_and_remove_by_keys(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await open_waitlist(pilot)
        assert "Nobody is waiting" in screen_text(pilot.app)

        # Add: a, the name, ↓, the phone, ↓, the party, ↓, the note, Enter.
        keys = Keys(pilot)
        await keys.press("a")
        await dialog_open(pilot, WaitlistForm)
        await keys.type("[bold]Ada[/] Lovelace")
        await keys.press("down")
        await keys.type("07700 900123")
        await keys.press("down")
        await keys.type("4")
        await keys.press("down")
        await keys.type("by the [red]window[/]")
        await keys.press("enter")
        await until(
            pilot, lambda: pilot.app.screen is screen and len(screen.entries) == 1, what="the party listed"
        )
        assert (
            keys.count
            == 1
            + len("[bold]Ada[/] Lovelace")
            + 1
            + len("07700 900123")
            + 1
            + 1
            + 1
            + len("by the [red]window[/]")
            + 1
        )
        shown = screen_text(pilot.app)
        assert "[bold]Ada[/] Lovelace" in shown and "by the [red]window[/]" in shown, shown
        assert any(
            "Added [bold]Ada[/] Lovelace · party of 4 to the waitlist (1st in line)" in t
            for t in toasts(pilot.app)
        ), toasts(pilot.app)
        [row] = await entries(admin)
        assert (
            row["name"],
            row["phone"],
            row["party_size"],
            row["notes"],
            row["status"],
            row["created_by"],
        ) == ("[bold]Ada[/] Lovelace", "07700 900123", 4, "by the [red]window[/]", "waiting", "Duty Manager")

        # Offer: o, Enter (the best free table that fits is filled in).
        keys = Keys(pilot)
        await keys.press("o")
        form = await dialog_open(pilot, SeatForm)
        best = screen.best_table(screen.entries[0])
        assert best is not None and form.value_of("tables") == str(best.number)
        await keys.press("enter")
        await until(
            pilot,
            lambda: pilot.app.screen is screen and screen.entries[0].status == "offered",
            what="offered",
        )
        assert keys.count == 2
        assert f"offered {best.number}" in screen_text(pilot.app)
        [row] = await entries(admin)
        assert (row["status"], row["offered_table"]) == ("offered", best.id)

        # Book: b, Enter (the table offered and the arrival are filled in).
        keys = Keys(pilot)
        await keys.press("b")
        form = await dialog_open(pilot, SeatForm)
        assert form.value_of("tables") == str(best.number)
        await keys.press("enter")
        await until(
            pilot, lambda: pilot.app.screen is screen and not screen.entries, what="booked off the list"
        )
        assert keys.count == 2
        assert any(
            "off the waitlist" in t and f"table {best.number} at 23:30" in t for t in toasts(pilot.app)
        ), toasts(pilot.app)
        [row] = await entries(admin)
        assert row["status"] == "booked" and row["booking_id"] is not None
        booked = await admin.fetchrow(
            "select b.party_size, b.status, bt.table_id, g.name from backroom.booking b"
            " join backroom.booking_table bt on bt.booking_id = b.id"
            " join backroom.guest g on g.id = b.guest_id where b.id = $1",
            row["booking_id"],
        )
        assert booked is not None
        assert tuple(booked) == (4, "pending", best.id, "[bold]Ada[/] Lovelace")

        # Another console adds a party: it shows without a key.
        nico = await colleague(admin, "Nico", "nico@backroom.test")
        other = BookingService(services.db, fixed_clock)
        await other.waitlist_add(
            nico, night_id=await night_id(admin), guest=GuestDetails("Grace Hopper"), party_size=2
        )
        await until(pilot, lambda: len(screen.entries) == 1, what="the other console's party")
        assert "Grace Hopper" in screen_text(pilot.app)

        # Remove: x, y.
        keys = Keys(pilot)
        await keys.press("x")
        await dialog_open(pilot, ConfirmDialog)
        assert "Remove Grace Hopper from the waitlist?" in screen_text(pilot.app)
        await keys.press("y")
        await until(pilot, lambda: pilot.app.screen is screen and not screen.entries, what="removed")
        assert keys.count == 2
        assert "Nobody is waiting" in screen_text(pilot.app)

        await pilot.press("escape")
        await until(pilot, lambda: isinstance(pilot.app.screen, FloorScreen), what="floor")
    assert [r["status"] for r in await entries(admin)] == ["booked", "left"]


async def test_booking_a_taken_table_offers_alternatives_and_esc_keeps_the_form(
    services: Services, admin: asyncpg.Connection
) -> None:
    await services.bookings.waitlist_add(
        services.actor, night_id=await night_id(admin), guest=GuestDetails("Ada Lovelace"), party_size=4
    )
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await open_waitlist(pilot)
        await pilot.press("b")
        form = await dialog_open(pilot, SeatForm)
        # Table 3 has Chloe Tanaka's party at 23:00.
        await pilot.press(*"3", "enter")
        chooser = await dialog_open(pilot, AlternativesDialog)
        assert form.is_attached
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is form, what="back on the form")
        assert form.value_of("tables") == "3", "the entries as typed"
        await pilot.press("enter")
        chooser = await dialog_open(pilot, AlternativesDialog)
        first = chooser.alternatives[0]
        await pilot.press("1")
        await until(
            pilot, lambda: pilot.app.screen is screen and not screen.entries, what="booked at the alternative"
        )
        assert not form.is_attached
    row = await admin.fetchrow(
        "select bt.table_id, b.starts_at from backroom.waitlist_entry w"
        " join backroom.booking b on b.id = w.booking_id"
        " join backroom.booking_table bt on bt.booking_id = b.id"
    )
    assert row is not None
    assert (row["table_id"], row["starts_at"]) == (first.table_ids[0], first.starts_at)


async def test_the_forms_check_what_is_typed(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await open_waitlist(pilot)
        await pilot.press("a")
        form = await dialog_open(pilot, WaitlistForm)
        await pilot.press("enter")  # no name yet
        await pilot.pause()
        assert form.status_text == "Check guest name."
        await pilot.press(*"\x1b[31mX", "down", *"12ab", "down", "backspace")
        await pilot.press("enter")
        await pilot.pause()
        assert "Check" in form.status_text and "party size" in form.status_text
        assert isinstance(pilot.app.screen, WaitlistForm) and not screen.entries
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is screen, what="closed")
        assert not screen.entries


@pytest.mark.parametrize(
    "email, role", [("door@backroom.demo", "Door staff"), ("support@backroom.demo", "Support staff")]
)
async def test_other_roles_are_told_why_not(services: Services, email: str, role: str) -> None:
    services.actor = await signed_in(services.db, email)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        floor = await floor_loaded(pilot)
        await pilot.press("l")
        await pilot.pause()
        assert pilot.app.screen is floor
        said = [t for t in toasts(pilot.app) if "waitlist" in t]
        assert said == [f"{role} may not use the waitlist: it is for managers. Ask a manager."]
        assert len(said[0]) <= 80
        assert not any(c.title.startswith("Waitlist") for c in floor.table_commands())


async def test_the_waitlist_is_in_help_the_palette_and_the_keys(services: Services) -> None:
    from console.keymap import catalogue

    assert any(known.id == "floor.waitlist" and known.keys == "l" for known in catalogue())
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        floor = await floor_loaded(pilot)
        assert any(c.title == "Waitlist · Fri 20 Nov" for c in floor.table_commands())
        await pilot.press("question_mark")
        await pilot.pause()
        assert "Waitlist" in screen_text(pilot.app)
        await pilot.press("escape")
        await pilot.pause()
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"waitlist")
        await until(
            pilot,
            lambda: "Waitlist · Fri 20 Nov" in screen_text(pilot.app),
            what="the palette offers the waitlist",
        )
        await pilot.press("enter")
        await until(
            pilot, lambda: isinstance(pilot.app.screen, WaitlistScreen), what="opened from the palette"
        )


# Pictures ----------------------------------------------------------------------------------


async def _three_waiting(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        night = await conn.fetchval("select id from backroom.night where date = '2026-11-20'")
        staff = await conn.fetchval("select id from backroom.staff order by id limit 1")
        eleven = await conn.fetchval("select id from backroom.venue_table where number = 11")
        for minutes, name, party, notes, status, table in (
            (40, "Kemi Adeyemi", 6, "Birthday; would take the balcony", "offered", eleven),
            (25, "Liam O'Brien", 2, "", "waiting", None),
            (5, "[bold]Mara[/] Quinn", 4, "Called ahead, ten minutes away", "waiting", None),
        ):
            guest = await conn.fetchval("insert into backroom.guest (name) values ($1) returning id", name)
            await conn.execute(
                "insert into backroom.waitlist_entry (night_id, guest_id, party_size, notes,"
                " status, offered_table, created_by, created_at) values ($1, $2, $3, $4, $5, $6,"
                " $7, $8)",
                night,
                guest,
                party,
                notes,
                status,
                table,
                staff,
                FIXED_NOW - timedelta(minutes=minutes),
            )
    finally:
        await conn.close()


async def _show_waitlist(pilot: Pilot[Any]) -> None:
    await open_waitlist(pilot)
    await pilot.press("down")
    await pilot.pause()
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False


@pytest.mark.parametrize("size", [SMALL, LARGE], ids=["80x24", "160x48"])
def test_the_waitlist_picture(snap_compare: Any, dsn: str, size: tuple[int, int]) -> None:
    import asyncio

    asyncio.run(_three_waiting(dsn))
    assert snap_compare(FloorApp(dsn), terminal_size=size, run_before=_show_waitlist)


def test_the_waitlist_picture_without_colour(
    snap_compare: Any, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import asyncio

    monkeypatch.setenv("NO_COLOR", "1")
    asyncio.run(_three_waiting(dsn))
    assert snap_compare(FloorApp(dsn), terminal_size=SMALL, run_before=_show_waitlist)


async def test_keys_that_cannot_act_say_why_and_the_palette_names_the_party(
    services: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await open_waitlist(pilot)
        await pilot.press("o")
        await pilot.pause()
        assert pilot.app.screen is screen
        assert "Nobody is waiting: A adds a party." in toasts(pilot.app)

        await services.bookings.waitlist_add(
            services.actor, night_id=await night_id(admin), guest=GuestDetails("Ada Lovelace"), party_size=4
        )
        await until(pilot, lambda: len(screen.entries) == 1, what="listed")
        titles = [c.title for c in screen.table_commands()]
        assert "Book onto a table · Ada Lovelace · party of 4" in titles, titles
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"offer")
        await until(
            pilot,
            lambda: "Offer a table · Ada Lovelace" in screen_text(pilot.app),
            what="the palette offers it",
        )
        await pilot.press("enter")
        await dialog_open(pilot, SeatForm)
        await pilot.pause()
        shown = screen_text(pilot.app)
        assert "Offer a table to Ada Lovelace · party of 4" in shown, shown
        assert "free now" in shown
