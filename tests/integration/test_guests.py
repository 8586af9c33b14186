"""Looking guests up by name or phone on real Postgres: what matches, in which
order, what is counted, and a booking that reuses a guest on file."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import GuestDetails
from services.errors import NotFound
from services.guests import GuestService, email_problem, phone_problem, searchable
from tests.conftest import SAMPLE_NIGHT, fixed_clock

FREE = 11  # downstairs, 2 to 6, free on the sample night


@pytest.fixture
def guests(services: Services) -> GuestService:
    return GuestService(services.db, fixed_clock)


async def new_guest(
    admin: asyncpg.Connection, name: str, phone: str | None = None, *, vip: bool = False
) -> int:
    found: int = await admin.fetchval(
        "insert into backroom.guest (name, phone, vip) values ($1, $2, $3) returning id", name, phone, vip
    )
    return found


async def past_booking(admin: asyncpg.Connection, guest_id: int, days_ago: int, status: str) -> None:
    """A booking of `guest_id` on a night `days_ago` before the sample night, ended as `status`."""
    day = SAMPLE_NIGHT - timedelta(days=days_ago)
    night = await admin.fetchrow(
        "insert into backroom.night (venue_id, date, starts_at, ends_at)"
        " values (1, $1, ($1::date + time '22:00') at time zone 'Europe/London',"
        " ($1::date + 1 + time '03:00') at time zone 'Europe/London')"
        " on conflict (venue_id, date) do update set status = excluded.status"
        " returning id, starts_at, ends_at",
        day,
    )
    assert night is not None
    first = "arrived" if status == "completed" else "pending"
    async with admin.transaction():
        booking = await admin.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
            " values ($1, $2, 4, $3, $4, $5) returning id",
            night["id"],
            guest_id,
            first,
            night["starts_at"],
            night["ends_at"],
        )
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            booking,
            FREE,
            night["starts_at"],
            night["ends_at"],
        )
    path = {"completed": ["completed"], "no_show": ["confirmed", "no_show"], "cancelled": ["cancelled"]}[
        status
    ]
    for step in path:
        await admin.execute(
            "update backroom.booking set status = $2, cancel_reason = $3 where id = $1",
            booking,
            step,
            "Plans changed" if step == "cancelled" else None,
        )


async def test_names_rank_whole_then_start_then_a_later_word(
    guests: GuestService, admin: asyncpg.Connection
) -> None:
    # On file from the sample: Kemi Adeyemi, VIP, +44 7700 900111, nothing in the past.
    regular = await new_guest(admin, "Kemal Ozturk", "+44 7700 900555")
    for days in (7, 14, 21):
        await past_booking(admin, regular, days, "completed")
    again = await new_guest(admin, "Kemi Adeyemi")  # the same name, a second record
    kemp = await new_guest(admin, "Ann Kemp")

    found = await guests.search("kem")
    names = [(g.name, g.past_bookings, g.vip) for g in found]
    # Names that start with it come first, the regular before the others, a VIP before a
    # plain record; a later word starting with it comes after.
    assert names == [
        ("Kemal Ozturk", 3, False),
        ("Kemi Adeyemi", 0, True),
        ("Kemi Adeyemi", 0, False),
        ("Ann Kemp", 0, False),
    ], names
    assert found[2].id == again and found[3].id == kemp

    exact = await guests.search("  KEMI   adeyemi ")
    assert [g.name for g in exact] == ["Kemi Adeyemi", "Kemi Adeyemi"] and exact[0].vip

    assert [g.id for g in await guests.search("kem", limit=2)] == [found[0].id, found[1].id]


async def test_phone_numbers_match_from_their_first_digits(
    guests: GuestService, admin: asyncpg.Connection
) -> None:
    kemi = await guests.search("+44 7700 900111")
    assert [g.name for g in kemi] == ["Kemi Adeyemi"] and kemi[0].phone == "+44 7700 900111"
    # The national way of typing it finds the international record.
    assert [g.name for g in await guests.search("07700 900111")] == ["Kemi Adeyemi"]
    # A prefix finds several, the exact number first when there is one.
    local = await new_guest(admin, "Local Number", "07700 900111")
    both = await guests.search("07700900111")
    assert both[0].id == local and {g.name for g in both} == {"Local Number", "Kemi Adeyemi"}
    assert len(await guests.search("+44 7700 9001", limit=5)) == 5
    # Digits in the middle of a number are not its start.
    assert await guests.search("900111") == []


async def test_past_bookings_and_no_shows_are_counted_from_nights_that_are_over(
    guests: GuestService, admin: asyncpg.Connection, services: Services
) -> None:
    guest = await new_guest(admin, "Priya Raman", "+44 7700 900777", vip=True)
    await past_booking(admin, guest, 7, "completed")
    await past_booking(admin, guest, 14, "no_show")
    await past_booking(admin, guest, 21, "cancelled")
    night = await services.floor.tonight()
    assert night is not None
    tonight = await services.bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[FREE],
        party_size=3,
        starts_at=night.starts_at,
        guest=GuestDetails("Priya Raman", guest_id=guest),
    )

    [priya] = await guests.search("priya")
    assert (priya.past_bookings, priya.no_shows, priya.vip) == (2, 1, True)
    assert priya.last_night == SAMPLE_NIGHT - timedelta(days=7)
    assert priya.summary() == "2 past bookings · 1 no-show · VIP"
    assert priya.summary(short=True) == "2 past · 1 no-show · VIP"
    assert await guests.of_booking(tonight.id) == priya
    assert (await guests.get(guest)).phone == "+44 7700 900777"


async def test_a_booking_for_a_guest_on_file_makes_no_new_guest(
    services: Services, admin: asyncpg.Connection
) -> None:
    night = await services.floor.tonight()
    assert night is not None
    [kemi] = await services.bookings.guests.search("Kemi")
    before = await admin.fetchval("select count(*) from backroom.guest")
    booking = await services.bookings.create(
        services.actor,
        night_id=night.id,
        table_ids=[FREE],
        party_size=2,
        starts_at=night.starts_at + timedelta(hours=2),
        guest=GuestDetails(kemi.name, kemi.phone, guest_id=kemi.id),
    )
    assert booking.guest_name == "Kemi Adeyemi" and booking.guest_vip
    assert await admin.fetchval("select count(*) from backroom.guest") == before
    assert await admin.fetchval("select guest_id from backroom.booking where id = $1", booking.id) == kemi.id


async def test_too_little_or_odd_text_finds_nothing(guests: GuestService, admin: asyncpg.Connection) -> None:
    await new_guest(admin, "100% Legit_Name")
    assert await guests.search("") == []
    assert await guests.search("k") == []
    assert await guests.search("77") == []
    assert await guests.search("%%") == []
    # % and _ are themselves, not wildcards.
    assert [g.name for g in await guests.search("100% le")] == ["100% Legit_Name"]
    assert await guests.search("100_ le") == []


async def test_a_guest_that_is_not_there(guests: GuestService) -> None:
    with pytest.raises(NotFound, match="no longer on file"):
        await guests.get(999_999)
    with pytest.raises(NotFound, match="no booking 999999"):
        await guests.of_booking(999_999)


def test_the_shape_of_a_phone_number_and_an_email() -> None:
    assert phone_problem("") is None and phone_problem("+44 7700 900123") is None
    assert phone_problem("(020) 7946-0958") is None
    assert phone_problem("12345") == "too few digits"
    assert phone_problem("+44 7700 900123 4567") == "too many digits"
    assert phone_problem("44+7700900123") == "like +44 7700 900123"
    assert email_problem("") is None and email_problem("ada@example.com") is None
    assert email_problem("ada@example") == "like name@example.com"
    assert email_problem("ada example.com") == "like name@example.com"
    assert searchable("Ad") and not searchable("A") and searchable("077") and not searchable("07")
