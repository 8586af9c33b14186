"""Moving a booking: another table (or tables, "15+16") and/or another arrival time.

The booking keeps its length; a time change moves its end too, up to the
night's closing. Both fields start at the booking's current values, so only
what changes needs typing.

Tables with a higher minimum spend than the booking's own say so as they are
typed, and Enter then asks first ("Tables 15+16 have a minimum spend of 1,850;
table 4 had 750"): y moves it, Esc goes back to the form.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from textual.widget import Widget

from screens.dialogs.ask import ConfirmDialog, Dialog
from screens.forms.base import ARRIVAL_KEYS, ARRIVAL_LENGTH, Check, FormDialog, arrival_check
from services.models import Booking, Night, Table
from services.venue_time import as_typed, same_minute
from services.wording import joined_tables
from widgets.entry import clock_in_night, table_numbers
from widgets.field import Field, Verdict, error, ok, warn


@dataclass(frozen=True, slots=True)
class MoveRequest:
    """Only what changes: None keeps the booking's tables or time."""

    table_ids: tuple[int, ...] | None
    starts_at: datetime | None


def tables_check(tables: Mapping[int, Table], party: int) -> Check:
    """Table numbers that exist, and whether together they seat the party."""

    def check(text: str) -> Verdict:
        try:
            numbers = table_numbers(text)
        except ValueError as err:
            return error(str(err))
        unknown = [n for n in numbers if n not in tables]
        if unknown:
            return error(f"no table {joined_tables(unknown)}")
        chosen = [tables[n] for n in numbers]
        least, most = min(t.min_party for t in chosen), sum(t.max_party for t in chosen)
        seats = f"seats {least}-{most}" if least != most else f"seats {most}"
        if least <= party <= most:
            return ok(seats)
        return warn(f"{seats}, the party is {party}: Enter offers tables that fit")

    return check


def spend(amount: Decimal) -> str:
    """A minimum spend as the floor shows it: whole units, thousands marked ("1,500")."""
    return f"{amount:,.0f}"


def tables_words(numbers: Iterable[int], *, capital: bool = False) -> str:
    numbers = list(numbers)
    words = f"table{'s' if len(numbers) > 1 else ''} {joined_tables(numbers)}"
    return words[:1].upper() + words[1:] if capital else words


def higher_spend(tables: Mapping[int, Table], current: Iterable[int], numbers: Iterable[int]) -> str | None:
    """What staff must hear before a move onto tables with a higher minimum spend than the
    booking's own ("Tables 15+16 have a minimum spend of 1,850; table 4 had 750"); None when
    it is not higher."""
    current, numbers = list(current), list(numbers)
    before = sum((tables[n].min_spend for n in current if n in tables), Decimal(0))
    after = sum((tables[n].min_spend for n in numbers if n in tables), Decimal(0))
    if after <= before:
        return None
    had = spend(before) if before else "none"
    verb = "have" if len(numbers) > 1 else "has"
    return (
        f"{tables_words(numbers, capital=True)} {verb} a minimum spend of {spend(after)}; "
        f"{tables_words(current)} had {had}"
    )


class MoveForm(FormDialog[MoveRequest]):
    """`tables` maps every table number of the venue to its table."""

    def __init__(
        self,
        booking: Booking,
        tables: Mapping[int, Table],
        night: Night,
        timezone: str,
        *,
        on_answer: Callable[[MoveRequest, Dialog[MoveRequest]], None] | None = None,
    ) -> None:
        self.by_id = {t.id: t for t in tables.values()}
        self.current = tuple(sorted(self.by_id[i].number for i in booking.table_ids if i in self.by_id))
        super().__init__(
            f"Move {booking.ref} · {booking.guest_name} · party of {booking.party_size}", on_answer=on_answer
        )
        self.booking = booking
        self.tables = tables
        self.night = night
        self.timezone = timezone

    def compose_body(self) -> Iterable[Widget]:
        yield Field(
            "Table",
            joined_tables(self.current),
            check=self._tables_check,
            restrict=r"[0-9+, ]*",
            max_length=12,
            input_width=8,
            id="tables",
        )
        yield Field(
            "Arrival",
            as_typed(self.booking.starts_at, self.timezone),
            check=arrival_check(self.night, self.timezone),
            restrict=ARRIVAL_KEYS,
            max_length=ARRIVAL_LENGTH,
            input_width=8,
            id="arrival",
        )

    def _tables_check(self, text: str) -> Verdict:
        verdict = tables_check(self.tables, self.booking.party_size)(text)
        if verdict.blocks or verdict.level == "warn":
            return verdict
        higher = self._higher(text)
        if higher is None:
            return verdict
        before = sum((self.tables[n].min_spend for n in self.current), Decimal(0))
        after = sum((self.tables[n].min_spend for n in table_numbers(text)), Decimal(0))
        return warn(f"{verdict.text} · min spend {spend(after)} (was {spend(before)})")

    def _higher(self, text: str) -> str | None:
        try:
            numbers = table_numbers(text)
        except ValueError:
            return None
        if tuple(numbers) == self.current:
            return None
        return higher_spend(self.tables, self.current, numbers)

    def hint(self) -> str:
        return "Enter  move · Tab/↑↓  fields · Esc  close"

    def send(self) -> None:
        numbers = tuple(table_numbers(self.value_of("tables")))
        starts_at = clock_in_night(
            self.value_of("arrival"), self.night.starts_at, self.night.ends_at, self.timezone
        )
        new_tables = None if numbers == self.current else tuple(self.tables[n].id for n in numbers)
        # Minutes are what the form shows: a walk-in's start has seconds that must not count.
        same_time = same_minute(starts_at, self.booking.starts_at)
        new_start = None if same_time else starts_at
        if new_tables is None and new_start is None:
            self.say("Change the table or the time (or Esc to leave it).", error=True)
            return
        request = MoveRequest(new_tables, new_start)
        higher = self._higher(self.value_of("tables")) if new_tables is not None else None
        if higher is None:
            self.answer(request)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.answer(request)

        # The minimum spend rises: staff say so to the guest first.
        self.app.push_screen(
            ConfirmDialog(
                f"Move {self.booking.ref} · {self.booking.guest_name}?",
                f"{higher}.",
                yes="move it",
                id="move-spend",
            ),
            answered,
        )
