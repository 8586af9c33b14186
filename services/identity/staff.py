"""Staff records: who a console acts for."""

from __future__ import annotations

from services.errors import NotFound
from services.store.db import Actor, connect


async def owner_session(dsn: str, email: str, hours: int = 16) -> Actor:
    """A session for an active staff member, opened by the database's owner (`dsn`)
    without the staff member's password or code: for set-up tools, benchmarks and tests.
    A console's own login cannot do this (`backroom_meta.open_session` is the owner's)."""
    conn = await connect(dsn)
    try:
        row = await conn.fetchrow(
            "select id, display_name, role, active from backroom.staff where email = $1",
            email.strip().lower(),
        )
        if row is None or not row["active"]:
            raise NotFound(f"There is no active staff member {email!r}.")
        token = await conn.fetchval("select backroom_meta.open_session($1, $2)", row["id"], hours)
    finally:
        await conn.close()
    return Actor(staff_id=row["id"], name=row["display_name"], role=row["role"], session=token)
