"""What another console changed about what this one is looking at, in staff words.

The floor and the door compare what they showed with what they read after a
change came in over the feed; when the table or booking in front of the
staff member changed, and not by this console's own hand, they say so in a
toast. The words come from here, so both screens say the same thing.
"""

from __future__ import annotations

from collections.abc import Iterable

from services.models import Booking, BookingStatus, TableState
from widgets.display import BOOKING_WORDS, local_time

ELSEWHERE = "Changed on another console"


def news_title(by: str) -> str:
    """The toast's title: who made the change, when the database knows."""
    return f"Changed by {by} on another console" if by else ELSEWHERE


def who_changed(before: TableState, after: TableState) -> str:
    """Who changed a table between `before` and `after`: the holder of a new hold, else the
    staff member who last changed the booking shown (or the one shown before)."""
    if after.hold is not None and (before.hold is None or before.hold.id != after.hold.id):
        return after.hold.holder
    shown = after.booking or next(
        (b for b in after.bookings if before.booking is not None and b.id == before.booking.id), None)
    return shown.changed_by if shown is not None else ""


_STATUS_NEWS = {
    BookingStatus.CONFIRMED: "is confirmed",
    BookingStatus.ARRIVED: "has arrived",
    BookingStatus.COMPLETED: "has left (completed)",
    BookingStatus.CANCELLED: "was cancelled",
    BookingStatus.NO_SHOW: "is marked no-show",
    BookingStatus.EXPIRED: "expired unconfirmed",
    BookingStatus.PENDING: "is pending again",
}


def _who(booking: Booking) -> str:
    return f"{booking.ref} {booking.guest_name}"


def _tables(table_ids: Iterable[int], numbers: dict[int, int]) -> str:
    shown = [str(numbers.get(t, t)) for t in table_ids]
    return ("table " if len(shown) == 1 else "tables ") + "+".join(shown)


def booking_news(before: Booking, after: Booking | None, *, timezone: str,
                 numbers: dict[int, int]) -> str | None:
    """What changed about one booking; None when nothing staff see changed."""
    who = _who(before)
    if after is None:
        return f"{who} is no longer on tonight's list."
    if after.status is not before.status:
        news = f"{who} {_STATUS_NEWS.get(after.status, BOOKING_WORDS[after.status])}"
        if after.status is BookingStatus.ARRIVED:
            news += f" ({after.arrived_count} of {after.party_size} in)"
        return news + "."
    if after.arrived_count != before.arrived_count:
        return f"{who}: {after.arrived_count} of {after.party_size} in."
    changes = []
    if after.party_size != before.party_size:
        changes.append(f"party of {after.party_size}")
    if after.starts_at != before.starts_at:
        changes.append(f"at {local_time(after.starts_at, timezone)}")
    if set(after.table_ids) != set(before.table_ids):
        changes.append(f"now at {_tables(after.table_ids, numbers)}")
    if after.guest_name != before.guest_name:
        changes.append(f"guest now {after.guest_name}")
    if after.notes != before.notes:
        changes.append("new notes")
    if after.deposit != before.deposit:
        changes.append(f"deposit {after.deposit}")
    return f"{who} changed: {', '.join(changes)}." if changes else None


def table_news(before: TableState, after: TableState, *, timezone: str, me: int | None,
               numbers: dict[int, int]) -> str | None:
    """What changed on one table: its hold, or the booking it shows."""
    table = f"Table {after.table.number}"
    h0, h1 = before.hold, after.hold
    if h1 is not None and (h0 is None or h0.id != h1.id):
        return None if me is not None and h1.staff_id == me else f"{table} is held by {h1.holder}."
    b0, b1 = before.booking, after.booking
    if b0 is not None and b1 is not None and b0.id == b1.id:
        return booking_news(b0, b1, timezone=timezone, numbers=numbers)
    if b0 is not None:
        # The booking shown before has gone from this table: say what became of it.
        moved = next((b for b in after.bookings if b.id == b0.id), None)
        if moved is None:
            for_now = f"{_who(b0)} has left {table.lower()}."
        elif moved.status is not b0.status:
            for_now = booking_news(b0, moved, timezone=timezone, numbers=numbers) or ""
        else:
            for_now = f"{_who(b0)} is no longer at {table.lower()}."
        if b1 is not None:
            return f"{for_now} {table} now shows {_who(b1)} ({BOOKING_WORDS[b1.status]})."
        return for_now
    if b1 is not None:
        return (f"{table} is booked: {_who(b1)}, party of {b1.party_size} at "
                f"{local_time(b1.starts_at, timezone)} ({BOOKING_WORDS[b1.status]}).")
    if h0 is not None and h1 is None and (me is None or h0.staff_id != me):
        return f"{h0.holder}'s hold on {table.lower()} has ended."
    return None
