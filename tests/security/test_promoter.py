"""A promoter's session on the console's own login (what psql with the console's
credential and a promoter's session gets) reads the venue, its floors and nights,
its own staff row, and its own lists; every other table of the schema shows it
nothing, including any table a later migration adds without saying otherwise."""

from __future__ import annotations

import asyncpg

from tests.night_helpers import console_login
from tests.sessions import new_staff

# What a promoter sees of each table, beyond nothing.
SEES = {
    "backroom.venue": "all",
    "backroom.floor": "all",
    "backroom.night": "all",
    "backroom.audit_operation": "all",
    "backroom.booking_status": "none",
    "backroom.staff": "own",
    "backroom.operation": "own",
    "backroom.guest_list": "own",
    "backroom.guest_list_name": "own",
    "backroom.alert": "all",
    "backroom.alert_dismissal": "own",
}


async def test_a_promoter_reads_nothing_but_the_venue_its_nights_and_its_own(
    dsn: str, admin: asyncpg.Connection
) -> None:
    promoter = await new_staff(admin, "pro@night.test", "Pro Moter", "promoter")
    tables = [
        r["name"]
        for r in await admin.fetch(
            "select format('%I.%I', n.nspname, c.relname) as name from pg_class c"
            " join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'backroom' and c.relkind in ('r', 'p', 'v', 'm') order by 1"
        )
    ]
    conn = await console_login(dsn, promoter)
    try:
        assert await conn.fetchval("select backroom.current_staff_role()") == "promoter"
        for table in tables:
            try:
                seen = await conn.fetchval(f"select count(*) from {table}")
            except asyncpg.InsufficientPrivilegeError:
                continue
            everyone = await admin.fetchval(f"select count(*) from {table}")
            rule = SEES.get(table, "none")
            if rule == "all":
                assert seen == everyone, table
            elif rule == "own":
                assert seen <= 1 or table == "backroom.operation", (table, seen)
            else:
                assert seen == 0, f"{table}: a promoter sees {seen} of {everyone} rows"
    finally:
        await conn.close()


async def test_every_table_with_row_security_says_what_a_promoter_may_read(
    admin: asyncpg.Connection,
) -> None:
    """A table without the restrictive not_promoter policy must name promoters in its own
    read policy (the tables of 0019 do), or it is refused here."""
    loose = await admin.fetch(
        "select c.relname from pg_class c where c.relnamespace = 'backroom'::regnamespace"
        " and c.relkind = 'r' and c.relrowsecurity"
        " and not exists (select from pg_policy p where p.polrelid = c.oid and p.polname = 'not_promoter')"
        " and not exists (select from pg_policy p where p.polrelid = c.oid and p.polcmd in ('r', '*')"
        "                 and pg_get_expr(p.polqual, p.polrelid) ~ 'reading_role')"
    )
    assert [r["relname"] for r in loose] == []
