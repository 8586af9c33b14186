"""The booking forms by keys, against a real database: checks shown as staff type,
guests on file offered and reused, and the edit form that amends a booking.

The new-booking form is opened from the floor (`n`) where the floor opens it
today. Guest lookup and the edit form are driven in `FormApp`, which shows one
form and sends its request to the booking service the way the floor does
(`guest=request.guest`), so what reaches the database is what the floor sends.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import asyncpg
import pytest
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Input

from console.app import BackroomApp
from console.wiring import Services
from screens.dialogs.ask import Dialog
from screens.forms.booking import BookingForm, BookingRequest
from screens.forms.edit import EditForm, EditRequest
from services.bookings import GuestDetails
from services.errors import BookingError
from services.models import Booking, FloorSnapshot
from tests.conftest import SAMPLE_NIGHT
from tests.tui.helpers import SMALL, FloorApp, floor_loaded, screen_text, until
from widgets.field import Field
from widgets.guest_lookup import GuestLookup

FREE = 11  # downstairs, 2 to 6, free on the sample night


class FormApp(App[None]):
    """One form over an empty screen; what it sends goes to the real booking service."""

    def __init__(self, form: Callable[[FormApp], Dialog[Any]]) -> None:
        super().__init__()
        self._form = form
        self.made: list[Booking] = []
        self.refusals: list[str] = []

    def on_mount(self) -> None:
        self.push_screen(self._form(self))

    def write(self, call: Callable[[], Awaitable[Booking]], dialog: Dialog[Any]) -> None:
        async def run() -> None:
            try:
                booking = await call()
            except BookingError as err:
                self.refusals.append(str(err))
                dialog.failed(str(err))
                return
            self.made.append(booking)
            dialog.finish()

        self.run_worker(run(), exit_on_error=False)


async def steady_cursor(pilot: Pilot[Any]) -> None:
    """A blinking cursor would make the picture depend on the moment it is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


async def tonight(services: Services) -> FloorSnapshot:
    night = await services.floor.tonight()
    assert night is not None and night.date == SAMPLE_NIGHT
    return await services.floor.snapshot(night.id)


def booking_app(services: Services, snapshot: FloorSnapshot) -> FormApp:
    """A new booking on table 11 at 23:00, booked as the floor books it."""
    table = snapshot.tables[FREE].table
    night = snapshot.night

    def form(app: FormApp) -> BookingForm:
        def book(request: BookingRequest, dialog: Dialog[BookingRequest]) -> None:
            app.write(
                lambda: services.bookings.create(
                    services.actor,
                    night_id=night.id,
                    table_ids=[table.id],
                    party_size=request.party_size,
                    starts_at=request.starts_at,
                    guest=request.guest,
                    deposit=request.deposit,
                ),
                dialog,
            )

        return BookingForm(
            table,
            night,
            snapshot.timezone,
            arrival=night.starts_at + timedelta(hours=1),
            guests=services.bookings.guests,
            on_answer=book,
        )

    return FormApp(form)


async def form_open(pilot: Pilot[Any], kind: type[Dialog[Any]]) -> Any:
    await until(pilot, lambda: isinstance(pilot.app.screen, kind), what=f"{kind.__name__} open")
    await pilot.pause()
    return pilot.app.screen


def lookup_of(form: Dialog[Any]) -> GuestLookup:
    return form.query_one(GuestLookup)


async def offered(pilot: Pilot[Any], form: Dialog[Any], name: str) -> GuestLookup:
    lookup = lookup_of(form)
    await until(
        pilot,
        lambda: not lookup.searching and any(m.name == name for m in lookup.matches),
        what=f"{name} offered",
    )
    await pilot.pause()
    return lookup


def focused_field(form: Dialog[Any]) -> str | None:
    focused = form.focused
    parent = focused.parent if focused is not None else None
    return parent.id if isinstance(parent, Field) else None


# The new-booking form from the floor ----------------------------------------------------------


async def test_a_party_too_big_for_the_table_is_said_before_enter(services: Services) -> None:
    async with BackroomApp(services).run_test(size=SMALL) as pilot:
        screen = await floor_loaded(pilot)
        tile = next(t for plan in screen.plans for t in plan.tiles.values() if t.table_id == FREE)
        tile.focus()
        await until(pilot, lambda: screen.selected == FREE, what="table 11 selected")
        await pilot.press("n")
        form = await form_open(pilot, BookingForm)
        await pilot.press(*"Ada Lovelace", "tab", "tab", "9")
        await until(
            pilot, lambda: "Enter offers tables that fit" in screen_text(pilot.app), what="party note"
        )
        assert "table 11 seats 2-6: Enter offers tables that fit" in screen_text(pilot.app)
        party = form.query_one("#party", Field)
        assert party.has_class("-warn") and not party.has_class("-error")
        assert form.status_text == "", "said as it is typed, before Enter"

        # Wrong shapes are errors: Enter keeps the form and goes to the first of them.
        await pilot.press("shift+tab", *"12")
        await pilot.press("tab", "tab", "tab", "tab", *"ada@example")
        await pilot.pause()
        shown = screen_text(pilot.app)
        assert "too few digits" in shown and "like name@example.com" in shown, shown
        await pilot.press("enter")
        await pilot.pause()
        assert form.is_current and form.status_text == "Check phone, email."
        assert focused_field(form) == "phone"
        assert form.query_one("#phone", Field).has_class("-error")


def test_the_form_with_errors_at_80x24(snap_compare: Any, dsn: str) -> None:
    async def errors(pilot: Pilot[Any]) -> None:
        await floor_loaded(pilot)
        await pilot.press("right", "right", "right", "right", "right", "right", "n")
        await until(pilot, lambda: isinstance(pilot.app.screen, BookingForm), what="form open")
        await pilot.press(*"Ada Lovelace", "tab", *"12", "tab", "9", "tab", *"0400", "enter")
        form = pilot.app.screen
        assert isinstance(form, BookingForm)
        await until(pilot, lambda: form.status_text.startswith("Check"), what="refused")
        await steady_cursor(pilot)

    assert snap_compare(FloorApp(dsn), terminal_size=SMALL, run_before=errors)


def test_the_form_with_errors_without_colour(
    snap_compare: Any, dsn: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NO_COLOR", "1")

    async def errors(pilot: Pilot[Any]) -> None:
        await floor_loaded(pilot)
        await pilot.press("right", "right", "right", "right", "right", "right", "n")
        await until(pilot, lambda: isinstance(pilot.app.screen, BookingForm), what="form open")
        await pilot.press(*"Ada Lovelace", "tab", *"12", "tab", "9", "tab", *"0400", "enter")
        form = pilot.app.screen
        assert isinstance(form, BookingForm)
        await until(pilot, lambda: form.status_text.startswith("Check"), what="refused")
        await steady_cursor(pilot)
        shown = screen_text(pilot.app)
        for words in (
            "too few digits",
            "table 11 seats 2-6: Enter offers tables that fit",
            "outside tonight's hours 22:00-03:00",
            "Check phone, arrival.",
        ):
            assert words in shown, shown

    assert snap_compare(FloorApp(dsn), terminal_size=SMALL, run_before=errors)


# Guests on file ------------------------------------------------------------------------------


async def test_a_guest_picked_from_those_offered_is_the_guest_booked(
    services: Services, admin: asyncpg.Connection
) -> None:
    kemi = await admin.fetchrow("select id, phone, email from backroom.guest where name = 'Kemi Adeyemi'")
    assert kemi is not None
    guests_before = await admin.fetchval("select count(*) from backroom.guest")
    app = booking_app(services, await tonight(services))
    async with app.run_test(size=SMALL) as pilot:
        form = await form_open(pilot, BookingForm)
        await pilot.press(*"kem")
        lookup = await offered(pilot, form, "Kemi Adeyemi")
        shown = screen_text(pilot.app)
        assert "On file · ↓ to choose" in shown, shown
        assert "Kemi Adeyemi           +44 7700 900111  0 past · VIP" in shown, shown

        await pilot.press("down")
        await pilot.pause()
        assert lookup.marked is not None and lookup.marked.id == kemi["id"]
        assert "▸ Kemi Adeyemi" in screen_text(pilot.app)
        await pilot.press("enter")
        await until(pilot, lambda: form.chosen is not None, what="guest taken")
        await pilot.pause()
        assert (form.value_of("name"), form.value_of("phone"), form.value_of("email")) == (
            "Kemi Adeyemi",
            kemi["phone"],
            kemi["email"],
        )
        shown = screen_text(pilot.app)
        assert "✓ On file: Kemi Adeyemi · no past bookings · VIP" in shown, shown
        assert "guest on file" in shown
        assert focused_field(form) == "party", "the guest is done: on to the party"

        await pilot.press("4", "enter")
        await until(pilot, lambda: bool(app.made), what="booked")
    [booking] = app.made
    assert booking.guest_name == "Kemi Adeyemi" and booking.party_size == 4
    assert (
        await admin.fetchval("select guest_id from backroom.booking where id = $1", booking.id) == kemi["id"]
    )
    assert await admin.fetchval("select count(*) from backroom.guest") == guests_before


async def test_changing_a_picked_guest_makes_a_new_guest(
    services: Services, admin: asyncpg.Connection
) -> None:
    app = booking_app(services, await tonight(services))
    async with app.run_test(size=SMALL) as pilot:
        form = await form_open(pilot, BookingForm)
        await pilot.press(*"Kemi")
        await offered(pilot, form, "Kemi Adeyemi")
        await pilot.press("down", "enter")
        await until(pilot, lambda: form.chosen is not None, what="guest taken")
        # Back to the phone: a different number is somebody else.
        await pilot.press("shift+tab", "end", "backspace", "2")
        await until(pilot, lambda: form.chosen is None, what="guest let go")
        await pilot.pause()
        assert "✓ On file" not in screen_text(pilot.app)
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.made), what="booked")
    [booking] = app.made
    guest = await admin.fetchrow(
        "select g.name, g.phone, g.vip from backroom.guest g join backroom.booking b on b.guest_id = g.id"
        " where b.id = $1",
        booking.id,
    )
    assert guest is not None
    assert (guest["name"], guest["phone"], guest["vip"]) == ("Kemi Adeyemi", "+44 7700 900112", False)
    assert await admin.fetchval("select count(*) from backroom.guest where name = 'Kemi Adeyemi'") == 2


async def test_a_phone_number_finds_the_guest_and_the_keys_stay_the_forms(services: Services) -> None:
    app = booking_app(services, await tonight(services))
    async with app.run_test(size=SMALL) as pilot:
        form = await form_open(pilot, BookingForm)
        await pilot.press("tab", *"07700 900111")
        lookup = await offered(pilot, form, "Kemi Adeyemi")
        assert [m.name for m in lookup.matches] == ["Kemi Adeyemi"]
        # ↓ marks, ↑ unmarks, ↑ again is the form's: back to the name.
        await pilot.press("down")
        assert lookup.marked is not None
        await pilot.press("up")
        assert lookup.marked is None and focused_field(form) == "phone"
        await pilot.press("up")
        await pilot.pause()
        assert focused_field(form) == "name"
        # Escape takes the marker off first, then closes.
        await pilot.press("tab")
        await until(pilot, lambda: focused_field(form) == "phone", what="phone")
        await pilot.press("down")
        assert lookup.marked is not None
        await pilot.press("escape")
        await pilot.pause()
        assert pilot.app.screen is form and lookup.marked is None
        # Leaving the guest's fields puts the list away.
        await pilot.press("tab")
        await until(pilot, lambda: not lookup.offering, what="list put away")
        assert "On file" not in screen_text(pilot.app)
        await pilot.press("escape")
        await until(pilot, lambda: pilot.app.screen is not form, what="closed")
    assert app.made == []


# Editing a booking ------------------------------------------------------------------------------


def edit_app(services: Services, snapshot: FloorSnapshot, booking: Booking) -> FormApp:
    tables = [snapshot.tables[i].table for i in booking.table_ids]

    def form(app: FormApp) -> EditForm:
        def amend(request: EditRequest, dialog: Dialog[EditRequest]) -> None:
            app.write(
                lambda: services.bookings.amend(
                    services.actor,
                    booking.id,
                    booking.version,
                    party_size=request.party_size,
                    starts_at=request.starts_at,
                    notes=request.notes,
                    guest=request.guest,
                ),
                dialog,
            )

        return EditForm(
            booking,
            tables,
            snapshot.night,
            snapshot.timezone,
            guests=services.bookings.guests,
            on_answer=amend,
        )

    return FormApp(form)


async def rita(services: Services, snapshot: FloorSnapshot) -> Booking:
    return await services.bookings.create(
        services.actor,
        night_id=snapshot.night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=snapshot.night.starts_at + timedelta(hours=1),
        guest=GuestDetails("Rita Hale", phone="+44 7700 900999", email="rita@example.com"),
    )


async def edit_open(pilot: Pilot[Any]) -> EditForm:
    form: EditForm = await form_open(pilot, EditForm)
    await until(pilot, lambda: form.loaded, what="guest read")
    await pilot.pause()
    return form


async def test_editing_checks_the_party_against_the_tables_and_saves_what_changed(
    services: Services, admin: asyncpg.Connection
) -> None:
    snapshot = await tonight(services)
    booking = await rita(services, snapshot)
    app = edit_app(services, snapshot, booking)
    async with app.run_test(size=SMALL) as pilot:
        form = await edit_open(pilot)
        shown = screen_text(pilot.app)
        assert f"Edit {booking.ref} · Rita Hale · table 11" in shown
        assert form.value_of("phone") == "+44 7700 900999" and form.value_of("party") == "4"
        assert "table 11 seats 2-6" in shown

        await pilot.press("tab", "tab", "9")
        await until(
            pilot,
            lambda: "table 11 seats 2-6: move it first" in screen_text(pilot.app),
            what="party refused as typed",
        )
        assert form.query_one("#party", Field).has_class("-error")
        await pilot.press("enter")
        await pilot.pause()
        assert pilot.app.screen is form and form.status_text == "Check party size."
        assert focused_field(form) == "party" and app.made == []

        await pilot.press("backspace", "6", "tab", *"2330", "tab", *"Birthday", "enter")
        await until(pilot, lambda: bool(app.made), what="saved")
    [amended] = app.made
    assert (amended.party_size, amended.notes, amended.version) == (6, "Birthday", 2)
    assert amended.starts_at == snapshot.night.starts_at + timedelta(hours=1, minutes=30)
    assert amended.guest_name == "Rita Hale"
    assert (
        await admin.fetchval(
            "select count(*) from backroom.audit_log where entity = 'booking' and entity_id = $1"
            " and operation = 'amend'",
            booking.id,
        )
        == 1
    )


async def test_editing_corrects_the_guest_or_hands_the_booking_to_another(
    services: Services, admin: asyncpg.Connection
) -> None:
    snapshot = await tonight(services)
    booking = await rita(services, snapshot)
    own = await admin.fetchval("select guest_id from backroom.booking where id = $1", booking.id)
    app = edit_app(services, snapshot, booking)
    async with app.run_test(size=SMALL) as pilot:
        form = await edit_open(pilot)
        await pilot.press("enter")
        await pilot.pause()
        assert form.status_text == "Nothing has changed (Esc to leave it)."
        await pilot.press("end", *"-Moss")
        await until(
            pilot, lambda: "corrects the guest on file" in screen_text(pilot.app), what="correction said"
        )
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.made), what="saved")
    assert app.made[0].guest_name == "Rita Hale-Moss"
    row = await admin.fetchrow("select name, phone, email from backroom.guest where id = $1", own)
    assert row is not None and tuple(row) == ("Rita Hale-Moss", "+44 7700 900999", "rita@example.com")

    app = edit_app(services, snapshot, app.made[0])
    async with app.run_test(size=SMALL) as pilot:
        form = await edit_open(pilot)
        await pilot.press("ctrl+u", *"Kemi")
        await offered(pilot, form, "Kemi Adeyemi")
        assert all(m.id != own for m in lookup_of(form).matches)
        await pilot.press("down", "enter")
        await until(pilot, lambda: form.chosen is not None, what="guest taken")
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.made), what="saved")
    assert app.made[0].guest_name == "Kemi Adeyemi"
    assert await admin.fetchval("select name from backroom.guest where id = $1", own) == "Rita Hale-Moss"


async def test_joined_tables_seat_the_party_together(services: Services, admin: asyncpg.Connection) -> None:
    snapshot = await tonight(services)
    joined = next(
        state.booking
        for state in snapshot.tables.values()
        if state.booking is not None and state.booking.table_ids == (15, 16)
    )
    app = edit_app(services, snapshot, joined)
    async with app.run_test(size=SMALL) as pilot:
        form = await edit_open(pilot)
        assert f"Edit {joined.ref} · Rosa Alvarez · table 15+16" in screen_text(pilot.app)
        await pilot.press("tab", "tab", *"23")
        await until(
            pilot,
            lambda: "tables 15+16 seat 4-22: move it first" in screen_text(pilot.app),
            what="too many for both tables",
        )
        await pilot.press("backspace", "backspace", *"22")
        await until(
            pilot,
            lambda: (
                "tables 15+16 seat 4-22" in screen_text(pilot.app)
                and "move it first" not in screen_text(pilot.app)
            ),
            what="22 fit",
        )
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.made), what="saved")
        await until(pilot, lambda: not form.is_attached, what="the form closed")
    assert app.made[0].party_size == 22
