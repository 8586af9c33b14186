"""Undoing a change with a reason: arrival counts, no-shows, completions and
cancellations."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from services.bookings.alternatives import SLOT
from services.bookings.inputs import reason_problem, refuse
from services.bookings.operations import BookingOperations
from services.bookings.runner import for_actor
from services.errors import IllegalTransition, InvalidInput
from services.identity.permissions import Operation
from services.models import Booking
from services.store.db import Actor

UNDO_WORDS = {
    Operation.CORRECT_ARRIVALS: "Correcting an arrival count",
    Operation.REVERSE_NO_SHOW: "Reversing a no-show",
    Operation.REVERSE_COMPLETION: "Reversing a completion",
    Operation.REOPEN: "Reopening a booking",
}


class UndoOperations(BookingOperations):
    """Changes undone, each with a reason."""

    async def _undo(
        self,
        actor: Actor,
        kind: Operation,
        booking_id: int,
        version: int,
        reason: str,
        sets: str,
        args: tuple[Any, ...],
        op_id: str | None,
        *,
        statuses: tuple[str, ...],
        tonight: bool = True,
        check: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]] | None = None,
    ) -> Booking:
        """A change undone, under its own operation, with the reason kept on the booking (and
        so in its audit row). `statuses` are those it undoes; `tonight`: only during the
        night (from when a party may first arrive), else until the night is over."""
        refuse(reason_problem(reason, what=UNDO_WORDS[kind]))
        now = self._clock()
        current = await self.get(booking_id)
        ctx: dict[str, Any] = {
            "booking_id": booking_id,
            "table_ids": list(current.table_ids),
            "starts_at": current.occupied_from,
            "ends_at": max(current.ends_at, now + SLOT),
        }

        async def before(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
            night = await conn.fetchrow(
                "select date, starts_at, ends_at from backroom.night where id = $1", row["night_id"]
            )
            assert night is not None  # a booking's night stays
            ctx["night_id"] = row["night_id"]
            await self._refuse_outside_night(UNDO_WORDS[kind], night, now, before_ok=not tonight)
            if row["status"] not in statuses:
                raise IllegalTransition(
                    f"Booking {row['ref']} is {row['status'].replace('_', ' ')}: "
                    f"{UNDO_WORDS[kind].lower()} does not apply.",
                    from_status=row["status"],
                    to_status=None,
                )
            if check is not None:
                await check(conn, row)
            await conn.execute("select set_config('backroom.reason', $1, true)", reason.strip())

        return await self._change(actor, kind, booking_id, version, sets, args, op_id, ctx=ctx, before=before)

    @for_actor
    async def correct_arrivals(
        self,
        actor: Actor,
        booking_id: int,
        version: int,
        arrived: int,
        reason: str,
        *,
        op_id: str | None = None,
    ) -> Booking:
        """Set how many of a party that is in are in, down or up, with a reason. Down to
        nobody, the booking is expected again: confirmed (the party was at the door, so it
        is not left to lapse as a pending booking would)."""
        if arrived < 0:
            raise InvalidInput("The count cannot be below 0.")

        async def fits(_conn: asyncpg.Connection, row: asyncpg.Record) -> None:
            if arrived > row["party_size"]:
                raise InvalidInput(
                    f"The party is {row['party_size']}: at most {row['party_size']} "
                    "can be in. Change the party size first if more have come."
                )
            if arrived == row["arrived_count"]:
                raise InvalidInput(f"{arrived} of the party are in already: nothing to correct.")

        return await self._undo(
            actor,
            Operation.CORRECT_ARRIVALS,
            booking_id,
            version,
            reason,
            "arrived_count = $2, status = case when $2::smallint = 0 then 'confirmed' else status end",
            (arrived,),
            op_id,
            statuses=("arrived",),
            check=fits,
        )

    @for_actor
    async def reverse_no_show(
        self, actor: Actor, booking_id: int, version: int, reason: str, *, op_id: str | None = None
    ) -> Booking:
        """A party marked no-show has come after all: confirmed again, to be checked in, while
        its table is still free for it."""
        return await self._undo(
            actor,
            Operation.REVERSE_NO_SHOW,
            booking_id,
            version,
            reason,
            "status = 'confirmed'",
            (),
            op_id,
            statuses=("no_show",),
        )

    @for_actor
    async def reverse_completion(
        self, actor: Actor, booking_id: int, version: int, reason: str, *, op_id: str | None = None
    ) -> Booking:
        """A party completed by mistake is in again, with its arrival count, while its table
        has room for it."""
        return await self._undo(
            actor,
            Operation.REVERSE_COMPLETION,
            booking_id,
            version,
            reason,
            "status = 'arrived'",
            (),
            op_id,
            statuses=("completed",),
        )

    @for_actor
    async def reopen(
        self, actor: Actor, booking_id: int, version: int, reason: str, *, op_id: str | None = None
    ) -> Booking:
        """A cancelled booking back as it stood before it was cancelled (confirmed, or
        pending if it never was), while its table is still free; until its night is over.
        Its deposit's outcome is cleared: a kept deposit is paid still, a refunded one is
        owed again."""
        async with self._db.transaction(readonly=True) as conn:
            was = await conn.fetchval(
                "select before->>'status' from backroom.audit_log where entity = 'booking'"
                " and entity_id = $1 and after->>'status' = 'cancelled'"
                " and before->>'status' <> 'cancelled' order by id desc limit 1",
                booking_id,
            )
        status = "pending" if was == "pending" else "confirmed"
        return await self._undo(
            actor,
            Operation.REOPEN,
            booking_id,
            version,
            reason,
            "status = $2",
            (status,),
            op_id,
            statuses=("cancelled",),
            tonight=False,
        )
