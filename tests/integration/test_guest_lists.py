"""Guest lists against real Postgres: caps, the cut-off, bulk add all or nothing,
promoters on their own lists only (by the service and by raw SQL on the console's
login), check-in with partial arrivals, door search, the report's credit, op ids,
audit rows and a locked session."""

from __future__ import annotations

import asyncio
import uuid

import asyncpg
import pytest

from services.errors import (
    AlreadyOnList,
    InvalidInput,
    ListClosed,
    ListFull,
    NotAllowed,
    NotFound,
)
from services.night import NightServices
from services.night.guest_lists import ParsedName
from tests.night_helpers import Crew, Night, console_login, lock, staff_id


async def a_list(
    svc: NightServices,
    crew: Crew,
    night: Night,
    *,
    owner: int | None = None,
    max_names: int = 5,
    max_plus_ones: int = 3,
    closes_in: int = 60,
    name: str = "Pia's list",
) -> int:
    async with svc.ops.db.transaction(crew.manager) as conn:
        closes = await conn.fetchval("select clock_timestamp() + make_interval(mins => $1)", closes_in)
    return await svc.lists.create_list(
        crew.manager,
        night_id=night.id,
        name=name,
        owner_id=owner or staff_id(crew.promoter),
        max_names=max_names,
        max_plus_ones=max_plus_ones,
        closes_at=closes,
    )


async def a_booking(
    admin: asyncpg.Connection, night: Night, guest: int, table: int = 9, status: str = "confirmed"
) -> str:
    async with admin.transaction():
        row = await admin.fetchrow(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at, ends_at)"
            " values ($1, $2, 4, $5, $3, $4) returning id, ref",
            night.id,
            guest,
            night.starts_at,
            night.ends_at,
            status,
        )
        assert row is not None
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            row["id"],
            table,
            night.starts_at,
            night.ends_at,
        )
    return str(row["ref"])


async def test_a_promoter_fills_their_own_list_within_its_caps(
    night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead, max_names=5, max_plus_ones=2)
    ids = await night_svc.lists.add_pasted(
        crew.promoter, lid, "Jane Doe +2\n- Ali Khan\n\nBo Li +1 | birthday"
    )
    assert len(ids) == 3
    names = await night_svc.lists.names(lid)
    assert [(n.name, n.plus_ones, n.note) for n in names] == [
        ("Ali Khan", 0, ""),
        ("Bo Li", 1, "birthday"),
        ("Jane Doe", 2, ""),
    ]
    # Two more than the room left: all or nothing.
    with pytest.raises(ListFull, match="room for 2 more"):
        await night_svc.lists.add_pasted(crew.promoter, lid, "Cy Twombly\nDee Dee\nEl Greco")
    # A plus-one past the list's cap, in a batch: nothing of the batch is added.
    with pytest.raises(InvalidInput, match="at most 2"):
        await night_svc.lists.add_names(crew.promoter, lid, [ParsedName("Ed Ok"), ParsedName("Fi Big", 3)])
    with pytest.raises(AlreadyOnList, match="(?i)jane doe"):
        await night_svc.lists.add_name(crew.promoter, lid, "jane doe")
    assert len(await night_svc.lists.names(lid)) == 3
    await night_svc.lists.add_name(crew.promoter, lid, "Ed Ok")
    await night_svc.lists.add_name(crew.promoter, lid, "Gus Grand", 2)
    with pytest.raises(ListFull):
        await night_svc.lists.add_name(crew.promoter, lid, "One Toomany")
    # Removing a name makes room.
    await night_svc.lists.remove_name(crew.promoter, ids[0])
    await night_svc.lists.add_name(crew.promoter, lid, "Gee Whiz")
    [listed] = await night_svc.lists.lists(ahead.id)
    assert (listed.names, listed.max_names, listed.owner_name) == (5, 5, "Pia Promoter")


async def test_the_list_closes_by_itself_at_its_cut_off_for_promoters_not_managers(
    night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead, closes_in=-1)
    with pytest.raises(ListClosed, match="only a manager"):
        await night_svc.lists.add_name(crew.promoter, lid, "Late Larry")
    nid = await night_svc.lists.add_name(crew.manager, lid, "Late Larry")
    with pytest.raises(ListClosed):
        await night_svc.lists.remove_name(crew.promoter, nid)
    await night_svc.lists.remove_name(crew.manager, nid)


async def test_a_promoter_cannot_touch_or_read_another_promoters_list_by_the_service(
    night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    mine = await a_list(night_svc, crew, ahead)
    theirs = await a_list(night_svc, crew, ahead, owner=crew.promoter2.staff_id, name="Paz's list")
    nid = await night_svc.lists.add_name(crew.promoter2, theirs, "Their Guest")
    with pytest.raises(NotFound, match="no such list of yours"):
        await night_svc.lists.add_name(crew.promoter, theirs, "Sneaky Pete")
    with pytest.raises(NotFound):
        await night_svc.lists.remove_name(crew.promoter, nid)
    with pytest.raises(NotAllowed):
        await night_svc.lists.check_in(crew.promoter, nid, 1)
    with pytest.raises(NotAllowed):
        await night_svc.lists.create_list(
            crew.promoter,
            night_id=ahead.id,
            name="Mine now",
            owner_id=staff_id(crew.promoter),
            max_names=9,
            max_plus_ones=1,
            closes_at=ahead.ends_at,
        )
    from services.store.db import acting_for

    with acting_for(crew.promoter):
        assert [gl.id for gl in await night_svc.lists.lists(ahead.id)] == [mine]
        assert await night_svc.lists.names(theirs) == []
    with acting_for(crew.manager):
        assert {gl.id for gl in await night_svc.lists.lists(ahead.id)} == {mine, theirs}
        assert [n.name for n in await night_svc.lists.names(theirs)] == ["Their Guest"]


async def test_a_promoter_session_on_the_console_login_reads_and_changes_nothing_else(
    dsn: str, admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    mine = await a_list(night_svc, crew, ahead)
    theirs = await a_list(night_svc, crew, ahead, owner=crew.promoter2.staff_id, name="Paz's list")
    await night_svc.lists.add_name(crew.promoter, mine, "My Guest")
    other = await night_svc.lists.add_name(crew.promoter2, theirs, "Their Guest")
    conn = await console_login(dsn, crew.promoter)
    try:
        assert await conn.fetchval("select backroom.current_staff_role()") == "promoter"
        for table in (
            "booking",
            "booking_table",
            "guest",
            "audit_log",
            "hold",
            "waitlist_entry",
            "presence",
            "headcount",
            "door_count_event",
            "ban",
            "spend",
            "spend_close",
        ):
            assert await conn.fetchval(f"select count(*) from backroom.{table}") == 0, table
        assert await admin.fetchval("select count(*) from backroom.booking") > 0
        assert await admin.fetchval("select count(*) from backroom.audit_log") > 0
        assert await conn.fetchval("select count(*) from backroom.staff") == 1
        assert await conn.fetchval("select array_agg(id) from backroom.guest_list") == [mine]
        assert await conn.fetchval("select array_agg(name) from backroom.guest_list_name") == ["My Guest"]
        for sql in (
            "insert into backroom.guest_list_name (list_id, night_id, name) values ($1, $2, 'X')",
            "update backroom.guest_list set max_names = 999 where id = $1 or $2 = 0",
            "delete from backroom.guest_list_name where list_id = $1 or night_id = $2",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(sql, theirs, ahead.id)
        with pytest.raises(asyncpg.PostgresError) as refused:
            await conn.fetchval(
                "select backroom.guest_list_add($1, $2, $3)",
                uuid.uuid4(),
                theirs,
                '[{"name": "Sneaky Pete"}]',
            )
        assert refused.value.sqlstate == "BN002"
        with pytest.raises(asyncpg.PostgresError) as refused:
            await conn.fetchval("select backroom.guest_list_remove($1, $2)", uuid.uuid4(), other)
        assert refused.value.sqlstate == "BN002"
        for call in (
            "select backroom.door_search($1, 'Guest', 5)",
            "select backroom.ban_matches('Guest', null, null) where $1 > 0",
        ):
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(call, ahead.id)
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.fetchval("select backroom.door_count($1, $2, 1, '', null)", uuid.uuid4(), ahead.id)
    finally:
        await conn.close()
    assert (
        await admin.fetchval("select count(*) from backroom.guest_list_name where list_id = $1", theirs) == 1
    )


async def test_check_in_counts_partial_arrivals_into_the_list_and_the_headcount(
    night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead)
    jane, _ali = await night_svc.lists.add_pasted(crew.promoter, lid, "Jane Doe +2\nAli Khan")
    first = await night_svc.lists.check_in(crew.door, jane, 2, door="front")
    assert (first.arrived, first.inside) == (2, 2)
    with pytest.raises(InvalidInput, match="party is 3 and 2 are in"):
        await night_svc.lists.check_in(crew.door, jane, 4)
    with pytest.raises(InvalidInput, match="2 are in already"):
        await night_svc.lists.check_in(crew.door, jane, 1)
    done = await night_svc.lists.check_in(crew.door2, jane, 3, door="side")
    assert (done.arrived, done.inside) == (3, 3)
    assert (await night_svc.headcount.current(ahead.id)).inside == 3
    with pytest.raises(InvalidInput, match="stays on the list"):
        await night_svc.lists.remove_name(crew.manager, jane)
    [credit] = await night_svc.lists.arrivals_by_list(ahead.id)
    assert (credit.name, credit.names, credit.expected, credit.names_in, credit.arrived) == (
        "Pia's list",
        2,
        4,
        1,
        3,
    )
    # The promoter sees their list's arrivals live.
    from services.store.db import acting_for

    with acting_for(crew.promoter):
        [mine] = await night_svc.lists.lists(ahead.id)
        assert mine.arrived == 3


async def test_door_search_finds_list_names_beside_bookings_best_first(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead)
    await night_svc.lists.add_pasted(crew.promoter, lid, "Jonathan Smith +1\nMaria Lopez")
    guest = await admin.fetchval("insert into backroom.guest (name) values ('Jon Smith') returning id")
    ref = await a_booking(admin, ahead, guest)
    from services.store.db import acting_for

    with acting_for(crew.door):
        found = await night_svc.lists.door_search(ahead.id, "jon smith")
        assert [(m.kind, m.name) for m in found[:2]] == [("booking", "Jon Smith"), ("list", "Jonathan Smith")]
        assert found[0].source == f"booking {ref}" and found[1].source == "list: Pia's list"
        assert found[1].party == 2
        assert "Maria Lopez" not in [m.name for m in found]
        assert [m.name for m in await night_svc.lists.door_search(ahead.id, "maria")] == ["Maria Lopez"]
        assert await night_svc.lists.door_search(ahead.id, "   ") == []


async def test_an_op_id_adds_once_and_every_change_is_audited_naming_who(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead)
    op = str(uuid.uuid4())
    first = await night_svc.lists.add_pasted(crew.promoter, lid, "Once Only +1", op_id=op)
    again = await night_svc.lists.add_pasted(crew.promoter, lid, "Once Only +1", op_id=op)
    assert first == again
    assert len(await night_svc.lists.names(lid)) == 1
    rows = await admin.fetch(
        "select staff_id, entity from backroom.audit_log where operation = 'guest_list_add' and op_id = $1",
        uuid.UUID(op),
    )
    assert {(r["staff_id"], r["entity"]) for r in rows} == {
        (crew.promoter.staff_id, "guest_list"),
        (crew.promoter.staff_id, "guest_list_name"),
    }
    with pytest.raises(AlreadyOnList):
        await night_svc.lists.add_name(crew.promoter, lid, "Once Only")
    refused = await admin.fetchval(
        "select count(*) from backroom.audit_log"
        " where operation = 'refused:guest_list_add' and staff_id = $1",
        crew.promoter.staff_id,
    )
    assert refused == 1


async def test_a_locked_session_reads_its_lists_and_changes_nothing(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead)
    nid = await night_svc.lists.add_name(crew.promoter, lid, "Before Lock")
    await lock(admin, crew.promoter)
    await lock(admin, crew.door)
    with pytest.raises(NotAllowed):
        await night_svc.lists.add_name(crew.promoter, lid, "After Lock")
    with pytest.raises(NotAllowed):
        await night_svc.lists.check_in(crew.door, nid, 1)
    from services.store.db import acting_for

    with acting_for(crew.promoter):
        assert [n.name for n in await night_svc.lists.names(lid)] == ["Before Lock"]
        # Locked, a promoter still reads nothing beyond their lists.
        async with night_svc.ops.db.transaction() as conn:
            assert await conn.fetchval("select count(*) from backroom.booking") == 0
    assert await admin.fetchval("select arrived_count from backroom.guest_list_name where id = $1", nid) == 0


@pytest.mark.parametrize("level", ["read committed", "repeatable read", "serializable"])
async def test_two_adds_racing_for_the_last_name_on_a_list_one_gets_it(
    dsn: str, admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, ahead: Night, level: str
) -> None:
    """The promoter's add is in, not committed; a manager's add for the same last place
    waits, and once the first commits it is refused (full, or try again)."""
    lid = await a_list(night_svc, crew, ahead, max_names=2)
    await night_svc.lists.add_name(crew.promoter, lid, "First In")
    conns = [await asyncpg.connect(dsn) for _ in range(2)]
    try:
        for conn, actor in zip(conns, (crew.promoter, crew.manager), strict=True):
            await conn.execute(f"begin isolation level {level}")
            await conn.execute(
                "select set_config('role', 'backroom_console', true),"
                " set_config('backroom.session', $1, true)",
                actor.session,
            )
            await conn.fetchval("select count(*) from backroom.guest_list_name")  # the snapshot
        sql = "select backroom.guest_list_add($1, $2, $3::jsonb)"
        await conns[0].fetchval(sql, uuid.uuid4(), lid, '[{"name": "Promoter Pick"}]')
        second = asyncio.create_task(conns[1].fetchval(sql, uuid.uuid4(), lid, '[{"name": "Manager Pick"}]'))
        await asyncio.sleep(0.3)
        assert not second.done()
        await conns[0].execute("commit")
        with pytest.raises(asyncpg.PostgresError) as refused:
            await second
        assert refused.value.sqlstate in ("BN004", "40001")
        await conns[1].execute("rollback")
    finally:
        for conn in conns:
            await conn.close()
    names = await admin.fetch(
        "select name from backroom.guest_list_name where list_id = $1 and removed_at is null order by id", lid
    )
    assert [r["name"] for r in names] == ["First In", "Promoter Pick"]


async def test_a_manager_changes_a_lists_caps_and_cut_off(
    night_svc: NightServices, crew: Crew, ahead: Night
) -> None:
    lid = await a_list(night_svc, crew, ahead, max_names=3, max_plus_ones=0, closes_in=-5)
    await night_svc.lists.add_pasted(crew.manager, lid, "Al\nBea")
    with pytest.raises(ListFull, match="has 2 names already"):
        await night_svc.lists.change_list(crew.manager, lid, max_names=1)
    with pytest.raises(NotAllowed):
        await night_svc.lists.change_list(crew.promoter, lid, max_names=9)
    await night_svc.lists.change_list(crew.manager, lid, max_plus_ones=2, closes_at=ahead.ends_at)
    # Open again until the new cut-off, with plus-ones.
    await night_svc.lists.add_name(crew.promoter, lid, "Cy", 2)
    from services.store.db import acting_for

    with acting_for(crew.promoter):
        [changed] = await night_svc.lists.lists(ahead.id)
    assert (changed.max_names, changed.max_plus_ones, changed.closes_at, changed.names) == (
        3,
        2,
        ahead.ends_at,
        3,
    )
