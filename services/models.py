"""What the console knows about the venue and a night, as plain immutable values.

Screens and widgets receive these; they never see a database row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    NO_SHOW = "no_show"
    EXPIRED = "expired"

    @property
    def active(self) -> bool:
        return self in ACTIVE_STATUSES


ACTIVE_STATUSES = frozenset({BookingStatus.PENDING, BookingStatus.CONFIRMED, BookingStatus.ARRIVED})


class TileStatus(StrEnum):
    """What a table tile shows at a glance."""

    FREE = "free"
    HELD = "held"
    PENDING = "pending"
    CONFIRMED = "confirmed"
    ARRIVED = "arrived"


@dataclass(frozen=True, slots=True)
class Floor:
    id: int
    code: str
    name: str
    position: int


@dataclass(frozen=True, slots=True)
class Table:
    id: int
    number: int
    name: str
    floor_id: int
    min_party: int
    max_party: int
    vip: bool
    min_spend: Decimal
    grid_row: int
    grid_col: int


@dataclass(frozen=True, slots=True)
class Night:
    id: int
    date: date
    starts_at: datetime
    ends_at: datetime
    status: str


@dataclass(frozen=True, slots=True)
class Booking:
    id: int
    ref: str
    status: BookingStatus
    guest_name: str
    guest_vip: bool
    party_size: int
    arrived_count: int
    starts_at: datetime
    ends_at: datetime
    version: int
    table_ids: tuple[int, ...]
    deposit: Decimal = Decimal(0)
    notes: str = ""
    changed_by: str = ""  # who made the last change (staff display name), if anyone did
    arrived_at: datetime | None = None  # when the party's first guests were checked in
    deposit_paid: bool = False
    deposit_outcome: str | None = None  # a cancelled booking's deposit: "kept" or "refunded"
    undo_reason: str | None = None  # why the last change was undone, if one was

    @property
    def paid_deposit(self) -> bool:
        """Whether the guest has paid a deposit on this booking (cancelling asks what becomes
        of it)."""
        return self.deposit > 0 and self.deposit_paid

    @property
    def occupied_from(self) -> datetime:
        """When the booking starts to hold its tables: its start, or its party's arrival
        if that came first."""
        if self.arrived_at is not None and self.arrived_at < self.starts_at:
            return self.arrived_at
        return self.starts_at


@dataclass(frozen=True, slots=True)
class Hold:
    id: int
    table_id: int
    holder: str
    expires_at: datetime
    staff_id: int | None = None


@dataclass(frozen=True, slots=True)
class TableState:
    """One table on one night: its layout, the booking it shows, any hold.

    `seated` are the parties in there now, first in first, whatever their booked
    times: a party that came early or stays late still occupies the table."""

    table: Table
    status: TileStatus
    booking: Booking | None
    hold: Hold | None
    bookings: tuple[Booking, ...] = ()
    seated: tuple[Booking, ...] = ()

    @property
    def occupied(self) -> bool:
        return bool(self.seated)

    def free_for_walk_in(self, now: datetime, until: datetime) -> bool:
        """Nobody in, no hold, and no active booking between `now` and `until`."""
        if self.seated or self.hold is not None:
            return False
        return not any(b.status.active and b.occupied_from < until and b.ends_at > now for b in self.bookings)


@dataclass(frozen=True, slots=True)
class FloorSnapshot:
    """The whole venue for one night, as read in one transaction."""

    venue_name: str
    timezone: str
    night: Night
    floors: tuple[Floor, ...]
    tables: dict[int, TableState] = field(default_factory=dict)
    loaded_at: datetime | None = None
    no_show_grace: timedelta = timedelta(minutes=15)
    """How late a party is before it may be marked a no-show (the venue's setting)."""

    @property
    def table_numbers(self) -> dict[int, int]:
        """Table id -> the number staff know the table by."""
        return {table_id: state.table.number for table_id, state in self.tables.items()}

    def free_now(self, now: datetime, until: datetime) -> list[TableState]:
        """Tables a walk-in could sit at from `now` to `until`, by number."""
        return sorted(
            (t for t in self.tables.values() if t.free_for_walk_in(now, until)), key=lambda t: t.table.number
        )

    def tables_on(self, floor_id: int) -> list[TableState]:
        return sorted(
            (t for t in self.tables.values() if t.table.floor_id == floor_id),
            key=lambda t: (t.table.grid_row, t.table.grid_col, t.table.number),
        )
