"""The waitlist's forms: a party to add (name, phone, party size, a note), and the table
to offer a waiting party or to book them onto (with the arrival, for a booking).

Each field is checked as it is typed, as in the floor's forms: a name is needed, a
phone number has a phone number's shape, the party is a number, the note is at most
500 characters. The table field names a table of the venue (or tables joined, "15+16",
for a booking), says what it seats and whether it is free now; a table that does not
fit or is taken is a warning, not a wall: Enter then offers tables that fit.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from textual.widget import Widget

from screens.dialogs.ask import Dialog
from screens.forms.base import (
    ARRIVAL_KEYS,
    ARRIVAL_LENGTH,
    Check,
    FormDialog,
    arrival_check,
    name_check,
    party_check,
)
from screens.forms.booking import PHONE_KEYS, phone_check
from screens.forms.move import tables_check
from services.bookings import NOTES_MOST, WaitlistEntry, notes_problem
from services.guests import NAME_MOST
from services.models import Night, Table
from services.venue_time import as_typed
from services.wording import joined_tables
from widgets.entry import clock_in_night, table_numbers
from widgets.field import Field, Verdict, error, ok, warn


@dataclass(frozen=True, slots=True)
class WaitlistRequest:
    """A party to put on the waitlist."""

    name: str
    phone: str | None
    party_size: int
    notes: str


@dataclass(frozen=True, slots=True)
class SeatRequest:
    """The table (or tables) for a waiting party, and for a booking its arrival."""

    table_ids: tuple[int, ...]
    starts_at: datetime | None = None


def notes_check(text: str) -> Verdict:
    problem = notes_problem(text)
    return error(problem.rstrip(".")) if problem else ok()


class WaitlistForm(FormDialog[WaitlistRequest]):
    """A new party for the waitlist of `night_words` ("Fri 20 Nov")."""

    def __init__(
        self,
        night_words: str,
        *,
        on_answer: Callable[[WaitlistRequest, Dialog[WaitlistRequest]], None] | None = None,
    ) -> None:
        super().__init__(f"Add to the waitlist · {night_words}", on_answer=on_answer)

    def compose_body(self) -> Iterable[Widget]:
        yield Field("Guest name", check=name_check, max_length=NAME_MOST, input_width=28, id="name")
        yield Field(
            "Phone",
            check=phone_check,
            restrict=PHONE_KEYS,
            max_length=24,
            input_width=28,
            placeholder="optional",
            id="phone",
        )
        yield Field(
            "Party size",
            "2",
            check=party_check(None),
            restrict=r"\d*",
            max_length=2,
            input_width=6,
            id="party",
        )
        yield Field(
            "Note",
            check=notes_check,
            max_length=NOTES_MOST,
            input_width=44,
            placeholder="optional",
            id="notes",
        )

    def hint(self) -> str:
        return "Enter  add · Tab/↑↓  fields · Esc  close"

    def send(self) -> None:
        phone = " ".join(self.value_of("phone").split()) or None
        self.answer(
            WaitlistRequest(
                name=" ".join(self.value_of("name").split()),
                phone=phone,
                party_size=int(self.value_of("party")),
                notes=self.value_of("notes").strip(),
            )
        )


def seat_check(tables: Mapping[int, Table], party: int, free: Collection[int], *, one: bool) -> Check:
    """Tables that exist and seat the party (`tables_check`), and whether they are free now;
    with `one`, a single table (an offer names one)."""
    seats = tables_check(tables, party)

    def check(text: str) -> Verdict:
        verdict = seats(text)
        if verdict.blocks:
            return verdict
        numbers = table_numbers(text)
        if one and len(numbers) > 1:
            return error("one table")
        taken = [n for n in numbers if n not in free]
        if taken:
            return warn(f"{verdict.text}; table {joined_tables(taken)} is not free now")
        return verdict if verdict.level == "warn" else ok(f"{verdict.text}, free now")

    return check


class SeatForm(FormDialog[SeatRequest]):
    """The table for `entry`: offered (`booking` False) or booked, with an arrival time.

    `tables` maps every table number of the venue to its table; `free` holds the
    numbers of the tables free now; `table` is the number to start with.
    """

    def __init__(
        self,
        entry: WaitlistEntry,
        tables: Mapping[int, Table],
        free: Collection[int],
        night: Night,
        timezone: str,
        *,
        booking: bool,
        table: int | None,
        arrival: datetime,
        on_answer: Callable[[SeatRequest, Dialog[SeatRequest]], None] | None = None,
    ) -> None:
        verb = "Book" if booking else "Offer a table to"
        super().__init__(f"{verb} {entry.guest_name} · party of {entry.party_size}", on_answer=on_answer)
        self.entry = entry
        self.tables = tables
        self.free = free
        self.night = night
        self.timezone = timezone
        self.booking = booking
        self.table = table
        self.arrival = arrival

    def compose_body(self) -> Iterable[Widget]:
        yield Field(
            "Table",
            str(self.table) if self.table is not None else "",
            check=seat_check(self.tables, self.entry.party_size, self.free, one=not self.booking),
            restrict=r"[0-9+, ]*",
            max_length=12,
            input_width=8,
            id="tables",
        )
        if self.booking:
            yield Field(
                "Arrival",
                as_typed(self.arrival, self.timezone),
                check=arrival_check(self.night, self.timezone),
                restrict=ARRIVAL_KEYS,
                max_length=ARRIVAL_LENGTH,
                input_width=8,
                id="arrival",
            )

    def hint(self) -> str:
        verb = "book" if self.booking else "offer it"
        return f"Enter  {verb} · Tab/↑↓  fields · Esc  close"

    def send(self) -> None:
        ids = tuple(self.tables[n].id for n in table_numbers(self.value_of("tables")))
        starts_at = None
        if self.booking:
            starts_at = clock_in_night(
                self.value_of("arrival"), self.night.starts_at, self.night.ends_at, self.timezone
            )
        self.answer(SeatRequest(ids, starts_at))
