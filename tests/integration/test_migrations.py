"""Migrations on a real, empty database: applied in order, recorded, idempotent, guarded."""

from __future__ import annotations

import asyncpg
import pytest

from services.store import migrations
from services.store.db import SchemaMissing
from services.store.migrations import Migration, MigrationChanged


async def test_from_empty_then_rerun_is_a_no_op(empty_dsn: str) -> None:
    conn = await asyncpg.connect(empty_dsn)
    try:
        with pytest.raises(SchemaMissing, match="no Backroom schema"):
            await migrations.check_current(conn, "the test database")

        applied = await migrations.migrate(conn)
        assert [m.filename for m in applied] == [m.filename for m in migrations.load()]
        assert len(applied) >= 2

        tables = await conn.fetch(
            "select tablename, rowsecurity from pg_tables where schemaname = 'backroom'"
        )
        names = {t["tablename"] for t in tables}
        assert {
            "venue",
            "floor",
            "venue_table",
            "night",
            "guest",
            "booking",
            "booking_table",
            "hold",
            "staff",
            "audit_log",
        } <= names
        assert all(t["rowsecurity"] for t in tables), "RLS must be on for every table"

        before = await conn.fetch("select version, checksum, applied_at from backroom_meta.migration")
        assert await migrations.migrate(conn) == []
        after = await conn.fetch("select version, checksum, applied_at from backroom_meta.migration")
        assert before == after
        await migrations.check_current(conn, "the test database")
    finally:
        await conn.close()


async def test_changed_migration_is_refused(empty_dsn: str) -> None:
    conn = await asyncpg.connect(empty_dsn)
    try:
        await migrations.migrate(conn)
        tampered = [
            Migration(m.version, m.name, m.sql + "\n-- edited later\n") if m.version == 1 else m
            for m in migrations.load()
        ]
        with pytest.raises(MigrationChanged, match="0001_schema.sql was changed after it was applied"):
            await migrations.migrate(conn, tampered)
        states = await migrations.status(conn, tampered)
        assert next(s.changed for s in states) is True
    finally:
        await conn.close()


async def test_database_behind_is_reported(empty_dsn: str) -> None:
    conn = await asyncpg.connect(empty_dsn)
    try:
        first = migrations.load()[:1]
        await migrations.migrate(conn, first)
        with pytest.raises(SchemaMissing, match=r"migration\(s\) behind \(0002_rules.sql"):
            await migrations.check_current(conn, "the test database")
    finally:
        await conn.close()


async def test_a_failing_migration_leaves_nothing_half_applied(empty_dsn: str) -> None:
    conn = await asyncpg.connect(empty_dsn)
    try:
        broken = [
            *migrations.load(),
            Migration(999, "broken", "create table backroom.x (id int);\nselect 1/0;"),
        ]
        with pytest.raises(Exception, match="0999_broken.sql failed"):
            await migrations.migrate(conn, broken)
        assert await conn.fetchval("select to_regclass('backroom.x')") is None
        versions = await conn.fetch("select version from backroom_meta.migration")
        assert 999 not in {v["version"] for v in versions}
    finally:
        await conn.close()


async def test_console_role_is_neither_owner_nor_superuser(dsn: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        role = await conn.fetchrow(
            "select rolsuper, rolbypassrls, rolcanlogin from pg_roles where rolname = 'backroom_console'"
        )
        assert role is not None and not role["rolsuper"] and not role["rolbypassrls"]
        owners = await conn.fetch("select distinct tableowner from pg_tables where schemaname = 'backroom'")
        assert "backroom_console" not in {o["tableowner"] for o in owners}
    finally:
        await conn.close()
