"""Undoing a change, on the floor (`u`) and at the door (Ctrl+U): correct an arrival count,
reverse a no-show or a completion, reopen a cancelled booking. Each asks why (the reason
goes into the audit trail with who did it), then makes the change through the screen's
write runner; the database refuses it if the table is no longer free for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from screens.dialogs.ask import CountDialog, Dialog, ReasonDialog
from screens.floor.actions import UNDO_OPERATIONS, Intent, Write
from services.identity.permissions import Operation
from services.models import Booking, BookingStatus
from services.wording import party_in

if TYPE_CHECKING:
    from services.bookings import BookingService
    from services.store.db import Actor

# What each undo is called in a heading, and what its Enter does in the reason dialog.
HEADINGS = {
    Operation.CORRECT_ARRIVALS: "Correct the count",
    Operation.REVERSE_NO_SHOW: "Reverse the no-show",
    Operation.REVERSE_COMPLETION: "Reverse the completion",
    Operation.REOPEN: "Reopen",
}
VERBS = {
    Operation.CORRECT_ARRIVALS: "correct",
    Operation.REVERSE_NO_SHOW: "reverse",
    Operation.REVERSE_COMPLETION: "reverse",
    Operation.REOPEN: "reopen",
}
WHY = "Why? (kept in the audit log with your name)"
# An example of a reason, shown greyed in the empty box.
EXAMPLES = {
    Operation.CORRECT_ARRIVALS: "Counted the wrong party",
    Operation.REVERSE_NO_SHOW: "They came after all",
    Operation.REVERSE_COMPLETION: "Closed the wrong table",
    Operation.REOPEN: "Cancelled by mistake",
}


def choice_words(operation: Operation, booking: Booking) -> str:
    """One line of the undo chooser: what is undone, for whom."""
    words = next(label for op, label in UNDO_OPERATIONS.values() if op == operation)
    if operation == Operation.CORRECT_ARRIVALS:
        words += f" ({party_in(booking)} in)"
    return f"{words} · {booking.ref} {booking.guest_name}"


def undo_write(
    bookings: BookingService,
    actor: Actor,
    operation: Operation,
    booking: Booking,
    reason: str,
    *,
    arrived: int | None = None,
    intent: Intent | None = None,
) -> Write:
    """The change that undoes `operation` for `booking`, with its reason."""
    who = f"{booking.ref} · {booking.guest_name}"

    async def call(op_id: str) -> Booking:
        if operation == Operation.CORRECT_ARRIVALS:
            assert arrived is not None
            return await bookings.correct_arrivals(
                actor, booking.id, booking.version, arrived, reason, op_id=op_id
            )
        method = getattr(bookings, operation)
        result: Booking = await method(actor, booking.id, booking.version, reason, op_id=op_id)
        return result

    def done(b: Booking) -> str:
        if operation == Operation.CORRECT_ARRIVALS:
            if b.status is not BookingStatus.ARRIVED:
                return f"Count corrected · {who}: nobody in, expected again"
            return f"Count corrected · {who}: {party_in(b)} in"
        if operation == Operation.REVERSE_NO_SHOW:
            return f"No-show reversed · {who}: expected again, check them in"
        if operation == Operation.REVERSE_COMPLETION:
            return f"Completion reversed · {who}: in again ({party_in(b)})"
        return f"Reopened {who} ({b.status.value})"

    what = {
        Operation.CORRECT_ARRIVALS: f"correct the count of {booking.ref}",
        Operation.REVERSE_NO_SHOW: f"reverse the no-show of {booking.ref}",
        Operation.REVERSE_COMPLETION: f"reverse the completion of {booking.ref}",
        Operation.REOPEN: f"reopen {booking.ref}",
    }[operation]
    return Write(what, call, done, intent or Intent())


def ask_undo(
    bookings: BookingService,
    actor: Actor,
    operation: Operation,
    booking: Booking,
    *,
    where: str,
    push: Callable[[Dialog[Any]], object],
    start: Callable[[Write, Dialog[Any]], None],
) -> None:
    """Ask what is needed to undo `operation` for `booking` (the count, then why), then start
    the change. `push` shows a dialog; `start` runs a write from one."""
    heading = f"{HEADINGS[operation]} · {booking.ref} · {booking.guest_name}"
    intent = Intent()

    def ask_why(arrived: int | None) -> None:
        push(
            ReasonDialog(
                heading,
                WHY,
                placeholder=EXAMPLES[operation],
                verb=VERBS[operation],
                on_answer=lambda reason, dialog: start(
                    undo_write(bookings, actor, operation, booking, reason, arrived=arrived, intent=intent),
                    dialog,
                ),
            )
        )

    if operation != Operation.CORRECT_ARRIVALS:
        ask_why(None)
        return

    def counted(arrived: int, dialog: Dialog[int]) -> None:
        dialog.finish()
        ask_why(arrived)

    push(
        CountDialog(
            heading,
            f"{booking.arrived_count} of the party of {booking.party_size} are in, {where}. "
            "How many are in? 0 puts the booking back to expected.",
            default=booking.arrived_count,
            least=0,
            most=booking.party_size,
            verb="next",
            on_answer=counted,
        )
    )
