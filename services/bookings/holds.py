"""Holding a table while a booking is typed, renewing and releasing holds, and the
sweep that expires lapsed holds and unconfirmed bookings."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import datetime
from typing import Any

import asyncpg

from services.bookings.runner import OperationRunner, for_actor, hold_from_json, hold_json
from services.errors import HoldExpired, NotAllowed, NotFound
from services.identity.permissions import Operation
from services.models import Hold
from services.store.db import Actor, DatabaseError


class HoldOperations(OperationRunner):
    """Table holds and their expiry."""

    @for_actor
    async def hold(
        self,
        actor: Actor,
        *,
        night_id: int,
        table_id: int,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        seconds: int | None = None,
        party_size: int | None = None,
        op_id: str | None = None,
    ) -> Hold:
        """Hold a table for this staff member; holding it again renews the hold."""
        if actor.staff_id is None:
            raise NotAllowed("Only a signed-in staff member can hold a table.")
        async with self._db.transaction(readonly=True) as conn:
            night = await conn.fetchrow(
                "select n.starts_at, n.ends_at, v.hold_seconds,"
                " (select min_party from backroom.venue_table where id = $2) as min_party"
                " from backroom.night n join backroom.venue v on v.id = n.venue_id where n.id = $1",
                night_id,
                table_id,
            )
        if night is None:
            raise NotFound(f"There is no night {night_id}.")
        start, end = starts_at or night["starts_at"], ends_at or night["ends_at"]
        secs = seconds or night["hold_seconds"]
        ctx = {
            "night_id": night_id,
            "party": party_size or night["min_party"],
            "starts_at": start,
            "ends_at": end,
            "table_ids": [table_id],
        }

        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            row = await conn.fetchrow(
                "update backroom.hold set expires_at = clock_timestamp() + make_interval(secs => $3),"
                " renewed_at = clock_timestamp()"
                " where table_id = $1 and staff_id = $2 and during && tstzrange($4, $5)"
                " and expires_at > clock_timestamp()"
                " returning id, table_id, holder, expires_at, staff_id",
                table_id,
                actor.staff_id,
                secs,
                start,
                end,
            )
            if row is None:
                row = await conn.fetchrow(
                    "insert into backroom.hold (table_id, night_id, during, staff_id, holder, expires_at)"
                    " values ($1, $2, tstzrange($3, $4), $5, $6,"
                    " clock_timestamp() + make_interval(secs => $7))"
                    " returning id, table_id, holder, expires_at, staff_id",
                    table_id,
                    night_id,
                    start,
                    end,
                    actor.staff_id,
                    actor.name,
                    secs,
                )
            assert row is not None  # an insert that returns, or raises
            return hold_json(row)

        return hold_from_json(
            await self._operation(actor, Operation.HOLD, op_id, body, entity="hold", context=ctx)
        )

    @for_actor
    async def renew_hold(self, actor: Actor, hold_id: int, *, seconds: int | None = None) -> Hold:
        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            row = await conn.fetchrow(
                "update backroom.hold set renewed_at = clock_timestamp(),"
                " expires_at = clock_timestamp() + make_interval(secs => coalesce($3,"
                "   (select v.hold_seconds from backroom.venue v limit 1)))"
                " where id = $1 and staff_id = $2 and expires_at > clock_timestamp()"
                " returning id, table_id, holder, expires_at, staff_id",
                hold_id,
                actor.staff_id,
                seconds,
            )
            if row is None:
                raise HoldExpired("That hold has lapsed or is not yours; hold the table again.")
            return hold_json(row)

        return hold_from_json(
            await self._operation(actor, Operation.RENEW_HOLD, None, body, entity="hold", entity_id=hold_id)
        )

    @for_actor
    async def release_hold(self, actor: Actor, hold_id: int) -> None:
        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            await conn.execute(
                "delete from backroom.hold where id = $1 and staff_id = $2", hold_id, actor.staff_id
            )
            return {}

        await self._operation(actor, Operation.RELEASE_HOLD, None, body, entity="hold", entity_id=hold_id)

    async def sweep(self) -> int:
        """Expire lapsed holds and pending bookings not confirmed in time."""
        async with self._db.transaction(operation="expire") as conn:
            return int(await conn.fetchval("select backroom.sweep()"))

    async def keep_sweeping(
        self, every: float = 5.0, on_error: Callable[[Exception], None] | None = None
    ) -> None:
        """Sweep until cancelled. Any console may run this: a sweep is idempotent,
        and with several consoles expiry only happens sooner."""
        while True:
            try:
                await self.sweep()
            except (asyncpg.PostgresError, OSError, DatabaseError) as err:
                if on_error is not None:
                    on_error(err)
            await asyncio.sleep(every)
