"""Booking operations: create, hold, confirm, check in, seat a walk-in, move,
amend, cancel, no-show, complete, and the waitlist.

Each operation is one transaction, carries a client operation id (a retry
returns the first result and changes nothing more) and, where it changes a
booking, the version the console last saw (a stale version is refused, never
silently overwritten). Postgres enforces the rules again whatever this code
does; its refusals come back here as typed errors with alternatives.

The parts: `inputs` (what staff type and why it cannot be saved), `base` (what
every part shares), `alternatives` (free tables and times offered instead),
`refusals` (Postgres refusals as typed errors), `runner` (the repeat-safe
operation runner), `operations` (the booking operations), `undo`, `holds` and
`waitlist`; `service` puts them together as `BookingService`.
"""

from services.bookings.inputs import DEPOSIT_OUTCOMES, GuestDetails, notes_problem
from services.bookings.operations import WALK_IN_MINIMUM
from services.bookings.runner import new_op_id, settle_operation
from services.bookings.service import BookingService
from services.bookings.waitlist import WaitlistEntry
from services.guests import NOTES_MOST

__all__ = [
    "DEPOSIT_OUTCOMES",
    "NOTES_MOST",
    "WALK_IN_MINIMUM",
    "BookingService",
    "GuestDetails",
    "WaitlistEntry",
    "new_op_id",
    "notes_problem",
    "settle_operation",
]
