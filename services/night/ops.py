"""How every change of the night is made: one call of a database function that
checks the session's role, claims the operation id and enforces the rule, in one
transaction; its refusal comes back as a typed error in staff words, recorded
in the audit trail; a lost answer is asked back by the operation id.

A serialization failure (a rival door's count committed while ours ran, at
repeatable read or serializable) is tried again with the same operation id, so
it can never be done twice, and the next try sees what the rival did.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg

from services.bookings import new_op_id, settle_operation
from services.errors import (
    AlreadyOnList,
    AtCapacity,
    BanMatch,
    BookingError,
    Interrupted,
    InvalidInput,
    ListClosed,
    ListFull,
    NotAllowed,
    NotFound,
    StepUpRequired,
)
from services.floor import utc_now
from services.identity.permissions import Operation, require
from services.store.db import (
    Actor,
    ConnectionLost,
    Database,
    DatabaseError,
    Isolation,
)

RETRIES = 3  # tries of one change when a rival's commit made ours fail to serialize


def _detail(err: asyncpg.PostgresError) -> dict[str, Any]:
    try:
        value = json.loads(getattr(err, "detail", None) or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class NightOps:
    """Runs the changes of services/night for an actor."""

    def __init__(self, db: Database, clock: Callable[[], datetime] = utc_now) -> None:
        self.db = db
        self.clock = clock
        self._tz: ZoneInfo | None = None

    async def local(self, moment: datetime) -> datetime:
        if self._tz is None:
            async with self.db.transaction(readonly=True) as conn:
                self._tz = ZoneInfo(await conn.fetchval("select timezone from backroom.venue limit 1"))
        return moment.astimezone(self._tz)

    async def change(
        self,
        actor: Actor,
        kind: Operation,
        function: str,
        *args: Any,
        entity: str,
        entity_id: int | None = None,
        op_id: str | None = None,
        permission: Operation | None = None,
        isolation: Isolation = "read_committed",
    ) -> dict[str, Any]:
        """`select backroom.<function>(op_id, *args)` as `actor`; its JSON answer."""
        require(actor, permission or kind)
        op_id = op_id or new_op_id()
        marks = ", ".join(f"${n}" for n in range(2, len(args) + 2))
        sql = f"select backroom.{function}($1::uuid{', ' if args else ''}{marks})"
        for attempt in range(1, RETRIES + 1):
            try:
                async with self.db.transaction(
                    actor, operation=kind, op_id=op_id, isolation=isolation
                ) as conn:
                    raw = await conn.fetchval(sql, op_id, *args)
                answer: dict[str, Any] = json.loads(raw)
                return answer
            except ConnectionLost as lost:
                settled = await settle_operation(self.db, actor, kind, op_id, lost)
                if isinstance(settled, Interrupted):
                    raise settled from lost
                return settled
            except asyncpg.PostgresError as err:
                if err.sqlstate in ("40001", "40P01") and attempt < RETRIES:
                    continue
                refusal = await self.explain(err)
                await self._record_refusal(actor, kind, entity, entity_id, op_id, refusal)
                raise refusal from err
        raise AssertionError("unreachable")  # pragma: no cover

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
            async with self.db.transaction(actor) as conn:
                await conn.execute(
                    "select backroom.log_night_refusal($1, $2, $3, $4, $5)",
                    kind,
                    entity,
                    entity_id,
                    op_id,
                    json.dumps(refusal.details(), default=str),
                )
        except (asyncpg.PostgresError, OSError, TimeoutError, DatabaseError):
            pass  # the refusal is what staff must see; a lost audit row of it must not hide it

    async def explain(self, err: asyncpg.PostgresError) -> BookingError:
        """A refusal of the database in staff words."""
        state = err.sqlstate
        d = _detail(err)
        if state == "42501":
            return NotAllowed(
                "The database refused this for your session: it is locked, signed "
                "out, or your role may not do it."
            )
        if state == "BN001":
            return InvalidInput("That operation id was already used for something else.")
        if state == "BN002":
            return NotFound("There is no such list of yours.")
        if state == "BN003":
            closed = datetime.fromisoformat(d["closed_at"]) if d.get("closed_at") else None
            at = f" at {await self.local(closed):%H:%M}" if closed else ""
            return ListClosed(f"The list {d.get('list', '')} closed{at}: only a manager can change it now.")
        if state == "BN004" and d.get("names") is not None:
            return ListFull(
                f"The list {d.get('list', '')} has {d['names']} names already: remove "
                f"some before its cap goes down to {d.get('most')}."
            )
        if state == "BN004":
            return ListFull(
                f"The list {d.get('list', '')} takes {d.get('most')} names and has "
                f"room for {d.get('room')} more: nothing was added."
            )
        if state == "BN005":
            return InvalidInput(
                f"{d.get('name', 'A guest')} may bring at most {d.get('most')} "
                "guest(s) on this list: nothing was added."
            )
        if state == "BN006":
            if d.get("what") == "list":
                return AlreadyOnList(f"That night has a list called {d.get('name')} already.")
            return AlreadyOnList(
                f"{d.get('name')} is on the list {d.get('list', '')} already: nothing was added."
            )
        if state == "BN007":
            return InvalidInput(f"{d.get('name')} has arrived, so stays on the list.")
        if state == "BN008":
            return InvalidInput(
                f"{d.get('name')}'s party is {d.get('party')} and {d.get('in')} "
                "are in already: say how many are in now, from that up to the party."
            )
        if state == "BN009":
            return NotFound("That name is no longer on the list: search again.")
        if state == "BN010":
            return AtCapacity(
                f"The room is at its capacity of {d.get('capacity')} "
                f"({d.get('inside')} in): a manager's override with a reason lets "
                "more in.",
                capacity=int(d.get("capacity") or 0),
                inside=int(d.get("inside") or 0),
            )
        if state == "BN011":
            return StepUpRequired(
                "An override needs a manager signed in on this console, a "
                "fresh code from their authenticator, and a reason."
            )
        if state == "BN012":
            if not d.get("inside"):
                return InvalidInput("Nobody is counted in, so nobody can be counted out.")
            return InvalidInput(
                f"Only {d['inside']} are counted in, so {d.get('out')} cannot be counted out."
            )
        if state == "BN013":
            return BanMatch(
                f"{d.get('name')} looks like {d.get('ban_name')}, who is banned: "
                f"{d.get('ban_reason')}. A manager's override with a reason lets them in.",
                ban_name=str(d.get("ban_name", "")),
                reason=str(d.get("ban_reason", "")),
                matched_on=str(d.get("matched_on", "name")),
            )
        if state == "BN014":
            return NotFound(f"There is no such {d.get('what', 'thing')} any more: look again.")
        if state == "BN015":
            return InvalidInput(
                f"Booking {d.get('ref')} is {str(d.get('status', '')).replace('_', ' ')}:"
                " spend is recorded for a party that is in, until its close-out."
            )
        if state == "BN016":
            what = d.get("what", "What was typed")
            if d.get("most"):
                return InvalidInput(f"{what} must be 1 to {d['most']} characters on one line.")
            return InvalidInput(f"{what} is not right: {err.args[0] if err.args else err}.")
        if state in ("40001", "40P01"):
            return BookingError("Someone changed this at the same moment; nothing was saved. Try again.")
        if state and state.startswith("23"):
            return InvalidInput("Something typed is too long, out of range, or holds a control character.")
        return BookingError(f"The database refused this: {err}")
