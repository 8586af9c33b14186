"""Errors in staff words. `BackroomError` is the root of every error the console
raises for staff; each subclass carries what a screen needs to explain it and,
where it helps, what to do instead.

The families: `BookingError` (a change refused: bookings, the night),
`SignInError` (services/identity/accounts.py), `DatabaseError`
(services/store/db.py), `EmbeddedServerError` (below), `FirstRunError`
(services/store/first_run.py), `SecretUnavailable` (services/identity/secrets.py),
`ExportFailed` (services/reports.py), and the console's own `SettingsError`,
`NoTerminal` and `FilterError`."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from services.models import Booking
from services.wording import joined_tables


class BackroomError(Exception):
    """Root of every error the console raises for staff; `str(err)` is a sentence for staff."""


class BookingError(BackroomError):
    """Base of every refusal of a change; `str(err)` is a sentence for staff."""

    code = "refused"

    def details(self) -> dict[str, Any]:
        """What the audit row of the refusal records."""
        return {"code": self.code, "message": str(self)}


class Interrupted(BookingError):
    """Not a refusal: the connection to the database failed while the change was
    made. The operation id is kept, so trying again cannot do it twice."""

    code = "interrupted"

    def __init__(self, message: str, *, op_id: str) -> None:
        super().__init__(message)
        self.op_id = op_id


class NotSaved(Interrupted):
    """The connection failed and the database says the change was not made."""

    code = "not_saved"


class OutcomeUnknown(Interrupted):
    """The connection failed after the change was sent, and the database could not
    be asked whether it was made."""

    code = "unknown"


class NotAllowed(BookingError):
    code = "not_allowed"


class NotFound(BookingError):
    code = "not_found"


class InvalidInput(BookingError):
    code = "invalid"


class OutsideHours(BookingError):
    code = "outside_hours"


class GuestTableLimit(BookingError):
    code = "guest_limit"


class TablesApart(BookingError):
    code = "tables_apart"


class HoldExpired(BookingError):
    code = "hold_expired"


class StepUpRequired(BookingError):
    """The operation needs a fresh code from the staff member's authenticator."""

    code = "step_up"


@dataclass(frozen=True)
class Alternative:
    """Somewhere else the party could go: another table, or another time."""

    table_ids: tuple[int, ...]
    table_numbers: tuple[int, ...]
    floor_name: str
    starts_at: datetime
    ends_at: datetime
    why: str

    def label(self, tz: Any = None) -> str:
        tables = joined_tables(self.table_numbers)
        start = self.starts_at.astimezone(tz) if tz else self.starts_at
        return f"Table {tables} ({self.floor_name}) at {start:%H:%M}: {self.why}"


class TableTaken(BookingError):
    """The table is booked or held for (part of) that time."""

    code = "table_taken"

    def __init__(
        self,
        message: str,
        *,
        table_id: int,
        booking_ref: str | None = None,
        holder: str | None = None,
        until: datetime | None = None,
        alternatives: list[Alternative] | None = None,
    ) -> None:
        super().__init__(message)
        self.table_id = table_id
        self.booking_ref = booking_ref
        self.holder = holder
        self.until = until
        self.alternatives: list[Alternative] = alternatives or []

    def details(self) -> dict[str, Any]:
        return {
            **super().details(),
            "table_id": self.table_id,
            "booking_ref": self.booking_ref,
            "holder": self.holder,
        }


class PartyDoesNotFit(BookingError):
    code = "party_size"

    def __init__(
        self,
        message: str,
        *,
        party: int,
        min_party: int,
        max_party: int,
        alternatives: list[Alternative] | None = None,
    ) -> None:
        super().__init__(message)
        self.party = party
        self.min_party = min_party
        self.max_party = max_party
        self.alternatives: list[Alternative] = alternatives or []


class IllegalTransition(BookingError):
    code = "illegal_transition"

    def __init__(self, message: str, *, from_status: str | None, to_status: str | None) -> None:
        super().__init__(message)
        self.from_status = from_status
        self.to_status = to_status


@dataclass
class StaleInfo:
    changed_by: str
    changed_at: datetime
    current: Booking | None = field(default=None)


class StaleBooking(BookingError):
    """Someone changed the booking since this console read it; nothing was overwritten."""

    code = "stale"

    def __init__(self, message: str, *, info: StaleInfo) -> None:
        super().__init__(message)
        self.info = info


# The night beside the tables (services/night): guest lists, the headcount, bans.


class ListClosed(BookingError):
    """The guest list closed at its cut-off; a manager can still change it."""

    code = "list_closed"


class ListFull(BookingError):
    code = "list_full"


class AlreadyOnList(BookingError):
    code = "on_list"


class AtCapacity(BookingError):
    """Counting these people in would pass the licensed capacity: a manager's
    override with a reason lets them in."""

    code = "at_capacity"

    def __init__(self, message: str, *, capacity: int, inside: int) -> None:
        super().__init__(message)
        self.capacity = capacity
        self.inside = inside


class BanMatch(BookingError):
    """The guest looks like someone on the ban list: a manager's override with a
    reason lets them in."""

    code = "ban_match"

    def __init__(self, message: str, *, ban_name: str, reason: str, matched_on: str) -> None:
        super().__init__(message)
        self.ban_name = ban_name
        self.reason = reason
        self.matched_on = matched_on


# The console's own private database server (services/embedded).


class EmbeddedServerError(BackroomError):
    """Raised when the server cannot be initialised or started; .log_path is the server log to read.

    ``str(err)`` is one line naming the log; ``.log_tail`` holds its last lines.
    """

    def __init__(self, message: str, log_path: Path | None = None, log_tail: str = "") -> None:
        super().__init__(message)
        self.log_path: Path | None = log_path
        self.log_tail: str = log_tail
