"""Booking operations: create, hold, confirm, check in, seat a walk-in, move,
amend, cancel, no-show, complete, and the waitlist.

Each operation is one transaction, carries a client operation id (a retry
returns the first result and changes nothing more) and, where it changes a
booking, the version the console last saw (a stale version is refused, never
silently overwritten). Postgres enforces the rules again whatever this code
does; its refusals come back here as typed errors with alternatives.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Concatenate, ParamSpec, TypeVar
from zoneinfo import ZoneInfo

import asyncpg

from services.errors import (
    Alternative,
    BookingError,
    GuestTableLimit,
    HoldExpired,
    IllegalTransition,
    Interrupted,
    InvalidInput,
    NotAllowed,
    NotFound,
    NotSaved,
    OutcomeUnknown,
    OutsideHours,
    PartyDoesNotFit,
    StaleBooking,
    StaleInfo,
    StepUpRequired,
    TablesApart,
    TableTaken,
)
from services.floor import BOOKING_SELECT, booking_from_row, utc_now
from services.guests import (
    NAME_MOST,
    NOTES_MOST,
    REASON_MOST,
    GuestService,
    email_problem,
    phone_problem,
    text_problem,
)
from services.identity.permissions import may, require
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
from services.venue_time import add_duration, duration, to_utc

_ONE_BOOKING = BOOKING_SELECT + " where b.id = $1 group by b.id, g.id"


def _in_the_way(start: str, end: str, night: str, now: str) -> str:
    """SQL: the covered table `bt` (of booking `ob`) is taken somewhere in [start, end).

    Its occupied span counts (from the party's arrival when it came early), and a party
    of the night that is in stays in until it is completed, so past its booked end it
    is there until now at least. The arguments are parameter names such as "$2"."""
    return (
        f"bt.active and case when ob.status = 'arrived' and ob.night_id = {night}"
        f" then tstzrange(least(lower(bt.during), {now}),"
        f" greatest(upper(bt.during), {now} + interval '1 second'))"
        f" else bt.during end && tstzrange({start}, {end})"
    )


_SLOT = timedelta(minutes=30)
WALK_IN_MINIMUM = timedelta(minutes=60)
EARLIEST_ARRIVAL = timedelta(hours=12)
"""How long before the night opens a party may be checked in (as migration 0016 allows)."""
SETTLE_TRIES = 2  # fresh connections tried to learn what became of a lost operation
# Changing a booking where it is takes the same right as moving it: managers and admins.
AMEND_RIGHT = "move"


def new_op_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class GuestDetails:
    """Who a booking is for. With `guest_id` it is that guest on file, as they are;
    without, a new guest with these details."""

    name: str
    phone: str | None = None
    email: str | None = None
    notes: str = ""
    vip: bool = False
    guest_id: int | None = None


def guest_problem(guest: GuestDetails) -> str | None:
    """Why these details cannot be saved for a guest, in staff words; None if they can.
    A guest on file (`guest_id`) is taken as they are."""
    if guest.guest_id is not None:
        return None
    if not guest.name.strip():
        return "The guest needs a name."
    if problem := text_problem("The guest's name", guest.name.strip(), NAME_MOST):
        return problem
    if guest.phone and (problem := phone_problem(guest.phone)):
        return f"The phone number is not right ({problem})."
    if guest.email and (problem := email_problem(guest.email)):
        return f"The email address is not right ({problem})."
    return text_problem("The guest's notes", guest.notes.strip(), NOTES_MOST, plural=True, one_line=False)


def notes_problem(notes: str) -> str | None:
    """Why these booking notes cannot be saved (as typed, before trimming); None if they can."""
    return text_problem("Notes", notes.strip(), NOTES_MOST, plural=True, one_line=False)


def reason_problem(reason: str, *, what: str = "A cancellation") -> str | None:
    """Why this reason (for a cancellation, or for `what`) cannot be saved; None if it can."""
    if not reason.strip():
        return f"{what} needs a reason."
    return text_problem("The reason", reason.strip(), REASON_MOST, one_line=False)


DEPOSIT_OUTCOMES = ("kept", "refunded")
"""What becomes of a paid deposit when its booking is cancelled."""

UNDO_WORDS = {
    "correct_arrivals": "Correcting an arrival count",
    "reverse_no_show": "Reversing a no-show",
    "reverse_completion": "Reversing a completion",
    "reopen": "Reopening a booking",
}


def _guest_fields(guest: GuestDetails) -> tuple[str, str | None, str | None]:
    """Name, phone and email as they are saved: trimmed, and an empty one is none."""
    return (guest.name.strip(), (guest.phone or "").strip() or None, (guest.email or "").strip() or None)


def _refuse(*problems: str | None) -> None:
    for problem in problems:
        if problem:
            raise InvalidInput(problem)


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


def _booking_json(b: Booking) -> dict[str, Any]:
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


def _booking_from_json(d: dict[str, Any]) -> Booking:
    return booking_from_row(
        {
            **d,
            "starts_at": datetime.fromisoformat(d["starts_at"]),
            "ends_at": datetime.fromisoformat(d["ends_at"]),
            "deposit": Decimal(d["deposit"]),
            "arrived_at": datetime.fromisoformat(d["arrived_at"]) if d.get("arrived_at") else None,
        }
    )


def _hold_json(row: asyncpg.Record) -> dict[str, Any]:
    return {**dict(row), "expires_at": row["expires_at"].isoformat()}


def _hold_from_json(d: dict[str, Any]) -> Hold:
    return Hold(
        d["id"], d["table_id"], d["holder"], datetime.fromisoformat(d["expires_at"]), d.get("staff_id")
    )


def _detail(err: asyncpg.PostgresError) -> dict[str, Any]:
    try:
        value = json.loads(getattr(err, "detail", None) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


_CLASH = re.compile(r"conflicts with existing key \(table_id, during\)=\((\d+),")


def _clashing_table(err: asyncpg.PostgresError) -> int | None:
    """The table an exclusion constraint's refusal names, when its DETAIL says."""
    found = _CLASH.search(getattr(err, "detail", None) or "")
    return int(found.group(1)) if found else None


_S = TypeVar("_S")
_P = ParamSpec("_P")
_R = TypeVar("_R")


def _for_actor(
    method: Callable[Concatenate[_S, Actor, _P], Awaitable[_R]],
) -> Callable[Concatenate[_S, Actor, _P], Awaitable[_R]]:
    """The operation reads what it needs as its own actor, whoever the console shows."""

    @functools.wraps(method)
    async def run(self: _S, actor: Actor, /, *args: _P.args, **kwargs: _P.kwargs) -> _R:
        with acting_for(actor):
            return await method(self, actor, *args, **kwargs)

    return run


async def settle_operation(
    db: Database, actor: Actor, kind: str, op_id: str, lost: ConnectionLost
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


class BookingService:
    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self._db = db
        self._clock = clock
        self._tz: ZoneInfo | None = None
        # The guests on file, for the forms that look a guest up while a booking is typed.
        self.guests = GuestService(db, clock)

    # ------------------------------------------------------------------ core

    async def _operation(
        self,
        actor: Actor,
        kind: str,
        op_id: str | None,
        body: Callable[[asyncpg.Connection], Awaitable[dict[str, Any]]],
        *,
        entity: str = "booking",
        entity_id: int | None = None,
        context: dict[str, Any] | None = None,
        permission: str | None = None,
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

    async def _record_refusal(
        self, actor: Actor, kind: str, entity: str, entity_id: int | None, op_id: str, refusal: BookingError
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

    async def _explain(self, err: asyncpg.PostgresError, ctx: dict[str, Any]) -> BookingError:
        """Turn a refusal from Postgres into a typed error with what to do instead."""
        state = err.sqlstate
        detail = _detail(err)
        if state == "23P01" or state == "BR004" or state == "BR007":
            return await self._taken(err, detail, ctx)
        if state == "BR002":
            alts = await self._alternatives_for(ctx, other_times=False)
            return PartyDoesNotFit(
                f"A party of {detail.get('party')} does not fit table {detail.get('tables', '')} "
                f"({detail.get('min')} to {detail.get('max')} guests).",
                party=int(detail.get("party", 0)),
                min_party=int(detail.get("min", 0)),
                max_party=int(detail.get("max", 0)),
                alternatives=alts,
            )
        if state == "BRS01":
            return await self._no_seats(detail, ctx)
        if state in ("BR001", "BR006"):
            return IllegalTransition(
                _sentence(err.args[0] if err.args else str(err)),
                from_status=detail.get("from") or detail.get("status"),
                to_status=detail.get("to"),
            )
        if state == "BR003":
            return OutsideHours("That time is outside the night's hours" + await self._hours(detail))
        if state == "BR005":
            return GuestTableLimit(
                f"This guest already has {int(detail.get('tables', 1)) - 1} table(s) tonight; "
                f"the venue allows {detail.get('limit')} per guest per night."
            )
        if state == "BR010":
            giving_up = "giving up the deposit" in (err.args[0] if err.args else "")
            return StepUpRequired(
                "This booking has a deposit: enter a fresh code from your authenticator to "
                + ("lower it or mark it unpaid." if giving_up else "cancel it.")
            )
        if state == "BRN01":
            due, start = detail.get("due"), detail.get("from")
            if due and start:
                return InvalidInput(
                    f"The party is due at {await self._local(datetime.fromisoformat(due)):%H:%M}: "
                    f"a no-show only from {await self._local(datetime.fromisoformat(start)):%H:%M} "
                    f"({detail.get('grace')} minutes late)."
                )
            return InvalidInput("Too early to mark a no-show.")
        if state == "BRU01":
            return InvalidInput(_sentence(err.args[0] if err.args else "That needs a reason."))
        if state == "BRU02":
            return NotAllowed(_sentence(err.args[0] if err.args else str(err)))
        if state == "BRU03":
            return InvalidInput("This booking has a paid deposit: say whether it is kept or refunded.")
        if state == "BR009":
            return InvalidInput("A booking needs at least one table.")
        if state == "BR008":
            return TablesApart("Tables booked together must stand next to each other on one floor.")
        if state == "42501":
            return NotAllowed("The database refused this for your role.")
        if state == "23514" and "cancel_reason_limits" in str(err):
            return InvalidInput(f"The reason is at most {REASON_MOST} characters.")
        if state == "23514" and "cancel" in str(err):
            return InvalidInput("A cancellation needs a reason.")
        if state == "23514" and "_limits" in str(err):
            return InvalidInput("Something typed is too long, or holds a control character.")
        if state == "23503" and "guest" in str(err):
            return NotFound("That guest is no longer on file: look them up again.")
        if state == "BR014":
            return HoldExpired("That hold has lapsed; hold the table again.")
        if state in ("40001", "40P01"):
            # A rival's change to the same table, guest or booking committed
            # while this one ran (serialization failure or deadlock): nothing
            # of this change was written.
            return BookingError(
                "Someone changed this table, booking or guest at the same moment; "
                "nothing was saved. Try again."
            )
        return BookingError(f"The database refused this: {err}")

    async def _refuse_outside_night(
        self, what: str, night: asyncpg.Record, now: datetime, *, before_ok: bool = False
    ) -> None:
        """Refuse, in words that say when it can be done, a change that belongs to its night:
        from when a party may first arrive (unless `before_ok`) until the night is over."""
        day = f"{night['date']:%a %d %b %Y}"
        if now > night["ends_at"]:
            raise InvalidInput(f"{what} is for tonight only: the night of {day} is over.")
        first = night["starts_at"] - EARLIEST_ARRIVAL
        if not before_ok and now < first:
            opens, from_ = await self._local(night["starts_at"]), await self._local(first)
            raise InvalidInput(
                f"{what} is for tonight only: the night of {day} opens at "
                f"{opens:%H:%M}, and this can be done from {from_:%H:%M} that day."
            )

    async def _local(self, moment: datetime) -> datetime:
        """A moment in the venue's time zone, for messages."""
        if self._tz is None:
            async with self._db.transaction(readonly=True) as conn:
                self._tz = ZoneInfo(await conn.fetchval("select timezone from backroom.venue limit 1"))
        return moment.astimezone(self._tz)

    async def _hours(self, detail: dict[str, Any]) -> str:
        try:
            opens = datetime.fromisoformat(detail["opens"])
            closes = datetime.fromisoformat(detail["closes"])
        except (KeyError, ValueError):
            return "."
        return f" ({await self._local(opens):%H:%M} to {await self._local(closes):%H:%M})."

    async def _taken(
        self, err: asyncpg.PostgresError, detail: dict[str, Any], ctx: dict[str, Any]
    ) -> TableTaken:
        alts = await self._alternatives_for(ctx)
        if err.sqlstate == "BR004":
            until = datetime.fromisoformat(detail["expires_at"]) if detail.get("expires_at") else None
            return TableTaken(
                f"Table {detail.get('table_id')} is held by {detail.get('holder')}"
                + (f" until {until:%H:%M:%S}." if until else "."),
                table_id=int(detail.get("table_id", 0)),
                holder=detail.get("holder"),
                until=until,
                alternatives=alts,
            )
        # Who is in the way: a booking or a hold on one of the tables asked for, the one
        # the constraint names when it says.
        clash = _clashing_table(err)
        tables = [clash] if clash is not None else ctx.get("table_ids") or []
        starts, ends = ctx.get("starts_at"), ctx.get("ends_at")
        async with self._db.transaction(readonly=True) as conn:
            if starts is not None and ends is not None:
                booked = await conn.fetchrow(
                    "select bt.table_id, ob.ref, g.name, ob.ends_at, ob.status, ob.arrived_count,"
                    " ob.party_size, ob.arrived_at from backroom.booking_table bt"
                    " join backroom.booking ob on ob.id = bt.booking_id"
                    " join backroom.guest g on g.id = ob.guest_id"
                    " where bt.table_id = any($1::smallint[]) and ob.id <> coalesce($4, 0)"
                    " and "
                    + _in_the_way("$2", "$3", "$5", "$6")
                    + " order by ob.status = 'arrived' desc limit 1",
                    tables,
                    starts,
                    ends,
                    ctx.get("booking_id"),
                    ctx.get("night_id"),
                    self._clock(),
                )
                if booked and booked["status"] == "arrived":
                    return TableTaken(
                        f"Table {booked['table_id']} has {await self._party_in(booked)} in "
                        "then: a party that is in keeps its table until it is completed.",
                        table_id=booked["table_id"],
                        booking_ref=booked["ref"],
                        alternatives=alts,
                    )
                if booked:
                    return TableTaken(
                        f"Table {booked['table_id']} is already booked then ({booked['ref']}, "
                        f"{booked['name']}).",
                        table_id=booked["table_id"],
                        booking_ref=booked["ref"],
                        until=booked["ends_at"],
                        alternatives=alts,
                    )
                held = await conn.fetchrow(
                    "select table_id, holder, expires_at from backroom.hold"
                    " where table_id = any($1::smallint[]) and during && tstzrange($2, $3)"
                    " and expires_at > clock_timestamp() limit 1",
                    tables,
                    starts,
                    ends,
                )
                if held:
                    return TableTaken(
                        f"Table {held['table_id']} is held by {held['holder']} until "
                        f"{held['expires_at']:%H:%M:%S}.",
                        table_id=held["table_id"],
                        holder=held["holder"],
                        until=held["expires_at"],
                        alternatives=alts,
                    )
        table = int(detail.get("table_id") or (tables[0] if tables else 0))
        return TableTaken(
            f"Table {table} is taken for that time.",
            table_id=table,
            booking_ref=detail.get("ref"),
            alternatives=alts,
        )

    async def _no_seats(self, detail: dict[str, Any], ctx: dict[str, Any]) -> TableTaken:
        """The parties in at a table would be more than its seats (BRS01)."""
        others = detail.get("others") or []
        people = int(detail.get("people", 0))
        party = people - sum(int(o.get("party", 0)) for o in others)
        who = " and ".join(f"{o.get('name')}'s party of {o.get('party')}" for o in others)
        tables = str(detail.get("tables", ""))
        first = int(tables.split("+")[0]) if tables.split("+")[0].isdigit() else 0
        return TableTaken(
            f"Table {tables} seats {detail.get('seats')}, and {who or 'another party'} "
            f"{'are' if len(others) > 1 else 'is'} still in there: with this party of {party} "
            f"that would be {people}. Complete a party once it has left, or choose another table.",
            table_id=first,
            booking_ref=others[0].get("ref") if others else None,
            alternatives=await self._alternatives_for(ctx, other_times=False),
        )

    async def _alternatives_for(self, ctx: dict[str, Any], *, other_times: bool = True) -> list[Alternative]:
        if not ctx.get("night_id") or not ctx.get("party") or ctx.get("starts_at") is None:
            return []
        return await self.alternatives(
            ctx["night_id"],
            ctx["party"],
            ctx["starts_at"],
            ctx["ends_at"],
            near_tables=ctx.get("table_ids") or [],
            ignore_booking=ctx.get("booking_id"),
            other_times=other_times and ctx.get("other_times", True),
            exclude_tables=ctx.get("exclude_tables") or [],
        )

    # ------------------------------------------------------------------ reads

    async def get(self, booking_id: int) -> Booking:
        async with self._db.transaction(readonly=True) as conn:
            return await self._read(conn, booking_id)

    async def _read(self, conn: asyncpg.Connection, booking_id: int) -> Booking:
        row = await conn.fetchrow(_ONE_BOOKING, booking_id)
        if row is None:
            raise NotFound(f"There is no booking {booking_id}.")
        return booking_from_row(row)

    async def alternatives(
        self,
        night_id: int,
        party: int,
        starts_at: datetime,
        ends_at: datetime,
        *,
        near_tables: list[int] | tuple[int, ...] = (),
        ignore_booking: int | None = None,
        other_times: bool = True,
        exclude_tables: list[int] | tuple[int, ...] = (),
        limit: int = 6,
        conn: asyncpg.Connection | None = None,
    ) -> list[Alternative]:
        """Free tables that fit the party: the same floor first, then the other
        floor; then the nearest free times at the tables asked for. Read on `conn`
        when given (inside an operation), else in a transaction of its own."""
        if conn is None:
            async with self._db.transaction(readonly=True) as own:
                return await self.alternatives(
                    night_id,
                    party,
                    starts_at,
                    ends_at,
                    near_tables=near_tables,
                    ignore_booking=ignore_booking,
                    other_times=other_times,
                    exclude_tables=exclude_tables,
                    limit=limit,
                    conn=own,
                )
        free = await conn.fetch(
            """
            select t.id, t.number, f.name as floor_name, t.max_party,
                   (f.id = (select floor_id from backroom.venue_table
                            where id = any($4::smallint[]) limit 1)) as same_floor
            from backroom.venue_table t join backroom.floor f on f.id = t.floor_id
            where $1 between t.min_party and t.max_party
              and t.id <> all($4::smallint[]) and t.id <> all($7::smallint[])
              and not exists (
                  select from backroom.booking_table bt
                  join backroom.booking ob on ob.id = bt.booking_id
                  where bt.table_id = t.id and bt.booking_id <> coalesce($5, 0)
                    and """
            + _in_the_way("$2", "$3", "$8", "$9")
            + """)
              and not exists (
                  select from backroom.hold h
                  where h.table_id = t.id and h.during && tstzrange($2, $3)
                    and h.expires_at > clock_timestamp())
            order by same_floor desc nulls last, t.max_party - $1, t.number
            limit $6
            """,
            party,
            starts_at,
            ends_at,
            list(near_tables),
            ignore_booking,
            limit,
            list(exclude_tables),
            night_id,
            self._clock(),
        )
        result = [
            Alternative(
                (r["id"],),
                (r["number"],),
                r["floor_name"],
                starts_at,
                ends_at,
                "same floor" if r["same_floor"] else "other floor",
            )
            for r in free
        ]
        if other_times and near_tables and len(result) < limit:
            result += await self._other_times(
                conn, night_id, list(near_tables), starts_at, ends_at, ignore_booking, limit - len(result)
            )
        return result

    async def _other_times(
        self,
        conn: asyncpg.Connection,
        night_id: int,
        tables: list[int],
        starts_at: datetime,
        ends_at: datetime,
        ignore: int | None,
        limit: int,
    ) -> list[Alternative]:
        night = await conn.fetchrow("select starts_at, ends_at from backroom.night where id = $1", night_id)
        if night is None:
            return []
        info = await conn.fetch(
            "select t.number, f.name from backroom.venue_table t join backroom.floor f"
            " on f.id = t.floor_id where t.id = any($1::smallint[]) order by t.number",
            tables,
        )
        length = ends_at - starts_at
        now = self._clock()
        rows = await conn.fetch(
            "select lower(bt.during) as s, upper(bt.during) as e,"
            " ob.status = 'arrived' and ob.night_id = $5 as seated"
            " from backroom.booking_table bt join backroom.booking ob on ob.id = bt.booking_id"
            " where bt.table_id = any($1::smallint[]) and bt.booking_id <> coalesce($4, 0)"
            " and "
            + _in_the_way("$2", "$3", "$5", "$6")
            + " union all select lower(during), upper(during), false from backroom.hold"
            " where table_id = any($1::smallint[]) and during && tstzrange($2, $3)"
            " and expires_at > clock_timestamp()",
            tables,
            night["starts_at"],
            night["ends_at"],
            ignore,
            night_id,
            now,
        )
        # A party still in is there until now at least, whatever its booked end.
        busy = [
            {"s": r["s"], "e": max(r["e"], now + timedelta(seconds=1)) if r["seated"] else r["e"]}
            for r in rows
        ]
        candidates = []
        t = night["starts_at"]
        while t + min(length, _SLOT * 2) <= night["ends_at"]:
            end = min(t + length, night["ends_at"])
            if t != starts_at and not any(b["s"] < end and t < b["e"] for b in busy):
                candidates.append((abs(t - starts_at), t, end))
            t += _SLOT
        candidates.sort(key=lambda c: c[0])
        floor = info[0]["name"] if info else ""
        numbers = tuple(r["number"] for r in info)
        return [
            Alternative(tuple(tables), numbers, floor, s, e, "another time") for _, s, e in candidates[:limit]
        ]

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

    # ------------------------------------------------------------------ writes

    @_for_actor
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
        _kind: str = "create",
    ) -> Booking:
        if not table_ids:
            raise InvalidInput("Choose at least one table.")
        if guest_id is None and guest is not None:
            guest_id = guest.guest_id
        if guest is None and guest_id is None:
            raise InvalidInput("A booking needs a guest.")
        _refuse(
            guest_problem(guest) if guest is not None and guest_id is None else None, notes_problem(notes)
        )
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
            return _booking_json(await self._read(conn, booking_id))

        return _booking_from_json(await self._operation(actor, _kind, op_id, body, context=ctx))

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
                *_guest_fields(guest),
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

    @_for_actor
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
            _kind="seat_walk_in",
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
                + _in_the_way("$2", "$3", "$4", "$2")
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
            + _in_the_way("$4", "$5", "$2", "$6")
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

    async def _party_in(self, row: asyncpg.Record) -> str:
        """ "Kemi Adeyemi's party (4 of 10, since 21:05)", in staff words."""
        since = (
            f", since {await self._local(row['arrived_at']):%H:%M}" if row["arrived_at"] is not None else ""
        )
        return f"{row['name']}'s party ({row['arrived_count']} of {row['party_size']}{since})"

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
        kind: str,
        booking_id: int,
        version: int,
        sets: str,
        args: tuple[Any, ...],
        op_id: str | None,
        *,
        ctx: dict[str, Any] | None = None,
        before: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[None]] | None = None,
        after: Callable[[asyncpg.Connection], Awaitable[None]] | None = None,
        permission: str | None = None,
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
            return _booking_json(await self._read(conn, booking_id))

        return _booking_from_json(
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

    @_for_actor
    async def confirm(
        self,
        actor: Actor,
        booking_id: int,
        version: int,
        *,
        deposit: Decimal | int | None = None,
        op_id: str | None = None,
    ) -> Booking:
        if deposit is None:
            return await self._change(
                actor, "confirm", booking_id, version, "status = 'confirmed'", (), op_id
            )
        return await self._change(
            actor,
            "confirm",
            booking_id,
            version,
            "status = 'confirmed', deposit = $2::numeric, deposit_paid = $2::numeric > 0",
            (Decimal(deposit),),
            op_id,
        )

    @_for_actor
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
                ends_at=max(current["ends_at"], now + _SLOT),
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
        return await self._change(
            actor,
            "check_in",
            booking_id,
            version,
            "status = 'arrived', arrived_count = arrived_count + $2, arrived_at = coalesce(arrived_at, $3)",
            (arrived, now),
            op_id,
            ctx=ctx,
            before=room,
        )

    @_for_actor
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
        _refuse(reason_problem(reason))
        if deposit is not None and deposit not in DEPOSIT_OUTCOMES:
            raise InvalidInput("A deposit is either kept or refunded.")

        # With no word of a paid deposit, the database refuses (BRU03), after it has checked
        # the role and the step-up: who may not cancel, or has no fresh code, hears that first.
        return await self._change(
            actor,
            "cancel",
            booking_id,
            version,
            "status = 'cancelled', cancel_reason = $2,"
            " deposit_outcome = case when deposit > 0 and deposit_paid then $3::text end,"
            " deposit_paid = deposit_paid and $3::text is distinct from 'refunded'",
            (reason.strip(), deposit),
            op_id,
        )

    @_for_actor
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
            actor, "no_show", booking_id, version, "status = 'no_show'", (), op_id, before=due
        )

    async def _grace_minutes(self, conn: asyncpg.Connection, night_id: int) -> int:
        minutes = await conn.fetchval(
            "select v.no_show_grace_minutes from backroom.night n"
            " join backroom.venue v on v.id = n.venue_id where n.id = $1",
            night_id,
        )
        return int(minutes or 0)

    # ------------------------------------------------------------------ undo

    async def _undo(
        self,
        actor: Actor,
        kind: str,
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
        _refuse(reason_problem(reason, what=UNDO_WORDS[kind]))
        now = self._clock()
        current = await self.get(booking_id)
        ctx: dict[str, Any] = {
            "booking_id": booking_id,
            "table_ids": list(current.table_ids),
            "starts_at": current.occupied_from,
            "ends_at": max(current.ends_at, now + _SLOT),
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

    @_for_actor
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
            "correct_arrivals",
            booking_id,
            version,
            reason,
            "arrived_count = $2, status = case when $2::smallint = 0 then 'confirmed' else status end",
            (arrived,),
            op_id,
            statuses=("arrived",),
            check=fits,
        )

    @_for_actor
    async def reverse_no_show(
        self, actor: Actor, booking_id: int, version: int, reason: str, *, op_id: str | None = None
    ) -> Booking:
        """A party marked no-show has come after all: confirmed again, to be checked in, while
        its table is still free for it."""
        return await self._undo(
            actor,
            "reverse_no_show",
            booking_id,
            version,
            reason,
            "status = 'confirmed'",
            (),
            op_id,
            statuses=("no_show",),
        )

    @_for_actor
    async def reverse_completion(
        self, actor: Actor, booking_id: int, version: int, reason: str, *, op_id: str | None = None
    ) -> Booking:
        """A party completed by mistake is in again, with its arrival count, while its table
        has room for it."""
        return await self._undo(
            actor,
            "reverse_completion",
            booking_id,
            version,
            reason,
            "status = 'arrived'",
            (),
            op_id,
            statuses=("completed",),
        )

    @_for_actor
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
            "reopen",
            booking_id,
            version,
            reason,
            "status = $2",
            (status,),
            op_id,
            statuses=("cancelled",),
            tonight=False,
        )

    @_for_actor
    async def complete(
        self, actor: Actor, booking_id: int, version: int, *, op_id: str | None = None
    ) -> Booking:
        return await self._change(actor, "complete", booking_id, version, "status = 'completed'", (), op_id)

    @_for_actor
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
            "move",
            booking_id,
            version,
            sets,
            args,
            op_id,
            ctx=ctx,
            before=untable,
            after=retable,
        )

    @_for_actor
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
        _refuse(
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
            "amend",
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
        details = _guest_fields(guest)
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

    # ------------------------------------------------------------------ holds

    @_for_actor
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
            return _hold_json(row)

        return _hold_from_json(await self._operation(actor, "hold", op_id, body, entity="hold", context=ctx))

    @_for_actor
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
            return _hold_json(row)

        return _hold_from_json(
            await self._operation(actor, "renew_hold", None, body, entity="hold", entity_id=hold_id)
        )

    @_for_actor
    async def release_hold(self, actor: Actor, hold_id: int) -> None:
        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            await conn.execute(
                "delete from backroom.hold where id = $1 and staff_id = $2", hold_id, actor.staff_id
            )
            return {}

        await self._operation(actor, "release_hold", None, body, entity="hold", entity_id=hold_id)

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

    # ------------------------------------------------------------------ waitlist

    @_for_actor
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
        _refuse(guest_problem(guest), notes_problem(notes))
        notes = notes.strip()
        if party_size < 1:
            raise InvalidInput("The party must have at least one guest.")

        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            gid = guest.guest_id
            if gid is None:
                gid = await conn.fetchval(
                    "insert into backroom.guest (name, phone, email, vip) values ($1, $2, $3, $4)"
                    " returning id",
                    *_guest_fields(guest),
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

        result = await self._operation(actor, "waitlist_add", op_id, body, entity="waitlist_entry")
        return int(result["id"])

    @_for_actor
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
            actor, "waitlist_offer", op_id, body, entity="waitlist_entry", entity_id=entry_id
        )

    @_for_actor
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
            return _booking_json(await self._read(conn, booking_id))

        return _booking_from_json(
            await self._operation(
                actor,
                "waitlist_book",
                op_id,
                body,
                entity="waitlist_entry",
                entity_id=entry_id,
                context=ctx,
            )
        )

    @_for_actor
    async def waitlist_leave(self, actor: Actor, entry_id: int, *, op_id: str | None = None) -> None:
        async def body(conn: asyncpg.Connection) -> dict[str, Any]:
            await conn.execute(
                "update backroom.waitlist_entry set status = 'left' where id = $1"
                " and status in ('waiting', 'offered')",
                entry_id,
            )
            return {}

        await self._operation(
            actor, "waitlist_leave", op_id, body, entity="waitlist_entry", entity_id=entry_id
        )


def _sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")
