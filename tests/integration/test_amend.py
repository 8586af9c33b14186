"""Amending a booking where it is (party size, arrival, notes, guest) through the
service on real Postgres: each change and its audit row, retries, stale
versions, refusals in staff words, and the database refusing what Python lets
through, acting as the console role."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import pytest

from services.bookings import BookingService, GuestDetails, new_op_id
from services.errors import (
    GuestTableLimit,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    OutsideHours,
    PartyDoesNotFit,
    StaleBooking,
    TableTaken,
)
from services.models import Booking, Night
from services.store.db import Actor
from tests.sessions import new_staff

FREE = 11  # downstairs, 2 to 6, free on the sample night
OTHER_FREE = 12  # downstairs, 4 to 10, free on the sample night


@pytest.fixture
async def staff(admin: asyncpg.Connection) -> dict[str, Actor]:
    actors = {}
    for name, role in (
        ("Maya", "manager"),
        ("Nico", "manager"),
        ("Ada", "admin"),
        ("Dora", "door"),
        ("Sam", "support"),
    ):
        actors[name] = await new_staff(admin, f"{name.lower()}@backroom.test", name, role)
    return actors


@pytest.fixture
async def rita(bookings: BookingService, staff: dict[str, Actor], night: Night) -> Booking:
    """A party of 4 on table 11 from 23:00 to closing."""
    return await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at + timedelta(hours=1),
        guest=GuestDetails(
            "Rita Hale",
            phone="+44 7700 900999",
            email="rita@example.com",
            vip=True,
            notes="Prefers the booth",
        ),
    )


def as_console(actor: Actor) -> Actor:
    """The same staff member with Python's role check out of the way: only Postgres decides."""
    return Actor(staff_id=actor.staff_id, name=actor.name, role=None, session=actor.session)


async def audit_rows(admin: asyncpg.Connection, entity: str, entity_id: int) -> list[asyncpg.Record]:
    return list(
        await admin.fetch(
            "select operation, staff_id, op_id, before, after from backroom.audit_log"
            " where entity = $1 and entity_id = $2 order by id",
            entity,
            entity_id,
        )
    )


async def guest_of(admin: asyncpg.Connection, booking_id: int) -> asyncpg.Record:
    row = await admin.fetchrow(
        "select g.* from backroom.guest g join backroom.booking b on b.guest_id = g.id where b.id = $1",
        booking_id,
    )
    assert row is not None
    return row


async def test_party_time_and_notes_change_in_one_go(
    bookings: BookingService,
    staff: dict[str, Actor],
    night: Night,
    rita: Booking,
    admin: asyncpg.Connection,
) -> None:
    op = new_op_id()
    later = night.starts_at + timedelta(hours=1, minutes=30)
    b = await bookings.amend(
        staff["Maya"],
        rita.id,
        rita.version,
        party_size=6,
        starts_at=later,
        notes="  Birthday: cake at midnight ",
        op_id=op,
    )
    assert (b.party_size, b.starts_at, b.notes, b.version) == (6, later, "Birthday: cake at midnight", 2)
    # It ran to closing, so it still does; the tables stay.
    assert b.ends_at == night.ends_at and b.table_ids == rita.table_ids
    during = await admin.fetchval("select during from backroom.booking_table where booking_id = $1", b.id)
    assert (during.lower, during.upper) == (later, night.ends_at)

    [created, amended] = await audit_rows(admin, "booking", b.id)
    assert created["operation"] == "create"
    assert (amended["operation"], amended["staff_id"], str(amended["op_id"])) == (
        "amend",
        staff["Maya"].staff_id,
        op,
    )
    before, after = json.loads(amended["before"]), json.loads(amended["after"])
    assert (before["party_size"], after["party_size"]) == (4, 6)
    assert (before["notes"], after["notes"]) == ("", "Birthday: cake at midnight")


async def test_a_shorter_booking_keeps_its_length_up_to_closing(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    b = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=2,
        starts_at=night.starts_at,
        ends_at=night.starts_at + timedelta(hours=2),
        guest=GuestDetails("Early Bird"),
    )
    b = await bookings.amend(staff["Maya"], b.id, b.version, starts_at=night.starts_at + timedelta(hours=1))
    assert b.ends_at - b.starts_at == timedelta(hours=2)
    b = await bookings.amend(staff["Maya"], b.id, b.version, starts_at=night.ends_at - timedelta(minutes=30))
    assert b.ends_at == night.ends_at


async def test_correcting_the_guest_is_audited_and_keeps_their_vip_mark(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, admin: asyncpg.Connection
) -> None:
    guest_before = await guest_of(admin, rita.id)
    b = await bookings.amend(
        staff["Ada"],
        rita.id,
        rita.version,
        guest=GuestDetails("Rita Hale-Moss", phone=" +44 7700 900998 ", email="rita@example.com"),
    )
    assert b.guest_name == "Rita Hale-Moss" and b.guest_vip and b.version == 2
    guest = await guest_of(admin, rita.id)
    assert guest["id"] == guest_before["id"], "the guest on file is corrected, not replaced"
    assert (guest["phone"], guest["email"], guest["vip"], guest["notes"]) == (
        "+44 7700 900998",
        "rita@example.com",
        True,
        "Prefers the booth",
    )

    [changed] = await audit_rows(admin, "guest", guest["id"])
    assert (changed["operation"], changed["staff_id"]) == ("amend", staff["Ada"].staff_id)
    assert json.loads(changed["before"])["name"] == "Rita Hale"
    assert json.loads(changed["after"])["name"] == "Rita Hale-Moss"
    assert [r["operation"] for r in await audit_rows(admin, "booking", rita.id)] == ["create", "amend"]

    # The same details again change nothing on the guest: no second guest row.
    b = await bookings.amend(
        staff["Ada"],
        b.id,
        b.version,
        guest=GuestDetails("Rita Hale-Moss", phone="+44 7700 900998", email="rita@example.com"),
        notes="Window",
    )
    assert len(await audit_rows(admin, "guest", guest["id"])) == 1


async def test_handing_the_booking_to_a_guest_on_file(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, admin: asyncpg.Connection
) -> None:
    own = (await guest_of(admin, rita.id))["id"]
    [kemi] = await bookings.guests.search("Kemi Adeyemi")
    b = await bookings.amend(
        staff["Maya"], rita.id, rita.version, guest=GuestDetails(kemi.name, guest_id=kemi.id)
    )
    assert b.guest_name == "Kemi Adeyemi"
    assert (await guest_of(admin, rita.id))["id"] == kemi.id
    assert await admin.fetchval("select name from backroom.guest where id = $1", own) == "Rita Hale"
    [_created, amended] = await audit_rows(admin, "booking", rita.id)
    assert (json.loads(amended["before"])["guest_id"], json.loads(amended["after"])["guest_id"]) == (
        own,
        kemi.id,
    )

    with pytest.raises(NotFound, match="no longer on file"):
        await bookings.amend(staff["Maya"], b.id, b.version, guest=GuestDetails("Gone", guest_id=999_999))


async def test_a_retry_with_the_same_operation_id_changes_nothing_more(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, admin: asyncpg.Connection
) -> None:
    op = new_op_id()
    first = await bookings.amend(staff["Maya"], rita.id, rita.version, party_size=5, op_id=op)
    again = await bookings.amend(staff["Maya"], rita.id, rita.version, party_size=5, op_id=op)
    assert again == first and first.version == 2
    assert (await bookings.get(rita.id)).version == 2
    assert [r["operation"] for r in await audit_rows(admin, "booking", rita.id)] == ["create", "amend"]
    with pytest.raises(InvalidInput, match="already used for amend, not confirm"):
        await bookings.confirm(staff["Maya"], rita.id, first.version, op_id=op)


async def test_a_stale_version_is_refused_with_who_and_when(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, admin: asyncpg.Connection
) -> None:
    await bookings.amend(staff["Nico"], rita.id, rita.version, notes="Nico was here")
    with pytest.raises(StaleBooking) as err:
        await bookings.amend(staff["Maya"], rita.id, rita.version, party_size=2)
    assert err.value.info.changed_by == "Nico"
    assert f"Booking {rita.ref} was changed by Nico at " in str(err.value)
    assert "Nothing was changed" in str(err.value)
    assert err.value.info.current is not None and err.value.info.current.notes == "Nico was here"
    now = await bookings.get(rita.id)
    assert (now.party_size, now.version) == (4, 2)
    ops = [r["operation"] for r in await audit_rows(admin, "booking", rita.id)]
    assert ops == ["create", "amend", "refused:amend"]


async def test_the_database_refuses_a_party_the_tables_cannot_seat(
    bookings: BookingService,
    staff: dict[str, Actor],
    rita: Booking,
    night: Night,
    admin: asyncpg.Connection,
) -> None:
    # No capacity check in Python: this is Postgres's rule, explained with tables that fit.
    with pytest.raises(PartyDoesNotFit) as err:
        await bookings.amend(staff["Maya"], rita.id, rita.version, party_size=9, notes="More friends")
    refusal = err.value
    assert str(refusal) == "A party of 9 does not fit table 11 (2 to 6 guests)."
    assert (refusal.party, refusal.min_party, refusal.max_party) == (9, 2, 6)
    assert refusal.alternatives and all(FREE not in alt.table_ids for alt in refusal.alternatives)
    assert OTHER_FREE in {alt.table_ids[0] for alt in refusal.alternatives}
    now = await bookings.get(rita.id)
    assert (now.party_size, now.notes, now.version) == (4, "", 1), "nothing of it was written"
    [_created, refused] = await audit_rows(admin, "booking", rita.id)
    assert refused["operation"] == "refused:amend"
    assert json.loads(refused["after"])["code"] == "party_size"

    # Joined tables seat what they seat together: 15+16 take 4 to 22.
    joined = await admin.fetchrow(
        "select b.id, b.version from backroom.booking b where b.night_id = $1 and b.party_size = 18", night.id
    )
    assert joined is not None
    b = await bookings.amend(staff["Maya"], joined["id"], joined["version"], party_size=22)
    assert b.party_size == 22
    with pytest.raises(PartyDoesNotFit, match="party of 23 does not fit table 15\\+16 \\(4 to 22"):
        await bookings.amend(staff["Maya"], b.id, b.version, party_size=23)


async def test_a_new_time_that_collides_is_refused_with_somewhere_else(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    early = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=3,
        starts_at=night.starts_at,
        ends_at=night.starts_at + timedelta(hours=1),
        guest=GuestDetails("Early"),
    )
    late = await bookings.create(
        staff["Nico"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=3,
        starts_at=night.starts_at + timedelta(hours=2),
        guest=GuestDetails("Late"),
    )
    with pytest.raises(TableTaken) as err:
        await bookings.amend(staff["Maya"], late.id, late.version, starts_at=night.starts_at)
    assert f"already booked then ({early.ref}, Early)" in str(err.value)
    assert err.value.alternatives


async def test_refusals_in_staff_words(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, night: Night
) -> None:
    maya = staff["Maya"]
    with pytest.raises(InvalidInput, match="Nothing to change"):
        await bookings.amend(maya, rita.id, rita.version)
    with pytest.raises(InvalidInput, match="at least one guest"):
        await bookings.amend(maya, rita.id, rita.version, party_size=0)
    with pytest.raises(InvalidInput, match="Notes are at most 500 characters; these are 501"):
        await bookings.amend(maya, rita.id, rita.version, notes="x" * 501)
    with pytest.raises(InvalidInput, match="The guest needs a name"):
        await bookings.amend(maya, rita.id, rita.version, guest=GuestDetails("  "))
    with pytest.raises(InvalidInput, match=r"phone number is not right \(too few digits\)"):
        await bookings.amend(maya, rita.id, rita.version, guest=GuestDetails("Rita", phone="12"))
    with pytest.raises(InvalidInput, match="email address is not right"):
        await bookings.amend(maya, rita.id, rita.version, guest=GuestDetails("Rita", email="rita@"))
    with pytest.raises(OutsideHours, match=r"outside the night's hours \(22:00 to 03:00\)"):
        await bookings.amend(maya, rita.id, rita.version, starts_at=night.ends_at)
    with pytest.raises(NotFound, match="no booking 999999"):
        await bookings.amend(maya, 999_999, 1, notes="x")
    assert (await bookings.get(rita.id)).version == 1

    # Some of the party are in: the party cannot shrink below them.
    b = await bookings.check_in(staff["Dora"], rita.id, rita.version, 3)
    with pytest.raises(InvalidInput, match="3 of the party are already in"):
        await bookings.amend(maya, b.id, b.version, party_size=2)
    # A closed booking does not change any more.
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[OTHER_FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Gone Home"),
    )
    b = await bookings.cancel(maya, b.id, b.version, "Plans changed")
    with pytest.raises(IllegalTransition, match="is cancelled and can no longer change"):
        await bookings.amend(maya, b.id, b.version, notes="too late")


async def test_only_managers_and_admins_amend(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, admin: asyncpg.Connection
) -> None:
    with pytest.raises(NotAllowed, match="Dora is signed in as door staff, who may not change bookings"):
        await bookings.amend(staff["Dora"], rita.id, rita.version, party_size=5)
    with pytest.raises(NotAllowed, match="Sam is signed in as support staff"):
        await bookings.amend(staff["Sam"], rita.id, rita.version, notes="x")
    b = await bookings.amend(staff["Ada"], rita.id, rita.version, notes="An admin may")
    assert b.notes == "An admin may"
    assert (await bookings.get(rita.id)).version == 2


async def test_the_database_refuses_what_python_lets_through(
    bookings: BookingService, staff: dict[str, Actor], rita: Booking, admin: asyncpg.Connection
) -> None:
    """With the role check in Python out of the way, Postgres still says no, as the console role."""
    door, support = as_console(staff["Dora"]), as_console(staff["Sam"])
    for change in (
        {"party_size": 5},
        {"notes": "door notes"},
        {"starts_at": rita.starts_at + timedelta(minutes=30)},
    ):
        with pytest.raises(NotAllowed, match="database refused this for your role"):
            await bookings.amend(door, rita.id, rita.version, **change)
    with pytest.raises(NotAllowed, match="database refused this for your role"):
        await bookings.amend(door, rita.id, rita.version, guest=GuestDetails("Door Renamed"))
    with pytest.raises(NotAllowed, match="database refused this for your role"):
        await bookings.amend(support, rita.id, rita.version, notes="support notes")

    now = await bookings.get(rita.id)
    assert (now.party_size, now.notes, now.guest_name, now.version) == (4, "", "Rita Hale", 1)
    ops = [r["operation"] for r in await audit_rows(admin, "booking", rita.id)]
    assert ops == ["create"] + ["refused:amend"] * 5


async def test_the_guest_limit_holds_when_a_booking_changes_hands(
    bookings: BookingService, staff: dict[str, Actor], night: Night, rita: Booking
) -> None:
    maya = staff["Maya"]
    [kemi] = await bookings.guests.search("Kemi Adeyemi")  # already on table 8 tonight
    await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[10],
        party_size=2,
        starts_at=night.starts_at + timedelta(hours=2),
        guest=GuestDetails(kemi.name, guest_id=kemi.id),
    )
    with pytest.raises(GuestTableLimit, match="the venue allows 2 per guest per night"):
        await bookings.amend(maya, rita.id, rita.version, guest=GuestDetails(kemi.name, guest_id=kemi.id))
    assert (await bookings.get(rita.id)).guest_name == "Rita Hale"
