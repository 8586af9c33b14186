"""What another console changed about what this one is looking at, in staff words.

The floor and the door compare what they showed with what they read after a
change came in over the feed; when the table or booking in front of the
staff member changed, and not by this console's own hand, they say so in a
toast. The words come from here, so both screens say the same thing.

Each sentence says who made the change (the staff member the database names,
else "Another console"), what became of which guest, and where: "Dana Moss
moved Kemi Adeyemi from table 10 to table 12." It is one sentence, so its
toast takes a line or two.
"""

from __future__ import annotations

from services.models import Booking, BookingStatus, FloorSnapshot, TableState
from services.wording import BOOKING_WORDS, arrived_of, local_time, tables_phrase

SOMEONE = "Another console"
"""Who, when the database does not name a staff member."""


def find_booking(snapshot: FloorSnapshot, booking_id: int) -> Booking | None:
    """The booking as the snapshot has it, on whichever table it is now."""
    return next((b for state in snapshot.tables.values() for b in state.bookings if b.id == booking_id), None)


def _at(booking: Booking, numbers: dict[int, int]) -> str:
    where = tables_phrase(booking.table_ids, numbers)
    return f" at {where}" if where else ""


def _who(by: str) -> str:
    return by.strip() or SOMEONE


_CLOSED = (BookingStatus.CANCELLED, BookingStatus.NO_SHOW, BookingStatus.COMPLETED, BookingStatus.EXPIRED)


def _status_news(before: Booking, after: Booking, who: str, at: str) -> str:
    guest = after.guest_name
    status = after.status
    if status is BookingStatus.ARRIVED:
        return f"{who} checked in {guest}{at}: {arrived_of(after)}."
    if status is BookingStatus.CANCELLED:
        return f"{who} cancelled {guest}'s booking{at}."
    if status is BookingStatus.NO_SHOW:
        return f"{who} marked {guest} no-show{at}."
    if status is BookingStatus.COMPLETED:
        return f"{who} marked {guest} as left{at} (completed)."
    if status is BookingStatus.EXPIRED:
        return f"{guest}'s unconfirmed booking{at} expired."
    if before.status in _CLOSED:
        return f"{who} reopened {guest}'s booking{at} ({BOOKING_WORDS[status]})."
    if status is BookingStatus.CONFIRMED:
        return f"{who} confirmed {guest}'s booking{at}."
    if before.status is BookingStatus.ARRIVED:
        return f"{who} undid {guest}'s check-in{at}: {after.arrived_count} in."
    return f"{who} set {guest}'s booking{at} back to pending."


def booking_news(
    before: Booking, after: Booking | None, *, timezone: str, numbers: dict[int, int]
) -> str | None:
    """What changed about one booking, who changed it and where; None when nothing
    staff see changed."""
    if after is None:
        return f"{before.guest_name} is no longer on tonight's list."
    who, at = _who(after.changed_by), _at(after, numbers)
    if after.status is not before.status:
        return _status_news(before, after, who, at)
    if after.arrived_count != before.arrived_count:
        counted = arrived_of(after)
        if after.arrived_count > before.arrived_count:
            return f"{who} checked in {after.guest_name}{at}: {counted}."
        return f"{who} corrected {after.guest_name}'s arrivals{at}: {counted}."
    changes = []
    if after.party_size != before.party_size:
        changes.append(f"party of {after.party_size}")
    if after.starts_at != before.starts_at:
        changes.append(f"at {local_time(after.starts_at, timezone)}")
    if after.guest_name != before.guest_name:
        changes.append(f"guest now {after.guest_name}")
    if after.notes != before.notes:
        changes.append("new notes")
    if after.deposit != before.deposit:
        changes.append(f"deposit {after.deposit}")
    if set(after.table_ids) != set(before.table_ids):
        moved = (
            f"{who} moved {before.guest_name} from {tables_phrase(before.table_ids, numbers)} "
            f"to {tables_phrase(after.table_ids, numbers)}"
            if before.table_ids and after.table_ids
            else f"{who} moved {before.guest_name} to {tables_phrase(after.table_ids, numbers)}"
            if after.table_ids
            else f"{who} took {before.guest_name} off {tables_phrase(before.table_ids, numbers)}"
        )
        return moved + (f"; {', '.join(changes)}." if changes else ".")
    if not changes:
        return None
    return f"{who} changed {before.guest_name}'s booking{at}: {', '.join(changes)}."


def table_news(
    before: TableState,
    after: TableState,
    *,
    timezone: str,
    me: int | None,
    numbers: dict[int, int],
    snapshot: FloorSnapshot | None = None,
) -> str | None:
    """What changed on one table: its hold, or the booking it shows. `snapshot` (what the
    table is part of) says where a booking that left the table went."""
    table = f"table {after.table.number}"
    h0, h1 = before.hold, after.hold
    if h1 is not None and (h0 is None or h0.id != h1.id):
        return None if me is not None and h1.staff_id == me else f"{_who(h1.holder)} is holding {table}."
    b0, b1 = before.booking, after.booking
    if b0 is not None and b1 is not None and b0.id == b1.id:
        return booking_news(b0, b1, timezone=timezone, numbers=numbers)
    if b0 is not None:
        # The booking shown before has gone from this table: say what became of it.
        now = next((b for b in after.bookings if b.id == b0.id), None)
        if now is None and snapshot is not None:
            now = find_booking(snapshot, b0.id)
        if now is None:
            for_now = f"{b0.guest_name} has left {table}."
        else:
            for_now = booking_news(b0, now, timezone=timezone, numbers=numbers) or (
                f"{b0.guest_name} is no longer at {table}."
            )
        if b1 is not None:
            return f"{for_now} It now shows {b1.guest_name} ({BOOKING_WORDS[b1.status]})."
        return for_now
    if b1 is not None:
        who = _who(b1.changed_by)
        if b1.status is BookingStatus.ARRIVED:
            return f"{who} seated {b1.guest_name} at {table}: {arrived_of(b1)}."
        return (
            f"{who} booked {table} for {b1.guest_name}, party of {b1.party_size} at "
            f"{local_time(b1.starts_at, timezone)}."
        )
    if h0 is not None and h1 is None and (me is None or h0.staff_id != me):
        return f"{_who(h0.holder)}'s hold on {table} has ended."
    return None
