"""Spend against the minimum and alerts, against real Postgres: running totals, the
floor's parties short of their minimum, close-out (comped, could not pay), the night's
totals per floor; alerts sent, listed, dismissed per console, cleared; the feed carries
counts, spend and alerts so other consoles hear them with no key pressed."""

from __future__ import annotations

import asyncio
import uuid
from decimal import Decimal

import asyncpg
import pytest

from services.errors import InvalidInput, NotAllowed
from services.live.feed import Change, ChangeBatch, ChangeBatcher
from services.night import NightServices
from services.store.db import CHANGES_CHANNEL, acting_for
from tests.night_helpers import Crew, Night, lock, staff_id


@pytest.fixture
async def open_now(admin: asyncpg.Connection) -> Night:
    """A night under way by the database's clock."""
    row = await admin.fetchrow(
        "insert into backroom.night (venue_id, date, starts_at, ends_at)"
        " values (1, current_date + 61, clock_timestamp() - interval '1 hour',"
        "         clock_timestamp() + interval '4 hours') returning id, starts_at, ends_at"
    )
    assert row is not None
    return Night(row["id"], row["starts_at"], row["ends_at"])


async def party_in(admin: asyncpg.Connection, night: Night, table: int, name: str, min_spend: int) -> int:
    async with admin.transaction():
        guest = await admin.fetchval("insert into backroom.guest (name) values ($1) returning id", name)
        bid = await admin.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, arrived_count, status,"
            " starts_at, ends_at, min_spend) values ($1, $2, 4, 4, 'arrived', $3, $4, $5) returning id",
            night.id,
            guest,
            night.starts_at,
            night.ends_at,
            min_spend,
        )
        await admin.execute(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            bid,
            table,
            night.starts_at,
            night.ends_at,
        )
    return int(bid)


async def test_spend_runs_against_the_minimum_and_closes_out(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, open_now: Night
) -> None:
    spend = night_svc.spend
    up = await party_in(admin, open_now, 3, "Ann Upstairs", 300)
    down = await party_in(admin, open_now, 12, "Dee Downstairs", 500)
    assert (await spend.record(crew.door, up, Decimal("120.50"), "bottle")).total == Decimal("120.50")
    op = str(uuid.uuid4())
    total = await spend.record(crew.door, up, Decimal("100"), op_id=op)
    assert (await spend.record(crew.door, up, Decimal("100"), op_id=op)).total == total.total
    assert (total.total, total.min_spend, total.short) == (Decimal("220.50"), Decimal(300), Decimal("79.50"))
    await spend.record(crew.door2, down, Decimal(600))
    with pytest.raises(InvalidInput, match="above 0"):
        await spend.record(crew.door, up, Decimal(-20))
    with pytest.raises(InvalidInput, match="below nothing"):
        await spend.record(crew.manager, up, Decimal(-500))
    await spend.record(crew.manager, up, Decimal("-0.50"), "wrong key")
    with pytest.raises(NotAllowed):
        await spend.record(crew.support, up, Decimal(1))
    with acting_for(crew.manager):
        short = await spend.short_of_minimum(open_now.id)
    assert [(s.guest_name, s.short, s.tables) for s in short] == [("Ann Upstairs", Decimal(80), "3")]
    with pytest.raises(NotAllowed):
        await spend.close_out(crew.door, up, Decimal(220), "comped")
    closed = await spend.close_out(crew.manager, up, Decimal(250), "comped", "birthday")
    assert (closed.total, closed.closed) == (Decimal(250), "comped")
    assert await admin.fetchval("select status from backroom.booking where id = $1", up) == "completed"
    with pytest.raises(InvalidInput, match="completed"):
        await spend.record(crew.door, up, Decimal(5))
    await spend.close_out(crew.manager, down, Decimal(0), "could_not_pay")
    with acting_for(crew.manager):
        floors = {f.floor: f for f in await spend.night_totals(open_now.id)}
    assert (floors["Upstairs"].spend, floors["Upstairs"].minimums, floors["Upstairs"].comped) == (
        Decimal(250),
        Decimal(300),
        Decimal(250),
    )
    assert (floors["Downstairs"].spend, floors["Downstairs"].short, floors["Downstairs"].could_not_pay) == (
        Decimal(0),
        Decimal(500),
        Decimal(0),
    )
    await night_svc.headcount.count_in(crew.door, open_now.id, 7)
    with acting_for(crew.manager):
        report = await night_svc.report(open_now.id)
    assert (report.peak, report.capacity, len(report.floors), report.lists) == (7, 350, 2, [])
    assert report.peak_at is not None and report.hours[0].peak == 7
    who = await admin.fetch(
        "select staff_id from backroom.audit_log where operation = 'spend_record'"
        " and entity = 'spend' order by id"
    )
    assert [r["staff_id"] for r in who] == [
        crew.door.staff_id,
        crew.door.staff_id,
        crew.door2.staff_id,
        crew.manager.staff_id,
    ]


async def test_alerts_reach_every_console_until_each_dismisses_them(
    admin: asyncpg.Connection, night_svc: NightServices, crew: Crew
) -> None:
    alerts = night_svc.alerts
    front, bar = str(uuid.uuid4()), str(uuid.uuid4())
    with pytest.raises(NotAllowed):
        await alerts.send(crew.door, "police")
    with pytest.raises(InvalidInput, match="at most 120"):
        await alerts.send(crew.manager, "free", "x" * 121)
    with pytest.raises(InvalidInput):
        await alerts.send(crew.manager, "free", "  ")
    police = await alerts.send(crew.manager, "police", "side door")
    note = await alerts.send(crew.manager, "free", "Last orders at 2")
    for actor in (crew.door, crew.promoter, crew.support):
        with acting_for(actor):
            assert [a.body for a in await alerts.active(front)] == [
                "Last orders at 2",
                "Police at the door: side door",
            ]
    await alerts.dismiss(crew.door, police, front)
    await alerts.dismiss(crew.door, police, front)
    with acting_for(crew.door):
        assert [a.id for a in await alerts.active(front)] == [note]
        assert [a.id for a in await alerts.active(bar)] == [note, police]
    await alerts.clear(crew.manager, note)
    with acting_for(crew.door):
        assert [a.id for a in await alerts.active(bar)] == [police]
    await lock(admin, crew.support)
    with pytest.raises(NotAllowed):
        await alerts.dismiss(crew.support, police, bar)
    audited = await admin.fetch(
        "select operation, staff_id from backroom.audit_log"
        " where entity in ('alert', 'alert_dismissal') and operation not like 'refused:%'"
        " order by id"
    )
    assert [(r["operation"], r["staff_id"]) for r in audited] == [
        ("alert_send", crew.manager.staff_id),
        ("alert_send", crew.manager.staff_id),
        ("alert_dismiss", crew.door.staff_id),
        ("alert_clear", crew.manager.staff_id),
    ]


async def test_the_feed_carries_counts_spend_lists_and_alerts(
    dsn: str, admin: asyncpg.Connection, night_svc: NightServices, crew: Crew, open_now: Night
) -> None:
    heard: asyncio.Queue[str] = asyncio.Queue()
    listener = await asyncpg.connect(dsn)
    await listener.add_listener(CHANGES_CHANNEL, lambda *a: heard.put_nowait(a[3]))
    try:
        bid = await party_in(admin, open_now, 5, "Feed Party", 100)
        await night_svc.headcount.count_in(crew.door, open_now.id, 2)
        await night_svc.spend.record(crew.door, bid, Decimal(10))
        await night_svc.alerts.send(crew.manager, "at_capacity", night_id=open_now.id)
        async with night_svc.ops.db.transaction(crew.manager) as conn:
            closes = await conn.fetchval("select clock_timestamp() + interval '1 hour'")
        await night_svc.lists.create_list(
            crew.manager,
            night_id=open_now.id,
            name="Feed",
            owner_id=staff_id(crew.promoter),
            max_names=3,
            max_plus_ones=1,
            closes_at=closes,
        )
        kinds: dict[str, Change] = {}
        while not {"headcount", "spend", "alert", "guest_list"} <= kinds.keys():
            change = Change.parse(await asyncio.wait_for(heard.get(), 5))
            assert change is not None
            kinds[change.kind] = change
        assert kinds["headcount"].night == open_now.id and kinds["headcount"].id is None
        assert kinds["spend"].night == open_now.id and kinds["alert"].night == open_now.id
        assert kinds["spend"].tables == (5,)
        assert kinds["guest_list"].night == open_now.id and kinds["guest_list"].op == "insert"
    finally:
        await listener.close()


async def test_the_nights_changes_redraw_no_tile_and_spend_redraws_its_tables() -> None:
    batches: list[ChangeBatch] = []  # what a console's screens are handed
    batcher = ChangeBatcher(batches.append, every=0.01)
    for kind in ("headcount", "alert", "guest_list_name"):
        batcher.add(Change(kind=kind, id=None, night=7, tables=(), op="update"))
    batcher.add(Change(kind="spend", id=1, night=7, tables=(5,), op="insert"))
    await asyncio.sleep(0.05)
    assert batches and not any(b.everything for b in batches)
    assert not any(b.concerns(8) for b in batches)  # another night's floor: nothing to reload
    assert {"headcount", "alert", "guest_list_name", "spend"} <= set().union(*(b.kinds for b in batches))
    assert 5 in set().union(*(b.tables for b in batches))
