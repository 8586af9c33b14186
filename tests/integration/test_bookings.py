"""Booking operations through the service, on real Postgres: each success,
each refusal in staff words, idempotent retries and stale versions."""

from __future__ import annotations

import json
from datetime import timedelta

import asyncpg
import pytest

from console.wiring import Services
from services.bookings import BookingService, GuestDetails, new_op_id
from services.errors import (
    GuestTableLimit,
    HoldExpired,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    OutsideHours,
    PartyDoesNotFit,
    StaleBooking,
    TablesApart,
    TableTaken,
)
from services.models import BookingStatus, Night
from services.store.db import Actor

FREE = 11  # downstairs, 2 to 6, free on the sample night


async def audit_count(admin: asyncpg.Connection) -> int:
    return int(await admin.fetchval("select count(*) from backroom.audit_log"))


async def test_create_confirm_check_in_complete(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya, dora = staff["Maya"], staff["Dora"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=5,
        starts_at=night.starts_at + timedelta(hours=1),
        guest=GuestDetails("Rita Hale", phone="+44 7700 900999", vip=True),
        deposit=100,
    )
    assert b.status is BookingStatus.PENDING and b.table_ids == (FREE,) and b.version == 1
    assert b.guest_name == "Rita Hale" and b.guest_vip
    b = await bookings.confirm(maya, b.id, b.version)
    assert b.status is BookingStatus.CONFIRMED and b.version == 2

    b = await bookings.check_in(dora, b.id, b.version, 2)
    assert b.status is BookingStatus.ARRIVED and b.arrived_count == 2
    b = await bookings.check_in(dora, b.id, b.version, 3)
    assert b.arrived_count == 5
    with pytest.raises(InvalidInput, match="whole party of 5 is already in"):
        await bookings.check_in(dora, b.id, b.version, 1)

    b = await bookings.complete(maya, b.id, b.version)
    assert b.status is BookingStatus.COMPLETED

    rows = await admin.fetch(
        "select operation, staff_id from backroom.audit_log where entity = 'booking' and entity_id = $1"
        " order by id",
        b.id,
    )
    ops = [r["operation"] for r in rows]
    assert ops == ["create", "confirm", "check_in", "check_in", "refused:check_in", "complete"]
    assert [r["staff_id"] for r in rows] == [
        maya.staff_id,
        maya.staff_id,
        dora.staff_id,
        dora.staff_id,
        dora.staff_id,
        maya.staff_id,
    ]


async def test_checking_in_more_than_expected_is_refused(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    b = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Ola"),
    )
    with pytest.raises(InvalidInput, match="Only 4 of the party of 4 are still expected"):
        await bookings.check_in(staff["Dora"], b.id, b.version, 6)


async def test_taken_table_offers_alternatives(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya, nico = staff["Maya"], staff["Nico"]
    first = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("First"),
    )
    with pytest.raises(TableTaken) as err:
        await bookings.create(
            nico,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at + timedelta(hours=1),
            guest=GuestDetails("Second"),
        )
    taken = err.value
    assert taken.booking_ref == first.ref and "already booked" in str(taken)
    assert taken.alternatives, "a refusal must say where else the party could go"
    # Same floor (downstairs) first, and every table offered fits a party of 4.
    assert taken.alternatives[0].why == "same floor"
    assert taken.alternatives[0].floor_name == "Downstairs"
    # Taking the first alternative works.
    alt = taken.alternatives[0]
    done = await bookings.create(
        nico,
        night_id=night.id,
        table_ids=list(alt.table_ids),
        party_size=4,
        starts_at=alt.starts_at,
        ends_at=alt.ends_at,
        guest=GuestDetails("Second"),
    )
    assert done.table_ids == alt.table_ids


async def test_other_times_are_offered_when_the_table_is_busy(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya = staff["Maya"]
    await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        ends_at=night.starts_at + timedelta(hours=2),
        guest=GuestDetails("Early"),
    )
    alts = await bookings.alternatives(
        night.id,
        4,
        night.starts_at + timedelta(hours=1),
        night.starts_at + timedelta(hours=3),
        near_tables=[FREE],
    )
    later = [a for a in alts if a.why == "another time"]
    assert later and all(a.table_ids == (FREE,) for a in later)
    assert later[0].starts_at == night.starts_at + timedelta(hours=2)


async def test_refusals_in_staff_words(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya = staff["Maya"]
    before = await admin.fetchval("select count(*) from backroom.booking")
    with pytest.raises(
        PartyDoesNotFit, match="A party of 9 does not fit table 11 \\(2 to 6 guests\\)"
    ) as err:
        await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[FREE],
            party_size=9,
            starts_at=night.starts_at,
            guest=GuestDetails("Big"),
        )
    assert err.value.alternatives and all(a.table_ids != (FREE,) for a in err.value.alternatives)
    with pytest.raises(OutsideHours, match=r"outside the night's hours \(22:00 to 03:00\)"):
        await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at - timedelta(hours=2),
            guest=GuestDetails("Early"),
        )
    with pytest.raises(TablesApart):
        await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[10, 12],
            party_size=8,
            starts_at=night.starts_at,
            guest=GuestDetails("Apart"),
        )
    with pytest.raises(InvalidInput, match="needs a name"):
        await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at,
            guest=GuestDetails("  "),
        )
    assert await admin.fetchval("select count(*) from backroom.booking") == before
    refusals = await admin.fetch(
        "select operation, after from backroom.audit_log where operation like 'refused:%' order by id"
    )
    # Refusals by the database are audited; a form error never reached it.
    assert [r["operation"] for r in refusals] == ["refused:create"] * 3
    assert json.loads(refusals[0]["after"])["code"] == "party_size"


async def test_guest_limit(bookings: BookingService, staff: dict[str, Actor], night: Night) -> None:
    maya = staff["Maya"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Keen"),
    )
    guest_id = (await bookings.get(b.id)).id and await _guest_of(bookings, b.id)
    await bookings.create(
        maya, night_id=night.id, table_ids=[12], party_size=4, starts_at=night.starts_at, guest_id=guest_id
    )
    with pytest.raises(GuestTableLimit, match="allows 2 per guest per night"):
        await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[10],
            party_size=2,
            starts_at=night.starts_at + timedelta(hours=4),
            guest_id=guest_id,
        )


async def _guest_of(bookings: BookingService, booking_id: int) -> int:
    async with bookings._db.transaction(readonly=True) as conn:
        return int(await conn.fetchval("select guest_id from backroom.booking where id = $1", booking_id))


async def test_joined_tables_show_as_one_booking(
    bookings: BookingService, staff: dict[str, Actor], night: Night, services: Services
) -> None:
    b = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[12, FREE],
        party_size=14,
        starts_at=night.starts_at,
        guest=GuestDetails("Big Party"),
    )
    assert b.table_ids == (FREE, 12)
    snap = await services.floor.snapshot(night.id)
    assert snap.tables[FREE].booking == snap.tables[12].booking == b


async def test_stale_version_is_refused_not_overwritten(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya, nico = staff["Maya"], staff["Nico"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Vic"),
    )
    await bookings.confirm(nico, b.id, b.version)
    with pytest.raises(StaleBooking, match="changed by Nico") as err:
        await bookings.cancel(maya, b.id, b.version, "Guest asked")
    assert err.value.info.current is not None
    assert err.value.info.current.status is BookingStatus.CONFIRMED
    assert (await bookings.get(b.id)).status is BookingStatus.CONFIRMED


async def test_illegal_transition_and_cancel_reason(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya = staff["Maya"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Wim"),
    )
    with pytest.raises(InvalidInput, match="needs a reason"):
        await bookings.cancel(maya, b.id, b.version, "   ")
    b = await bookings.cancel(maya, b.id, b.version, "Double booked by phone")
    with pytest.raises(IllegalTransition, match="cancelled and can no longer change"):
        await bookings.check_in(staff["Dora"], b.id, b.version, 2)
    with pytest.raises(IllegalTransition, match="cannot go from pending to no_show"):
        fresh = await bookings.create(
            maya,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at,
            guest=GuestDetails("Xu"),
        )
        await bookings.no_show(staff["Dora"], fresh.id, fresh.version)


async def test_retry_with_the_same_operation_id_applies_once(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya = staff["Maya"]
    op = new_op_id()
    args = dict(
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Once Only"),
        op_id=op,
    )
    first = await bookings.create(maya, **args)  # type: ignore[arg-type]
    again = await bookings.create(maya, **args)  # type: ignore[arg-type]
    assert again == first
    assert await admin.fetchval("select count(*) from backroom.guest where name = 'Once Only'") == 1

    confirm_op = new_op_id()
    confirmed = await bookings.confirm(maya, first.id, first.version, op_id=confirm_op)
    replay = await bookings.confirm(maya, first.id, first.version, op_id=confirm_op)
    assert replay == confirmed and replay.version == 2
    with pytest.raises(InvalidInput, match="already used for confirm"):
        await bookings.cancel(maya, first.id, confirmed.version, "x", op_id=confirm_op)


async def test_roles_are_checked_before_trying(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    with pytest.raises(NotAllowed, match="Dora is signed in as door staff, who may not create bookings"):
        await bookings.create(
            staff["Dora"],
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at,
            guest=GuestDetails("Nope"),
        )
    with pytest.raises(NotAllowed, match="support staff"):
        await bookings.hold(staff["Sam"], night_id=night.id, table_id=FREE)


async def test_hold_renew_release_and_block(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    maya, nico = staff["Maya"], staff["Nico"]
    hold = await bookings.hold(maya, night_id=night.id, table_id=FREE)
    assert hold.holder == "Maya"
    with pytest.raises(TableTaken, match="held by Maya") as err:
        await bookings.hold(nico, night_id=night.id, table_id=FREE, party_size=4)
    assert err.value.holder == "Maya" and err.value.alternatives
    with pytest.raises(TableTaken, match="held by Maya"):
        await bookings.create(
            nico,
            night_id=night.id,
            table_ids=[FREE],
            party_size=4,
            starts_at=night.starts_at,
            guest=GuestDetails("Blocked"),
        )
    renewed = await bookings.renew_hold(maya, hold.id, seconds=60)
    assert renewed.expires_at > hold.expires_at
    again = await bookings.hold(maya, night_id=night.id, table_id=FREE)
    assert again.id == hold.id, "holding again renews the same hold"
    # Booking it herself uses up the hold.
    await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Held For"),
    )
    assert await admin.fetchval("select count(*) from backroom.hold") == 0
    with pytest.raises(HoldExpired):
        await bookings.renew_hold(maya, hold.id)

    h12 = await bookings.hold(nico, night_id=night.id, table_id=12)
    await bookings.release_hold(nico, h12.id)
    await bookings.hold(maya, night_id=night.id, table_id=12)


async def test_pending_bookings_expire(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    b = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Slow"),
    )
    expires = await admin.fetchval("select expires_at - created_at from backroom.booking where id = $1", b.id)
    assert expires == timedelta(minutes=15)
    await admin.execute(
        "update backroom.booking set expires_at = now() - interval '1 second' where id = $1", b.id
    )
    assert await bookings.sweep() >= 1
    assert (await bookings.get(b.id)).status is BookingStatus.EXPIRED


async def test_move_and_resize(bookings: BookingService, staff: dict[str, Actor], night: Night) -> None:
    maya = staff["Maya"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Mover"),
    )
    moved = await bookings.move(maya, b.id, b.version, table_ids=[12], party_size=8)
    assert moved.table_ids == (12,) and moved.party_size == 8 and moved.version == b.version + 1
    later = await bookings.move(maya, moved.id, moved.version, starts_at=night.starts_at + timedelta(hours=1))
    assert later.starts_at == night.starts_at + timedelta(hours=1)
    with pytest.raises(PartyDoesNotFit):
        await bookings.move(maya, later.id, later.version, table_ids=[10])
    with pytest.raises(TableTaken):
        await bookings.move(maya, later.id, later.version, table_ids=[1])
    assert (await bookings.get(b.id)).table_ids == (12,)


async def test_seat_a_walk_in(bookings: BookingService, staff: dict[str, Actor], night: Night) -> None:
    b = await bookings.seat_walk_in(
        staff["Dora"], night_id=night.id, party_size=3, guest=GuestDetails("Walk In")
    )
    assert b.status is BookingStatus.ARRIVED and b.arrived_count == 3
    assert b.starts_at == bookings._clock()
    with pytest.raises(TableTaken, match="No free table fits a party of 40"):
        await bookings.seat_walk_in(
            staff["Dora"], night_id=night.id, party_size=40, guest=GuestDetails("Crowd")
        )


async def test_waitlist(bookings: BookingService, staff: dict[str, Actor], night: Night) -> None:
    maya = staff["Maya"]
    first = await bookings.waitlist_add(maya, night_id=night.id, guest=GuestDetails("Wait One"), party_size=4)
    await bookings.waitlist_add(maya, night_id=night.id, guest=GuestDetails("Wait Two"), party_size=2)
    queue = await bookings.waitlist(night.id)
    assert [e.guest_name for e in queue] == ["Wait One", "Wait Two"]
    await bookings.waitlist_offer(maya, first, FREE)
    assert (await bookings.waitlist(night.id))[0].status == "offered"
    b = await bookings.waitlist_book(maya, first, table_ids=[FREE], starts_at=night.starts_at)
    assert b.guest_name == "Wait One" and b.table_ids == (FREE,)
    assert [e.guest_name for e in await bookings.waitlist(night.id)] == ["Wait Two"]


async def test_the_sweeper_expires_while_running(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    import asyncio

    b = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Late Confirmer"),
    )
    await admin.execute("update backroom.booking set expires_at = now() where id = $1", b.id)
    task = asyncio.create_task(bookings.keep_sweeping(every=0.05))
    try:
        for _ in range(100):
            if (await bookings.get(b.id)).status is BookingStatus.EXPIRED:
                break
            await asyncio.sleep(0.05)
        assert (await bookings.get(b.id)).status is BookingStatus.EXPIRED
    finally:
        task.cancel()


async def test_no_show_only_once_the_party_is_due(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    late = await bookings.create(
        staff["Maya"],
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at + timedelta(hours=3),
        guest=GuestDetails("Late Arrival"),
    )
    late = await bookings.confirm(staff["Maya"], late.id, late.version)
    with pytest.raises(InvalidInput, match="due at 01:00: too early to mark a no-show"):
        await bookings.no_show(staff["Dora"], late.id, late.version)


async def test_move_alternatives_never_offer_where_it_already_is(
    bookings: BookingService, staff: dict[str, Actor], night: Night
) -> None:
    maya = staff["Maya"]
    b = await bookings.create(
        maya,
        night_id=night.id,
        table_ids=[FREE],
        party_size=4,
        starts_at=night.starts_at,
        guest=GuestDetails("Stay Put"),
    )
    with pytest.raises(TableTaken) as err:
        await bookings.move(maya, b.id, b.version, table_ids=[1])
    assert err.value.alternatives
    assert all(FREE not in a.table_ids for a in err.value.alternatives if a.why != "another time")


async def test_a_hold_says_whose_it_is(
    bookings: BookingService, staff: dict[str, Actor], night: Night, services: Services
) -> None:
    hold = await bookings.hold(staff["Maya"], night_id=night.id, table_id=FREE)
    assert hold.staff_id == staff["Maya"].staff_id
    snap = await services.floor.snapshot(night.id)
    shown = snap.tables[FREE].hold
    assert shown is not None and shown.staff_id == staff["Maya"].staff_id


async def test_check_in_is_for_tonight_only(
    bookings: BookingService, staff: dict[str, Actor], night: Night, admin: asyncpg.Connection
) -> None:
    """Checked in on another night's booking (the floor of Thursday opened on a Tuesday):
    refused in staff words, and nothing recorded as arrived."""
    other = await admin.fetchrow(
        "select b.id, b.version, n.date from backroom.booking b join backroom.night n on n.id = b.night_id"
        " where n.date > $1 and b.status = 'confirmed' order by n.date, b.id limit 1",
        night.date,
    )
    assert other is not None
    with pytest.raises(
        InvalidInput, match=f"tonight only: the night of {other['date']:%a %d %b %Y} opens at"
    ):
        await bookings.check_in(staff["Dora"], other["id"], other["version"], 1)
    row = await admin.fetchrow(
        "select status, arrived_count from backroom.booking where id = $1", other["id"]
    )
    assert row is not None
    assert (row["status"], row["arrived_count"]) == ("confirmed", 0)
