"""The headcount: people in and out at every door into one total per night,
against the licensed capacity from the venue's layout; passing it needs a
manager's override with a reason. The peak and the hour it came are kept for
the night report."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from services.identity.permissions import Operation
from services.night.ops import NightOps
from services.store.db import Actor, Isolation

AMBER_FROM = 0.9  # the share of capacity at which the count turns amber


@dataclass(frozen=True, slots=True)
class Headcount:
    night_id: int
    inside: int
    capacity: int | None
    peak: int
    peak_at: datetime | None

    @property
    def level(self) -> str:
        """'ok', 'amber' from 90% of capacity, 'red' at capacity or over."""
        if not self.capacity:
            return "ok"
        if self.inside >= self.capacity:
            return "red"
        return "amber" if self.inside >= AMBER_FROM * self.capacity else "ok"

    @property
    def label(self) -> str:
        return f"{self.inside}/{self.capacity}" if self.capacity else f"{self.inside}"


@dataclass(frozen=True, slots=True)
class HourPeak:
    hour: datetime
    peak: int
    came_in: int
    went_out: int


class HeadcountService:
    def __init__(self, ops: NightOps) -> None:
        self._ops = ops
        self._db = ops.db

    async def count(
        self,
        actor: Actor,
        night_id: int,
        change: int,
        *,
        door: str = "",
        override_reason: str | None = None,
        op_id: str | None = None,
        isolation: Isolation = "read_committed",
    ) -> Headcount:
        """`change` people in (> 0) or out (< 0) at `door`. Passing capacity is refused
        (AtCapacity) unless a manager's session with a fresh code gives a reason."""
        answer = await self._ops.change(
            actor,
            Operation.DOOR_COUNT,
            "door_count",
            night_id,
            change,
            door,
            override_reason,
            entity="headcount",
            entity_id=night_id,
            op_id=op_id,
            isolation=isolation,
        )
        return _from(answer)

    async def count_in(
        self,
        actor: Actor,
        night_id: int,
        people: int = 1,
        *,
        door: str = "",
        override_reason: str | None = None,
        op_id: str | None = None,
    ) -> Headcount:
        return await self.count(
            actor, night_id, abs(people), door=door, override_reason=override_reason, op_id=op_id
        )

    async def count_out(
        self, actor: Actor, night_id: int, people: int = 1, *, door: str = "", op_id: str | None = None
    ) -> Headcount:
        return await self.count(actor, night_id, -abs(people), door=door, op_id=op_id)

    async def current(self, night_id: int) -> Headcount:
        """The live count; before the first count, nobody in against the venue's capacity."""
        async with self._db.transaction(readonly=True) as conn:
            row = await conn.fetchrow(
                "select night_id, inside, capacity, peak, peak_at from backroom.headcount"
                " where night_id = $1",
                night_id,
            )
            if row is None:
                capacity = await conn.fetchval("select capacity from backroom.venue order by id limit 1")
                return Headcount(night_id, 0, capacity, 0, None)
        return Headcount(**dict(row))

    async def by_hour(self, night_id: int) -> list[HourPeak]:
        """Each hour's highest count and the people in and out, for the night report."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select date_trunc('hour', at) as hour, max(inside_after)::int as peak,"
                " coalesce(sum(change) filter (where change > 0), 0)::int as came_in,"
                " coalesce(-sum(change) filter (where change < 0), 0)::int as went_out"
                " from backroom.door_count_event where night_id = $1 group by 1 order by 1",
                night_id,
            )
        return [HourPeak(**dict(r)) for r in rows]


def _from(answer: dict[str, object]) -> Headcount:
    peak_at = answer.get("peak_at")
    return Headcount(
        night_id=int(str(answer["night_id"])),
        inside=int(str(answer["inside"])),
        capacity=None if answer.get("capacity") is None else int(str(answer["capacity"])),
        peak=int(str(answer["peak"])),
        peak_at=datetime.fromisoformat(str(peak_at)) if peak_at else None,
    )
