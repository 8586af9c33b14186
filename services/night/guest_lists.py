"""Guest lists: a night's lists, each owned by a promoter or a host, with a cap on
names, a cap on each guest's plus-ones and a cut-off after which only a manager
changes it; names added one by one or pasted in bulk (`Jane Doe +2`), removed,
found at the door beside bookings, and checked in (partly, as for bookings).

Every rule is the database's (migration 0019): this module asks, and explains.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from services.errors import InvalidInput
from services.identity.permissions import Operation
from services.night.ops import NightOps
from services.store.db import Actor

NAME_MOST = 120
NOTE_MOST = 200
PLUS_ONES_MOST = 50
BULK_MOST = 500
LIST_NAME_MOST = 80

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_BULLET = re.compile(r"^(?:[-*\u2022]+|\d{1,3}[.)])\s+")
# A count after the name: "+2" or "+ 2" ("x2" is not taken: a name may hold an x).
_COUNT = re.compile(r"\s*\+\s*(\d{1,6})\s*$")


@dataclass(frozen=True, slots=True)
class ParsedName:
    name: str
    plus_ones: int = 0
    note: str = ""


def parse_line(line: str, number: int = 1) -> ParsedName | None:
    """One pasted line: `Name`, `Name +2`, `Name +2 | note`, `- Name +1`; None if blank.
    Raises InvalidInput naming the line when it cannot be a name."""
    text = line.strip()
    if not text:
        return None
    if _CONTROL.search(text):
        raise InvalidInput(f"Line {number} holds a control character.")
    note = ""
    if "|" in text:
        text, note = (part.strip() for part in text.split("|", 1))
    text = _BULLET.sub("", text).strip()
    plus_ones = 0
    found = _COUNT.search(text)
    if found:
        plus_ones = int(found.group(1))
        text = text[: found.start()].strip()
    if not text:
        raise InvalidInput(f"Line {number} has a count but no name.")
    if plus_ones > PLUS_ONES_MOST:
        raise InvalidInput(f"Line {number} ({text}) brings {plus_ones}; at most {PLUS_ONES_MOST}.")
    if "+" in text:
        raise InvalidInput(f"Line {number} ({text[:40]}): write the count last, as in 'Jane Doe +2'.")
    if len(text) > NAME_MOST:
        raise InvalidInput(f"Line {number}: a name is at most {NAME_MOST} characters.")
    if len(note) > NOTE_MOST:
        raise InvalidInput(f"Line {number}: a note is at most {NOTE_MOST} characters.")
    return ParsedName(" ".join(text.split()), plus_ones, note)


def parse_bulk(text: str) -> list[ParsedName]:
    """Pasted names, one a line, each with an optional `+N` and `| note`. All or
    nothing: the first line that is not a name, or a name twice, raises InvalidInput."""
    names: list[ParsedName] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        parsed = parse_line(line, number)
        if parsed is None:
            continue
        key = parsed.name.casefold()
        if key in seen:
            raise InvalidInput(f"{parsed.name} is on line {seen[key]} and line {number}.")
        seen[key] = number
        names.append(parsed)
    if not names:
        raise InvalidInput("There are no names to add: paste one name a line.")
    if len(names) > BULK_MOST:
        raise InvalidInput(f"At most {BULK_MOST} names at once; this has {len(names)}.")
    return names


@dataclass(frozen=True, slots=True)
class GuestList:
    id: int
    night_id: int
    name: str
    owner_id: int
    owner_name: str
    max_names: int
    max_plus_ones: int
    closes_at: datetime
    names: int
    arrived: int


@dataclass(frozen=True, slots=True)
class ListName:
    id: int
    list_id: int
    name: str
    plus_ones: int
    note: str
    arrived_count: int
    arrived_at: datetime | None
    version: int

    @property
    def party(self) -> int:
        return self.plus_ones + 1


@dataclass(frozen=True, slots=True)
class DoorMatch:
    """One hit of the door's search: a list name or a booking, with where it came from."""

    kind: str  # 'list' or 'booking'
    id: int
    name: str
    list_id: int | None
    list_name: str | None
    booking_ref: str | None
    party: int
    arrived: int
    status: str
    likeness: float

    @property
    def source(self) -> str:
        return f"list: {self.list_name}" if self.kind == "list" else f"booking {self.booking_ref}"


@dataclass(frozen=True, slots=True)
class CheckedIn:
    name_id: int
    arrived: int
    inside: int | None
    capacity: int | None


@dataclass(frozen=True, slots=True)
class ListArrivals:
    """A list's credit for the night report."""

    list_id: int
    name: str
    owner_name: str
    names: int
    expected: int
    names_in: int
    arrived: int


_LISTS = (
    "select l.id, l.night_id, l.name, l.owner_id, coalesce(s.display_name, '') as owner_name,"
    " l.max_names, l.max_plus_ones, l.closes_at, l.name_count as names,"
    " coalesce((select sum(g.arrived_count) from backroom.guest_list_name g"
    "           where g.list_id = l.id and g.removed_at is null), 0)::int as arrived"
    " from backroom.guest_list l left join backroom.staff s on s.id = l.owner_id"
)


class GuestListService:
    def __init__(self, ops: NightOps) -> None:
        self._ops = ops
        self._db = ops.db

    # ------------------------------------------------------------------ reads

    async def lists(self, night_id: int) -> list[GuestList]:
        """The night's lists the session may see: a promoter's own, everyone else all."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(_LISTS + " where l.night_id = $1 order by l.closes_at, l.name", night_id)
        return [GuestList(**dict(r)) for r in rows]

    async def names(self, list_id: int) -> list[ListName]:
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select id, list_id, name, plus_ones, note, arrived_count, arrived_at, version"
                " from backroom.guest_list_name where list_id = $1 and removed_at is null"
                " order by lower(name), id",
                list_id,
            )
        return [ListName(**dict(r)) for r in rows]

    async def door_search(self, night_id: int, query: str, limit: int = 20) -> list[DoorMatch]:
        """List names beside the night's bookings, best first, each saying where it is from."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch("select * from backroom.door_search($1, $2, $3)", night_id, query, limit)
        return [DoorMatch(**{**dict(r), "likeness": float(r["likeness"])}) for r in rows]

    async def arrivals_by_list(self, night_id: int) -> list[ListArrivals]:
        """The night report's credit: each list's names, the guests they stand for, and arrivals."""
        async with self._db.transaction(readonly=True) as conn:
            rows = await conn.fetch(
                "select l.id as list_id, l.name, coalesce(s.display_name, '') as owner_name,"
                " count(g.id)::int as names, coalesce(sum(g.plus_ones + 1), 0)::int as expected,"
                " count(g.id) filter (where g.arrived_count > 0)::int as names_in,"
                " coalesce(sum(g.arrived_count), 0)::int as arrived"
                " from backroom.guest_list l left join backroom.staff s on s.id = l.owner_id"
                " left join backroom.guest_list_name g on g.list_id = l.id and g.removed_at is null"
                " where l.night_id = $1 group by l.id, s.display_name"
                " order by arrived desc, l.name",
                night_id,
            )
        return [ListArrivals(**dict(r)) for r in rows]

    # ------------------------------------------------------------------ changes

    async def create_list(
        self,
        actor: Actor,
        *,
        night_id: int,
        name: str,
        owner_id: int,
        max_names: int,
        max_plus_ones: int,
        closes_at: datetime,
        op_id: str | None = None,
    ) -> int:
        """A manager's new list for a night; its id."""
        if not name.strip() or len(name.strip()) > LIST_NAME_MOST:
            raise InvalidInput(f"A list's name is 1 to {LIST_NAME_MOST} characters.")
        answer = await self._ops.change(
            actor,
            Operation.GUEST_LIST_CREATE,
            "guest_list_create",
            night_id,
            name,
            owner_id,
            max_names,
            max_plus_ones,
            closes_at,
            entity="guest_list",
            op_id=op_id,
        )
        return int(answer["list_id"])

    async def change_list(
        self,
        actor: Actor,
        list_id: int,
        *,
        max_names: int | None = None,
        max_plus_ones: int | None = None,
        closes_at: datetime | None = None,
        op_id: str | None = None,
    ) -> None:
        """A manager's change of a list's caps or cut-off (None keeps what is there)."""
        await self._ops.change(
            actor,
            Operation.GUEST_LIST_CHANGE,
            "guest_list_change",
            list_id,
            max_names,
            max_plus_ones,
            closes_at,
            entity="guest_list",
            entity_id=list_id,
            op_id=op_id,
        )

    async def add_names(
        self, actor: Actor, list_id: int, names: Sequence[ParsedName], *, op_id: str | None = None
    ) -> list[int]:
        """Names added to a list, all or none; their ids in order."""
        if not names:
            raise InvalidInput("There are no names to add.")
        payload = [{"name": n.name, "plus_ones": n.plus_ones, "note": n.note} for n in names]
        answer = await self._ops.change(
            actor,
            Operation.GUEST_LIST_ADD,
            "guest_list_add",
            list_id,
            json.dumps(payload),
            entity="guest_list",
            entity_id=list_id,
            op_id=op_id,
        )
        return [int(i) for i in answer["ids"]]

    async def add_name(
        self,
        actor: Actor,
        list_id: int,
        name: str,
        plus_ones: int = 0,
        note: str = "",
        *,
        op_id: str | None = None,
    ) -> int:
        return (
            await self.add_names(
                actor, list_id, [ParsedName(name.strip(), plus_ones, note.strip())], op_id=op_id
            )
        )[0]

    async def add_pasted(
        self, actor: Actor, list_id: int, text: str, *, op_id: str | None = None
    ) -> list[int]:
        """Bulk add: one name a line, `+2` style counts; nothing is added unless all are."""
        return await self.add_names(actor, list_id, parse_bulk(text), op_id=op_id)

    async def remove_name(self, actor: Actor, name_id: int, *, op_id: str | None = None) -> None:
        await self._ops.change(
            actor,
            Operation.GUEST_LIST_REMOVE,
            "guest_list_remove",
            name_id,
            entity="guest_list_name",
            entity_id=name_id,
            op_id=op_id,
        )

    async def check_in(
        self,
        actor: Actor,
        name_id: int,
        arrived: int,
        *,
        door: str = "",
        override_reason: str | None = None,
        op_id: str | None = None,
    ) -> CheckedIn:
        """`arrived` of the name's party are in now (all or some); the new arrivals count
        into the headcount. A probable ban match, or passing capacity, needs a manager's
        override with a reason (BanMatch, AtCapacity)."""
        answer = await self._ops.change(
            actor,
            Operation.GUEST_LIST_CHECK_IN,
            "guest_list_check_in",
            name_id,
            arrived,
            door,
            override_reason,
            entity="guest_list_name",
            entity_id=name_id,
            op_id=op_id,
        )
        return CheckedIn(
            int(answer["name_id"]), int(answer["arrived"]), answer.get("inside"), answer.get("capacity")
        )
