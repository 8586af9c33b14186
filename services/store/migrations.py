"""Versioned migrations: plain SQL files in services/store/sql, applied in order,
each recorded with its checksum. A file changed after it was applied is refused.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime
from importlib import resources

import asyncpg

from services.store.db import DatabaseError, SchemaMissing

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")
# Any constant will do; it only has to be the same for every migrating process.
_LOCK_KEY = 0x6261636B  # "back"

_BOOKKEEPING = """
create schema if not exists backroom_meta;
create table if not exists backroom_meta.migration (
    version    int primary key,
    name       text not null,
    checksum   text not null,
    applied_at timestamptz not null default now(),
    applied_by text not null default current_user
);
revoke all on schema backroom_meta from public;
"""


class MigrationChanged(DatabaseError):
    pass


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str = field(repr=False)

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()

    @property
    def filename(self) -> str:
        return f"{self.version:04d}_{self.name}.sql"


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied_at: datetime | None
    changed: bool


def load() -> list[Migration]:
    found = []
    for entry in resources.files("services.store.sql").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


async def _applied(conn: asyncpg.Connection) -> dict[int, asyncpg.Record]:
    exists = await conn.fetchval("select to_regclass('backroom_meta.migration') is not null")
    if not exists:
        return {}
    rows = await conn.fetch("select version, name, checksum, applied_at from backroom_meta.migration")
    return {r["version"]: r for r in rows}


async def status(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[MigrationState]:
    migrations = load() if migrations is None else migrations
    applied = await _applied(conn)
    return [
        MigrationState(
            migration=m,
            applied_at=applied[m.version]["applied_at"] if m.version in applied else None,
            changed=m.version in applied and applied[m.version]["checksum"] != m.checksum,
        )
        for m in migrations
    ]


def _refuse_changed(states: list[MigrationState]) -> None:
    changed = [s.migration.filename for s in states if s.changed]
    if changed:
        raise MigrationChanged(
            f"Migration {', '.join(changed)} was changed after it was applied to this database. "
            "An applied migration must stay as it was: restore the file, and put the change "
            "in a new migration."
        )


async def migrate(conn: asyncpg.Connection, migrations: list[Migration] | None = None) -> list[Migration]:
    """Apply what is missing, each file in its own transaction. Returns what was applied."""
    migrations = load() if migrations is None else migrations
    await conn.execute("select pg_advisory_lock($1)", _LOCK_KEY)
    try:
        await conn.execute(_BOOKKEEPING)
        states = await status(conn, migrations)
        _refuse_changed(states)
        done = []
        for state in states:
            if state.applied_at is not None:
                continue
            m = state.migration
            async with conn.transaction():
                try:
                    await conn.execute(m.sql)
                except asyncpg.PostgresError as err:
                    raise DatabaseError(f"Migration {m.filename} failed: {err}") from err
                await conn.execute(
                    "insert into backroom_meta.migration (version, name, checksum) values ($1, $2, $3)",
                    m.version,
                    m.name,
                    m.checksum,
                )
            done.append(m)
        return done
    finally:
        await conn.execute("select pg_advisory_unlock($1)", _LOCK_KEY)


async def check_current(conn: asyncpg.Connection, where: str) -> None:
    """Refuse to run the console on a database whose schema is missing, behind or altered."""
    try:
        states = await status(conn)
    except asyncpg.InsufficientPrivilegeError as err:
        raise SchemaMissing(
            f"The database {where} does not let this user read the migration records ({err}). "
            "Connect as the user that ran `backroom db migrate`."
        ) from err
    if not any(s.applied_at for s in states):
        raise SchemaMissing(
            f"The database {where} has no Backroom schema yet. "
            "Run `backroom db migrate` (and `backroom db seed` for the reference venue)."
        )
    _refuse_changed(states)
    missing = [s.migration.filename for s in states if s.applied_at is None]
    if missing:
        raise SchemaMissing(
            f"The database {where} is {len(missing)} migration(s) behind ({', '.join(missing)}). "
            "Run `backroom db migrate`."
        )
