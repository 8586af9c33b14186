"""Getting a database ready: create it on the embedded server, migrate, seed,
and report what is there. Used by the CLI; no terminal UI here.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import asyncpg

from services.floor import business_date
from services.store import migrations, seed
from services.store.db import CONSOLE_ROLE, DatabaseError, SchemaMissing, connect, describe
from services.waiting import within

DEMO_DATABASE = "backroom"


async def ensure_database(server_dsn: str, name: str = DEMO_DATABASE) -> bool:
    """Create the database on the server unless it exists. Returns True if created."""
    conn = await connect(server_dsn)
    try:
        if await conn.fetchval("select exists (select from pg_database where datname = $1)", name):
            return False
        await conn.execute(f'create database "{name}"')
        return True
    finally:
        await conn.close()


@dataclass(frozen=True)
class SeedReport:
    venue_created: bool
    nights_created: int
    bookings_created: int
    first_night: date


def tonight_for(layout: dict[str, Any], now: datetime | None = None) -> date:
    venue = layout["venue"]
    closes = time.fromisoformat(venue["closes_at"])
    return business_date(now or datetime.now(UTC), venue["timezone"], closes.hour)


async def seed_database(
    conn: asyncpg.Connection,
    *,
    layout_path: Path | None = None,
    start: date | None = None,
    days: int = 14,
    sample: bool = True,
) -> SeedReport:
    """The venue (if missing), `days` nights from tonight, and optionally sample bookings,
    in one transaction: a failure part way leaves the database as it was."""
    layout = seed.load_layout(layout_path)
    first = start or tonight_for(layout)
    seed.check_nights(first, days)
    async with conn.transaction():
        created = await seed.seed_venue(conn, layout, str(layout_path or "of the reference venue"))
        nights = await seed.open_nights(conn, first, days)
        bookings = await seed.seed_sample(conn, first, days) if sample else 0
    return SeedReport(created, nights, bookings, first)


async def schema_problem(conn: asyncpg.Connection, where: str) -> str | None:
    """Why the console cannot work on this database's schema (missing, behind, changed), or None.

    The owner can read the migration records and gets the full answer; any other user is
    told only whether the schema and the console's role are there at all."""
    row = await conn.fetchrow(
        "select to_regnamespace('backroom') is not null as schema,"
        " to_regrole($1) is not null as role,"
        " case when to_regnamespace('backroom_meta') is null then false"
        "  else has_schema_privilege(to_regnamespace('backroom_meta'), 'USAGE') end as records",
        CONSOLE_ROLE,
    )
    assert row is not None
    if row["records"] or not (row["schema"] and row["role"]):
        try:
            await migrations.check_current(conn, where)
        except DatabaseError as err:
            return str(err)
    return None


async def _reads_records(conn: asyncpg.Connection) -> bool:
    """Whether this connection may read the migration records (the owner may)."""
    return bool(
        await conn.fetchval(
            "select case when to_regnamespace('backroom_meta') is null then true"
            " else has_schema_privilege(to_regnamespace('backroom_meta'), 'USAGE') end"
        )
    )


async def _ready_for_console(conn: asyncpg.Connection, where: str) -> bool:
    """For a console's own login, which reads no records: is the schema as far as this
    console needs? Returns whether there is a venue."""
    latest = max(m.version for m in migrations.load())
    try:
        row = await conn.fetchrow("select migrated, venue from backroom.readiness()")
    except (asyncpg.UndefinedFunctionError, asyncpg.InvalidSchemaNameError):
        row = None
    if row is None or (row["migrated"] or 0) < latest:
        at = "an older schema" if row is None else f"migration {row['migrated']}"
        raise SchemaMissing(
            f"The database {where} is at {at}; this console needs migration {latest}. "
            "The database's owner runs `backroom db migrate` with the owner's address."
        )
    return bool(row["venue"])


async def require_schema(dsn: str) -> None:
    """Raise SchemaMissing unless the schema is there and current."""
    conn = await connect(dsn)
    try:
        problem = await schema_problem(conn, str(describe(dsn)))
    finally:
        await conn.close()
    if problem:
        raise SchemaMissing(problem)


@dataclass(frozen=True)
class DatabaseReport:
    target: str
    server_version: str
    migrations: list[migrations.MigrationState]
    counts: dict[str, int]
    listen_ok: bool


async def report(dsn: str) -> DatabaseReport:
    conn = await connect(dsn)
    try:
        version = await conn.fetchval("show server_version")
        states = await migrations.status(conn)
        counts: dict[str, int] = {}
        if any(s.applied_at for s in states):
            for table in (
                "venue",
                "floor",
                "venue_table",
                "night",
                "guest",
                "booking",
                "hold",
                "staff",
                "audit_log",
            ):
                counts[table] = int(await conn.fetchval(f"select count(*) from backroom.{table}"))
        listen_ok = await _listen_works(conn)
    finally:
        await conn.close()
    return DatabaseReport(str(describe(dsn)), version, states, counts, listen_ok)


async def _listen_works(conn: asyncpg.Connection) -> bool:
    """NOTIFY reaches a listener on this connection (not so through a transaction pooler)."""
    got = asyncio.Event()
    channel = "backroom_probe"

    def heard(*_: object) -> None:
        got.set()

    await conn.add_listener(channel, heard)
    try:
        await conn.execute("select pg_notify($1, 'probe')", channel)
        try:
            await within(got.wait(), 2)
        except TimeoutError:
            return False
        return True
    finally:
        await conn.remove_listener(channel, heard)


async def check_ready(dsn: str) -> None:
    """Raise a DatabaseError the user can act on unless the console can run here."""
    conn = await connect(dsn)
    try:
        if await _reads_records(conn):
            await migrations.check_current(conn, str(describe(dsn)))
            venue = await conn.fetchval("select exists (select from backroom.venue)")
        else:
            venue = await _ready_for_console(conn, str(describe(dsn)))
        if not venue:
            raise DatabaseError(
                f"The database {describe(dsn)} has the schema but no venue. "
                "Run `backroom db seed` to load the reference venue."
            )
        if not await _listen_works(conn):
            raise DatabaseError(
                f"Notifications do not arrive through {describe(dsn)}: this looks like a "
                "transaction-mode connection pooler, where LISTEN cannot work. Connect directly "
                "or through a session-mode pooler."
            )
    finally:
        await conn.close()
