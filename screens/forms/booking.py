"""The new-booking form: guest name, phone, party size, arrival time, deposit and
email; and what it shares with the edit form (`GuestForm`): the guest's fields,
checked as they are typed, with guests on file offered as a name or phone is typed.

Each field is checked as it is typed: the party against the table's seats
(a party that does not fit is a warning, not a wall: Enter then offers the
tables that do fit), the time against the night's hours, a phone number and
an email address by their shape. Typing a name or a phone number lists the
guests on file who match: ↓ marks one, Enter takes it, and the booking is
then theirs (no second record of them); changing their name, phone or email
afterwards makes it a new guest again. Enter sends from any other field;
Tab or the arrow keys move between fields; Escape closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from textual import events
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from screens.dialogs.ask import A, Dialog
from screens.forms.base import (
    ARRIVAL_KEYS,
    ARRIVAL_LENGTH,
    FormDialog,
    arrival_check,
    money_check,
    party_check,
)
from services.bookings import GuestDetails
from services.guests import GuestMatch, email_problem, phone_problem
from services.models import Night, Table
from services.venue_time import as_typed
from services.wording import capacity, joined_tables, table_guests
from widgets.entry import clock_in_night, money
from widgets.field import Field, Verdict, error, ok
from widgets.guest_lookup import GuestLookup

PHONE_KEYS = r"[0-9+ ()\-]*"


class GuestSearch(Protocol):
    """Where the form finds guests on file (`services.guests.GuestService`)."""

    async def search(self, text: str, *, limit: int = 5) -> list[GuestMatch]: ...


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What the form asks the booking service for. `guest` carries `guest_id` too, so
    the same request booked at an alternative table or time is for the same guest."""

    guest: GuestDetails
    party_size: int
    starts_at: datetime
    deposit: Decimal
    guest_id: int | None = None  # a guest on file, chosen from those offered


def phone_check(text: str) -> Verdict:
    problem = phone_problem(text)
    return error(problem) if problem else ok()


def email_check(text: str) -> Verdict:
    problem = email_problem(text)
    return error(problem) if problem else ok()


def seats(tables: Sequence[Table]) -> str:
    """What tables seat together, as staff say it: 'table 11 seats 2-6', 'tables 15+16 seat 4-22'."""
    if len(tables) == 1:
        return f"table {tables[0].number} seats {capacity(tables[0])}"
    numbers = joined_tables(sorted(t.number for t in tables))
    least, most = min(t.min_party for t in tables), sum(t.max_party for t in tables)
    return f"tables {numbers} seat {least}-{most}" if least != most else f"tables {numbers} seat {most}"


def seat_together(tables: Sequence[Table], party: int) -> bool:
    """Whether the tables seat the party together, as the database counts it."""
    return bool(tables) and min(t.min_party for t in tables) <= party <= sum(t.max_party for t in tables)


def tidy(text: str | None) -> str | None:
    """A name or number as it is compared and saved: spaces evened out, None when empty."""
    return " ".join((text or "").split()) or None


def _field_of(node: Widget | None) -> Field | None:
    while node is not None and not isinstance(node, Field):
        parent = node.parent
        node = parent if isinstance(parent, Widget) else None
    return node


class GuestForm(FormDialog[A]):
    """A form with a guest's name and phone, where typing either offers guests on file.

    `chosen` is the guest on file the form is for, once one is taken; `own` is
    the guest the booking already has (an edit), who is never offered.
    """

    # ↓ and ↑ move between fields, or through the guests offered while a name or phone
    # has the cursor. The ids are the form's, so a keymap that moves them moves these.
    BINDINGS = [
        Binding("down", "arrow(1)", "Next field", show=False, id="form.next", priority=True),
        Binding("up", "arrow(-1)", "Previous field", show=False, id="form.previous", priority=True),
    ]

    LOOKUP_FIELDS = ("name", "phone")
    # Changing any of these after a guest is taken makes it a new guest again.
    GUEST_FIELDS = ("name", "phone", "email")

    def __init__(
        self,
        heading: str,
        *,
        guests: GuestSearch | None,
        on_answer: Callable[[A, Dialog[A]], None] | None = None,
    ) -> None:
        super().__init__(heading, on_answer=on_answer)
        self.guests = guests
        self.chosen: GuestMatch | None = None
        self.own: GuestMatch | None = None

    # Building the form -------------------------------------------------------

    def guest_lookup(self) -> Iterable[Widget]:
        if self.guests is not None:
            yield GuestLookup(self._search, id="lookup")

    async def _search(self, text: str) -> list[GuestMatch]:
        assert self.guests is not None
        own = self.own.id if self.own is not None else None
        return [g for g in await self.guests.search(text) if g.id != own]

    @property
    def lookup(self) -> GuestLookup | None:
        found = self.query(GuestLookup)
        return found.first() if found else None

    def field(self, field_id: str) -> Field | None:
        return next((field for field in self.query(Field) if field.id == field_id), None)

    def fill(self, field_id: str, text: str) -> None:
        field = self.field(field_id)
        if field is not None:
            field.value = text

    def name_check(self, text: str) -> Verdict:
        if not text.strip():
            return error("needed")
        return ok("guest on file") if self.chosen is not None else ok()

    # The guest on file -------------------------------------------------------

    def choose(self, guest: GuestMatch) -> None:
        """The booking is for `guest`, on file: their details fill the form."""
        self.chosen = guest
        self.fill("name", guest.name)
        self.fill("phone", guest.phone or "")
        self.fill("email", guest.email or "")
        if self.lookup is not None:
            self.lookup.show_chosen(guest)
        self._recheck_guest()
        party = self.field("party")
        if party is not None:
            party.focus()

    def typed_guest(self) -> tuple[str, str | None, str | None]:
        """Name, phone and email as typed now (None where empty, or where the form has no such field)."""

        def value(field_id: str) -> str | None:
            field = self.field(field_id)
            return tidy(field.value) if field is not None else None

        return value("name") or "", value("phone"), value("email")

    def _still_chosen(self) -> bool:
        chosen = self.chosen
        if chosen is None:
            return False
        name, phone, email = self.typed_guest()
        same_email = self.field("email") is None or email == tidy(chosen.email)
        return name == tidy(chosen.name) and phone == tidy(chosen.phone) and same_email

    def _is_own(self) -> bool:
        own = self.own
        if own is None:
            return False
        name, phone, _email = self.typed_guest()
        return name == tidy(own.name) and phone == tidy(own.phone)

    def _recheck_guest(self) -> None:
        for field_id in self.GUEST_FIELDS:
            field = self.field(field_id)
            if field is not None:
                field.recheck()

    def on_input_changed(self, event: Input.Changed) -> None:
        field = _field_of(event.input)
        if field is None or field.id not in self.GUEST_FIELDS:
            return
        lookup = self.lookup
        if self.chosen is not None and not self._still_chosen():
            self.chosen = None
            if lookup is not None:
                lookup.show_chosen(None)
        self._recheck_guest()
        if lookup is None or self.chosen is not None:
            return
        if field.id in self.LOOKUP_FIELDS and field.input.has_focus and not self._is_own():
            lookup.look_for(field.value)
        elif self._is_own():
            lookup.drop()

    # Keys --------------------------------------------------------------------------

    def _in_lookup_field(self) -> bool:
        field = _field_of(self.focused)
        return field is not None and field.id in self.LOOKUP_FIELDS

    def action_arrow(self, step: int) -> None:
        lookup = self.lookup
        if lookup is not None and self._in_lookup_field() and lookup.move(step):
            return
        if step > 0:
            self.focus_next()
        else:
            self.focus_previous()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        # Runs before FormDialog's own handler, which checks and sends unless prevented.
        lookup = self.lookup
        marked = lookup.marked if lookup is not None else None
        if marked is not None and self._in_lookup_field() and not self.working:
            event.prevent_default()
            event.stop()
            self.choose(marked)

    def action_close(self) -> None:
        # Escape first takes the marker off a guest offered, then closes.
        lookup = self.lookup
        if lookup is not None and lookup.unmark():
            return
        super().action_close()

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        # The guests offered belong to the name and phone: leaving them puts the list away.
        lookup = self.lookup
        field = _field_of(event.widget)
        if lookup is not None and (field is None or field.id not in self.LOOKUP_FIELDS):
            lookup.drop()


class BookingForm(GuestForm[BookingRequest]):
    """A booking for `table` on `night`, starting at `arrival` unless changed.

    With `guests`, typing a name or phone offers guests on file; without, every
    booking is for a new guest.
    """

    def __init__(
        self,
        table: Table,
        night: Night,
        timezone: str,
        *,
        arrival: datetime,
        held: bool = False,
        guests: GuestSearch | None = None,
        on_answer: Callable[[BookingRequest, Dialog[BookingRequest]], None] | None = None,
    ) -> None:
        title = f"New booking · table {table.number}"
        if table.name and not table.name.endswith(str(table.number)):
            title += f" ({table.name})"
        title += f" · {table_guests(table)}"
        super().__init__(title, guests=guests, on_answer=on_answer)
        self.table = table
        self.night = night
        self.timezone = timezone
        self.arrival = arrival
        self.held = held

    def compose_body(self) -> Iterable[Widget]:
        yield Field("Guest name", check=self.name_check, max_length=80, input_width=28, id="name")
        yield Field(
            "Phone", check=phone_check, restrict=PHONE_KEYS, max_length=24, input_width=28, id="phone"
        )
        yield from self.guest_lookup()
        yield Field(
            "Party size",
            str(self.table.min_party),
            check=party_check(self.table),
            restrict=r"\d*",
            max_length=2,
            input_width=6,
            id="party",
        )
        yield Field(
            "Arrival",
            as_typed(self.arrival, self.timezone),
            check=arrival_check(self.night, self.timezone),
            restrict=ARRIVAL_KEYS,
            max_length=ARRIVAL_LENGTH,
            input_width=6,
            id="arrival",
        )
        yield Field(
            "Deposit", "0", check=money_check, restrict=r"[0-9.]*", max_length=9, input_width=10, id="deposit"
        )
        yield Field("Email", check=email_check, restrict=r"\S*", max_length=120, input_width=28, id="email")
        if self.held:
            yield Static(
                f"Your hold on table {self.table.number} is kept while this is open.",
                classes="dialog--hint",
                id="hold-note",
            )

    def hold_lapsed(self) -> None:
        """The hold could not be kept: the table may still be free, Enter still tries it."""
        self.held = False
        for note in self.query("#hold-note").results(Static):
            note.update(
                f"Your hold on table {self.table.number} has lapsed: Enter still tries "
                "to book it, if it is free."
            )

    def hint(self) -> str:
        return "Enter  book · Tab/↑↓  fields · Esc  close"

    def send(self) -> None:
        chosen = self.chosen if self._still_chosen() else None
        name, phone, email = self.typed_guest()
        guest_id = chosen.id if chosen is not None else None
        self.answer(
            BookingRequest(
                guest=GuestDetails(name, phone=phone, email=email, guest_id=guest_id),
                party_size=int(self.value_of("party")),
                starts_at=clock_in_night(
                    self.value_of("arrival"), self.night.starts_at, self.night.ends_at, self.timezone
                ),
                deposit=money(self.value_of("deposit")),
                guest_id=guest_id,
            )
        )
