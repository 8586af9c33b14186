"""Refusals from Postgres (SQLSTATEs and their details) turned into typed errors
in staff words, with what to do instead."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import asyncpg

from services.bookings.alternatives import AlternativesSearch, in_the_way
from services.errors import (
    BookingError,
    GuestTableLimit,
    HoldExpired,
    IllegalTransition,
    InvalidInput,
    NotAllowed,
    NotFound,
    OutsideHours,
    PartyDoesNotFit,
    StepUpRequired,
    TablesApart,
    TableTaken,
)
from services.guests import REASON_MOST

EARLIEST_ARRIVAL = timedelta(hours=12)
"""How long before the night opens a party may be checked in (as migration 0016 allows)."""


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


def sentence(message: str) -> str:
    message = message.strip()
    return message[:1].upper() + message[1:] + ("" if message.endswith(".") else ".")


class RefusalExplainer(AlternativesSearch):
    """Refusals, from Postgres or checked here first, in staff words."""

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
                sentence(err.args[0] if err.args else str(err)),
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
            return InvalidInput(sentence(err.args[0] if err.args else "That needs a reason."))
        if state == "BRU02":
            return NotAllowed(sentence(err.args[0] if err.args else str(err)))
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
                    + in_the_way("$2", "$3", "$5", "$6")
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

    async def _party_in(self, row: asyncpg.Record) -> str:
        """ "Kemi Adeyemi's party (4 of 10, since 21:05)", in staff words."""
        since = (
            f", since {await self._local(row['arrived_at']):%H:%M}" if row["arrived_at"] is not None else ""
        )
        return f"{row['name']}'s party ({row['arrived_count']} of {row['party_size']}{since})"
