"""The new-booking form: guest name, phone, party size, arrival time, deposit.

Each field is checked as it is typed: the party against the table's seats
(a party that does not fit is a warning, not a wall: Enter then offers the
tables that do fit), the time against the night's hours. Enter sends from
any field; Tab or the arrow keys move between fields; Escape closes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from textual.widget import Widget
from textual.widgets import Static

from screens.ask import Dialog
from screens.form import FormDialog, arrival_check, money_check, name_check, party_check
from services.bookings import GuestDetails
from services.models import Night, Table
from widgets.display import capacity, local_time
from widgets.entry import clock_in_night, money
from widgets.field import Field


@dataclass(frozen=True, slots=True)
class BookingRequest:
    """What the form asks the booking service for."""

    guest: GuestDetails
    party_size: int
    starts_at: datetime
    deposit: Decimal


class BookingForm(FormDialog[BookingRequest]):
    """A booking for `table` on `night`, starting at `arrival` unless changed."""

    def __init__(self, table: Table, night: Night, timezone: str, *, arrival: datetime,
                 held: bool = False,
                 on_answer: Callable[[BookingRequest, Dialog[BookingRequest]], None] | None = None,
                 ) -> None:
        title = f"New booking · table {table.number}"
        if table.name and not table.name.endswith(str(table.number)):
            title += f" ({table.name})"
        title += f" · {capacity(table)} guests"
        super().__init__(title, on_answer=on_answer)
        self.table = table
        self.night = night
        self.timezone = timezone
        self.arrival = arrival
        self.held = held

    def compose_body(self) -> Iterable[Widget]:
        yield Field("Guest name", check=name_check, max_length=80, input_width=28, id="name")
        yield Field("Phone", restrict=r"[0-9+ ()\-]*", max_length=24, input_width=28, id="phone")
        yield Field("Party size", str(self.table.min_party), check=party_check(self.table),
                    restrict=r"\d*", max_length=2, input_width=6, id="party")
        yield Field("Arrival", local_time(self.arrival, self.timezone),
                    check=arrival_check(self.night, self.timezone), restrict=r"[0-9:]*",
                    max_length=5, input_width=6, id="arrival")
        yield Field("Deposit", "0", check=money_check, restrict=r"[0-9.]*", max_length=9,
                    input_width=10, id="deposit")
        if self.held:
            yield Static(f"Your hold on table {self.table.number} is kept while this is open.",
                         classes="dialog--hint")

    def hint(self) -> str:
        return "Enter  book · Tab/↑↓  fields · Esc  close"

    def send(self) -> None:
        self.answer(BookingRequest(
            guest=GuestDetails(self.value_of("name").strip(),
                               phone=self.value_of("phone").strip() or None),
            party_size=int(self.value_of("party")),
            starts_at=clock_in_night(self.value_of("arrival"), self.night.starts_at,
                                     self.night.ends_at, self.timezone),
            deposit=money(self.value_of("deposit")),
        ))
