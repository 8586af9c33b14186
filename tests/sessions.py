"""Sessions for tests: what a sign-in hands out, opened by the database's owner.

Screens and services under test act through the console's own login, which
can open no session; `signed_in` asks the owner of the same database for one,
as `backroom_meta.open_session` lets the owner alone.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from services.identity import staff
from services.identity.roles import Role
from services.store.db import Actor, Database

SERVER: dict[str, str] = {}
"""The test server's superuser DSN, set once per test session by conftest."""


def as_owner(dsn: str) -> str:
    """`dsn` (any login's, on the test server) with the server's superuser in its place."""
    owner = urlsplit(SERVER["dsn"])
    return urlunsplit(urlsplit(dsn)._replace(netloc=owner.netloc, query=owner.query))


async def new_staff(owner: asyncpg.Connection, email: str, name: str, role: str) -> Actor:
    """A new staff member, signed in: inserted and given a session by the owner (`owner`)."""
    row = await owner.fetchrow(
        "insert into backroom.staff (email, display_name, role) values ($1, $2, $3)"
        " returning id, backroom_meta.open_session(id) as token",
        email,
        name,
        role,
    )
    assert row is not None
    return Actor(staff_id=row["id"], name=name, role=Role(role), session=row["token"])


async def signed_in(db: Database | str, email: str) -> Actor:
    """`email`'s staff member with a live session on `db`'s database."""
    dsn = db if isinstance(db, str) else db.dsn
    return await staff.owner_session(as_owner(dsn), email)


async def db_sign_in(conn: asyncpg.Connection, email: str, password: str, code: str) -> asyncpg.Record:
    """`backroom.sign_in` then its answer, each committed on its own, as a console does."""
    handle = await conn.fetchval("select backroom.sign_in($1, $2, $3)", email, password, code)
    row = await conn.fetchrow("select * from backroom.sign_in_answer($1)", handle)
    assert row is not None
    return row


async def db_confirm(conn: asyncpg.Connection, purpose: str, code: str) -> asyncpg.Record:
    """`backroom.confirm_code` then its answer, on the session `conn` presents."""
    handle = await conn.fetchval("select backroom.confirm_code($1, $2)", purpose, code)
    row = await conn.fetchrow("select * from backroom.confirm_answer($1)", handle)
    assert row is not None
    return row
