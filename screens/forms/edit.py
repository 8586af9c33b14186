"""Editing a booking where it is: the guest's name and phone, the party size, the
arrival time and the notes. The tables stay: another table is a move.

The fields start at the booking's values, so only what changes needs typing,
and only what changed is sent. The party is checked against the seats of the
booking's tables together (a party they cannot seat needs a move first) and
is never fewer than are already in; the time against the night's hours. The
guest's phone and email are read as the form opens. Changing the name or the
phone corrects the guest on file; choosing another guest from those offered
hands the booking to them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from textual import work
from textual.widget import Widget

from screens.dialogs.ask import Dialog
from screens.forms.base import ARRIVAL_KEYS, ARRIVAL_LENGTH, arrival_check
from screens.forms.booking import (
    PHONE_KEYS,
    GuestForm,
    GuestSearch,
    phone_check,
    seat_together,
    seats,
    tidy,
)
from services.bookings import NOTES_MOST, GuestDetails
from services.guests import GuestMatch
from services.models import Booking, Night, Table
from services.venue_time import as_typed, same_minute
from services.wording import joined_tables
from widgets.entry import clock_in_night, whole_number
from widgets.field import Field, Verdict, error, ok

LOADING = "Reading the guest's details…"
CORRECTS = "corrects the guest on file"


class GuestSource(GuestSearch, Protocol):
    """Where the form reads the booking's guest and finds others (`services.guests.GuestService`)."""

    async def of_booking(self, booking_id: int) -> GuestMatch: ...


@dataclass(frozen=True, slots=True)
class EditRequest:
    """Only what changes: None keeps it as it is."""

    party_size: int | None
    starts_at: datetime | None
    notes: str | None
    guest: GuestDetails | None  # with guest_id: another guest on file; without: corrected details


class EditForm(GuestForm[EditRequest]):
    """`tables` are the booking's tables (several when they are joined)."""

    def __init__(
        self,
        booking: Booking,
        tables: Sequence[Table],
        night: Night,
        timezone: str,
        *,
        guests: GuestSource,
        on_answer: Callable[[EditRequest, Dialog[EditRequest]], None] | None = None,
    ) -> None:
        self.tables = sorted(tables, key=lambda t: t.number)
        where = joined_tables(t.number for t in self.tables)
        super().__init__(
            f"Edit {booking.ref} · {booking.guest_name} · table {where}", guests=guests, on_answer=on_answer
        )
        self.source = guests
        self.booking = booking
        self.night = night
        self.timezone = timezone

    @property
    def loaded(self) -> bool:
        """Whether the guest's details have been read (nothing is sent before)."""
        return self.own is not None

    def compose_body(self) -> Iterable[Widget]:
        yield Field(
            "Guest name",
            self.booking.guest_name,
            check=self._name_check,
            max_length=80,
            input_width=28,
            id="name",
        )
        yield Field(
            "Phone", check=self._phone_check, restrict=PHONE_KEYS, max_length=24, input_width=28, id="phone"
        )
        yield from self.guest_lookup()
        yield Field(
            "Party size",
            str(self.booking.party_size),
            check=self._party_check,
            restrict=r"\d*",
            max_length=2,
            input_width=6,
            id="party",
        )
        yield Field(
            "Arrival",
            as_typed(self.booking.starts_at, self.timezone),
            check=arrival_check(self.night, self.timezone),
            restrict=ARRIVAL_KEYS,
            max_length=ARRIVAL_LENGTH,
            input_width=6,
            id="arrival",
        )
        yield Field("Notes", self.booking.notes, max_length=NOTES_MOST, input_width=44, id="notes")

    def hint(self) -> str:
        return "Enter  save · Tab/↑↓  fields · Esc  close"

    def on_mount(self) -> None:
        self.say(LOADING)
        self._load_guest()

    @work(exclusive=True, group="edit-guest", exit_on_error=False)
    async def _load_guest(self) -> None:
        try:
            own = await self.source.of_booking(self.booking.id)
        except Exception as err:
            self.say(
                f"Could not read the guest's details ({err or type(err).__name__}); Esc and try again.",
                error=True,
            )
            return
        self.own = own
        # What was there before the details arrived is kept if someone typed over it already.
        if self.value_of("name") == self.booking.guest_name:
            self.fill("name", own.name)
        if not self.value_of("phone"):
            self.fill("phone", own.phone or "")
        self._recheck_guest()
        if self.status_text == LOADING:
            self.say("")

    # Checks --------------------------------------------------------------------

    def _name_check(self, text: str) -> Verdict:
        verdict = self.name_check(text)
        own = self.own
        if verdict.blocks or self.chosen is not None or own is None:
            return verdict
        return ok(CORRECTS) if tidy(text) != tidy(own.name) else verdict

    def _phone_check(self, text: str) -> Verdict:
        verdict = phone_check(text)
        own = self.own
        if verdict.blocks or self.chosen is not None or own is None:
            return verdict
        return ok(CORRECTS) if tidy(text) != tidy(own.phone) else verdict

    def _party_check(self, text: str) -> Verdict:
        try:
            party = whole_number(text, least=1, most=99)
        except ValueError as err:
            return error(str(err))
        arrived = self.booking.arrived_count
        if party < arrived:
            return error(f"{arrived} are already in")
        words = seats(self.tables)
        if not self.tables or seat_together(self.tables, party):
            return ok(words if self.tables else "")
        return error(f"{words}: move it first")

    # Sending -------------------------------------------------------------------

    def send(self) -> None:
        own = self.own
        if own is None:
            self.say("Still reading the guest's details; a moment, then Enter again.")
            return
        booking = self.booking
        party = int(self.value_of("party"))
        starts_at = clock_in_night(
            self.value_of("arrival"), self.night.starts_at, self.night.ends_at, self.timezone
        )
        # Minutes are what the form shows: a walk-in's start has seconds that must not count.
        same_time = same_minute(starts_at, booking.starts_at)
        notes = self.value_of("notes").strip()
        request = EditRequest(
            party_size=None if party == booking.party_size else party,
            starts_at=None if same_time else starts_at,
            notes=None if notes == booking.notes else notes,
            guest=self._guest_change(own),
        )
        if request == EditRequest(None, None, None, None):
            self.say("Nothing has changed (Esc to leave it).", error=True)
            return
        self.answer(request)

    def _guest_change(self, own: GuestMatch) -> GuestDetails | None:
        chosen = self.chosen if self._still_chosen() else None
        if chosen is not None:
            return GuestDetails(chosen.name, phone=chosen.phone, email=chosen.email, guest_id=chosen.id)
        if self._is_own():
            return None
        name, phone, _email = self.typed_guest()
        # The email is not on this form: it stays as it is on file.
        return GuestDetails(name, phone=phone, email=own.email)
