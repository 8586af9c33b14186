"""Fixtures for the Supabase adapters: a Postgres database set up as a
Supabase project's would be before our migrations (tests/supabase/stub_sql.py),
and the Auth and Realtime stand-ins (tests/supabase/standins.py), which sign
and check tokens with the project's JWT secret that the database has too."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import asyncpg
import pytest

from services.store import migrations, seed
from services.supabase.auth import jwt_secret_key, store_jwt_secret
from tests.conftest import SAMPLE_NIGHT, _drop_database, _fresh_database
from tests.supabase.standins import GoTrueStandIn, RealtimeStandIn
from tests.supabase.stub_sql import SUPABASE_STUB

API_KEY = "sb_publishable_standin"
JWT_SECRET = secrets.token_urlsafe(32)
"""The project's JWT secret, as the dashboard shows it (Project Settings > JWT Keys)."""
JWT_KEY = jwt_secret_key(JWT_SECRET)
"""What Supabase Auth signs with, and what Postgres checks with."""


@dataclass(frozen=True)
class SupabaseDb:
    dsn: str
    door_user: str
    manager_user: str
    stranger_user: str
    door_id: int
    manager_id: int


@pytest.fixture(scope="module")
async def supabase_db(server_dsn: str) -> AsyncIterator[SupabaseDb]:
    """A database with Supabase's auth and realtime parts, then every migration,
    the reference venue, the sample night, the project's JWT secret (as
    `backroom supabase enable` stores it), and the demo door and manager
    staff linked to Supabase users (a third user is nobody on the staff)."""
    name, dsn = await _fresh_database(server_dsn, None)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(SUPABASE_STUB)
        await migrations.migrate(conn)
        await seed.seed_venue(conn, seed.load_layout())
        await seed.seed_sample(conn, SAMPLE_NIGHT, days=1)
        await store_jwt_secret(conn, JWT_KEY)
        users = {
            email: str(uuid.uuid4())
            for email in ("door@backroom.demo", "duty.manager@backroom.demo", "guest@example.com")
        }
        await conn.executemany(
            "insert into auth.users (id, email) values ($1::uuid, $2)",
            [(uid, email) for email, uid in users.items()],
        )
        await conn.execute(
            "update backroom.staff s set auth_user_id = u.id from auth.users u where u.email = s.email"
        )
        ids = {r["email"]: r["id"] for r in await conn.fetch("select id, email from backroom.staff")}
    finally:
        await conn.close()
    yield SupabaseDb(
        dsn,
        users["door@backroom.demo"],
        users["duty.manager@backroom.demo"],
        users["guest@example.com"],
        ids["door@backroom.demo"],
        ids["duty.manager@backroom.demo"],
    )
    await _drop_database(server_dsn, name)


@pytest.fixture
def gotrue() -> Iterator[GoTrueStandIn]:
    standin = GoTrueStandIn(JWT_KEY).start()
    yield standin
    standin.stop()


@pytest.fixture
async def realtime() -> AsyncIterator[RealtimeStandIn]:
    standin = await RealtimeStandIn(API_KEY, JWT_KEY).start()
    yield standin
    await standin.stop()
