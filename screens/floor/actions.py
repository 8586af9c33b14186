"""What staff can do to the selected table: the keys, who may use them, when they fit,
and the shape of one change on its way to the database.

The floor builds its bindings, its command palette entries and its help from
`TABLE_ACTIONS`, so the three always agree. `fits` says whether an action
makes sense for a table as it is now (confirm only a pending booking, check in
only while some of the party is still expected...), which keeps the footer
short enough for an 80-column terminal.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple

from textual.binding import Binding

from services.bookings import new_op_id
from services.errors import Alternative
from services.identity.permissions import Operation
from services.models import Booking, BookingStatus, TableState, TileStatus


@dataclass(frozen=True, slots=True)
class TableAction:
    name: str  # the screen's action (action_<name>)
    key: str
    label: str  # the footer's word
    operation: Operation  # the operation in services.identity.permissions
    title: str  # the command palette's title
    help: str
    about_booking: bool = True  # acts on the booking the tile shows, not the table itself
    footer: bool = True  # False: in help and the palette only, where 80 columns have no room

    @property
    def binding_id(self) -> str:
        return f"floor.{self.name.removesuffix('_booking')}"

    def binding(self) -> Binding:
        return Binding(
            self.key, self.name, self.label, id=self.binding_id, tooltip=self.help, show=self.footer
        )


TABLE_ACTIONS: tuple[TableAction, ...] = (
    TableAction(
        "new_booking",
        "n",
        "New",
        Operation.CREATE,
        "New booking",
        "Book this table for a guest",
        about_booking=False,
    ),
    TableAction(
        "hold",
        "h",
        "Hold",
        Operation.HOLD,
        "Hold table",
        "Keep a free table while you talk",
        about_booking=False,
    ),
    TableAction(
        "release",
        "h",
        "Release",
        Operation.RELEASE_HOLD,
        "Release hold",
        "Give up your hold",
        about_booking=False,
    ),
    TableAction(
        "confirm", "c", "Confirm", Operation.CONFIRM, "Confirm booking", "Confirm the pending booking"
    ),
    TableAction(
        "check_in", "i", "Check in", Operation.CHECK_IN, "Check in", "Check in all or part of the party"
    ),
    TableAction("move_booking", "m", "Move", Operation.MOVE, "Move booking", "Another table or time"),
    # Changing a booking where it is takes the right to move it (services.bookings.operations.AMEND_RIGHT).
    # Off the footer: with it, a booked table's keys no longer fit beside the arrows at 80.
    TableAction(
        "edit_booking",
        "e",
        "Edit",
        Operation.MOVE,
        "Edit booking",
        "Party size, arrival, notes or guest",
        footer=False,
    ),
    TableAction("cancel_booking", "x", "Cancel", Operation.CANCEL, "Cancel booking", "Cancel, with a reason"),
    TableAction("no_show", "o", "No-show", Operation.NO_SHOW, "Mark no-show", "The party did not come"),
    TableAction(
        "complete",
        "d",
        "Complete",
        Operation.COMPLETE,
        "Complete booking",
        "The party left: the table is free",
    ),
    TableAction(
        "walk_in",
        "w",
        "Walk-in",
        Operation.SEAT_WALK_IN,
        "Seat a walk-in",
        "Seat a party now at a free table",
        about_booking=False,
    ),
    # Door staff and managers both undo something (a count, a no-show); what each may undo
    # is asked when the key is pressed (UNDO_OPERATIONS).
    TableAction(
        "undo",
        "u",
        "Undo",
        Operation.CORRECT_ARRIVALS,
        "Undo",
        "Correct a count, reverse a change",
        about_booking=False,
        footer=False,
    ),
)

BY_NAME = {action.name: action for action in TABLE_ACTIONS}


_NEVER = datetime.max.replace(tzinfo=UTC)

# What can be undone for a booking in each status: the operation, and its words.
UNDO_OPERATIONS: dict[BookingStatus, tuple[Operation, str]] = {
    BookingStatus.ARRIVED: (Operation.CORRECT_ARRIVALS, "Correct the arrival count"),
    BookingStatus.NO_SHOW: (Operation.REVERSE_NO_SHOW, "Reverse the no-show"),
    BookingStatus.COMPLETED: (Operation.REVERSE_COMPLETION, "Reverse the completion"),
    BookingStatus.CANCELLED: (Operation.REOPEN, "Reopen the cancelled booking"),
}


def undoable(
    state: TableState, *, tonight: bool, now: datetime, night_ends: datetime
) -> list[tuple[Operation, Booking]]:
    """What can be undone at this table: (operation, booking), the latest booked first.
    A count, a no-show or a completion only tonight; a cancellation until the night is over."""
    found = []
    for booking in sorted(state.bookings, key=lambda b: (b.starts_at, b.id), reverse=True):
        undo = UNDO_OPERATIONS.get(booking.status)
        if undo is None:
            continue
        operation = undo[0]
        if operation == Operation.REOPEN and now >= night_ends:
            continue
        if operation != Operation.REOPEN and not tonight:
            continue
        found.append((operation, booking))
    return found


def fits(
    name: str,
    state: TableState,
    *,
    held_by_me: bool,
    now: datetime,
    grace: timedelta = timedelta(0),
    tonight: bool = True,
    night_ends: datetime = _NEVER,
) -> bool:
    """Whether the action `name` makes sense for the table as it is now (`grace`: how late
    a party is before it is a no-show; `tonight` and `night_ends`: the night on screen)."""
    if name == "undo":
        return bool(undoable(state, tonight=tonight, now=now, night_ends=night_ends))
    booking = state.booking
    status = booking.status if booking is not None else None
    free = state.status is TileStatus.FREE
    if name == "new_booking":
        return free or held_by_me
    if name == "hold":
        return free
    if name == "release":
        return held_by_me
    if name == "walk_in":
        # Anywhere: a taken or held table sends the party to the best free one.
        return True
    if booking is None:
        return False
    if name == "confirm":
        return status is BookingStatus.PENDING
    if name == "check_in":
        return status in (BookingStatus.PENDING, BookingStatus.CONFIRMED) or (
            status is BookingStatus.ARRIVED and booking.arrived_count < booking.party_size
        )
    if name in ("move_booking", "edit_booking"):
        return status is not None and status.active
    if name == "cancel_booking":
        return status in (BookingStatus.PENDING, BookingStatus.CONFIRMED)
    if name == "no_show":
        # Nobody is a no-show until they are late by the venue's grace.
        return status is BookingStatus.CONFIRMED and now >= booking.starts_at + grace
    if name == "complete":
        return status is BookingStatus.ARRIVED
    return False


class TableCommand(NamedTuple):
    """A command palette entry for the selected table."""

    title: str
    help: str
    run: Callable[[], object]


@dataclass
class Intent:
    """One thing staff asked for, with the operation id every try of it carries.

    A retry after a lost connection reuses the id, so the database does the
    change at most once; after a refusal nothing was written, and a new id
    lets a corrected try through.
    """

    op_id: str = field(default_factory=new_op_id)

    def renew(self) -> None:
        self.op_id = new_op_id()


@dataclass
class Write:
    """One change on its way: the call (given the operation id) and what to say once done."""

    what: str  # "confirm ZCEV35": "Could not confirm ZCEV35"
    call: Callable[[str], Awaitable[Any]]
    done: Callable[[Any], str]
    intent: Intent = field(default_factory=Intent)
    # Given one of a refusal's alternatives (and a fresh intent), the same change made there.
    retarget: Callable[[Alternative, Intent], Write] | None = None
    usable: Callable[[Alternative], bool] = field(default=lambda _alternative: True)
    instead: str = "book it there"  # what choosing an alternative does, in the dialog's hint
