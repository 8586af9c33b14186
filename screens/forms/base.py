"""What the floor's forms share: checks of a party, a time, a name, an amount; Enter to send.

A form is a `Dialog` made of `Field`s. Enter in any field checks them all;
if one is wrong the cursor goes to it and nothing is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from textual.binding import Binding
from textual.widgets import Input

from screens.dialogs.ask import A, Dialog
from services.errors import BackroomError, NotFound, StaleBooking
from services.models import Night, Table
from services.venue_time import clock_change
from services.wording import time_span
from widgets.display import capacity
from widgets.entry import clock_in_night, money, whole_number
from widgets.field import Field, Verdict, error, ok, warn

Check = Callable[[str], Verdict]


def party_check(table: Table | None, *, fits_hint: str = "Enter offers tables that fit") -> Check:
    """Party size as a number, and whether `table` seats it (a warning if not)."""

    def check(text: str) -> Verdict:
        try:
            party = whole_number(text, least=1, most=99)
        except ValueError as err:
            return error(str(err))
        if table is None:
            return ok()
        seats = f"table {table.number} seats {capacity(table)}"
        if table.min_party <= party <= table.max_party:
            return ok(seats)
        return warn(f"{seats}: {fits_hint}")

    return check


# An arrival is typed as 23:30, or with the zone's name to pick the second of a time the
# clocks go back over ("01:30 GMT"); see services.venue_time.
ARRIVAL_KEYS = r"[0-9: A-Za-z]*"
ARRIVAL_LENGTH = 9


def arrival_check(night: Night, timezone: str) -> Check:
    """A time within the night's hours; on a night the clocks change, the rule for it."""
    change = clock_change(night.starts_at, night.ends_at, timezone)

    def check(text: str) -> Verdict:
        try:
            clock_in_night(text, night.starts_at, night.ends_at, timezone)
        except ValueError as err:
            return error(str(err))
        hours = f"tonight {time_span(night.starts_at, night.ends_at, timezone)}"
        return ok(f"{hours}; {change}" if change else hours)

    return check


def default_arrival(night: Night, now: datetime) -> datetime:
    """Now, rounded up to the quarter hour, if the night is under way; else its opening."""
    if not night.starts_at <= now < night.ends_at:
        return night.starts_at
    quarter = timedelta(minutes=15)
    rounded = now.replace(microsecond=0) + timedelta(seconds=-int(now.timestamp()) % 900)
    # Near closing, the last quarter hour before it (never before the opening).
    return rounded if rounded < night.ends_at else max(night.starts_at, rounded - quarter)


def name_check(text: str) -> Verdict:
    return ok() if text.strip() else error("needed")


def money_check(text: str) -> Verdict:
    try:
        money(text)
    except ValueError as err:
        return error(str(err))
    return ok()


class FormDialog(Dialog[A]):
    """Shared behaviour of the floor's forms: arrows move between fields, Enter checks and sends."""

    # Priority: the app moves the cursor as it reads the key, in order with the keys around
    # it, so what a fast typist types after ↓ lands in the next field, not the last one.
    BINDINGS = [
        Binding("down", "app.focus_next", "Next field", show=False, id="form.next", priority=True),
        Binding("up", "app.focus_previous", "Previous field", show=False, id="form.previous", priority=True),
    ]

    def keeps_open(self, refusal: BackroomError) -> bool:
        # A form can be corrected, unless the booking it was about has changed or gone.
        return not isinstance(refusal, StaleBooking | NotFound)

    def fields(self) -> list[Field]:
        return list(self.query(Field))

    def value_of(self, field_id: str) -> str:
        return self.query_one(f"#{field_id}", Field).value

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self.working:
            return
        verdicts = [(field, field.reveal()) for field in self.fields()]
        bad = [field for field, verdict in verdicts if verdict.blocks]
        if bad:
            bad[0].focus()
            self.say(f"Check {', '.join(f.label.lower() for f in bad)}.", error=True)
            return
        self.send()

    def send(self) -> None:
        raise NotImplementedError
