"""Random sequences of operations from several staff, with the invariants
checked after every step: no overlap, capacity respected, legal statuses
only, and one audit row for every change."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import asyncpg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.bookings import BookingService, GuestDetails, new_op_id
from services.errors import BookingError
from services.store.db import Actor, Database
from tests.conftest import TEMPLATE, fixed_clock, with_database
from tests.sessions import new_staff

LEGAL = {
    ("pending", "confirmed"),
    ("pending", "arrived"),
    ("pending", "cancelled"),
    ("pending", "expired"),
    ("confirmed", "arrived"),
    ("confirmed", "cancelled"),
    ("confirmed", "no_show"),
    ("arrived", "completed"),
}
TABLES = [9, 10, 11, 12, 13, 14]
BOOKING_OPS = {"create", "confirm", "stale_confirm", "check_in", "cancel", "no_show", "complete", "move"}

step = st.tuples(
    st.sampled_from(
        [
            "create",
            "create",
            "confirm",
            "check_in",
            "cancel",
            "no_show",
            "complete",
            "move",
            "hold",
            "release",
            "stale_confirm",
        ]
    ),
    st.integers(0, 2),  # which staff member
    st.sampled_from(TABLES),  # table
    st.integers(1, 12),  # party size or arrivals
    st.integers(0, 8),  # start, in half hours after opening
    st.integers(1, 6),  # length, in half hours
    st.integers(0, 10),  # which earlier booking
)


async def check_invariants(conn: asyncpg.Connection) -> None:
    overlaps = await conn.fetchval(
        "select count(*) from backroom.booking_table a join backroom.booking_table b"
        " on a.table_id = b.table_id and a.booking_id < b.booking_id"
        " where a.active and b.active and a.during && b.during"
    )
    assert overlaps == 0
    misfits = await conn.fetchval(
        "select count(*) from (select b.id, b.party_size, sum(t.max_party) mx, min(t.min_party) mn"
        " from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
        " join backroom.venue_table t on t.id = bt.table_id"
        " where b.status in ('pending', 'confirmed', 'arrived') group by b.id) x"
        " where party_size > mx or party_size < mn"
    )
    assert misfits == 0
    statuses = {r["status"] for r in await conn.fetch("select distinct status from backroom.booking")}
    assert statuses <= {"pending", "confirmed", "arrived", "completed", "cancelled", "no_show", "expired"}
    moves = await conn.fetch(
        "select before->>'status' as a, after->>'status' as b from backroom.audit_log"
        " where entity = 'booking' and operation not like 'refused:%' and before is not null"
        " and before->>'status' <> after->>'status'"
    )
    assert {(m["a"], m["b"]) for m in moves} <= LEGAL
    lost = await conn.fetchval(
        "select count(*) from backroom.booking b where b.version <>"
        " (select count(*) from backroom.audit_log a where a.entity = 'booking' and a.entity_id = b.id"
        "  and a.operation not like 'refused:%')"
    )
    assert lost == 0, "each version of a booking has exactly one audit row"


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(step, min_size=3, max_size=14))
async def test_random_operations_keep_the_invariants(
    server_dsn: str, template_dsn: str, steps: list[tuple[str, int, int, int, int, int, int]]
) -> None:
    name = f"h_{uuid.uuid4().hex[:10]}"
    root = await asyncpg.connect(server_dsn)
    await root.execute(f"create database {name} template {TEMPLATE}")
    dsn = with_database(server_dsn, name)
    owner = await asyncpg.connect(dsn)
    db = Database(dsn)
    await db.open()
    try:
        svc = BookingService(db, fixed_clock)
        staff = []
        for i, role in enumerate(("manager", "manager", "door")):
            staff.append(await new_staff(owner, f"p{i}@backroom.test", f"Staff {i}", role))
        night = await owner.fetchrow(
            "select id, starts_at, ends_at from backroom.night where date = '2026-11-20'"
        )
        assert night is not None
        mine: list[int] = []
        holds: list[tuple[Actor, int]] = []
        await check_invariants(owner)
        for kind, who, table, n, start, length, pick in steps:
            actor = staff[int(who)]
            starts = night["starts_at"] + timedelta(minutes=30 * int(start))
            ends = min(starts + timedelta(minutes=30 * int(length)), night["ends_at"])
            op = new_op_id()
            target = mine[int(pick) % len(mine)] if mine else None
            audit_before = await owner.fetchval("select coalesce(max(id), 0) from backroom.audit_log")
            try:
                if kind == "create":
                    b = await svc.create(
                        actor,
                        night_id=night["id"],
                        table_ids=[table],
                        party_size=n,
                        starts_at=starts,
                        ends_at=ends,
                        guest=GuestDetails("Prop"),
                        op_id=op,
                    )
                    mine.append(b.id)
                elif kind == "hold":
                    h = await svc.hold(
                        actor, night_id=night["id"], table_id=table, starts_at=starts, ends_at=ends, op_id=op
                    )
                    holds.append((actor, h.id))
                elif kind == "release" and holds:
                    holder, hold_id = holds.pop()
                    await svc.release_hold(holder, hold_id)
                elif target is not None:
                    current = await svc.get(target)
                    version = current.version - 1 if kind == "stale_confirm" else current.version
                    if kind in ("confirm", "stale_confirm"):
                        await svc.confirm(actor, target, version, op_id=op)
                    elif kind == "check_in":
                        await svc.check_in(actor, target, version, n, op_id=op)
                    elif kind == "cancel":
                        await svc.cancel(actor, target, version, "changed plans", op_id=op)
                    elif kind == "no_show":
                        await svc.no_show(actor, target, version, op_id=op)
                    elif kind == "complete":
                        await svc.complete(actor, target, version, op_id=op)
                    elif kind == "move":
                        await svc.move(
                            actor,
                            target,
                            version,
                            table_ids=[table],
                            starts_at=starts,
                            ends_at=ends,
                            op_id=op,
                        )
                changed = True
            except BookingError:
                changed = False
            await check_invariants(owner)
            rows = await owner.fetch(
                "select operation, entity, after from backroom.audit_log where id > $1 and entity <> 'booking_table'",
                audit_before,
            )
            acted_on_booking = changed and (kind == "create" or (kind in BOOKING_OPS and target is not None))
            if acted_on_booking:
                assert len([r for r in rows if r["entity"] == "booking"]) == 1, rows
            if not changed and rows:
                assert all(r["operation"].startswith("refused:") for r in rows), rows
                assert all(json.loads(r["after"])["code"] for r in rows)
    finally:
        await db.close()
        await owner.close()
        await root.execute(f"drop database {name} with (force)")
        await root.close()
