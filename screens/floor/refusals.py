"""Why a table action's key cannot act on the selected table, in one line for a toast.

A role that may not, a table taken or held by someone else, a walk-in before
the night opens or after it is over, a check-in on another night, a booking
in a state the action does not apply to: each is said in staff words, with
the key or the time that would make it work.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING

from screens.floor.actions import BY_NAME
from services.models import BookingStatus
from services.wording import table_title
from widgets.display import BOOKING_WORDS, local_time

if TYPE_CHECKING:
    from screens.floor.screen import FloorScreen

ROLE_WORDS = {"door": "Door staff", "support": "Support staff", "manager": "Managers", "admin": "Admins"}
# What each table action does, for "Door staff may not make bookings".
ACTION_WORDS = {
    "new_booking": "make bookings",
    "hold": "hold tables",
    "release": "release holds",
    "confirm": "confirm bookings",
    "check_in": "check guests in",
    "move_booking": "move bookings",
    "edit_booking": "change bookings",
    "cancel_booking": "cancel bookings",
    "no_show": "mark no-shows",
    "complete": "complete bookings",
    "walk_in": "seat walk-ins",
    "undo": "undo changes",
}


def why_not_words(floor: FloorScreen, names: Sequence[str]) -> str | None:
    """Why none of the table actions `names` (one key's) can act now on `floor`'s
    selected table; None while nothing is selected, or nobody is signed in."""
    state, snapshot = floor.selected_state, floor.snapshot
    if state is None or snapshot is None:
        return None  # loading, or nothing to select: the detail says so
    actor = floor.services.actor
    allowed = [name for name in names if floor.may(BY_NAME[name].operation)]
    if not allowed:
        if actor.staff_id is None and floor.services.identity is not None:
            return None  # signed out: the sign-in screen is in front
        role = ROLE_WORDS.get(actor.role or "", "This account")
        return f"{role} may not {ACTION_WORDS[names[0]]}: ask a manager."
    name = allowed[0]
    table = table_title(state.table.number)
    night = snapshot.night
    now = floor.services.clock()
    at = partial(local_time, timezone=snapshot.timezone)
    if name == "walk_in":
        if now < night.starts_at:
            when = "Tonight" if floor.tonight else f"{night.date:%a %d %b}"
            return (
                f"{when} opens at {at(night.starts_at)}: walk-ins are seated from then, on tonight's floor."
            )
        return f"{night.date:%a %d %b} is over: walk-ins are seated on tonight's floor."
    if name == "check_in" and not floor.tonight:
        return f"Check-in is for tonight only: this is {night.date:%a %d %b}. F2 shows tonight's floor."
    if name == "undo":
        return f"{table} has nothing to undo: a count, a no-show or a completion tonight, or a cancellation."
    hold = state.hold
    if name in ("new_booking", "hold", "release"):
        if hold is not None and not floor.held_by_me(state):
            return (
                f"{table} is held by {hold.holder} until "
                f"{at(hold.expires_at, seconds=True)}: it is free to book once "
                "they book it or let go."
            )
        if name == "release":
            return f"You hold no table here: {table} is not held."
        booking = state.booking
        if booking is not None:
            doing = "A new booking" if name == "new_booking" else "A hold"
            if booking.status is BookingStatus.ARRIVED:
                return f"{table} is taken: {booking.guest_name}'s party is in. {doing} needs a free table."
            return (
                f"{table} is booked at {at(booking.starts_at)} "
                f"({booking.guest_name}, {BOOKING_WORDS[booking.status]}): "
                f"{doing.lower()} needs a free table."
            )
        return f"{table} cannot be booked now."
    booking = state.booking
    spec = BY_NAME[name]
    if booking is None:
        return f"{table} has no booking: {spec.title} needs one."
    who = f"{booking.ref} · {booking.guest_name}"
    status = BOOKING_WORDS[booking.status]
    if name == "no_show" and booking.status is BookingStatus.CONFIRMED:
        late = now >= booking.starts_at
        return (
            f"{who} is {'late, ' if late else ''}due at {at(booking.starts_at)}: a "
            f"no-show only from {at(booking.starts_at + snapshot.no_show_grace)}."
        )
    if name == "check_in" and booking.status is BookingStatus.ARRIVED:
        return f"{who} is in already: all {booking.party_size} of the party."
    if name == "complete":
        return f"{who} is {status}: only a party that is in can be completed."
    if name == "confirm":
        return f"{who} is {status}: only a pending booking is confirmed."
    if name == "cancel_booking" and booking.status is BookingStatus.ARRIVED:
        return (
            f"{who} is in: a party that is in is completed "
            f"({floor.key_for(BY_NAME['complete'])}), not cancelled."
        )
    return f"{who} is {status}: {spec.title} does not apply."
