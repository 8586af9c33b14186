"""Undo from the keyboard, against a real database: `u` on the floor, Ctrl+U at the door,
cancelling a paid deposit, and the no-show grace at the door. Each flow counts its keys
(README's keystroke table) and checks what is shown and what the database holds, reason
and who included.

The sample night at 23:30: Dev Patel's party is 3 of 6 in at table 5; Grace Kim's 22:00
booking at table 7 is a no-show; Elena Rossi's at table 6 is cancelled; Hugo Lindqvist's
at table 9 is completed; Alice Moreau's at table 1 (22:30) has a paid deposit of 50.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import asyncpg

from console.app import BackroomApp
from console.wiring import Services, open_services
from screens.dialogs.ask import ChoiceDialog, ConfirmDialog, CountDialog, ReasonDialog
from screens.door import DoorScreen
from screens.floor.screen import FloorScreen
from services.bookings import BookingService, GuestDetails
from services.models import BookingStatus
from tests.conftest import FIXED_NOW, SAMPLE_NIGHT
from tests.integration.report_nights import open_quiet_night
from tests.sessions import signed_in
from tests.tui.door_helpers import DOOR, back_at_the_door, booking, moving_clock, open_door, rows, typed
from tests.tui.helpers import (
    SMALL,
    Keys,
    back_on_floor,
    dialog_open,
    open_floor,
    screen_text,
    shown_text,
    state_of,
    toasts,
    until,
)
from tests.tui.nights_helpers import open_report
from widgets.table_detail import TableDetail

MARKUP = "[bold]miscounted[/] [red"


async def last_undo(admin: asyncpg.Connection, booking_id: int) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select a.operation, s.display_name, a.after->>'undo_reason' as reason"
        " from backroom.audit_log a join backroom.staff s on s.id = a.staff_id"
        " where a.entity = 'booking' and a.entity_id = $1 order by a.id desc limit 1",
        booking_id,
    )
    assert row is not None
    return row


def said(pilot: Any, start: str) -> bool:
    return any(t.startswith(start) for t in toasts(pilot.app))


# The door ---------------------------------------------------------------------------------


async def test_the_door_corrects_a_count_down_with_a_reason_typed_as_it_is(
    door: Services,
    admin: asyncpg.Connection,
) -> None:
    dev = await booking(admin, "Dev Patel")
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "dev")
        titles = [c.title for c in screen.table_commands()]
        assert f"Correct the count · {dev['ref']} Dev Patel" in titles, titles
        keys = Keys(pilot)
        await keys.press("ctrl+u")
        count = await dialog_open(pilot, CountDialog)
        assert "3 of the party of 6 are in" in screen_text(pilot.app)
        # Letters are refused as they are typed; an empty box is no count.
        await pilot.press("x")
        await until(pilot, lambda: "digits only" in count.status_text, what="letters refused")
        await pilot.press("backspace", "enter")
        await until(pilot, lambda: "Type a number from 0 to 6" in count.status_text, what="empty refused")
        assert pilot.app.screen is count
        await keys.press("2", "enter")
        await dialog_open(pilot, ReasonDialog)
        await keys.type(MARKUP)
        await keys.press("enter")
        await until(
            pilot,
            lambda: said(pilot, f"Count corrected · {dev['ref']} · Dev Patel: 2/6 in"),
            what="corrected",
        )
        await back_at_the_door(pilot)
        assert keys.count == 3 + len(MARKUP) + 1
        assert count.answered
    row = await booking(admin, "Dev Patel")
    assert (row["status"], row["arrived_count"]) == ("arrived", 2)
    undo = await last_undo(admin, dev["id"])
    assert (undo["operation"], undo["display_name"], undo["reason"]) == (
        "correct_arrivals",
        "Door Team",
        MARKUP,
    )


async def test_the_door_corrects_a_count_to_nobody_and_the_party_is_expected_again(
    door: Services,
    admin: asyncpg.Connection,
) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "dev")
        await pilot.press("ctrl+u")
        await dialog_open(pilot, CountDialog)
        await pilot.press("0", "enter")
        await dialog_open(pilot, ReasonDialog)
        await pilot.press(*"Wrong party", "enter")
        await until(
            pilot,
            lambda: said(pilot, "Count corrected") and "expected again" in " ".join(toasts(pilot.app)),
            what="back to expected",
        )
        screen = await back_at_the_door(pilot)
        await until(pilot, lambda: "Dev Patel" in rows(screen), what="expected again")
    row = await booking(admin, "Dev Patel")
    assert (row["status"], row["arrived_count"]) == ("confirmed", 0)


async def test_the_door_reverses_a_no_show_then_checks_the_party_in(
    door: Services,
    admin: asyncpg.Connection,
) -> None:
    grace = await booking(admin, "Grace Kim")
    assert grace["status"] == "no_show"
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "grace")
        titles = [c.title for c in screen.table_commands()]
        assert f"Reverse the no-show · {grace['ref']} Grace Kim" in titles, titles
        # Before: check-in says why it cannot.
        await pilot.press("enter")
        await until(
            pilot,
            lambda: said(
                pilot,
                f"{grace['ref']} · Grace Kim is no-show: if the "
                "party has come, Ctrl+U reverses it, then check in.",
            ),
            what="no check-in of a no-show",
        )
        keys = Keys(pilot)
        await keys.press("ctrl+u")
        await dialog_open(pilot, ReasonDialog)
        assert "Reverse the no-show" in screen_text(pilot.app)
        await keys.type("Came late")
        await keys.press("enter")
        await until(
            pilot, lambda: said(pilot, f"No-show reversed · {grace['ref']} · Grace Kim"), what="reversed"
        )
        screen = await back_at_the_door(pilot)
        assert keys.count == 1 + len("Came late") + 1
        assert (await booking(admin, "Grace Kim"))["status"] == "confirmed"
        await typed(pilot, screen, "grace")
        await pilot.press("enter")
        await dialog_open(pilot, CountDialog)
        await pilot.press("enter")
        await until(pilot, lambda: said(pilot, f"Checked in 6 · {grace['ref']}"), what="checked in")
    undo = await last_undo(admin, grace["id"])
    assert undo["operation"] == "check_in"
    reversal = await admin.fetchrow(
        "select s.display_name, a.after->>'undo_reason' as reason from backroom.audit_log a"
        " join backroom.staff s on s.id = a.staff_id where a.entity_id = $1"
        " and a.operation = 'reverse_no_show'",
        grace["id"],
    )
    assert reversal is not None and tuple(reversal) == ("Door Team", "Came late")


async def test_the_door_says_why_there_is_nothing_to_undo(
    door: Services,
    admin: asyncpg.Connection,
) -> None:
    async with BackroomApp(door).run_test(size=SMALL) as pilot:
        screen = await open_door(pilot)
        await typed(pilot, screen, "alice")
        await pilot.press("ctrl+u")
        await until(
            pilot,
            lambda: any(
                "the door undoes a count once a party is in, or a no-show" in t for t in toasts(pilot.app)
            ),
            what="why not",
        )
        assert isinstance(pilot.app.screen, DoorScreen)
        # Esc from the reason leaves everything as it was.
        await pilot.press("escape")
        await typed(pilot, screen, "grace")
        await pilot.press("ctrl+u")
        await dialog_open(pilot, ReasonDialog)
        await pilot.press("enter")
        assert "A reason is needed." in screen_text(pilot.app)
        await pilot.press("escape")
        await back_at_the_door(pilot)
    assert (await booking(admin, "Grace Kim"))["status"] == "no_show"


async def test_the_door_marks_late_parties_and_waits_out_the_grace(
    dsn: str, admin: asyncpg.Connection
) -> None:
    clock, set_clock = moving_clock(FIXED_NOW)  # 23:30; Kemi Adeyemi is due at 00:00
    services = await open_services(dsn, clock=clock)
    services.actor = await signed_in(services.db, DOOR)
    kemi = await booking(admin, "Kemi Adeyemi")
    try:
        async with BackroomApp(services).run_test(size=SMALL) as pilot:
            screen = await open_door(pilot)
            lines = screen_text(pilot.app).splitlines()
            alice = next(line for line in lines if "Alice Moreau" in line)
            assert "! LATE" in alice, alice  # due at 22:30
            rosa = next(line for line in lines if "Rosa Alvarez" in line)
            assert "CONFIRMED" in rosa, rosa  # due at 23:30: not late yet
            await typed(pilot, screen, "kemi")
            await pilot.press("ctrl+n")
            await until(
                pilot,
                lambda: any("is due at 00:00: a no-show only from 00:15." in t for t in toasts(pilot.app)),
                what="too early, no question asked",
            )
            assert isinstance(pilot.app.screen, DoorScreen)

            set_clock(FIXED_NOW + timedelta(minutes=40))  # 00:10: late, within the grace
            screen.mark_late()  # as the door does every half minute
            await until(
                pilot,
                lambda: (
                    screen.current
                    and "! LATE"
                    in next(line for line in screen_text(pilot.app).splitlines() if "Kemi" in line)
                ),
                what="Kemi late",
            )
            await pilot.press("ctrl+n")
            await until(
                pilot,
                lambda: any(
                    "is late, due at 00:00: a no-show only from 00:15." in t for t in toasts(pilot.app)
                ),
                what="late, within the grace",
            )
            assert isinstance(pilot.app.screen, DoorScreen)

            set_clock(FIXED_NOW + timedelta(minutes=45))  # 00:15
            keys = Keys(pilot)
            await keys.press("ctrl+n")
            await dialog_open(pilot, ConfirmDialog)
            await keys.press("y")
            await until(pilot, lambda: said(pilot, f"No-show {kemi['ref']}"), what="marked")
            assert keys.count == 2
    finally:
        await services.db.close()
    assert (await booking(admin, "Kemi Adeyemi"))["status"] == "no_show"


# The floor ----------------------------------------------------------------------------------


async def test_u_reopens_a_cancelled_booking_with_a_reason(
    services: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 6)
        assert state_of(tile).booking is None
        assert any(c.title == "Undo · table 6" for c in screen.table_commands())
        cancelled = next(b for b in state_of(tile).bookings if b.status is BookingStatus.CANCELLED)
        keys = Keys(pilot)
        await keys.press("u")
        await dialog_open(pilot, ReasonDialog)
        assert f"Reopen · {cancelled.ref} · Elena Rossi" in screen_text(pilot.app)
        await keys.type("Guest rang back")
        await keys.press("enter")
        await until(pilot, lambda: said(pilot, f"Reopened {cancelled.ref} · Elena Rossi"), what="reopened")
        await back_on_floor(pilot)
        await until(pilot, lambda: state_of(tile).booking is not None, what="tile shows it")
        assert keys.count == 1 + len("Guest rang back") + 1
    row = await last_undo(admin, cancelled.id)
    assert (row["operation"], row["display_name"], row["reason"]) == (
        "reopen",
        "Duty Manager",
        "Guest rang back",
    )


async def test_u_offers_a_choice_where_two_things_can_be_undone(
    services: Services, admin: asyncpg.Connection
) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen, tile = await open_floor(pilot, 9)
        assert any(c.title.startswith("Undo · table 9") for c in screen.table_commands())
        # Hugo's completion is the one thing to undo here; cancelling Isla's booking makes two.
        isla = state_of(tile).booking
        assert isla is not None and isla.guest_name == "Isla MacLeod"
        await pilot.press("x")
        await dialog_open(pilot, ReasonDialog)
        await pilot.press(*"Called off", "enter")
        await dialog_open(pilot, ConfirmDialog)
        await pilot.press("y")
        await until(pilot, lambda: said(pilot, f"Cancelled {isla.ref}"), what="cancelled")
        await back_on_floor(pilot)
        keys = Keys(pilot)
        await keys.press("u")
        chooser = await dialog_open(pilot, ChoiceDialog)
        text = screen_text(pilot.app)
        assert f"Reopen the cancelled booking · {isla.ref} Isla MacLeod" in text, text
        assert "Reverse the completion" in text and "Hugo Lindqvist" in text
        number = next(i for i, c in enumerate(chooser.choices, start=1) if "Hugo" in c)
        await keys.press(str(number))
        await dialog_open(pilot, ReasonDialog)
        await keys.type("Still at the bar")
        await keys.press("enter")
        await until(pilot, lambda: said(pilot, "Completion reversed · "), what="reversed")
        assert keys.count == 2 + len("Still at the bar") + 1
    hugo = await admin.fetchrow(
        "select b.status from backroom.booking b join backroom.guest g on g.id = b.guest_id"
        " where g.name = 'Hugo Lindqvist' and b.night_id = (select id from backroom.night"
        " where date = $1)",
        SAMPLE_NIGHT,
    )
    assert hugo is not None and hugo["status"] == "arrived"


async def test_door_staff_hear_why_they_may_not_reverse_a_completion(
    services: Services, admin: asyncpg.Connection
) -> None:
    services.actor = await signed_in(services.db, DOOR)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await until(pilot, lambda: isinstance(pilot.app.screen, DoorScreen | FloorScreen), what="open")
        _screen, _tile = await open_floor(pilot, 9)
        await pilot.press("u")
        await until(
            pilot,
            lambda: any(
                "Door staff may not reverse completions: ask a manager." in t for t in toasts(pilot.app)
            ),
            what="why not",
        )
        assert isinstance(pilot.app.screen, FloorScreen)


async def test_u_says_why_when_there_is_nothing_to_undo(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, _tile = await open_floor(pilot, 11)
        await pilot.press("u")
        await until(
            pilot, lambda: any("Table 11 has nothing to undo" in t for t in toasts(pilot.app)), what="why not"
        )


async def test_cancelling_a_paid_deposit_asks_kept_or_refunded(
    services: Services, admin: asyncpg.Connection
) -> None:
    await admin.execute("update backroom_private.session set stepped_up_at = clock_timestamp()")
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 1)
        alice = state_of(tile).booking
        assert alice is not None and alice.paid_deposit
        keys = Keys(pilot)
        await keys.press("x")
        await dialog_open(pilot, ReasonDialog)
        await keys.type("Guest ill")
        await keys.press("enter")
        await dialog_open(pilot, ChoiceDialog)
        assert "The guest paid a deposit of 50. Is it:" in screen_text(pilot.app)
        await keys.press("2")
        await dialog_open(pilot, ConfirmDialog)
        assert "The deposit of 50 is refunded." in screen_text(pilot.app)
        await keys.press("y")
        await until(
            pilot,
            lambda: said(pilot, f"Cancelled {alice.ref} · Alice Moreau · deposit refunded"),
            what="cancelled",
        )
        assert keys.count == 1 + len("Guest ill") + 3
        await back_on_floor(pilot)
        detail = pilot.app.screen.query_one(TableDetail)
        await until(
            pilot,
            lambda: "cancelled · deposit refunded" in shown_text(detail),
            what="the detail says what became of the deposit",
        )
    row = await admin.fetchrow(
        "select status, deposit_outcome, deposit_paid from backroom.booking where id = $1", alice.id
    )
    assert row is not None
    assert tuple(row) == ("cancelled", "refunded", False)


async def test_u_corrects_a_count_on_the_floor(services: Services, admin: asyncpg.Connection) -> None:
    dev = await booking(admin, "Dev Patel")
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        _screen, tile = await open_floor(pilot, 5)
        keys = Keys(pilot)
        await keys.press("u")
        await dialog_open(pilot, CountDialog)
        assert "3 of the party of 6 are in, table 5." in screen_text(pilot.app)
        await keys.press("4", "enter")
        await dialog_open(pilot, ReasonDialog)
        await keys.type("One more came in")
        await keys.press("enter")
        await until(
            pilot, lambda: said(pilot, f"Count corrected · {dev['ref']} · Dev Patel: 4/6"), what="corrected"
        )
        await back_on_floor(pilot)
        await until(pilot, lambda: "4/6" in shown_text(tile), what="the tile shows 4/6")
        assert keys.count == 3 + len("One more came in") + 1
    row = await last_undo(admin, dev["id"])
    assert (row["operation"], row["display_name"], row["reason"]) == (
        "correct_arrivals",
        "Duty Manager",
        "One more came in",
    )


async def test_the_night_report_says_how_many_deposits_were_kept_and_refunded(
    services: Services, admin: asyncpg.Connection
) -> None:
    night = await open_quiet_night(admin)
    bookings = BookingService(services.db, services.clock)
    await admin.execute("update backroom_private.session set stepped_up_at = clock_timestamp()")
    for table, outcome in ((11, "kept"), (12, "refunded"), (10, "refunded")):
        b = await bookings.create(
            services.actor,
            night_id=night["id"],
            table_ids=[table],
            party_size=4 if table != 10 else 2,
            starts_at=night["starts_at"],
            guest=GuestDetails(outcome),
            deposit=60,
        )
        await bookings.cancel(services.actor, b.id, b.version, "Called off", deposit=outcome)
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        await open_report(pilot, services)
        text = " ".join(screen_text(pilot.app).split())
        assert "Cancelled with a paid deposit: 1 kept, 2 refunded." in text, text
