"""The booking steps the floor and the door share: seating a walk-in, checking a party
in and marking a no-show, each as its question and its `Write`.

The screens differ only in how they name a booking's tables (the floor says
"table 15+16", the door "tables 15+16") and in what runs the write (the door
notes the search text it came from), so those are given: `where` names the
tables, `on_answer` or `start` runs the write.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar, Unpack
from zoneinfo import ZoneInfo

from screens.dialogs.ask import ConfirmDialog, CountDialog, Dialog
from screens.floor.actions import Intent, Write
from screens.live import ScreenOptions
from screens.writes import WritingScreen, WritingServices
from services.bookings import GuestDetails
from services.errors import Alternative
from services.floor import business_date
from services.models import Booking, FloorSnapshot, Night
from services.wording import party_in

if TYPE_CHECKING:
    from screens.forms.walk_in import WalkInRequest
    from services.floor import FloorService

NO_NIGHTS = "No nights in the database: run `backroom db seed`"


def is_tonight(night: Night, timezone: str, now: datetime) -> bool:
    """Whether `night` is the one under way (or still to open) on the business day of `now`:
    until that night's closing hour, the small hours belong to the night before."""
    closes = night.ends_at.astimezone(ZoneInfo(timezone)).hour
    return business_date(now, timezone, closes) == night.date


class BookingServices(WritingServices, Protocol):
    """What a screen that reads a night and changes its bookings needs from the services."""

    @property
    def floor(self) -> FloorService: ...


S = TypeVar("S", bound=BookingServices)


class NightOptions(ScreenOptions, total=False):
    """What a screen of one night is given beside its services: the night, else tonight's."""

    night_id: int | None


class NightScreen(WritingScreen, Generic[S]):
    """A screen of one night's tables and bookings, tonight's unless it is given a night:
    the floor and the door."""

    services: S

    def __init__(self, services: S, *, night_id: int | None = None, **options: Unpack[ScreenOptions]) -> None:
        super().__init__(**options)
        self.services = services
        self.night_id = night_id
        self.snapshot: FloorSnapshot | None = None
        # Reads of the night, for a test or a health view to count.
        self.reads = 0


def walk_in_write(
    services: WritingServices,
    intent: Intent,
    night_id: int,
    table_id: int | None,
    request: WalkInRequest,
    *,
    where: Callable[[Booking], str],
) -> Write:
    """Seat a walk-in now, at `table_id` or (None) the best free table that fits."""
    bookings, actor = services.bookings, services.actor

    async def call(op_id: str) -> Booking:
        return await bookings.seat_walk_in(
            actor,
            night_id=night_id,
            party_size=request.party_size,
            guest=GuestDetails(request.name),
            table_id=table_id,
            op_id=op_id,
        )

    def elsewhere(alternative: Alternative, fresh: Intent) -> Write:
        return walk_in_write(services, fresh, night_id, alternative.table_ids[0], request, where=where)

    def now_and_one_table(alternative: Alternative) -> bool:
        # A walk-in sits down now: other times, or tables pushed together, do not help.
        soon = services.clock() + timedelta(minutes=1)
        return len(alternative.table_ids) == 1 and alternative.starts_at <= soon

    return Write(
        "seat the walk-in",
        call,
        lambda b: f"Seated {b.guest_name} · party of {b.party_size} at {where(b)} · {b.ref}",
        intent,
        retarget=elsewhere,
        usable=now_and_one_table,
        instead="seat them there",
    )


def check_in_dialog(
    booking: Booking, *, where: str | None = None, on_answer: Callable[[int, Dialog[Any]], None]
) -> CountDialog:
    """How many of the party have arrived now (the rest of the party, unless staff say)."""
    rest = booking.party_size - booking.arrived_count
    so_far = (
        f"{booking.arrived_count} of {booking.party_size} are in"
        if booking.arrived_count
        else f"A party of {booking.party_size}"
    )
    if where is not None:
        so_far += f", {where}"
    return CountDialog(
        f"Check in {booking.ref} · {booking.guest_name}",
        f"{so_far}. How many have arrived now?",
        default=rest,
        most=rest,
        verb=f"check in {rest}" if rest == 1 else "check in",
        on_answer=on_answer,
    )


def check_in_write(
    services: WritingServices,
    intent: Intent,
    booking: Booking,
    arrived: int,
    *,
    where: Callable[[Booking], str] | None = None,
) -> Write:
    """Check `arrived` of the party in; the toast names the tables too, given `where`."""
    bookings, actor = services.bookings, services.actor

    async def call(op_id: str) -> Booking:
        return await bookings.check_in(actor, booking.id, booking.version, arrived, op_id=op_id)

    def done(b: Booking) -> str:
        said = f"Checked in {arrived} · {b.ref} · {b.guest_name} ({party_in(b)} in)"
        return f"{said} · {where(b)}" if where is not None else said

    return Write(f"check in {booking.ref}", call, done, intent)


def no_show_dialog(
    services: WritingServices,
    booking: Booking,
    *,
    summary: str,
    where: Callable[[Booking], str],
    start: Callable[[Write, Dialog[Any]], None],
    released: bool = False,
) -> ConfirmDialog:
    """Whether the party did not come; yes marks the booking a no-show, which frees its
    tables (the toast says so with `released`)."""
    bookings, actor = services.bookings, services.actor

    async def call(op_id: str) -> Booking:
        return await bookings.no_show(actor, booking.id, booking.version, op_id=op_id)

    def done(b: Booking) -> str:
        said = f"No-show {b.ref} · {b.guest_name}"
        return f"{said} · {where(b)} is released" if released else said

    write = Write(f"mark {booking.ref} a no-show", call, done)
    return ConfirmDialog(
        f"{booking.ref} · {booking.guest_name}: no-show?",
        f"{summary}.\nThe party did not come: this releases {where(booking)}.",
        yes="mark no-show",
        on_answer=lambda _yes, dialog: start(write, dialog),
    )
