"""What the night's tests share: staff of each role, a night ahead on the database's own
clock (cut-offs and expiries are the database's clock rules), and sessions to lock, step up,
or present on the console's own login. The fixtures are in tests/integration/conftest.py."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import asyncpg

from services.identity.console_login import read_login, with_login
from services.store.db import Actor


@dataclass
class Night:
    id: int
    starts_at: datetime
    ends_at: datetime


@dataclass
class Crew:
    manager: Actor
    door: Actor
    door2: Actor
    support: Actor
    promoter: Actor
    promoter2: Actor


async def step_up(admin: asyncpg.Connection, actor: Actor) -> None:
    """As if `actor` had just typed a fresh code on their session."""
    await admin.execute(
        "update backroom_private.session set stepped_up_at = clock_timestamp()"
        " where token_hash = backroom_private.token_hash($1)",
        actor.session,
    )


async def lock(admin: asyncpg.Connection, actor: Actor) -> None:
    await admin.execute(
        "update backroom_private.session set locked = true"
        " where token_hash = backroom_private.token_hash($1)",
        actor.session,
    )


async def console_login(dsn: str, actor: Actor) -> asyncpg.Connection:
    """The console's own login (what psql with its credential gets), presenting `actor`'s session."""
    login = await read_login(dsn)
    assert login is not None
    conn = await asyncpg.connect(with_login(dsn, login))
    await conn.execute("select set_config('backroom.session', $1, false)", actor.session or "")
    return conn


def staff_id(actor: Actor) -> int:
    assert actor.staff_id is not None
    return actor.staff_id
