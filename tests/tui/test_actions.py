"""Booking actions from the floor, by keys, against a real database.

Each test selects a table, then counts the keys a flow takes from there
(`Keys`), and checks what is shown (tiles, dialogs, toasts) and what the
database holds afterwards.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import pyotp
import pytest

from console.app import BackroomApp
from console.wiring import Services
from screens.dialogs.alternatives import AlternativesDialog
from screens.dialogs.ask import ChoiceDialog, CodeDialog, ConfirmDialog, CountDialog, ReasonDialog
from screens.floor.screen import FloorScreen
from screens.forms.booking import BookingForm
from screens.forms.move import MoveForm
from screens.forms.walk_in import WalkInForm
from screens.writes import OFFLINE
from services.bookings import BookingService, GuestDetails
from services.identity.accounts import IdentityService
from services.store.db import Database
from tests.conftest import fixed_clock
from tests.sessions import signed_in
from tests.tui.helpers import (
    LARGE,
    SMALL,
    Keys,
    back_on_floor,
    bookings_on,
    colleague,
    dialog_open,
    footer_words,
    night_id,
    open_floor,
    screen_text,
    shown_text,
    state_of,
    stop_feed,
    table_id,
    toasts,
    until,
)


async def test_hold_then_book(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=LARGE) as pilot:
        screen, tile = await open_floor(pilot, 11)
        keys = Keys(pilot)

        await keys.press("h")
        await until(pilot, lambda: state_of(tile).hold is not None, what="tile held")
        text = shown_text(tile)
        assert "HELD" in text and "by you" in text, text
        assert any("Table 11 is held for you" in t for t in toasts(pilot.app))
        assert "h Release" in footer_words(screen), "the hold can be given up by the same key"

        await keys.press("n")
        form = await dialog_open(pilot, BookingForm)
        shown = screen_text(pilot.app)
        assert "New booking · table 11" in shown and "Your hold on table 11 is kept" in shown
        await keys.type("Ada Lovelace")
        await keys.press("enter")
        await back_on_floor(pilot)
        await until(pilot, lambda: state_of(tile).booking is not None, what="tile booked")
        assert keys.count == 3 + len("Ada Lovelace")

        text = shown_text(tile)
        assert "PENDING" in text and "Ada Lovelace" in text and "HELD" not in text, text
        assert state_of(tile).hold is None
        assert form.working is False
        assert any(
            t.startswith("Booked ") and "Ada Lovelace · table 11 at 23:30 (pending)" in t
            for t in toasts(pilot.app)
        ), toasts(pilot.app)
    rows = await bookings_on(admin, 11)
    assert [(r["name"], r["status"], r["party_size"]) for r in rows if r["status"] == "pending"] == [
        ("Ada Lovelace", "pending", 2)
    ]
    assert await admin.fetchval("select count(*) from backroom.hold") == 0


async def test_the_same_key_releases_your_hold(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 12)
        keys = Keys(pilot)
        await keys.press("h")
        await until(pilot, lambda: "HELD" in shown_text(tile), what="held")
        assert "h Release" in footer_words(screen)
        await keys.press("h")
        await until(pilot, lambda: "FREE" in shown_text(tile), what="released")
        assert keys.count == 2
        assert "Released your hold on table 12" in toasts(pilot.app)
        assert "h Hold" in footer_words(screen)
    assert await admin.fetchval("select count(*) from backroom.hold") == 0


async def test_confirm_a_pending_booking(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 3)
        assert "PEND" in shown_text(tile)
        booking = state_of(tile).booking
        assert booking is not None
        keys = Keys(pilot)
        await keys.press("c")
        await until(pilot, lambda: "CONF" in shown_text(tile), what="tile confirmed")
        assert keys.count == 1
        assert f"Confirmed {booking.ref} · Chloe Tanaka" in toasts(pilot.app)
        # Confirmed now: c no longer fits, check in does.
        words = footer_words(screen)
        assert "c Confirm" not in words and "i Check in" in words, words
    assert (
        await admin.fetchval("select status from backroom.booking where id = $1", booking.id) == "confirmed"
    )


async def test_check_in_part_of_a_party_then_the_rest(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 1)
        booking = state_of(tile).booking
        assert booking is not None and booking.party_size == 4
        keys = Keys(pilot)

        await keys.press("i")
        await dialog_open(pilot, CountDialog)
        assert "How many have arrived now?" in screen_text(pilot.app)
        await keys.press("2", "enter")
        await back_on_floor(pilot)
        await until(pilot, lambda: "2/4" in shown_text(tile), what="2 of 4 in")
        assert keys.count == 3

        await keys.press("i")
        await dialog_open(pilot, CountDialog)
        shown = screen_text(pilot.app)
        assert "2 of 4 are in" in shown, shown
        await keys.press("enter")  # the default: the rest of the party
        await back_on_floor(pilot)
        await until(pilot, lambda: "4/4" in shown_text(tile), what="4 of 4 in")
        assert keys.count == 5
        assert any("Checked in 2" in t and "(4/4 in)" in t for t in toasts(pilot.app))
    row = await admin.fetchrow("select status, arrived_count from backroom.booking where id = $1", booking.id)
    assert row is not None
    assert (row["status"], row["arrived_count"]) == ("arrived", 4)


async def test_cancel_needs_a_reason_and_a_yes(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 3)
        booking = state_of(tile).booking
        assert booking is not None and booking.deposit == 0
        keys = Keys(pilot)

        await keys.press("x")
        dialog = await dialog_open(pilot, ReasonDialog)
        await pilot.press("enter")  # an empty reason is refused by the form (not counted)
        await pilot.pause()
        assert pilot.app.screen is dialog
        assert "A reason is needed." in screen_text(pilot.app)

        await keys.type("Guest ill")
        await keys.press("enter")
        await dialog_open(pilot, ConfirmDialog)
        shown = screen_text(pilot.app)
        assert f"Cancel {booking.ref} · Chloe Tanaka?" in shown and "Reason: Guest ill" in shown
        assert "y  cancel the booking" in shown
        await keys.press("y")
        await back_on_floor(pilot)
        await until(pilot, lambda: "FREE" in shown_text(tile), what="table free")
        assert keys.count == 3 + len("Guest ill")
        assert f"Cancelled {booking.ref} · Chloe Tanaka" in toasts(pilot.app)
    row = await admin.fetchrow("select status, cancel_reason from backroom.booking where id = $1", booking.id)
    assert row is not None
    assert (row["status"], row["cancel_reason"]) == ("cancelled", "Guest ill")


async def test_cancelling_a_deposit_asks_for_a_fresh_code(
    services: Services, owner_db: Database, admin: asyncpg.Connection
) -> None:
    """A booking with a deposit needs a step-up code; a wrong one can be typed again."""
    identity = IdentityService(services.db, owner=owner_db)
    ann = await identity.add_staff(
        None, email="ann@backroom.test", name="Ann", role="manager", password="correct horse battery"
    )
    services.identity = identity
    services.actor = await signed_in(services.db, ann.email)
    # Postgres checks the code on its clock; the next step's is accepted (one step of drift)
    # and stays good for a whole step whenever this runs.
    right = pyotp.TOTP(ann.secret).at(time.time() + 30)
    wrong = str((int(right) + 1) % 1_000_000).zfill(6)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 1)
        booking = state_of(tile).booking
        assert booking is not None and booking.deposit > 0
        keys = Keys(pilot)
        await keys.press("x")
        await dialog_open(pilot, ReasonDialog)
        await keys.type("Guest ill")
        await keys.press("enter")
        await dialog_open(pilot, ChoiceDialog)  # the deposit: 1 kept, 2 refunded
        await keys.press("1")
        await dialog_open(pilot, ConfirmDialog)
        await keys.press("y")
        code = await dialog_open(pilot, CodeDialog)
        assert "This booking has a deposit" in screen_text(pilot.app)

        await pilot.press(*wrong, "enter")
        await until(pilot, lambda: "not right" in code.status_text, what="wrong code refused")
        assert pilot.app.screen is code
        await keys.type(right)
        await keys.press("enter")
        await back_on_floor(pilot)
        await until(pilot, lambda: "FREE" in shown_text(tile), what="cancelled after the code")
        assert keys.count == 5 + len("Guest ill") + 6
    assert (
        await admin.fetchval("select status from backroom.booking where id = $1", booking.id) == "cancelled"
    )


async def test_n_on_a_table_with_a_no_means_nothing_changes(
    services: Services, admin: asyncpg.Connection
) -> None:
    """Escape or n in a confirmation keeps the booking as it is."""
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 1)
        await pilot.press("o")
        await dialog_open(pilot, ConfirmDialog)
        await pilot.press("n")
        await back_on_floor(pilot)
        await pilot.pause()
        assert "CONF" in shown_text(tile)
    assert [r["status"] for r in await bookings_on(admin, 1)] == ["confirmed"]


async def test_a_conflict_offers_alternatives_and_one_key_books_there(
    services: Services, admin: asyncpg.Connection
) -> None:
    nico = await colleague(admin, "Nico", "nico@backroom.test")
    other_console = BookingService(services.db, fixed_clock)
    night = await night_id(admin)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 11)
        keys = Keys(pilot)
        await keys.press("n")
        form = await dialog_open(pilot, BookingForm)
        await keys.type("Ada Lovelace")
        # Meanwhile another console books the same table.
        snapshot = screen.snapshot
        assert snapshot is not None
        rival = await other_console.create(
            nico,
            night_id=night,
            table_ids=[tile.table_id],
            party_size=4,
            starts_at=snapshot.night.starts_at,
            guest=GuestDetails("Rival Party"),
        )
        await keys.press("enter")

        chooser = await dialog_open(pilot, AlternativesDialog)
        assert form.is_attached, "the form waits under the alternatives, as typed"
        shown = screen_text(pilot.app)
        assert f"Table 11 is already booked then ({rival.ref}, Rival Party)." in shown, shown
        assert "1  Table " in shown
        first = chooser.alternatives[0]
        assert first.table_ids != (tile.table_id,)
        await keys.press("1")
        await back_on_floor(pilot)
        assert keys.count == 3 + len("Ada Lovelace")
        assert form.is_attached is False, "booked there, the form is done with"

        there = screen.plans[0].tiles.get(first.table_ids[0]) or screen.plans[1].tiles[first.table_ids[0]]
        await until(pilot, lambda: "Ada Lov" in shown_text(there), what="booked on the alternative")
        assert screen.selected == there.table_id, "the selection follows the booking"
    rows = await admin.fetch(
        "select bt.table_id, b.starts_at, b.status from backroom.booking b"
        " join backroom.booking_table bt on bt.booking_id = b.id"
        " join backroom.guest g on g.id = b.guest_id where g.name = 'Ada Lovelace'"
    )
    assert [(r["table_id"], r["starts_at"], r["status"]) for r in rows] == [
        (first.table_ids[0], first.starts_at, "pending")
    ]


async def test_door_staff_see_no_new_booking_but_can_check_in(
    services: Services, admin: asyncpg.Connection
) -> None:
    services.actor = await signed_in(services.db, "door@backroom.demo")
    before = await admin.fetchval("select count(*) from backroom.booking")
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, free = await open_floor(pilot, 11)
        words = footer_words(screen)
        assert "n New" not in words and "h Hold" not in words, words
        assert "w Walk-in" in words
        await pilot.press("n", "h")
        await pilot.pause()
        assert isinstance(pilot.app.screen, FloorScreen), "n does nothing for door staff"
        assert "FREE" in shown_text(free)

        _screen, tile = await open_floor(pilot, 1)
        words = footer_words(screen)
        assert "i Check in" in words and "x Cancel" not in words and "m Move" not in words, words
        keys = Keys(pilot)
        await keys.press("i")
        await dialog_open(pilot, CountDialog)
        await keys.press("enter")
        await back_on_floor(pilot)
        await until(pilot, lambda: "4/4" in shown_text(tile), what="checked in by the door")
        assert keys.count == 2
    assert await admin.fetchval("select count(*) from backroom.booking") == before


async def test_move_to_another_table(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 3)
        booking = state_of(tile).booking
        assert booking is not None
        keys = Keys(pilot)
        await keys.press("m")
        await dialog_open(pilot, MoveForm)
        assert f"Move {booking.ref} · Chloe Tanaka" in screen_text(pilot.app)
        await keys.type("11")  # replaces the current table number, selected on focus
        await keys.press("enter")
        await back_on_floor(pilot)
        await until(pilot, lambda: "FREE" in shown_text(tile), what="table 3 free")
        assert keys.count == 4
        assert screen.selected == await table_id(admin, 11), "the selection follows the booking"
        assert any(f"Moved {booking.ref} · Chloe Tanaka to table 11 at 23:00" in t for t in toasts(pilot.app))
    assert [r["ref"] for r in await bookings_on(admin, 11)] == [booking.ref]


async def test_no_show_and_complete_ask_first(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, confirmed = await open_floor(pilot, 1)
        keys = Keys(pilot)
        await keys.press("o")
        await dialog_open(pilot, ConfirmDialog)
        await keys.press("y")
        await until(pilot, lambda: "FREE" in shown_text(confirmed), what="no-show frees table 1")
        assert keys.count == 2

        _screen, arrived = await open_floor(pilot, 2)
        keys = Keys(pilot)
        await keys.press("d")
        await dialog_open(pilot, ConfirmDialog)
        assert "The party has left; table 2 is free again." in screen_text(pilot.app)
        await keys.press("y")
        await until(pilot, lambda: "FREE" in shown_text(arrived), what="complete frees table 2")
        assert keys.count == 2
        assert any(t.startswith("Completed ") and "table 2 is free" in t for t in toasts(pilot.app))
    assert [r["status"] for r in await bookings_on(admin, 1)] == ["no_show"]
    assert [r["status"] for r in await bookings_on(admin, 2)] == ["completed"]


async def test_seat_a_walk_in_with_two_keys(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 10)
        keys = Keys(pilot)
        await keys.press("w")
        await dialog_open(pilot, WalkInForm)
        await keys.press("enter")
        await back_on_floor(pilot)
        await until(
            pilot, lambda: "IN" in shown_text(tile) and "2/2" in shown_text(tile), what="walk-in seated"
        )
        assert keys.count == 2
    assert [
        (r["name"], r["status"], r["arrived_count"])
        for r in await bookings_on(admin, 10)
        if r["status"] == "arrived"
    ] == [("Walk-in", "arrived", 2)]


async def test_offline_refuses_changes_plainly(services: Services, admin: asyncpg.Connection) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, _tile = await open_floor(pilot, 3)
        await stop_feed(pilot)
        await until(pilot, lambda: not screen.live, what="offline")
        await pilot.press("c")
        await pilot.pause()
        assert OFFLINE in toasts(pilot.app)
        assert isinstance(pilot.app.screen, FloorScreen)
    assert [r["status"] for r in await bookings_on(admin, 3)] == ["pending"]


async def test_a_stale_booking_says_who_changed_it(services: Services, admin: asyncpg.Connection) -> None:
    nico = await colleague(admin, "Nico", "nico@backroom.test")
    other_console = BookingService(services.db, fixed_clock)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 3)
        booking = state_of(tile).booking
        assert booking is not None
        await pilot.press("x")
        await dialog_open(pilot, ReasonDialog)
        await pilot.press(*"Double booked", "enter")
        await dialog_open(pilot, ConfirmDialog)
        await other_console.confirm(nico, booking.id, booking.version)
        await pilot.press("y")
        await back_on_floor(pilot)
        await until(
            pilot, lambda: any("Changed by Nico" in t for t in toasts(pilot.app)), what="stale refusal shown"
        )
        assert any("was changed by Nico" in t for t in toasts(pilot.app)), toasts(pilot.app)
        await until(pilot, lambda: "CONF" in shown_text(tile), what="reloaded")
    assert [r["status"] for r in await bookings_on(admin, 3)] == ["confirmed"]


async def test_a_retry_after_a_lost_answer_books_once(
    services: Services, admin: asyncpg.Connection, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The booking is made but the answer is lost; Enter again must not book twice."""
    real_create = services.bookings.create
    op_ids: list[str] = []

    async def lossy_create(*args: Any, **kwargs: Any) -> Any:
        op_ids.append(kwargs["op_id"])
        booking = await real_create(*args, **kwargs)
        if len(op_ids) == 1:
            raise ConnectionResetError("connection reset by peer")
        return booking

    monkeypatch.setattr(services.bookings, "create", lossy_create)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 12)
        await pilot.press("n")
        form = await dialog_open(pilot, BookingForm)
        await pilot.press(*"Grace Hopper", "tab", "tab", "4", "enter")
        await until(pilot, lambda: "did not answer" in form.status_text, what="failure shown")
        assert pilot.app.screen is form and "Enter tries again" in form.status_text
        await pilot.press("enter")
        await back_on_floor(pilot)
        await until(pilot, lambda: "Grace H" in shown_text(tile), what="booked")
    assert len(op_ids) == 2 and op_ids[0] == op_ids[1]
    assert (
        await admin.fetchval(
            "select count(*) from backroom.booking b join backroom.guest g on g.id = b.guest_id"
            " where g.name = 'Grace Hopper'"
        )
        == 1
    )


async def test_the_form_checks_as_you_type(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await open_floor(pilot, 11)
        await pilot.press("n")
        form = await dialog_open(pilot, BookingForm)
        assert "table 11 seats 2-6" in screen_text(pilot.app)
        await pilot.press("tab", "tab", "9")
        await pilot.pause()
        assert "table 11 seats 2-6: Enter offers tables that fit" in screen_text(pilot.app)
        await pilot.press("tab", *"0400")
        await pilot.pause()
        assert "outside tonight's hours 22:00-03:00" in screen_text(pilot.app)
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is form, "nothing is sent while a field is wrong"
        assert "Check guest name, arrival." in form.status_text
        await pilot.press("escape")
        await back_on_floor(pilot)


async def test_the_palette_offers_what_fits_the_selected_table(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 3)
        titles = [command.title for command in screen.table_commands()]
        assert any(t.startswith("Confirm booking · table 3 · ") for t in titles), titles
        assert not any(t.startswith("Complete booking") for t in titles)
        assert not any(t.startswith("New booking") for t in titles)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"confirm")
        await until(
            pilot,
            lambda: "Confirm booking · table 3" in screen_text(pilot.app),
            what="palette offers confirm",
        )
        await pilot.press("enter")
        await until(pilot, lambda: "CONF" in shown_text(tile), what="confirmed from the palette")
