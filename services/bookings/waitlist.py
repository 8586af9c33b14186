"""The waitlist: parties waiting for a table, offered one, booked, or gone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from services.bookings.inputs import GuestDetails, guest_fields, guest_problem, notes_problem, refuse
from services.bookings.operations import BookingOperations
from services.bookings.runner import booking_from_json, booking_json, for_actor
from services.errors import InvalidInput, NotFound
from services.identity.permissions import Operation
from services.models import Booking
from services.store.db import Actor


@dataclass(frozen=True)
class WaitlistEntry:
    id: int
    guest_name: str
    party_size: int
    notes: str
    status: str
    offered_table: int | None
    booking_id: int | None
    created_at: datetime
    phone: str | None = None


class WaitlistOperations(BookingOperations):
    """The night's waitlist, and booking a waiting party."""

    async def waitlist(self, night_id: int) -> list[WaitlistEntry]:
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select w.id, g.name as guest_name, w.party_size, w.notes, w.status,"
                " w.offered_table, w.booking_id, w.created_at, g.phone"
                " from backroom.waitlist_entry w join backroom.guest g on g.id = w.guest_id"
                " where w.night_id = $1 and w.status in ('waiting', 'offered')"
                " order by w.created_at, w.id",
                night_id,
            )
        return [WaitlistEntry(**dict(r)) for r in rows]

    @for_actor
    async def waitlist_add(
        self,
        actor: Actor,
        *,
        night_id: int,
        guest: GuestDetails,
        party_size: int,
        notes: str = "",
        op_id: str | None = None,
    ) -> int:
        refuse(guest_problem(guest), notes_problem(notes))
        notes = notes.strip()
        if party_size < 1:
            raise InvalidInput("The party must have at least one guest.")

        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            gid = guest.guest_id
            if gid is None:
                gid = await conn.fetchval(
                    "insert into backroom.guest (name, phone, email, vip) values ($1, $2, $3, $4)"
                    " returning id",
                    *guest_fields(guest),
                    guest.vip,
                )
            entry = await conn.fetchval(
                "insert into backroom.waitlist_entry (night_id, guest_id, party_size, notes,"
                " created_by) values ($1, $2, $3, $4, $5) returning id",
                night_id,
                gid,
                party_size,
                notes,
                actor.staff_id,
            )
            return {"id": entry}

        result = await self._operation(actor, Operation.WAITLIST_ADD, op_id, body, entity="waitlist_entry")
        return int(result["id"])

    @for_actor
    async def waitlist_offer(
        self, actor: Actor, entry_id: int, table_id: int, *, op_id: str | None = None
    ) -> None:
        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            done = await conn.execute(
                "update backroom.waitlist_entry set status = 'offered', offered_table = $2"
                " where id = $1 and status in ('waiting', 'offered')",
                entry_id,
                table_id,
            )
            if done.endswith(" 0"):
                raise NotFound("That party is no longer on the waitlist.")
            return {}

        await self._operation(
            actor, Operation.WAITLIST_OFFER, op_id, body, entity="waitlist_entry", entity_id=entry_id
        )

    @for_actor
    async def waitlist_book(
        self,
        actor: Actor,
        entry_id: int,
        *,
        table_ids: list[int],
        starts_at: datetime,
        ends_at: datetime | None = None,
        op_id: str | None = None,
    ) -> Booking:
        """Turn a waiting party into a booking, in one transaction with the entry."""
        async with self._db.transaction(readonly=True) as conn:
            entry = await conn.fetchrow(
                "select night_id, guest_id, party_size, notes, status"
                " from backroom.waitlist_entry where id = $1",
                entry_id,
            )
        if entry is None or entry["status"] not in ("waiting", "offered"):
            raise NotFound("That party is no longer on the waitlist.")
        tables = sorted(set(table_ids))
        if not tables:
            raise InvalidInput("Choose at least one table.")
        end = ends_at or await self._night_end(entry["night_id"])
        ctx = {
            "night_id": entry["night_id"],
            "party": entry["party_size"],
            "starts_at": starts_at,
            "ends_at": end,
            "table_ids": tables,
        }

        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            still = await conn.fetchval(
                "select status in ('waiting', 'offered') from backroom.waitlist_entry"
                " where id = $1 for update",
                entry_id,
            )
            if not still:
                raise NotFound("That party is no longer on the waitlist.")
            await self._nobody_in(conn, entry["night_id"], tables, entry["party_size"], starts_at, end)
            booking_id = await self._insert_booking(
                conn,
                actor,
                night_id=entry["night_id"],
                tables=tables,
                party=entry["party_size"],
                starts_at=starts_at,
                ends_at=end,
                guest=None,
                guest_id=entry["guest_id"],
                deposit=0,
                min_spend=None,
                notes=entry["notes"],
                status="pending",
            )
            await conn.execute(
                "update backroom.waitlist_entry set status = 'booked', booking_id = $2,"
                " offered_table = $3 where id = $1",
                entry_id,
                booking_id,
                tables[0],
            )
            return booking_json(await self._read(conn, booking_id))

        return booking_from_json(
            await self._operation(
                actor,
                Operation.WAITLIST_BOOK,
                op_id,
                body,
                entity="waitlist_entry",
                entity_id=entry_id,
                context=ctx,
            )
        )

    @for_actor
    async def waitlist_leave(self, actor: Actor, entry_id: int, *, op_id: str | None = None) -> None:
        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            await conn.execute(
                "update backroom.waitlist_entry set status = 'left' where id = $1"
                " and status in ('waiting', 'offered')",
                entry_id,
            )
            return {}

        await self._operation(
            actor, Operation.WAITLIST_LEAVE, op_id, body, entity="waitlist_entry", entity_id=entry_id
        )
