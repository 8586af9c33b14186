"""The repeat-safe operation runner: one transaction per operation under a client
operation id (a retry returns the first result), refusals explained and logged,
and a lost connection settled by asking what became of the operation."""

from __future__ import annotations

import functools
import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar

import asyncpg

from services.bookings.refusals import RefusalExplainer
from services.errors import BookingError, Interrupted, InvalidInput, NotSaved, OutcomeUnknown
from services.floor import booking_from_row
from services.identity.permissions import Operation, require
from services.models import Booking, Hold
from services.store.db import (
    Actor,
    ConnectionLost,
    Database,
    DatabaseError,
    abandon,
    act_as,
    acting_for,
    connection_lost,
)

SETTLE_TRIES = 2  # fresh connections tried to learn what became of a lost operation


def new_op_id() -> str:
    return str(uuid.uuid4())


def booking_json(b: Booking) -> dict[str, Any]:
    return {
        "id": b.id,
        "ref": b.ref,
        "status": b.status.value,
        "guest_name": b.guest_name,
        "guest_vip": b.guest_vip,
        "party_size": b.party_size,
        "arrived_count": b.arrived_count,
        "starts_at": b.starts_at.isoformat(),
        "ends_at": b.ends_at.isoformat(),
        "version": b.version,
        "table_ids": list(b.table_ids),
        "deposit": str(b.deposit),
        "notes": b.notes,
        "changed_by": b.changed_by,
        "arrived_at": b.arrived_at.isoformat() if b.arrived_at is not None else None,
        "deposit_paid": b.deposit_paid,
        "deposit_outcome": b.deposit_outcome,
        "undo_reason": b.undo_reason,
    }


def booking_from_json(d: dict[str, Any]) -> Booking:
    return booking_from_row(
        {
            **d,
            "starts_at": datetime.fromisoformat(d["starts_at"]),
            "ends_at": datetime.fromisoformat(d["ends_at"]),
            "deposit": Decimal(d["deposit"]),
            "arrived_at": datetime.fromisoformat(d["arrived_at"]) if d.get("arrived_at") else None,
        }
    )


def hold_json(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "expires_at": row["expires_at"].isoformat()}


def hold_from_json(d: dict[str, Any]) -> Hold:
    return Hold(
        d["id"], d["table_id"], d["holder"], datetime.fromisoformat(d["expires_at"]), d.get("staff_id")
    )


_S = TypeVar("_S")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def for_actor(
    method: Callable[Concatenate[_S, Actor, _P], Awaitable[_R]],
) -> Callable[Concatenate[_S, Actor, _P], Awaitable[_R]]:
    """The operation reads what it needs as its own actor, whoever the console shows."""

    @functools.wraps(method)
    async def run(self: _S, actor: Actor, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with acting_for(actor):
            return await method(self, actor, *args, **kwargs)

    return run


async def settle_operation(
    db: Database, actor: Actor, kind: Operation, op_id: str, lost: ConnectionLost
) -> dict[str, Any] | Interrupted:
    """What became of an operation whose connection failed: its stored result if it
    committed, else NotSaved, or OutcomeUnknown when the database cannot tell us.
    Asked by its operation id on fresh connections, whichever service ran it."""
    not_saved = NotSaved(
        "The database stopped answering before this was saved, so nothing was written. Try again.",
        op_id=op_id,
    )
    if not lost.maybe_committed:
        return not_saved  # COMMIT was never sent
    for _ in range(SETTLE_TRIES):
        try:
            conn = await db.direct()
        except DatabaseError:
            continue
        try:
            # The operation row commits with the change, so its absence means
            # nothing was written, once the old server process has surely ended.
            if lost.backend is None or not await db.ended(conn, lost.backend):
                break
            async with conn.transaction(readonly=True):
                await act_as(conn, actor)
                row = await conn.fetchrow(
                    "select kind, result from backroom.operation where op_id = $1", op_id
                )
        except (
            asyncpg.PostgresError,
            OSError,
            TimeoutError,
            asyncpg.InterfaceError,
            asyncpg.InternalClientError,
        ) as err:
            if connection_lost(err):
                continue
            break
        finally:
            abandon(conn)
        if row is None:
            return not_saved
        if row["kind"] == kind and row["result"] is not None:
            stored: dict[str, Any] = json.loads(row["result"])
            return stored
        break
    return OutcomeUnknown(
        "We could not tell whether this was saved: the database stopped answering. "
        "Try again: it will not be done twice.",
        op_id=op_id,
    )


class OperationRunner(RefusalExplainer):
    """Runs each operation once under its operation id, and logs what was refused."""

    async def _operation(
        self,
        actor: Actor,
        kind: Operation,
        op_id: str | None,
        body: Callable[[asyncpg.Connection], Awaitable[dict[str, Any]]],
        *,
        entity: str = "booking",
        entity_id: int | None = None,
        context: dict[str, Any] | None = None,
        permission: Operation | None = None,
    ) -> dict[str, Any]:
        # `permission` names the right the operation needs, when it is not the kind itself.
        require(actor, permission or kind)
        op_id = op_id or new_op_id()
        try:
            async with self._db.transaction(actor, operation=kind, op_id=op_id) as conn:
                first = await conn.fetchval(
                    "insert into backroom.operation (op_id, kind, staff_id) values ($1, $2, $3)"
                    " on conflict (op_id) do nothing returning true",
                    op_id,
                    kind,
                    actor.staff_id,
                )
                if not first:
                    row = await conn.fetchrow(
                        "select kind, result from backroom.operation where op_id = $1", op_id
                    )
                    assert row is not None  # the insert just found it
                    if row["kind"] != kind:
                        raise InvalidInput(
                            f"operation id {op_id} was already used for {row['kind']}, not {kind}"
                        )
                    stored: dict[str, Any] = json.loads(row["result"])
                    return stored
                result = await body(conn)
                await conn.execute(
                    "update backroom.operation set result = $2 where op_id = $1",
                    op_id,
                    json.dumps(result),
                )
                return result
        except ConnectionLost as lost:
            # Not a refusal: find out what happened before saying anything.
            settled = await settle_operation(self._db, actor, kind, op_id, lost)
            if isinstance(settled, Interrupted):
                raise settled from lost
            return settled
        except asyncpg.PostgresError as err:
            refusal = await self._explain(err, context or {})
            await self._record_refusal(actor, kind, entity, entity_id, op_id, refusal)
            raise refusal from err
        except BookingError as refusal:
            await self._record_refusal(actor, kind, entity, entity_id, op_id, refusal)
            raise

    async def _one_call(
        self,
        actor: Actor,
        kind: Operation,
        op_id: str | None,
        function: str,
        args: tuple[Any, ...],
        longer: Callable[[str], Awaitable[Booking]],
        *,
        permission: Operation | None = None,
    ) -> Booking:
        """The operation in one call of `backroom.<function>(session, op_id, staff_id, *args)`
        (see migration 0020): the booking it stored as its answer. Whatever that call refuses
        rolled back whole and is run again the longer way (`longer(op_id)`), which explains it
        in staff words and logs it; a lost answer is asked back by the operation id."""
        require(actor, permission or kind)
        op_id = op_id or new_op_id()
        marks = ", ".join(f"${n}" for n in range(4, len(args) + 4))
        try:
            raw = await self._db.call(
                f"select backroom.{function}($1, $2::uuid, $3, {marks})",
                actor.session or "",
                op_id,
                actor.staff_id,
                *args,
            )
        except ConnectionLost as lost:
            settled = await settle_operation(self._db, actor, kind, op_id, lost)
            if isinstance(settled, Interrupted):
                raise settled from lost
            return booking_from_json(settled)
        except asyncpg.PostgresError:
            return await longer(op_id)
        return booking_from_json(json.loads(raw))

    async def _record_refusal(
        self,
        actor: Actor,
        kind: Operation,
        entity: str,
        entity_id: int | None,
        op_id: str,
        refusal: BookingError,
    ) -> None:
        try:
            async with self._db.transaction(actor) as conn:
                await conn.execute(
                    "select backroom.log_refusal($1, $2, $3, $4, $5)",
                    kind,
                    entity,
                    entity_id,
                    op_id,
                    json.dumps(refusal.details(), default=str),
                )
        except (asyncpg.PostgresError, OSError, TimeoutError, DatabaseError):
            # The refusal itself is what the user must see; a lost audit
            # row of it must not hide it.
            pass
