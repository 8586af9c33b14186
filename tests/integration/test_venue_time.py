"""Time as the venue lives it, on real Postgres: the nights the clocks change in
Europe/London, bookings that span the change keeping their real length when they
are created, amended and moved, a typed time that does not exist refused, a time
that happens twice resolved by the stated rule; and a move to another table and
another time at once."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import asyncpg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from console.wiring import Services
from services.bookings import BookingService, GuestDetails
from services.errors import InvalidInput, TableTaken
from services.models import Night
from services.store import seed
from services.store.db import Actor
from services.venue_time import (
    NoSuchTime,
    add_duration,
    as_typed,
    clock_change,
    clock_in_night,
    duration,
    local_to_utc,
)
from tests.sessions import new_staff
from widgets.entry import clock_in_night as typed_in_form

LONDON = ZoneInfo("Europe/London")
SPRING = date(2027, 3, 27)  # the night into Sunday 28 March 2027: 01:00 GMT becomes 02:00 BST
AUTUMN = date(2027, 10, 30)  # the night into Sunday 31 October 2027: 02:00 BST becomes 01:00 GMT
TABLE = 11  # downstairs, 2 to 6
OTHER = 12  # downstairs, 4 to 10
TWO_HOURS = timedelta(hours=2)


@pytest.fixture
async def maya(admin: asyncpg.Connection) -> Actor:
    return await new_staff(admin, "maya@backroom.test", "Maya", "manager")


async def open_night(admin: asyncpg.Connection, day: date) -> Night:
    await seed.open_nights(admin, day, 1)
    row = await admin.fetchrow(
        "select id, starts_at, ends_at, status from backroom.night where date = $1", day
    )
    assert row is not None
    return Night(
        id=row["id"], date=day, starts_at=row["starts_at"], ends_at=row["ends_at"], status=row["status"]
    )


@pytest.fixture
async def spring(admin: asyncpg.Connection) -> Night:
    return await open_night(admin, SPRING)


@pytest.fixture
async def autumn(admin: asyncpg.Connection) -> Night:
    return await open_night(admin, AUTUMN)


def typed(text: str, night: Night) -> datetime:
    return clock_in_night(text, night.starts_at, night.ends_at, "Europe/London")


def local(moment: datetime) -> str:
    return as_typed(moment, LONDON)


async def book(
    bookings: BookingService,
    maya: Actor,
    night: Night,
    start: str,
    *,
    table: int = TABLE,
    length: timedelta = TWO_HOURS,
    name: str = "Rita Hale",
) -> int:
    starts_at = typed(start, night)
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[table],
        party_size=4,
        starts_at=starts_at,
        ends_at=add_duration(starts_at, length),
        guest=GuestDetails(name),
    )
    return b.id


# -------------------------------------------------------------- the nights themselves


async def test_the_nights_hours_stay_right_on_both_changes(spring: Night, autumn: Night) -> None:
    assert (local(spring.starts_at), local(spring.ends_at)) == ("22:00", "03:00")
    assert duration(spring.starts_at, spring.ends_at) == timedelta(hours=4)
    assert (local(autumn.starts_at), local(autumn.ends_at)) == ("22:00", "03:00")
    assert duration(autumn.starts_at, autumn.ends_at) == timedelta(hours=6)
    assert clock_change(spring.starts_at, spring.ends_at, LONDON) == (
        "clocks go forward 01:00→02:00: no 01:xx tonight"
    )
    assert "type 01:30 GMT for the second" in clock_change(autumn.starts_at, autumn.ends_at, LONDON)


# -------------------------------------------------------------- typed times


async def test_a_time_the_clocks_skip_is_refused_in_staff_words(spring: Night) -> None:
    for text in ("01:30", "1:00", "0159"):
        with pytest.raises(
            NoSuchTime, match="does not exist that night: the clocks go forward from 01:00 to 02:00"
        ):
            typed(text, spring)
        with pytest.raises(ValueError, match="does not exist that night"):
            typed_in_form(text, spring.starts_at, spring.ends_at, "Europe/London")
    # Either side of the jump is one minute apart in real time.
    assert typed("02:00", spring) - typed("00:59", spring) == timedelta(minutes=1)
    assert typed("02:30", spring) == datetime(2027, 3, 28, 1, 30, tzinfo=UTC)


async def test_a_time_that_happens_twice_is_the_first_unless_named(autumn: Night) -> None:
    assert typed("01:30", autumn) == datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 01:30 BST
    assert typed("01:30 BST", autumn) == typed("01:30", autumn)
    assert typed("01:30 GMT", autumn) == datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert typed("1:30 gmt", autumn) == typed("01:30 GMT", autumn)
    assert typed("01:30 GMT", autumn) - typed("01:30", autumn) == timedelta(hours=1)
    # How a form shows each again reads back as the same moment.
    assert (local(typed("01:30", autumn)), local(typed("01:30 GMT", autumn))) == ("01:30", "01:30 GMT")
    for text in ("01:30", "01:30 GMT", "00:30", "02:30"):
        assert typed(local(typed(text, autumn)), autumn) == typed(text, autumn)
    with pytest.raises(InvalidInput, match="23:00 is BST that night, not GMT"):
        typed("23:00 GMT", autumn)
    with pytest.raises(InvalidInput, match="outside tonight's hours 22:00-03:00"):
        typed("03:00", autumn)


# -------------------------------------------------------------- lengths across the change


async def test_a_booking_created_across_the_change_lasts_its_real_length(
    bookings: BookingService, maya: Actor, spring: Night, autumn: Night
) -> None:
    b = await bookings.get(await book(bookings, maya, autumn, "00:30"))
    assert duration(b.starts_at, b.ends_at) == TWO_HOURS
    assert (local(b.starts_at), local(b.ends_at)) == ("00:30", "01:30 GMT")
    b = await bookings.get(await book(bookings, maya, spring, "23:30"))
    assert duration(b.starts_at, b.ends_at) == TWO_HOURS
    assert (local(b.starts_at), local(b.ends_at)) == ("23:30", "02:30")
    # A caller's own local times are read as the moments they name.
    b = await bookings.create(
        maya,
        night_id=autumn.id,
        table_ids=[OTHER],
        party_size=4,
        starts_at=datetime(2027, 10, 31, 0, 30, tzinfo=LONDON),
        ends_at=datetime(2027, 10, 31, 1, 30, fold=1, tzinfo=LONDON),
        guest=GuestDetails("Ola Berg"),
    )
    assert duration(b.starts_at, b.ends_at) == TWO_HOURS


@pytest.mark.parametrize(
    ("night_name", "new_start", "shown_end"),
    [
        ("autumn", "00:30", "01:30 GMT"),  # wall-clock arithmetic made this 3 h
        ("autumn", "01:30", "02:30"),  # from the first 01:30 BST, across the change
        ("spring", "23:30", "02:30"),  # wall-clock arithmetic made this 1 h
    ],
)
async def test_moving_and_amending_keep_the_length(
    bookings: BookingService,
    maya: Actor,
    spring: Night,
    autumn: Night,
    night_name: str,
    new_start: str,
    shown_end: str,
) -> None:
    night = autumn if night_name == "autumn" else spring
    moved = await bookings.get(await book(bookings, maya, night, "22:00"))
    moved = await bookings.move(maya, moved.id, moved.version, starts_at=typed(new_start, night))
    assert duration(moved.starts_at, moved.ends_at) == TWO_HOURS
    assert local(moved.ends_at) == shown_end

    amended = await bookings.get(await book(bookings, maya, night, "22:00", table=OTHER))
    # The aware local time the forms used to hand over gives the same answer.
    start = typed(new_start, night).astimezone(LONDON)
    amended = await bookings.amend(maya, amended.id, amended.version, starts_at=start)
    assert duration(amended.starts_at, amended.ends_at) == TWO_HOURS
    assert local(amended.ends_at) == shown_end


async def test_a_skipped_time_handed_to_the_service_is_refused_and_nothing_changes(
    bookings: BookingService, maya: Actor, spring: Night
) -> None:
    b = await bookings.get(await book(bookings, maya, spring, "22:00"))
    missing = datetime(2027, 3, 28, 1, 30, tzinfo=LONDON)
    with pytest.raises(InvalidInput, match="01:30 does not exist that night"):
        await bookings.move(maya, b.id, b.version, starts_at=missing)
    with pytest.raises(InvalidInput, match="01:30 does not exist that night"):
        await bookings.amend(maya, b.id, b.version, starts_at=missing)
    with pytest.raises(InvalidInput, match="01:30 does not exist that night"):
        await bookings.create(
            maya,
            night_id=spring.id,
            table_ids=[OTHER],
            party_size=4,
            starts_at=missing,
            guest=GuestDetails("Ola Berg"),
        )
    assert await bookings.get(b.id) == b


async def test_the_two_one_thirties_are_different_times_on_one_table(
    bookings: BookingService, maya: Actor, autumn: Night
) -> None:
    half = timedelta(minutes=30)
    first = await bookings.get(await book(bookings, maya, autumn, "01:30", length=half))
    second = await bookings.get(await book(bookings, maya, autumn, "01:30 GMT", length=half, name="Ola Berg"))
    assert second.starts_at - first.starts_at == timedelta(hours=1)
    with pytest.raises(TableTaken):
        await book(bookings, maya, autumn, "01:45 GMT", length=half, name="Late Comer")


@settings(max_examples=200, deadline=None)
@given(
    day=st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)),
    hour=st.integers(0, 23),
    minute=st.integers(0, 59),
    later=st.booleans(),
)
def test_every_local_time_round_trips_and_skipped_ones_are_refused(
    day: date, hour: int, minute: int, later: bool
) -> None:
    clock = time(hour, minute)
    naive = datetime.combine(day, clock)
    exists = naive.replace(tzinfo=LONDON).astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) == naive
    if not exists:
        with pytest.raises(NoSuchTime):
            local_to_utc(day, clock, LONDON, later=later)
        return
    moment = local_to_utc(day, clock, LONDON, later=later)
    assert moment.tzinfo is UTC
    assert moment.astimezone(LONDON).replace(tzinfo=None) == naive
    assert local_to_utc(day, f"{hour:02d}:{minute:02d}", LONDON, later=later) == moment
    # What a form shows reads back as the same moment, whichever of two it is.
    assert local_to_utc(day, as_typed(moment, LONDON), LONDON) == moment
    assert duration(moment, add_duration(moment, 90)) == timedelta(minutes=90)


# -------------------------------------------------------------- table and time at once


async def test_a_move_of_table_and_time_at_once_succeeds_when_the_end_state_is_free(
    bookings: BookingService, maya: Actor, services: Services
) -> None:
    night = await services.floor.tonight()
    assert night is not None
    rita = await bookings.get(await book(bookings, maya, night, "23:00", length=timedelta(hours=1)))
    # Someone has the old table later on; the new table is free then.
    await book(bookings, maya, night, "01:00", name="Ola Berg")
    moved = await bookings.move(
        maya, rita.id, rita.version, table_ids=[OTHER], starts_at=typed("01:00", night)
    )
    assert moved.table_ids == (OTHER,)
    assert (local(moved.starts_at), local(moved.ends_at)) == ("01:00", "02:00")


async def test_a_refused_move_names_the_table_really_taken(
    bookings: BookingService, maya: Actor, services: Services, admin: asyncpg.Connection
) -> None:
    night = await services.floor.tonight()
    assert night is not None
    rita = await bookings.get(await book(bookings, maya, night, "23:00", length=timedelta(hours=1)))
    await book(bookings, maya, night, "01:00", name="Ola Berg")  # the old table, later
    taken = await bookings.get(await book(bookings, maya, night, "01:00", table=OTHER, name="Kai Moss"))
    with pytest.raises(TableTaken) as refused:
        await bookings.move(maya, rita.id, rita.version, table_ids=[OTHER], starts_at=typed("01:00", night))
    assert refused.value.table_id == OTHER
    assert f"Table {OTHER} is already booked then ({taken.ref}, Kai Moss)." in str(refused.value)
    assert await bookings.get(rita.id) == rita
    # Keeping the old table as well: the message names the old one, where the clash is.
    await bookings.cancel(maya, taken.id, taken.version, "Called off")
    with pytest.raises(TableTaken, match=f"Table {TABLE} is already booked then"):
        await bookings.move(
            maya, rita.id, rita.version, table_ids=[TABLE, OTHER], starts_at=typed("01:00", night)
        )
