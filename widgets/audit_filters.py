"""The audit browser's filters: booking (reference or id), staff member, and a
time range typed in the venue's time.

`read_filter` turns what was typed into an `AuditFilter`, or says in a few
words what is wrong with a field; no Textual there, so it is easy to test.
`AuditFilters` is the row of inputs; it posts `AuditFilters.Changed` a moment
after typing stops, and `AuditFilters.Submitted` on Enter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from textual.app import ComposeResult
from textual.containers import Grid
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Static

from services.errors import BackroomError
from services.wording import local_moment

_MOMENT = re.compile(r"^\s*(?:(\d{4})-(\d{1,2})-(\d{1,2}))?\s*(?:(\d{1,2}):(\d{2}))?\s*$")
MOMENT_HINT = "a time like 23:00, 2026-11-20 or 2026-11-20 23:00"


@dataclass(frozen=True, slots=True)
class AuditFilter:
    booking: str | None = None
    staff: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def empty(self) -> bool:
        return self == AuditFilter()

    def describe(self, timezone: str) -> str:
        """'booking R00012 · staff dana · from Fri 20 Nov 22:00', or 'everything'."""
        parts = []
        if self.booking:
            parts.append(f"booking {self.booking}")
        if self.staff:
            parts.append(f"staff {self.staff}")
        if self.since:
            parts.append(f"from {local_moment(self.since, timezone, '%a %d %b %H:%M')}")
        if self.until:
            parts.append(f"until {local_moment(self.until, timezone, '%a %d %b %H:%M')}")
        return " · ".join(parts) or "everything"


class FilterError(BackroomError, ValueError):
    """A field that cannot be read; `field` names it ("since", "until")."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def read_moment(
    text: str, timezone: str, now: datetime, *, end: bool = False, after: datetime | None = None
) -> datetime | None:
    """A moment typed in the venue's time; empty means none.

    A date alone is the start of that day, or its end for the `end` of a range
    (so "until 2026-11-20" includes that day). A time alone is the latest such
    moment up to now; for the end of a range that starts at `after`, the first
    such moment after it (so "22:00 to 02:00" spans midnight).
    """
    if not text.strip():
        return None
    match = _MOMENT.match(text)
    if match is None or not any(match.groups()):
        raise ValueError(MOMENT_HINT)
    year, month, day, hour, minute = match.groups()
    zone = ZoneInfo(timezone)
    try:
        clock = time(int(hour), int(minute)) if hour is not None else None
        if year is not None:
            day_ = date(int(year), int(month), int(day))
            if clock is None:
                moment = datetime.combine(day_, time(0), tzinfo=zone)
                return moment + timedelta(days=1) if end else moment
            return datetime.combine(day_, clock, tzinfo=zone)
    except ValueError:
        raise ValueError(MOMENT_HINT) from None
    assert clock is not None
    local_now = now.astimezone(zone)
    if end and after is not None:
        start = after.astimezone(zone)
        moment = datetime.combine(start.date(), clock, tzinfo=zone)
        return moment if moment > start else moment + timedelta(days=1)
    moment = datetime.combine(local_now.date(), clock, tzinfo=zone)
    return moment if moment <= local_now else moment - timedelta(days=1)


def read_filter(
    booking: str, staff: str, since: str, until: str, *, timezone: str, now: datetime
) -> AuditFilter:
    """What the four inputs ask for; raises `FilterError` naming the field that is wrong."""
    try:
        start = read_moment(since, timezone, now)
    except ValueError as err:
        raise FilterError("since", f"From: {err}") from None
    try:
        finish = read_moment(until, timezone, now, end=True, after=start)
    except ValueError as err:
        raise FilterError("until", f"To: {err}") from None
    if start is not None and finish is not None and finish <= start:
        raise FilterError("until", "To: must come after From")
    return AuditFilter(
        booking=booking.strip() or None, staff=staff.strip() or None, since=start, until=finish
    )


FIELDS: tuple[tuple[str, str, str], ...] = (
    ("booking", "Booking", "ref or id"),
    ("staff", "Staff", "name, email or id"),
    ("since", "From", "23:00 or 2026-11-20 22:00"),
    ("until", "To", "time or date"),
)


class AuditFilters(Grid):
    """Four labelled inputs in two rows: booking and staff, then from and to."""

    DEFAULT_CSS = """
    AuditFilters {
        grid-size: 4 2;
        grid-columns: 9 1fr 7 1fr;
        grid-gutter: 0 1;
        height: 2;
        padding: 0 1;
        & > .audit-filters--label { color: $text-muted; text-align: right; }
        & > Input {
            background: $foreground 10%;
            &:focus { background: $primary 25%; }
            &.-invalid { background: $error 25%; }
        }
    }
    """

    # Typing pauses this long before the list follows.
    SETTLE_SECONDS = 0.4

    @dataclass
    class Changed(Message):
        """The typing settled: read the filters again."""

        filters: AuditFilters

    @dataclass
    class Submitted(Message):
        """Enter in one of the inputs: apply now and go to the list."""

        filters: AuditFilters

    def __init__(self, *, name: str | None = None, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(name=name, id=id, classes=classes)
        self._settle: Timer | None = None

    def compose(self) -> ComposeResult:
        for key, label, placeholder in FIELDS:
            yield Static(label, classes="audit-filters--label")
            yield Input(placeholder=placeholder, compact=True, id=f"filter-{key}", select_on_focus=False)

    def input(self, key: str) -> Input:
        return self.query_one(f"#filter-{key}", Input)

    def values(self) -> dict[str, str]:
        return {key: self.input(key).value for key, _, _ in FIELDS}

    def read(self, *, timezone: str, now: datetime) -> AuditFilter:
        """The filter the inputs ask for; marks the input that is wrong."""
        for key, _, _ in FIELDS:
            self.input(key).remove_class("-invalid")
        values = self.values()
        try:
            return read_filter(
                values["booking"],
                values["staff"],
                values["since"],
                values["until"],
                timezone=timezone,
                now=now,
            )
        except FilterError as err:
            self.input(err.field).add_class("-invalid")
            raise

    def clear(self) -> None:
        with self.prevent(Input.Changed):
            for key, _, _ in FIELDS:
                self.input(key).value = ""
                self.input(key).remove_class("-invalid")

    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._settle is not None:
            self._settle.stop()
        self._settle = self.set_timer(self.SETTLE_SECONDS, self._settled)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._settle is not None:
            self._settle.stop()
            self._settle = None
        self.post_message(self.Submitted(self))

    def _settled(self) -> None:
        self._settle = None
        self.post_message(self.Changed(self))
