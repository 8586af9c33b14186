"""Time as the venue lives it: a typed local time placed on a night, and lengths kept in
absolute time across a clock change.

An aware datetime plus a timedelta is wall-clock arithmetic in Python, and so is the
difference of two datetimes that share a time zone; across a clock change both are off
by the hour. Everything here converts to UTC first.

The rule for local times:

* A time that does not exist that night (01:30 on the spring night in
  Europe/London, when the clocks go from 01:00 to 02:00) is refused.
* A time that happens twice (01:30 on the autumn night, when the clocks go back
  from 02:00 to 01:00) means the first, earlier one. Typing the zone's name for the
  second one ("01:30 GMT") picks the later one; the first one's name ("01:30 BST")
  picks the earlier, as a plain "01:30" does.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

from services.errors import InvalidInput
from services.wording import time_span

_CLOCK = re.compile(r"^\s*(\d{1,2})(?::?(\d{2}))?(?:\s*([A-Za-z]{2,6}))?\s*$")


class BadClock(InvalidInput):
    """What was typed is not a time of day."""


class NoSuchTime(InvalidInput):
    """The local time does not exist that night: the clocks jump over it."""


class WrongZoneName(InvalidInput):
    """A zone name was typed that the time does not have that night."""


@lru_cache(maxsize=16)
def _zone_named(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def zone(tz: str | tzinfo) -> tzinfo:
    return _zone_named(tz) if isinstance(tz, str) else tz


def read_clock(text: str) -> tuple[time, str | None]:
    """ "23:30", "2330", "1:30", "23", or with a zone name, "01:30 GMT"; the name upper-cased."""
    match = _CLOCK.match(text)
    if match is None:
        raise BadClock("a time like 23:30" if text.strip() else "needed")
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if hour > 23 or minute > 59:
        raise BadClock("a time like 23:30")
    label = match.group(3)
    return time(hour, minute), label.upper() if label else None


def to_utc(moment: datetime) -> datetime:
    """An aware moment in UTC; a local wall time that does not exist is refused."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput("A time needs its time zone.")
    if moment.tzinfo is not UTC:
        naive = moment.replace(tzinfo=None)
        if moment.astimezone(UTC).astimezone(moment.tzinfo).replace(tzinfo=None) != naive:
            raise _no_such_time(naive, moment.tzinfo)
    return moment.astimezone(UTC)


def add_duration(start: datetime, length: timedelta | int) -> datetime:
    """`start` plus `length` (a timedelta, or whole minutes) of real time, in UTC."""
    if isinstance(length, int):
        length = timedelta(minutes=length)
    return to_utc(start) + length


def duration(start: datetime, end: datetime) -> timedelta:
    """The real time from `start` to `end`, whatever clock change lies between."""
    return to_utc(end) - to_utc(start)


def local_to_utc(day: date, clock: str | time, tz: str | tzinfo, *, later: bool = False) -> datetime:
    """The moment a local `clock` time on calendar `day` names, in UTC.

    A time that does not exist that day raises NoSuchTime. A time that happens
    twice is the earlier one, unless `later` is set or the clock text names the
    zone of the later one ("01:30 GMT").
    """
    z = zone(tz)
    label: str | None = None
    if isinstance(clock, str):
        clock, label = read_clock(clock)
    naive = datetime.combine(day, clock.replace(tzinfo=None, fold=0))
    first = naive.replace(tzinfo=z, fold=0)
    second = naive.replace(tzinfo=z, fold=1)
    if first.astimezone(UTC).astimezone(z).replace(tzinfo=None) != naive:
        raise _no_such_time(naive, z)
    choices = sorted({first.astimezone(UTC): first.tzname(), second.astimezone(UTC): second.tzname()}.items())
    if label is not None:
        named = [moment for moment, name in choices if (name or "").upper() == label]
        if not named:
            names = " or ".join(sorted({name or "" for _, name in choices}))
            raise WrongZoneName(f"{clock:%H:%M} is {names} that night, not {label}")
        return named[0]
    return choices[-1][0] if later else choices[0][0]


def clock_in_night(text: str, starts_at: datetime, ends_at: datetime, tz: str | tzinfo) -> datetime:
    """A local time typed as HH:MM (or HHMM, H:MM, HH, and an optional zone name),
    placed on the night it falls in, in UTC.

    A night runs past midnight, so 01:30 is the next calendar day; the time
    must fall from the opening up to (not at) the closing. Raises InvalidInput
    subclasses whose words fit beside a field; OutsideNight when it is not
    within the night's hours.
    """
    z = zone(tz)
    clock, label = read_clock(text)
    opens, closes = to_utc(starts_at), to_utc(ends_at)
    first = opens.astimezone(z).date()
    for day in (first, first + timedelta(days=1)):
        naive = datetime.combine(day, clock)
        try:
            earlier = local_to_utc(day, clock, z)
        except NoSuchTime:
            if _wall(opens, z) <= naive < _wall(closes, z):
                raise
            continue
        if not any(opens <= m < closes for m in (earlier, local_to_utc(day, clock, z, later=True))):
            continue
        moment = local_to_utc(day, text, z) if label is not None else earlier
        if opens <= moment < closes:
            return moment
    raise OutsideNight(f"outside tonight's hours {time_span(starts_at, ends_at, z)}")


class OutsideNight(InvalidInput):
    """The time is not within the night's hours."""


def clock_change(starts_at: datetime, ends_at: datetime, tz: str | tzinfo) -> str:
    """A few words on a clock change within the night, and the rule for it; "" when none."""
    z = zone(tz)
    opens, closes = to_utc(starts_at), to_utc(ends_at)
    offset = opens.astimezone(z).utcoffset()
    if closes.astimezone(z).utcoffset() == offset:
        return ""
    moment = opens
    while moment < closes:
        step = moment + timedelta(minutes=1)
        after = step.astimezone(z).utcoffset()
        if after != offset and offset is not None and after is not None:
            old = (step + offset).replace(tzinfo=None)
            new = step.astimezone(z)
            if after > offset:
                return f"clocks go forward {old:%H:%M}→{new:%H:%M}: no {old:%H}:xx tonight"
            second = new.tzname() or ""
            return (
                f"clocks go back {old:%H:%M}→{new:%H:%M}: {new:%H}:xx is the first one; "
                f"type {new:%H}:30 {second} for the second"
            )
        moment = step
    return ""


def _wall(moment: datetime, z: tzinfo) -> datetime:
    return moment.astimezone(z).replace(tzinfo=None)


def _no_such_time(naive: datetime, z: tzinfo) -> NoSuchTime:
    """Words for a local time the clocks jump over: which hour goes missing."""
    before = naive.replace(tzinfo=z, fold=0).utcoffset() or timedelta(0)
    after = naive.replace(tzinfo=z, fold=1).utcoffset() or timedelta(0)
    # The moment of the change: the first minute from which the later offset holds.
    moment = (naive - before).replace(tzinfo=UTC)
    earliest = (naive - after).replace(tzinfo=UTC)
    while moment > earliest and (moment - timedelta(minutes=1)).astimezone(z).utcoffset() == after:
        moment -= timedelta(minutes=1)
    old = (moment + before).replace(tzinfo=None)
    new = (moment + after).replace(tzinfo=None)
    return NoSuchTime(
        f"{naive:%H:%M} does not exist that night: the clocks go forward from {old:%H:%M} to {new:%H:%M}"
    )


def as_typed(moment: datetime, tz: str | tzinfo) -> str:
    """How staff type `moment`: "01:30", or "01:30 GMT" when it is the second of a repeated time."""
    z = zone(tz)
    local = to_utc(moment).astimezone(z)
    text = f"{local:%H:%M}"
    return f"{text} {local.tzname()}" if local.fold else text


def same_minute(a: datetime, b: datetime) -> bool:
    """Whether two moments fall in the same minute of real time (seconds do not count)."""
    return to_utc(a).replace(second=0, microsecond=0) == to_utc(b).replace(second=0, microsecond=0)
