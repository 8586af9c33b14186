"""The headcount against real Postgres: the capacity from the layout file, in and out
at several doors into one total, the override a manager gives with a reason, the peak
and its hour, op ids, a locked session, and two doors racing for the last place at
read committed, repeatable read and serializable."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.errors import AtCapacity, InvalidInput, NotAllowed, StepUpRequired
from services.night import NightServices
from services.store import seed
from services.store.db import acting_for
from tests.night_helpers import Crew, Night, lock, staff_id, step_up

LEVELS = ["read committed", "repeatable read", "serializable"]


async def capacity(admin: asyncpg.Connection, places: int) -> None:
    await admin.execute("update backroom.venue set capacity = $1", places)


async def test_the_capacity_comes_from_the_layout_file(
    night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    assert seed.load_layout()["venue"]["capacity"] == 350
    with acting_for(crew.door):
        now = await night_svc.headcount.current(ahead.id)
    assert (now.inside, now.capacity, now.label, now.level) == (0, 350, "0/350", "ok")


async def test_doors_count_into_one_total_with_its_peak_and_hour(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    await capacity(admin, 10)
    hc = night_svc.headcount
    assert (await hc.count_in(crew.door, ahead.id, 4, door="front")).inside == 4
    assert (await hc.count_in(crew.door2, ahead.id, 5, door="side")).inside == 9
    amber = await hc.count_out(crew.door, ahead.id, 2, door="front")
    assert (amber.inside, amber.peak) == (7, 9)
    red = await hc.count_in(crew.door2, ahead.id, 3, door="side")
    assert (red.inside, red.level, red.peak) == (10, "red", 10)
    with acting_for(crew.manager):
        after = await hc.current(ahead.id)
        hours = await hc.by_hour(ahead.id)
    assert after.peak == 10 and after.peak_at is not None
    assert sum(h.came_in for h in hours) == 12 and sum(h.went_out for h in hours) == 2
    assert max(h.peak for h in hours) == 10
    assert hours[-1].hour <= after.peak_at
    with pytest.raises(InvalidInput, match="Only 10 are counted in, so 11 cannot"):
        await hc.count_out(crew.door, ahead.id, 11)
    from services.night.headcount import Headcount

    assert Headcount(1, 9, 10, 9, None).level == "amber"
    # Every count is audited, naming the door's staff member.
    who = await admin.fetch(
        "select staff_id, after->>'door' as door from backroom.audit_log"
        " where operation = 'door_count' and entity = 'door_count_event' order by id"
    )
    assert [(r["staff_id"], r["door"]) for r in who] == [
        (crew.door.staff_id, "front"),
        (crew.door2.staff_id, "side"),
        (crew.door.staff_id, "front"),
        (crew.door2.staff_id, "side"),
    ]


async def test_passing_capacity_needs_a_managers_override_with_a_reason(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    await capacity(admin, 2)
    hc = night_svc.headcount
    await hc.count_in(crew.door, ahead.id, 2)
    with pytest.raises(AtCapacity, match="capacity of 2 \\(2 in\\)") as refused:
        await hc.count_in(crew.door, ahead.id, 1)
    assert (refused.value.capacity, refused.value.inside) == (2, 2)
    # A reason alone, at the door's session, is not an override.
    with pytest.raises(StepUpRequired):
        await hc.count_in(crew.door, ahead.id, 1, override_reason="VIP's driver")
    with pytest.raises(NotAllowed):
        await hc.count_in(crew.support, ahead.id, 1, override_reason="x")
    # A manager without a fresh code neither.
    with pytest.raises(StepUpRequired):
        await hc.count_in(crew.manager, ahead.id, 1, override_reason="VIP's driver")
    with pytest.raises(AtCapacity):
        await hc.count_in(crew.manager, ahead.id, 1)
    await step_up(admin, crew.manager)
    over = await hc.count_in(crew.manager, ahead.id, 1, override_reason="VIP's driver", door="front")
    assert (over.inside, over.level) == (3, "red")
    row = await admin.fetchrow(
        "select over_capacity, override_reason, staff_id from backroom.door_count_event"
        " where night_id = $1 order by id desc limit 1",
        ahead.id,
    )
    assert row is not None and tuple(row) == (True, "VIP's driver", crew.manager.staff_id)
    refusals = await admin.fetchval(
        "select count(*) from backroom.audit_log where operation = 'refused:door_count'"
    )
    assert refusals >= 3
    assert await admin.fetchval("select inside from backroom.headcount where night_id = $1", ahead.id) == 3


async def test_an_op_id_counts_once_and_a_locked_session_counts_nothing(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    op = str(uuid.uuid4())
    first = await night_svc.headcount.count_in(crew.door, ahead.id, op_id=op)
    again = await night_svc.headcount.count_in(crew.door, ahead.id, op_id=op)
    assert first == again and first.inside == 1
    await lock(admin, crew.door)
    with pytest.raises(NotAllowed):
        await night_svc.headcount.count_in(crew.door, ahead.id)
    with acting_for(crew.door):
        assert (await night_svc.headcount.current(ahead.id)).inside == 1


@pytest.mark.parametrize("level", LEVELS)
async def test_two_doors_racing_for_the_last_place_one_gets_it_by_raw_sql(
    dsn: str, admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night, level: str
) -> None:
    """The first door's count is in, not committed; the second starts at the same level
    and waits; the first commits. The second is refused (at capacity, or try again)."""
    await capacity(admin, 5)
    await night_svc.headcount.count_in(crew.door, ahead.id, 4)
    conns = [await asyncpg.connect(dsn) for _ in range(2)]
    try:
        for conn, actor in zip(conns, (crew.door, crew.door2), strict=True):
            await conn.execute(f"begin isolation level {level}")
            await conn.execute(
                "select set_config('role', 'backroom_console', true),"
                " set_config('backroom.session', $1, true)",
                actor.session,
            )
            # Take the snapshot now, as a transaction that read the count first would.
            await conn.fetchval("select count(*) from backroom.night")
        sql = "select backroom.door_count($1, $2, 1, 'door', null)"
        await conns[0].fetchval(sql, uuid.uuid4(), ahead.id)
        second = asyncio.create_task(conns[1].fetchval(sql, uuid.uuid4(), ahead.id))
        await asyncio.sleep(0.3)
        assert not second.done(), "the second door waits for the first"
        await conns[0].execute("commit")
        with pytest.raises(asyncpg.PostgresError) as refused:
            await second
        assert refused.value.sqlstate in ("BN010", "40001")
        if level == "read committed":
            assert refused.value.sqlstate == "BN010"
        await conns[1].execute("rollback")
    finally:
        for conn in conns:
            await conn.close()
    assert await admin.fetchval("select inside from backroom.headcount where night_id = $1", ahead.id) == 5


@pytest.mark.parametrize("level", ["read_committed", "repeatable_read", "serializable"])
async def test_two_doors_racing_for_the_last_place_by_the_service(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night, level: str
) -> None:
    await capacity(admin, 3)
    await night_svc.headcount.count_in(crew.door, ahead.id, 2)
    for _ in range(3):
        results = await asyncio.gather(
            *(
                night_svc.headcount.count(actor, ahead.id, 1, door=actor.name, isolation=level)  # type: ignore[arg-type]
                for actor in (crew.door, crew.door2)
            ),
            return_exceptions=True,
        )
        done = [r for r in results if not isinstance(r, BaseException)]
        refused = [r for r in results if isinstance(r, BaseException)]
        assert len(done) == 1 and all(isinstance(r, AtCapacity) for r in refused), results
        inside = await admin.fetchval("select inside from backroom.headcount where night_id = $1", ahead.id)
        assert inside == 3
        await night_svc.headcount.count_out(crew.door, ahead.id)


async def test_a_list_check_in_that_would_pass_capacity_needs_the_override_too(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    await capacity(admin, 3)
    async with night_svc.ops.db.transaction(crew.manager) as conn:
        closes = await conn.fetchval("select clock_timestamp() + interval '1 hour'")
    lid = await night_svc.lists.create_list(
        crew.manager,
        night_id=ahead.id,
        name="Big party",
        owner_id=staff_id(crew.promoter),
        max_names=5,
        max_plus_ones=5,
        closes_at=closes,
    )
    [big] = await night_svc.lists.add_pasted(crew.promoter, lid, "Big Bo +4")
    await night_svc.headcount.count_in(crew.door, ahead.id, 1)
    partly = await night_svc.lists.check_in(crew.door, big, 2)
    assert (partly.arrived, partly.inside) == (2, 3)
    with pytest.raises(AtCapacity):
        await night_svc.lists.check_in(crew.door, big, 5)
    await step_up(admin, crew.manager)
    done = await night_svc.lists.check_in(crew.manager, big, 5, override_reason="Owner's friends")
    assert (done.arrived, done.inside) == (5, 6)
    row = await admin.fetchrow(
        "select change, over_capacity, override_reason, guest_list_name_id"
        " from backroom.door_count_event order by id desc limit 1"
    )
    assert row is not None and tuple(row) == (3, True, "Owner's friends", big)
