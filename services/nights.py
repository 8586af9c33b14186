"""Opening nights: a manager opens a night the seed did not, within the venue's rules
(from yesterday to a year ahead, with the venue's hours), audited."""

from __future__ import annotations

import json
from datetime import date

import asyncpg

from services.errors import InvalidInput, NotAllowed
from services.identity.permissions import Operation, require
from services.store.db import Actor, Database


class NightService:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def open_night(self, actor: Actor, day: date) -> int:
        """The night of `day`, opened now if it was not; its id."""
        require(actor, Operation.OPEN_NIGHT)
        try:
            async with self._db.transaction(actor) as conn:
                night_id: int = await conn.fetchval("select backroom.open_night($1)", day)
        except asyncpg.InsufficientPrivilegeError as err:
            raise NotAllowed("Only a manager or an admin may open a night.") from err
        except asyncpg.PostgresError as err:
            if err.sqlstate == "BR016":
                span = json.loads(getattr(err, "detail", None) or "{}")
                first = date.fromisoformat(span.get("first", day.isoformat()))
                last = date.fromisoformat(span.get("last", day.isoformat()))
                raise InvalidInput(
                    f"Nights can be opened from {first:%a %d %b} to {last:%a %d %b %Y}; "
                    f"{day:%a %d %b %Y} is outside that."
                ) from err
            raise
        return night_id
