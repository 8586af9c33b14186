"""Shared pieces of the live-feed tests: waiting on a condition, recording the batches a
feed delivers, starting and stopping a feed, and bursts of changes from several staff."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Callable
from datetime import timedelta

import asyncpg

from services.bookings import BookingService, GuestDetails
from services.errors import BookingError
from services.live.feed import (
    Change,
    ChangeFeed,
    FeedState,
    FeedStatus,
    ListenTransport,
)
from services.models import Night
from services.store.db import Actor, Database
from services.store.seed import DEMO_MANAGER
from tests.conftest import fixed_clock
from tests.sessions import signed_in


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.02)


class Recorder:
    """Records what a feed reports; its resync reads the confirmed bookings if given a database."""

    def __init__(self, db: Database | None = None) -> None:
        self.changes: list[Change] = []
        self.statuses: list[FeedStatus] = []
        self.resyncs = 0
        self.db = db
        self.confirmed: set[int] = set()

    def states(self) -> list[FeedState]:
        return [s.state for s in self.statuses]

    async def resync(self) -> None:
        if self.db is not None:
            async with self.db.transaction(readonly=True) as conn:
                rows = await conn.fetch("select id from backroom.booking where status = 'confirmed'")
            self.confirmed = {r["id"] for r in rows}
        self.resyncs += 1


async def start_feed(
    dsn: str, rec: Recorder, *, gate: asyncio.Event | None = None, **kwargs: float
) -> tuple[ChangeFeed, asyncio.Task[None], Database]:
    """A live feed; while `gate` is cleared, its (re)connections wait."""
    db = Database(dsn)
    await db.open()
    # The resync reads as a signed-in manager: with no session Postgres shows nothing.
    manager = await signed_in(dsn, DEMO_MANAGER)
    db.acting = lambda: manager
    rec.db = rec.db or db

    async def connect() -> asyncpg.Connection:
        if gate is not None:
            await gate.wait()
        return await db.listener_connection()

    feed = ChangeFeed(
        ListenTransport(connect),
        on_change=rec.changes.append,
        on_status=rec.statuses.append,
        resync=rec.resync,
        **kwargs,
    )
    task = asyncio.create_task(feed.run())
    await until(lambda: feed.status.state is FeedState.LIVE)
    return feed, task, db


async def stop_feed(feed: ChangeFeed, task: asyncio.Task[None], db: Database) -> None:
    await feed.stop()
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, timeout=5)
    await db.close()


async def confirm_one_pending(admin: asyncpg.Connection) -> int:
    booking_id: int = await admin.fetchval(
        "update backroom.booking set status = 'confirmed' where id = ("
        " select b.id from backroom.booking b join backroom.night n on n.id = b.night_id"
        " where b.status = 'pending' and n.date = '2026-11-20' order by b.id limit 1) returning id"
    )
    return booking_id


WORKERS = 8
OPERATIONS_EACH = 30


async def burst(dsn: str, managers: list[Actor], night: Night, seed: int) -> int:
    """Random operations from several staff at once; returns how many succeeded."""
    dbs = [Database(dsn, min_size=1, max_size=2) for _ in managers]
    for db, actor in zip(dbs, managers, strict=True):
        db.acting = lambda actor=actor: actor  # its reads (get) as its own staff member
    await asyncio.gather(*(db.open() for db in dbs))
    done = 0

    async def staff_member(n: int, actor: Actor, svc: BookingService) -> None:
        nonlocal done
        rng = random.Random(seed * 100 + n)
        mine: list[int] = []
        holds: list[int] = []
        for _ in range(OPERATIONS_EACH):
            table = rng.randint(1, 16)
            op = rng.choice(["create", "create", "hold", "release", "confirm", "check_in", "cancel", "move"])
            try:
                if op == "create":
                    start = night.starts_at + timedelta(minutes=30 * rng.randint(0, 8))
                    booking = await svc.create(
                        actor,
                        night_id=night.id,
                        table_ids=[table],
                        party_size=2 + rng.randint(0, 2),
                        starts_at=start,
                        ends_at=start + timedelta(hours=1),
                        guest=GuestDetails(f"Burst guest {n}-{rng.randint(0, 10**6)}"),
                    )
                    mine.append(booking.id)
                elif op == "hold":
                    start = night.starts_at + timedelta(minutes=30 * rng.randint(0, 8))
                    held = await svc.hold(
                        actor,
                        night_id=night.id,
                        table_id=table,
                        starts_at=start,
                        ends_at=start + timedelta(minutes=30),
                    )
                    holds.append(held.id)
                elif op == "release" and holds:
                    await svc.release_hold(actor, holds.pop())
                elif op in ("confirm", "check_in", "cancel", "move") and mine:
                    booking = await svc.get(rng.choice(mine))
                    status = booking.status.value
                    if status == "pending":
                        await svc.confirm(actor, booking.id, booking.version)
                    elif status == "confirmed" and op == "check_in":
                        await svc.check_in(actor, booking.id, booking.version, 1)
                    elif status == "confirmed" and op == "cancel":
                        await svc.cancel(actor, booking.id, booking.version, "changed plans")
                    elif status in ("confirmed", "arrived"):
                        await svc.move(actor, booking.id, booking.version, table_ids=[table])
                    else:
                        continue
                else:
                    continue
                done += 1
            except BookingError:
                pass  # refused by the rules: a fine outcome in a burst

    try:
        await asyncio.gather(
            *(
                staff_member(n, actor, BookingService(db, fixed_clock))
                for n, (actor, db) in enumerate(zip(managers, dbs, strict=True))
            )
        )
    finally:
        await asyncio.gather(*(db.close() for db in dbs))
    return done


async def notes_storm(admin: asyncpg.Connection, night: Night, changes: int = 400) -> int:
    """Another client rewriting booking notes as fast as it can: one commit, one notification each."""
    ids = [
        r["id"]
        for r in await admin.fetch(
            "select distinct b.id from backroom.booking b join backroom.booking_table bt on bt.booking_id = b.id"
            " where b.night_id = $1 and b.status in ('pending', 'confirmed', 'arrived')",
            night.id,
        )
    ]
    rng = random.Random(7)
    for n in range(changes):
        await admin.execute(
            "update backroom.booking set notes = $2 where id = $1", rng.choice(ids), f"storm {n}"
        )
    return changes
