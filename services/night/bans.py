"""The ban list: managers add and lift bans; the door sees a probable match's name,
warning and reason (never who added it, when, or lifted bans); letting a match in
needs a manager's override with a reason."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.errors import BanMatch, InvalidInput, StepUpRequired
from services.identity.permissions import Operation, may
from services.night.ops import NightOps
from services.store.db import Actor


@dataclass(frozen=True, slots=True)
class BanWarning:
    """What door and support staff may see of a probable match."""

    ban_id: int
    name: str
    reason: str
    matched_on: str  # 'name', 'phone' or 'email'
    likeness: float

    @property
    def warning(self) -> str:
        return f"BANNED? Looks like {self.name} (by {self.matched_on}): {self.reason}"


@dataclass(frozen=True, slots=True)
class Ban:
    """A ban with its history: managers only."""

    id: int
    name: str
    phone: str | None
    email: str | None
    reason: str
    expires_at: datetime | None
    added_by: str
    added_at: datetime
    lifted_at: datetime | None
    lift_reason: str | None


class BanService:
    def __init__(self, ops: NightOps) -> None:
        self._ops = ops
        self._db = ops.db

    async def add(
        self,
        actor: Actor,
        *,
        name: str,
        reason: str,
        phone: str | None = None,
        email: str | None = None,
        expires_at: datetime | None = None,
        op_id: str | None = None,
    ) -> int:
        if not reason.strip():
            raise InvalidInput("A ban needs a reason.")
        answer = await self._ops.change(
            actor,
            Operation.BAN_ADD,
            "ban_add",
            name,
            phone,
            email,
            reason,
            expires_at,
            entity="ban",
            op_id=op_id,
        )
        return int(answer["ban_id"])

    async def lift(self, actor: Actor, ban_id: int, reason: str, *, op_id: str | None = None) -> None:
        if not reason.strip():
            raise InvalidInput("Lifting a ban needs a reason.")
        await self._ops.change(
            actor, Operation.BAN_LIFT, "ban_lift", ban_id, reason, entity="ban", entity_id=ban_id, op_id=op_id
        )

    async def matches(
        self, name: str, phone: str | None = None, email: str | None = None
    ) -> list[BanWarning]:
        """Standing bans that probably are this guest, best first (fuzzy name, exact phone
        or email)."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch("select * from backroom.ban_matches($1, $2, $3)", name, phone, email)
        return [
            BanWarning(r["ban_id"], r["name"], r["reason"], r["matched_on"], float(r["likeness"]))
            for r in rows
        ]

    async def history(self, *, include_lifted: bool = True) -> list[Ban]:
        """Every ban with who added it and when: a manager's read (others see none)."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select b.id, b.name, b.phone, b.email, b.reason, b.expires_at,"
                " coalesce(s.display_name, '') as added_by, b.added_at, b.lifted_at, b.lift_reason"
                " from backroom.ban b left join backroom.staff s on s.id = b.added_by"
                " where $1 or b.lifted_at is null order by b.added_at desc",
                include_lifted,
            )
        return [Ban(**dict(r)) for r in rows]

    async def require_clear(
        self,
        actor: Actor,
        name: str,
        phone: str | None = None,
        email: str | None = None,
        *,
        override_reason: str | None = None,
    ) -> None:
        """The check before checking in or seating a guest (bookings): a probable match
        refuses unless a manager gives a reason. Guest list check-ins are checked by the
        database itself (backroom.guest_list_check_in)."""
        found = await self.matches(name, phone, email)
        if not found:
            return
        best = found[0]
        if not (override_reason or "").strip():
            raise BanMatch(
                f"{name} looks like {best.name}, who is banned: {best.reason}. A manager's "
                "override with a reason lets them in.",
                ban_name=best.name,
                reason=best.reason,
                matched_on=best.matched_on,
            )
        if not may(actor.role, Operation.OVERRIDE):
            raise StepUpRequired(
                "Letting in someone who looks banned needs a manager signed in on "
                "this console, with a reason."
            )
