"""Staff records: who a console acts for."""

from __future__ import annotations

from services.db import Actor, Database
from services.errors import NotFound


async def find_by_email(db: Database, email: str) -> Actor:
    async with db.transaction(readonly=True) as conn:
        row = await conn.fetchrow(
            "select id, display_name, role, active from backroom.staff where email = $1",
            email.strip().lower(),
        )
    if row is None or not row["active"]:
        raise NotFound(f"There is no active staff member {email!r}.")
    return Actor(staff_id=row["id"], name=row["display_name"], role=row["role"])
