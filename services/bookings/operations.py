"""The booking operations: create, seat a walk-in, confirm, check in, cancel,
no-show, complete, move and amend."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import asyncpg

from services.bookings.alternatives import SLOT, in_the_way
from services.bookings.inputs import (
    DEPOSIT_OUTCOMES,
    GuestDetails,
    guest_fields,
    guest_problem,
    notes_problem,
    reason_problem,
    refuse,
)
from services.bookings.refusals import EARLIEST_ARRIVAL
from services.bookings.runner import OperationRunner, booking_from_json, booking_json, for_actor
from services.errors import (
    InvalidInput,
    NotAllowed,
    NotFound,
    OutsideHours,
    StaleBooking,
    StaleInfo,
    TableTaken,
)
from services.identity.permissions import Operation, may
from services.models import Booking
from services.store.db import Actor
from services.venue_time import add_duration, duration, to_utc

WALK_IN_MINIMUM = timedelta(minutes=60)
# Changing a booking where it is takes the same right as moving it: managers and admins.
AMEND_RIGHT = Operation.MOVE


class BookingOperations(OperationRunner):
    """Making and changing bookings."""

    @for_actor
    async def create(
        self,
        actor: Actor,
        *,
        night_id: int,
        table_ids: list[int] | tuple[int, ...],
        party_size: int,
        starts_at: datetime,
        guest: GuestDetails | None = None,
        guest_id: int | None = None,
        ends_at: datetime | None = None,
        deposit: Decimal | int = 0,
        min_spend: Decimal | int | None = None,
        notes: str = "",
        op_id: str | None = None,
        _status: str = "pending",
        _kind: Operation = Operation.CREATE,
    ) -> Booking:
        if not table_ids:
            raise InvalidInput("Choose at least one table.")
        if guest_id is None and guest is not None:
            guest_id = guest.guest_id
        if guest is None and guest_id is None:
            raise InvalidInput("A booking needs a guest.")
        refuse(guest_problem(guest) if guest is not None and guest_id is None else None, notes_problem(notes))
        notes = notes.strip()
        if party_size < 1:
            raise InvalidInput("The party must have at least one guest.")
        tables = sorted(set(table_ids))
        starts_at = to_utc(starts_at)
        end = to_utc(ends_at) if ends_at is not None else await self._night_end(night_id)
        ctx = {
            "night_id": night_id,
            "party": party_size,
            "starts_at": starts_at,
            "ends_at": end,
            "table_ids": tables,
        }

        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            await self._nobody_in(conn, night_id, tables, party_size, starts_at, end)
            booking_id = await self._insert_booking(
                conn,
                actor,
                night_id=night_id,
                tables=tables,
                party=party_size,
                starts_at=starts_at,
                ends_at=end,
                guest=guest,
                guest_id=guest_id,
                deposit=deposit,
                min_spend=min_spend,
                notes=notes,
                status=_status,
            )
            return booking_json(await self._read(conn, booking_id))

        return booking_from_json(await self._operation(actor, _kind, op_id, body, context=ctx))

    async def _insert_booking(
        self,
        conn: asyncpg.Connection,
        actor: Actor,
        *,
        night_id: int,
        tables: list[int],
        party: int,
        starts_at: datetime,
        ends_at: datetime,
        guest: GuestDetails | None,
        guest_id: int | None,
        deposit: Decimal | int,
        min_spend: Decimal | int | None,
        notes: str,
        status: str,
    ) -> int:
        gid = guest_id
        if gid is None:
            assert guest is not None
            gid = await conn.fetchval(
                "insert into backroom.guest (name, phone, email, notes, vip)"
                " values ($1, $2, $3, $4, $5) returning id",
                *guest_fields(guest),
                guest.notes.strip(),
                guest.vip,
            )
        spend = min_spend
        if spend is None:
            spend = await conn.fetchval(
                "select coalesce(sum(min_spend), 0) from backroom.venue_table where id = any($1::smallint[])",
                tables,
            )
        # A walk-in arrives as it is seated.
        booking_id: int = await conn.fetchval(
            "insert into backroom.booking (night_id, guest_id, party_size, status, starts_at,"
            " ends_at, deposit, deposit_paid, min_spend, notes, arrived_at)"
            " values ($1, $2, $3, $4, $5, $6, $7::numeric, $7::numeric > 0, $8, $9, $10) returning id",
            night_id,
            gid,
            party,
            status,
            starts_at,
            ends_at,
            Decimal(deposit),
            spend,
            notes,
            starts_at if status == "arrived" else None,
        )
        await conn.executemany(
            "insert into backroom.booking_table (booking_id, table_id, during, active)"
            " values ($1, $2, tstzrange($3, $4), true)",
            [(booking_id, t, starts_at, ends_at) for t in tables],
        )
        if actor.staff_id is not None:
            # The booker's own hold has done its job.
            await conn.execute(
                "delete from backroom.hold where table_id = any($1::smallint[]) and staff_id = $2",
                tables,
                actor.staff_id,
            )
        # Deferred checks (capacity, guest limit) run now, inside the
        # operation, so their refusal is explained like any other.
        await conn.execute("set constraints all immediate")
        return booking_id

    @for_actor
    async def seat_walk_in(
        self,
        actor: Actor,
        *,
        night_id: int,
        party_size: int,
        guest: GuestDetails,
        table_id: int | None = None,
        op_id: str | None = None,
    ) -> Booking:
        """Seat a party now at a free table that fits: checked in at once. A table with a
        party in is never free, whatever that party's booked time."""
        now = self._clock()
        night_end = await self._night_end(night_id)
        if now >= night_end:
            raise OutsideHours("The night is over; there is nowhere to seat a walk-in.")
        if table_id is None:
            table_id = await self._free_table_now(night_id, party_size, now, night_end)
        ends = await self._free_until(table_id, now, night_end)
        return await self.create(
            actor,
            night_id=night_id,
            table_ids=[table_id],
            party_size=party_size,
            starts_at=now,
            ends_at=ends,
            guest=guest,
            op_id=op_id,
            _status="arrived",
            _kind=Operation.SEAT_WALK_IN,
        )

    async def _night_end(self, night_id: int) -> datetime:
        async with self._db.transaction(readonly=True) as conn:
            end = await conn.fetchval("select ends_at from backroom.night where id = $1", night_id)
        if end is None:
            raise NotFound(f"There is no night {night_id}.")
        result: datetime = end
        return result

    async def _free_table_now(self, night_id: int, party: int, now: datetime, night_end: datetime) -> int:
        async with self._db.transaction(readonly=True) as conn:
            table = await conn.fetchval(
                """
                select t.id from backroom.venue_table t
                where $1 between t.min_party and t.max_party
                  and not exists (select from backroom.booking_table bt
                                  join backroom.booking ob on ob.id = bt.booking_id
                                  where bt.table_id = t.id
                                    and """
                + in_the_way("$2", "$3", "$4", "$2")
                + """)
                  and not exists (select from backroom.hold h
                                  where h.table_id = t.id and h.during && tstzrange($2, $3)
                                    and h.expires_at > clock_timestamp())
                order by t.max_party - $1, t.number limit 1
                """,
                party,
                now,
                min(add_duration(now, WALK_IN_MINIMUM), night_end),
                night_id,
            )
        if table is None:
            raise TableTaken(f"No free table fits a party of {party} right now.", table_id=0)
        return int(table)

    async def _nobody_in(
        self,
        conn: asyncpg.Connection,
        night_id: int,
        tables: list[int],
        party: int,
        start: datetime,
        until: datetime,
        *,
        ignore: int | None = None,
    ) -> None:
        """Refuse tables where a party of the night is in during [start, until): it
        occupies them from its arrival until it is completed, past its booked end too,
        where no constraint sees it. Asked inside the operation, so a retry of one that
        was done finds its result, not its own party in the way."""
        if not tables:
            return
        seated = await conn.fetchrow(
            "select bt.table_id, vt.number, ob.ref, g.name, ob.arrived_count, ob.party_size,"
            " ob.arrived_at from backroom.booking_table bt"
            " join backroom.booking ob on ob.id = bt.booking_id"
            " join backroom.guest g on g.id = ob.guest_id"
            " join backroom.venue_table vt on vt.id = bt.table_id"
            " where bt.table_id = any($1::smallint[]) and ob.status = 'arrived'"
            " and ob.id <> coalesce($3, 0) and "
            + in_the_way("$4", "$5", "$2", "$6")
            + " order by vt.number limit 1",
            tables,
            night_id,
            ignore,
            start,
            until,
            self._clock(),
        )
        if seated is None:
            return
        alts = await self.alternatives(
            night_id,
            party,
            start,
            until,
            exclude_tables=tables,
            ignore_booking=ignore,
            other_times=False,
            conn=conn,
        )
        raise TableTaken(
            f"Table {seated['number']} has {await self._party_in(seated)} in: choose another table.",
            table_id=seated["table_id"],
            booking_ref=seated["ref"],
            alternatives=alts,
        )

    async def _free_until(self, table_id: int, now: datetime, night_end: datetime) -> datetime:
        async with self._db.transaction(readonly=True) as conn:
            next_start = await conn.fetchval(
                "select min(lower(during)) from backroom.booking_table"
                " where table_id = $1 and active and lower(during) > $2 and lower(during) < $3",
                table_id,
                now,
                night_end,
            )
        return next_start or night_end

    async def _change(
        self,
        actor: Actor,
        kind: Operation,
        booking_id: int,
        version: int,
        sets: str,
        args: tuple[Any, ...],
        op_id: str | None,
        *,
        ctx: dict[str, Any] | None = None,
        before: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]] | None = None,
        after: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        permission: Operation | None = None,
    ) -> Booking:
        """Update one booking at the version the console saw."""

        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            current = await conn.fetchrow(
                "select b.*, coalesce(s.display_name, 'someone') as changed_by"
                " from backroom.booking b left join backroom.staff s on s.id = b.updated_by"
                " where b.id = $1 for update of b",
                booking_id,
            )
            if current is None:
                raise NotFound(f"There is no booking {booking_id}.")
            if current["version"] != version:
                latest = await self._read(conn, booking_id)
                raise StaleBooking(
                    f"Booking {current['ref']} was changed by {current['changed_by']} at "
                    f"{await self._local(current['updated_at']):%H:%M:%S} since you looked: it is now "
                    f"{latest.status.value.replace('_', ' ')}. Nothing was changed; look again.",
                    info=StaleInfo(current["changed_by"], current["updated_at"], latest),
                )
            if before is not None:
                await before(conn, current)
            await conn.execute(f"update backroom.booking set {sets} where id = $1", booking_id, *args)
            if after is not None:
                await after(conn)
            await conn.execute("set constraints all immediate")
            return booking_json(await self._read(conn, booking_id))

        return booking_from_json(
            await self._operation(
                actor,
                kind,
                op_id,
                body,
                entity_id=booking_id,
                context=ctx,
                permission=permission,
            )
        )

    @for_actor
    async def confirm(
        self,
        actor: Actor,
        booking_id: int,
        version: int,
        *,
        deposit: Decimal | int | None = None,
        op_id: str | None = None,
    ) -> Booking:
        amount = Decimal(deposit) if deposit is not None else None

        async def longer(op: str) -> Booking:
            if amount is None:
                return await self._change(
                    actor, Operation.CONFIRM, booking_id, version, "status = 'confirmed'", (), op
                )
            return await self._change(
                actor,
                Operation.CONFIRM,
                booking_id,
                version,
                "status = 'confirmed', deposit = $2::numeric, deposit_paid = $2::numeric > 0",
                (amount,),
                op,
            )

        return await self._one_call(
            actor, Operation.CONFIRM, op_id, "confirm_booking", (booking_id, version, amount), longer
        )

    @for_actor
    async def check_in(
        self, actor: Actor, booking_id: int, version: int, arrived: int, *, op_id: str | None = None
    ) -> Booking:
        """Record `arrived` more guests of the party; partial arrivals add up."""
        if arrived < 1:
            raise InvalidInput("Check in at least one guest.")
        now = self._clock()
        # Filled in once the booking is read: what a refusal names and offers instead.
        ctx: dict[str, Any] = {}

        async def room(conn: asyncpg.Connection, current: asyncpg.Record) -> None:
            night = await conn.fetchrow(
                "select date, starts_at, ends_at from backroom.night where id = $1", current["night_id"]
            )
            if night is not None:
                await self._refuse_outside_night("Check-in", night, now)
            tables = [
                r["table_id"]
                for r in await conn.fetch(
                    "select table_id from backroom.booking_table where booking_id = $1", booking_id
                )
            ]
            ctx.update(
                night_id=current["night_id"],
                party=current["party_size"],
                starts_at=now,
                ends_at=max(current["ends_at"], now + SLOT),
                booking_id=booking_id,
                table_ids=tables,
                exclude_tables=tables,
                other_times=False,
            )
            expected = current["party_size"] - current["arrived_count"]
            if current["status"] == "arrived" and expected <= 0:
                raise InvalidInput(f"The whole party of {current['party_size']} is already in.")
            if arrived > expected:
                raise InvalidInput(
                    f"Only {expected} of the party of {current['party_size']} are still expected; "
                    "change the party size first if more have come."
                )

        # The party occupies its tables from now if it came early (0016).
        async def longer(op: str) -> Booking:
            return await self._change(
                actor,
                Operation.CHECK_IN,
                booking_id,
                version,
                "status = 'arrived', arrived_count = arrived_count + $2,"
                " arrived_at = coalesce(arrived_at, $3)",
                (arrived, now),
                op,
                ctx=ctx,
                before=room,
            )

        return await self._one_call(
            actor,
            Operation.CHECK_IN,
            op_id,
            "check_in_booking",
            (booking_id, version, arrived, now, EARLIEST_ARRIVAL),
            longer,
        )

    @for_actor
    async def cancel(
        self,
        actor: Actor,
        booking_id: int,
        version: int,
        reason: str,
        *,
        deposit: str | None = None,
        op_id: str | None = None,
    ) -> Booking:
        """Cancel, with a reason. A booking whose deposit is paid says what becomes of it:
        `deposit` is "kept" or "refunded" (a refunded deposit is no longer paid)."""
        refuse(reason_problem(reason))
        if deposit is not None and deposit not in DEPOSIT_OUTCOMES:
            raise InvalidInput("A deposit is either kept or refunded.")

        # With no word of a paid deposit, the database refuses (BRU03), after it has checked
        # the role and the step-up: who may not cancel, or has no fresh code, hears that first.
        return await self._change(
            actor,
            Operation.CANCEL,
            booking_id,
            version,
            "status = 'cancelled', cancel_reason = $2,"
            " deposit_outcome = case when deposit > 0 and deposit_paid then $3::text end,"
            " deposit_paid = deposit_paid and $3::text is distinct from 'refunded'",
            (reason.strip(), deposit),
            op_id,
        )

    @for_actor
    async def no_show(
        self, actor: Actor, booking_id: int, version: int, *, op_id: str | None = None
    ) -> Booking:
        now = self._clock()

        async def due(conn: asyncpg.Connection, current: asyncpg.Record) -> None:
            grace = timedelta(minutes=await self._grace_minutes(conn, current["night_id"]))
            if current["starts_at"] > now:
                raise InvalidInput(
                    f"The party is due at {await self._local(current['starts_at']):%H:%M}: "
                    "too early to mark a no-show."
                )
            if current["starts_at"] + grace > now:
                raise InvalidInput(
                    f"The party is due at {await self._local(current['starts_at']):%H:%M} and "
                    f"late now: a no-show only from "
                    f"{await self._local(current['starts_at'] + grace):%H:%M} "
                    f"({int(grace.total_seconds() // 60)} minutes late)."
                )
            # The database checks the grace again, at this moment.
            await conn.execute("select set_config('backroom.now', $1, true)", now.isoformat())

        return await self._change(
            actor, Operation.NO_SHOW, booking_id, version, "status = 'no_show'", (), op_id, before=due
        )

    async def _grace_minutes(self, conn: asyncpg.Connection, night_id: int) -> int:
        minutes = await conn.fetchval(
            "select v.no_show_grace_minutes from backroom.night n"
            " join backroom.venue v on v.id = n.venue_id where n.id = $1",
            night_id,
        )
        return int(minutes or 0)

    @for_actor
    async def complete(
        self, actor: Actor, booking_id: int, version: int, *, op_id: str | None = None
    ) -> Booking:
        return await self._change(
            actor, Operation.COMPLETE, booking_id, version, "status = 'completed'", (), op_id
        )

    @for_actor
    async def move(
        self,
        actor: Actor,
        booking_id: int,
        version: int,
        *,
        table_ids: list[int] | tuple[int, ...] | None = None,
        starts_at: datetime | None = None,
        ends_at: datetime | None = None,
        party_size: int | None = None,
        op_id: str | None = None,
    ) -> Booking:
        """Another table or time, or another party size; all at once or nothing."""
        current = await self.get(booking_id)
        tables = sorted(set(table_ids)) if table_ids is not None else list(current.table_ids)
        if not tables:
            raise InvalidInput("Choose at least one table.")
        if party_size is not None and party_size < 1:
            raise InvalidInput("The party must have at least one guest.")
        start = to_utc(starts_at) if starts_at is not None else current.starts_at
        if ends_at is not None:
            end = to_utc(ends_at)
        elif starts_at is not None:
            end = add_duration(start, duration(current.starts_at, current.ends_at))
            end = min(end, await self._night_end_of(booking_id))
        else:
            end = current.ends_at
        party = party_size or current.party_size
        async with self._db.transaction(readonly=True) as conn:
            night_id = await conn.fetchval("select night_id from backroom.booking where id = $1", booking_id)
        ctx = {
            "night_id": night_id,
            "party": party,
            "starts_at": start,
            "ends_at": end,
            "table_ids": tables,
            "booking_id": booking_id,
            "exclude_tables": list(current.table_ids),
        }

        # The tables given up go before the time changes and the new ones come after,
        # so no step claims a table at a time the end state does not: a table kept
        # is checked at the new time, a table given up never is. A party in at a new
        # table keeps it (_nobody_in).
        async def untable(conn: asyncpg.Connection, _current: asyncpg.Record) -> None:
            new_tables = [t for t in tables if t not in current.table_ids]
            await self._nobody_in(conn, night_id, new_tables, party, start, end, ignore=booking_id)
            await conn.execute(
                "delete from backroom.booking_table where booking_id = $1"
                " and table_id <> all($2::smallint[])",
                booking_id,
                tables,
            )

        async def retable(conn: asyncpg.Connection) -> None:
            # Plain insert of the new tables only: ON CONFLICT DO NOTHING would
            # also swallow the exclusion constraint's refusal.
            await conn.execute(
                "insert into backroom.booking_table (booking_id, table_id, during, active)"
                " select $1, t, tstzrange($3, $4), true from unnest($2::smallint[]) as t"
                " where t not in (select table_id from backroom.booking_table where booking_id = $1)",
                booking_id,
                tables,
                start,
                end,
            )

        sets = "starts_at = $2, ends_at = $3, party_size = $4"
        args: tuple[Any, ...] = (start, end, party)
        if sorted(tables) != sorted(current.table_ids):
            # Other tables bring their own minimum spend, as a booking made on them has.
            sets += (
                ", min_spend = (select coalesce(sum(min_spend), 0) from backroom.venue_table"
                " where id = any($5::smallint[]))"
            )
            args += (tables,)
        return await self._change(
            actor,
            Operation.MOVE,
            booking_id,
            version,
            sets,
            args,
            op_id,
            ctx=ctx,
            before=untable,
            after=retable,
        )

    @for_actor
    async def amend(
        self,
        actor: Actor,
        booking_id: int,
        version: int,
        *,
        party_size: int | None = None,
        starts_at: datetime | None = None,
        notes: str | None = None,
        guest: GuestDetails | None = None,
        op_id: str | None = None,
    ) -> Booking:
        """Change a booking where it is: its party size, arrival time, notes or guest.

        What is None stays as it is, and the tables always do (another table is a
        move). `guest` with a `guest_id` hands the booking to that guest on file;
        without one it corrects the name, phone and email of the booking's own
        guest (their VIP mark and notes stay), which is audited with the booking.
        A booking that ran to closing still does when its arrival changes; a
        shorter one keeps its length, up to closing.
        """
        if actor.role is not None and not may(actor.role, AMEND_RIGHT):
            raise NotAllowed(f"{actor.name} is signed in as {actor.role} staff, who may not change bookings.")
        if party_size is None and starts_at is None and notes is None and guest is None:
            raise InvalidInput("Nothing to change: give a party size, a time, notes or a guest.")
        if party_size is not None and party_size < 1:
            raise InvalidInput("The party must have at least one guest.")
        refuse(
            notes_problem(notes) if notes is not None else None,
            guest_problem(guest) if guest is not None else None,
        )
        if notes is not None:
            notes = notes.strip()
        current = await self.get(booking_id)
        async with self._db.transaction(readonly=True) as conn:
            night = await conn.fetchrow(
                "select n.id, n.starts_at, n.ends_at from backroom.booking b"
                " join backroom.night n on n.id = b.night_id where b.id = $1",
                booking_id,
            )
        assert night is not None  # the booking was just read
        start = end = None
        if starts_at is not None:
            starts_at = to_utc(starts_at)
            if not night["starts_at"] <= starts_at < night["ends_at"]:
                raise OutsideHours(
                    "That time is outside the night's hours"
                    + await self._hours(
                        {"opens": night["starts_at"].isoformat(), "closes": night["ends_at"].isoformat()}
                    )
                )
            start = starts_at
            if current.ends_at >= night["ends_at"]:
                end = night["ends_at"]
            else:
                end = min(
                    add_duration(starts_at, duration(current.starts_at, current.ends_at)), night["ends_at"]
                )
        ctx = {
            "night_id": night["id"],
            "party": party_size or current.party_size,
            "starts_at": start or current.starts_at,
            "ends_at": end or current.ends_at,
            "table_ids": list(current.table_ids),
            "booking_id": booking_id,
            "exclude_tables": list(current.table_ids),
        }

        async def check(conn: asyncpg.Connection, row: asyncpg.Record) -> None:
            if party_size is not None and party_size < row["arrived_count"]:
                raise InvalidInput(
                    f"{row['arrived_count']} of the party are already in: the party "
                    f"cannot be fewer than {row['arrived_count']}. If fewer are in, "
                    "correct the arrival count first (Undo)."
                )
            if guest is None:
                return
            if guest.guest_id is not None:
                if not await conn.fetchval(
                    "select exists (select from backroom.guest where id = $1)", guest.guest_id
                ):
                    raise NotFound("That guest is no longer on file: look them up again.")
                return
            await self._correct_guest(conn, row["guest_id"], guest)

        return await self._change(
            actor,
            Operation.AMEND,
            booking_id,
            version,
            "party_size = coalesce($2::smallint, party_size),"
            " starts_at = coalesce($3::timestamptz, starts_at),"
            " ends_at = coalesce($4::timestamptz, ends_at),"
            " notes = coalesce($5::text, notes), guest_id = coalesce($6::int, guest_id)",
            (party_size, start, end, notes, guest.guest_id if guest is not None else None),
            op_id,
            ctx=ctx,
            before=check,
            permission=AMEND_RIGHT,
        )

    async def _correct_guest(self, conn: asyncpg.Connection, guest_id: int, guest: GuestDetails) -> None:
        """Set a guest's name, phone and email to `guest`'s (when they differ)."""
        details = guest_fields(guest)
        differs = await conn.fetchval(
            "select (name, phone, email) is distinct from ($2::text, $3::text, $4::text)"
            " from backroom.guest where id = $1",
            guest_id,
            *details,
        )
        if not differs:
            return
        changed = await conn.fetchval(
            "update backroom.guest set name = $2, phone = $3, email = $4 where id = $1 returning true",
            guest_id,
            *details,
        )
        if not changed:
            # Row Level Security hides the row from an update this role may not make.
            raise NotAllowed("The database refused this for your role.")

    async def _night_end_of(self, booking_id: int) -> datetime:
        async with self._db.transaction(readonly=True) as conn:
            end: datetime = await conn.fetchval(
                "select n.ends_at from backroom.booking b join backroom.night n on n.id = b.night_id"
                " where b.id = $1",
                booking_id,
            )
        return end
